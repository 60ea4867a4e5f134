"""The engine's rules on a small planted catalog: order of replies, commands, buttons, the erase button,
did-you-mean, swapping catalogs and checking ahead. What the default catalog answers is in
tests/content/test_default_answers.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from bot.catalog.load import load_catalog
from bot.catalog.schema import Catalog
from bot.engine import COMMANDS, Engine
from bot.turns import ERASE, NONE_OF_THESE, Incoming, Outcome
from tests.support.checking import write

# The intents the engine's commands lead to, two escalations and the required responses; a low threshold,
# so a clear match after an escalation answer (3.5 x the threshold) gets its card in so small a catalog.
PLANTED = {
    "main.yaml": """\
        intents:
          - id: greeting
            title: Hello
            examples: [hello, hi there, good morning, hey, hiya]
            answer: Hello. In an emergency call {emergency_number}.
            buttons: [how_to_report, helpline]
          - id: menu
            title: Menu
            examples: [show me the menu, what can you do, list the topics, main menu, options please]
            answer: Here is what I can help with.
            buttons: [how_to_report, helpline, privacy, erase_conversation]
          - id: how_to_report
            title: Reporting
            examples: [how do i report stalking, can i tell the police, report to police, where do i report it,
                       reporting stalking]
            answer: Call {non_emergency_number}.
          - id: helpline
            title: Helpline
            examples: [is there a helpline, phone number for help, who can i call, helpline number, call someone]
            answer: Call the helpline on {helpline_number}.
          - id: privacy
            title: Privacy
            examples: [what do you keep, is this private, who sees my messages, privacy notice, data you store]
            answer: Your chat is erased {auto_erase}.
          - id: erase_conversation
            title: Erase this chat
            examples: [delete this chat, erase our conversation, wipe the messages, clear this chat, remove the chat]
            answer: Erase this chat?
          - id: thanks
            title: Thanks
            examples: [thanks, thank you, thank you so much, cheers, thanks a lot]
            answer: You are welcome.
            buttons: [erase_conversation]
        settings: {threshold: 15, margin: 5}
    """,
    "safety.yaml": """\
        escalations:
          - id: emergency
            phrases: [he is outside, he is here, outside right now]
            answer: Call {emergency_number} now. From a mobile, if you can't speak, press 55.
          - id: crisis
            phrases: [end it all]
            answer: Call Samaritans on 116 123, free, any time.
    """,
    "responses.yaml": """\
        responses:
          fallback: {answer: "Sorry. Emergency: {emergency_number}. Helpline: {helpline_number}.", buttons: [menu]}
          did_you_mean: {answer: "Did you mean: (emergency: {emergency_number}; helpline {helpline_number})"}
          none_of_these: {answer: "Emergency: {emergency_number}. Helpline: {helpline_number}."}
    """,
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    folder = tmp_path_factory.mktemp("intents")
    write(folder, PLANTED)
    catalog, problems = load_catalog(folder, for_serving=True)
    assert catalog is not None and problems == [], [str(p) for p in problems]
    return catalog


@pytest.fixture(scope="module")
def engine(catalog: Catalog) -> Engine:
    return Engine(catalog)


def say(engine: Engine, text: str, when: datetime | None = None) -> Outcome:
    return engine.respond(Incoming(text=text, now=when))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_commands(engine: Engine, command: str) -> None:
    out = say(engine, f"/{command}")
    assert out.command == command
    target = COMMANDS[command]
    if command == "emergency":
        assert out.replies[0].ref == "emergency"
    elif command == "erase":
        assert out.erase
    else:
        assert out.intent == target


def test_start_with_payload_and_bot_suffix(engine: Engine) -> None:
    assert say(engine, "/start campaign42").intent == "greeting"
    assert say(engine, "/help@SomeBot").intent == "menu"


def test_unknown_command_is_read_as_words_not_a_hint(engine: Engine) -> None:
    out = say(engine, "/stats")
    assert out.command is None
    assert "admin" not in " ".join(r.html for r in out.replies).lower()


def test_buttons(engine: Engine) -> None:
    assert engine.respond(Incoming(button="i:helpline")).intent == "helpline"
    assert engine.respond(Incoming(button=ERASE)).erase
    assert engine.respond(Incoming(button="i:no_such_intent")).fallback
    assert engine.respond(Incoming(button="garbage")).fallback
    assert engine.respond(Incoming(button="i:emergency")).replies[0].ref == "emergency"


def test_erase_button_under_the_last_reply_only(engine: Engine, catalog: Catalog) -> None:
    out = say(engine, "he is outside my house and how do i report stalking")
    assert out.replies[-1].buttons[-1].data == ERASE
    assert all(b.data != ERASE for r in out.replies[:-1] for b in r.buttons)
    assert all(b.data != ERASE for b in Engine(catalog, erase_button=False).respond(
        Incoming(text="hello")).replies[-1].buttons)


def test_typed_erase_does_not_erase_an_emergency(engine: Engine) -> None:
    out = say(engine, "hes outside right now delete this chat")
    assert out.escalations == ("emergency",) and not out.erase


def test_did_you_mean_offers_choices_and_none_of_these(catalog: Catalog) -> None:
    from bot.catalog.schema import MatcherSettings

    # a huge margin makes every match ambiguous, so the choices path is taken
    eng = Engine(replace(catalog, settings=MatcherSettings(threshold=18, margin=99, suggest=5)))
    out = eng.respond(Incoming(text="how do i report stalking to the police"))
    assert out.intent is None and out.choices
    assert out.replies[-1].kind == "choices"
    assert out.replies[-1].buttons[-1].data == NONE_OF_THESE
    assert out.replies[-1].buttons[0].data == "i:" + out.choices[0]


def test_swap_is_atomic_and_takes_effect(catalog: Catalog) -> None:
    eng = Engine(catalog)
    smaller = replace(catalog, intents=tuple(i for i in catalog.intents if i.id != "thanks"))
    eng.swap(smaller)
    assert eng.catalog is smaller
    assert say(eng, "thank you so much").intent != "thanks"


def test_a_very_long_message_says_only_the_start_was_read(engine: Engine) -> None:
    story = "it has been going on for months and i am worn out. " * 60 + "how do i report stalking"
    out = say(engine, "he is outside my house right now. " + story)
    assert [r.kind for r in out.replies][:2] == ["escalation", "notice"]
    assert out.replies[1].ref == "too_long"
    assert "too_long" not in [r.ref for r in say(engine, "how do i report stalking").replies]


def test_no_second_erase_button_when_the_answer_offers_one(engine: Engine) -> None:
    buttons = say(engine, "thank you").replies[-1].buttons
    assert sum(b.data in (ERASE, "i:erase_conversation") for b in buttons) == 1


@pytest.mark.parametrize(("text", "urgent"), [
    ("he is outside my house right now", True), ("i want to end it all", True), ("/help he is here", True),
    ("/help", False), ("how do i report stalking", False), ("thanks", False),
    ("/emergency", True),  # asked for by name
])
def test_checking_first_then_responding_answers_as_responding_alone(catalog: Catalog, text: str,
                                                                     urgent: bool) -> None:
    ahead, alone = Engine(catalog), Engine(catalog)
    checked = ahead.check(text)
    assert checked.urgent is urgent
    assert ahead.respond(Incoming(text=text, chat=1), checked) == alone.respond(Incoming(text=text, chat=1))


def test_a_message_checked_before_a_reload_is_answered_from_the_catalog_it_was_checked_with(
    catalog: Catalog,
) -> None:
    engine = Engine(catalog)
    checked = engine.check("how do i report stalking")
    reworded = Catalog(tuple(replace(i, answer="A new answer.") for i in catalog.intents), catalog.escalations,
                       catalog.hours, catalog.responses, catalog.out_of_scope, catalog.everyday, catalog.settings)
    engine.swap(reworded)
    before = engine.respond(Incoming(text="how do i report stalking"), checked)
    after = engine.respond(Incoming(text="how do i report stalking"))
    assert "A new answer." not in before.replies[-1].html and "A new answer." in after.replies[-1].html
    # a check of other words is not used for this message
    assert engine.respond(Incoming(text="thanks"), checked).intent == "thanks"


def test_the_last_resort_line_needs_no_engine_and_always_gives_999_and_the_helpline() -> None:
    from bot.engine import last_resort

    assert "999" in last_resort({}).html and "0808 802 0300" in last_resort({}).html
    odd = last_resort({"emergency_number": "", "helpline_number": "0800 <1> & 2"}).html
    assert "call 999." in odd and "0800 &lt;1&gt; &amp; 2" in odd  # blank: the default; admin text: escaped
