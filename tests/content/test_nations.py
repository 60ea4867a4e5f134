"""The four nations: each gets its own law and 24/7 lines, from place words, a button or the config.

A person in Glasgow must never be told to ask for a Stalking Protection Order as if Scotland had them,
and a person in Belfast must not be sent to England's domestic abuse line at night.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.catalog.load import load_catalog
from bot.config import ConfigError, load_config, parse_config, validate
from bot.conversation import Conversations
from bot.engine import Engine
from bot.htmltext import to_plain
from bot.jurisdiction import NATIONS, nation_in, only_place, strip_places
from bot.turns import ERASE, FOLLOW_UP_PREFIX, NATION_PREFIX, NONE_OF_THESE, WHERE_PREFIX, Incoming, Outcome
from tests.support.default import default_catalog, default_engine
from tests.support.planted import GOOD, unexplained, write
from tests.support.running import Running

# A Tuesday night: the National Stalking Helpline is closed, so its status gives the 24/7 lines.
NIGHT = datetime(2026, 12, 1, 23, 30, tzinfo=timezone.utc)
ORDERS = "is there any kind of court order that would stop him coming near me"
REPORTING = "how would i go about telling the police about him"
NIGHT_LINE = "it's the middle of the night and the helpline's shut, is anyone else answering"

# What only one nation's answers may say, as if it applied there.
SCOTLAND_ONLY = ("non-harassment order", "Police Scotland", "0800 027 1234", "0800 160 1985")
NI_ONLY = ("PSNI", "0808 802 1414", "19 October 2023")
WALES_ONLY = ("Live Fear Free", "0808 80 10 800")
EW_ONLY = ("Stalking Protection Act 2019", "0808 2000 247", "08 08 16 89 111", "magistrates' court. You can't")

CASES: dict[str, dict[str, Any]] = {
    "scotland": {
        "place": "hi, i live near edinburgh",
        "orders": ("don't exist in Scotland", "non-harassment order", "up to 5 years"),
        "reporting": ("Police Scotland", "101"),
        "night": ("0800 027 1234",),
        "never": NI_ONLY + WALES_ONLY + EW_ONLY,
        "described": "Scotland",
    },
    "northern_ireland": {
        "place": "I'm in Lisburn",
        "orders": ("19 October 2023", "PSNI", "at least 2 years"),
        "reporting": ("PSNI", "101"),
        "night": ("0808 802 1414",),
        "never": SCOTLAND_ONLY + WALES_ONLY + ("Stalking Protection Act 2019", "0808 2000 247", "08 08 16 89 111"),
        "described": "Northern Ireland",
    },
    "wales": {
        "place": "im from swansea",
        "orders": ("Stalking Protection Act 2019", "England and Wales"),
        "reporting": ("101",),
        "night": ("0808 80 10 800",),
        "never": SCOTLAND_ONLY + NI_ONLY,
        "described": "Wales",
    },
    "england_wales": {
        "place": "we're in bristol",
        "orders": ("Stalking Protection Act 2019",),
        "reporting": ("101",),
        "night": ("0808 2000 247",),
        "never": SCOTLAND_ONLY + NI_ONLY + WALES_ONLY,
        "described": "England and Wales",
    },
}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return default_engine()


def text_of(outcome: Outcome) -> str:
    return "\n".join(to_plain(r.html, links=False) for r in outcome.replies)


def say(engine: Engine, chat: int, text: str) -> Outcome:
    return engine.respond(Incoming(text=text, chat=chat, now=NIGHT))


@pytest.mark.parametrize("nation", list(CASES))
def test_a_conversation_gets_its_own_nations_law_and_lines(engine: Engine, nation: str) -> None:
    case = CASES[nation]
    chat = 100 + list(CASES).index(nation)
    said = say(engine, chat, case["place"])
    assert engine.conversations.get(chat).nation == nation
    assert said.escalations == () and not said.fallback
    assert "Thank you. I'll answer for" in text_of(said)

    answers = {
        "orders": say(engine, chat, ORDERS),
        "reporting": say(engine, chat, REPORTING),
        "night": say(engine, chat, NIGHT_LINE),
    }
    assert answers["orders"].intent == "stalking_protection_order"
    assert answers["reporting"].intent == "how_to_report"
    assert answers["night"].intent in ("other_support", "helpline")
    for topic, outcome in answers.items():
        text = text_of(outcome).casefold()
        for fact in case[topic]:
            assert fact.casefold() in text, (topic, fact)
        for other in case["never"]:
            assert other.casefold() not in text, (topic, other)
    # an answer that differs by nation says whose it is, and offers the choice
    orders = answers["orders"].replies[-1]
    if nation != "wales":
        assert f"This answer is for {case['described']}." in to_plain(orders.html)
    assert any(b.data == WHERE_PREFIX + "stalking_protection_order" for b in orders.buttons)


def test_the_issue_examples_reach_useful_answers(engine: Engine) -> None:
    glasgow = say(engine, 200, "im in glasgow, can i get an order to keep him away")
    assert glasgow.intent == "stalking_protection_order"
    assert "non-harassment order" in text_of(glasgow).casefold()
    phone = say(engine, 201, "who do i phone in scotland")
    assert phone.intent == "helpline"
    assert "0800 027 1234" in text_of(phone)  # night: Scotland's own 24/7 line, not England's
    assert "0808 2000 247" not in text_of(phone)


def test_a_follow_up_gives_the_nations_24_7_line_too(engine: Engine) -> None:
    say(engine, 560, "im in glasgow")
    say(engine, 560, "who can i talk to")
    # typed, and pressed as its button: both in the remembered nation
    typed = say(engine, 560, "what are the hours")
    pressed = engine.respond(Incoming(button=f"{FOLLOW_UP_PREFIX}helpline/hours", chat=560, now=NIGHT))
    assert typed.follow_up == pressed.follow_up == "hours"
    for text in (text_of(typed), text_of(pressed)):
        assert "0800 027 1234" in text and "0808 2000 247" not in text


@pytest.mark.parametrize(
    "text, nation",
    [
        ("im in glasgow", "scotland"),
        ("Belfast", "northern_ireland"),
        ("I’m in Derry and he won't stop", "northern_ireland"),
        ("live in cardiff", "wales"),
        ("does an spo work in scotland", "scotland"),
        ("moved to Manchester last year", "england_wales"),
        ("i'm in north wales", "wales"),
    ],
)
def test_place_words_name_a_nation(text: str, nation: str) -> None:
    assert nation_in(text) == nation


@pytest.mark.parametrize(
    "text",
    [
        "my ex moved to glasgow",  # someone else's place
        "his family live in belfast",
        "i went from cardiff to edinburgh",  # two nations: no guess
        "whales are beautiful",  # word boundaries
        "he keeps leaving notes on my car",
        "can i talk in welsh",  # a language is not a place
    ],
)
def test_no_nation_without_a_clear_place_of_ones_own(text: str) -> None:
    assert nation_in(text) is None


def test_place_words_are_taken_out_before_matching() -> None:
    assert strip_places("who do I phone in Scotland?") == "who do i phone ?"
    assert only_place("im in cardiff") and only_place("Glasgow")
    assert not only_place("im in cardiff, what is an spo")


def test_place_words_never_silence_the_escalation(engine: Engine) -> None:
    outcome = say(engine, 300, "he is outside my flat in belfast right now")
    assert outcome.escalations[:1] == ("emergency",)
    assert outcome.replies[0].kind == "escalation"
    assert engine.conversations.get(300).nation == "northern_ireland"


def test_a_place_said_after_a_danger_gets_the_danger_answer_first(engine: Engine) -> None:
    assert say(engine, 350, "he's kicking my front door in").escalations == ("emergency",)
    follow = say(engine, 350, "im in falkirk")
    assert follow.escalations == ("emergency",) and follow.replies[0].kind == "escalation"
    assert engine.conversations.get(350).nation == "scotland"


def test_erase_forgets_the_nation(engine: Engine) -> None:
    say(engine, 400, "im in aberdeen")
    assert engine.conversations.get(400).nation == "scotland"
    assert engine.respond(Incoming(text="/erase", chat=400, now=NIGHT)).erase
    assert engine.conversations.get(400).nation is None
    say(engine, 401, "im in omagh")
    assert engine.respond(Incoming(button=ERASE, chat=401, now=NIGHT)).erase
    assert engine.conversations.get(401).nation is None
    assert text_of(say(engine, 401, ORDERS)).count("Stalking Protection Act 2019") == 1  # the default again


def test_where_are_you_buttons_set_the_nation_and_answer_again(engine: Engine) -> None:
    asked = engine.respond(Incoming(button=WHERE_PREFIX + "how_to_report", chat=500, now=NIGHT))
    [choice] = asked.replies
    assert [b.text for b in choice.buttons] == ["England", "Wales", "Scotland", "Northern Ireland"]
    assert all(b.data is not None and len(b.data.encode()) <= 64 for b in choice.buttons)
    scotland = next(b for b in choice.buttons if b.text == "Scotland")
    assert scotland.data is not None
    answered = engine.respond(Incoming(button=scotland.data, chat=500, now=NIGHT))
    assert answered.intent == "how_to_report"
    assert engine.conversations.get(500).nation == "scotland"
    assert "Police Scotland" in text_of(answered)


def test_the_bots_own_lines_give_the_nations_24_7_line_at_night(engine: Engine) -> None:
    say(engine, 550, "im in orkney")
    none = text_of(engine.respond(Incoming(button=NONE_OF_THESE, chat=550, now=NIGHT)))
    fallback = say(engine, 550, "qwertyuiop zxcvbnm")
    assert fallback.fallback
    for text in (none, text_of(fallback)):
        assert "0800 027 1234" in text and "0808 2000 247" not in text


@pytest.mark.parametrize(
    "data",
    [NATION_PREFIX + "atlantis:how_to_report", NATION_PREFIX + "scotland:no_such_intent", NATION_PREFIX,
     NATION_PREFIX + "scotland:emergency:x", WHERE_PREFIX + "no_such_intent", NATION_PREFIX + "a" * 200],
)
def test_forged_nation_buttons_are_harmless(engine: Engine, data: str) -> None:
    engine.conversations.forget(600)
    outcome = engine.respond(Incoming(button=data, chat=600, now=NIGHT))
    assert outcome.replies and outcome.escalations == ()
    assert engine.conversations.get(600).nation in (None, *NATIONS)
    if data.startswith(WHERE_PREFIX):
        assert all(b.data is not None and ":no_such" not in b.data for b in outcome.replies[0].buttons)
    elif not data.startswith(NATION_PREFIX + "scotland"):
        assert engine.conversations.get(600).nation is None


def test_the_operators_jurisdiction_is_the_default() -> None:
    engine = default_engine({**parse_config({}).answer_values(), "jurisdiction": "northern_ireland"},
                            conversations=Conversations())
    outcome = say(engine, 700, ORDERS)
    assert "19 October 2023" in text_of(outcome)
    say(engine, 700, "actually im in dundee")
    assert "non-harassment order" in text_of(say(engine, 700, ORDERS)).casefold()


@pytest.mark.parametrize("value, hint", [("scotand", "did you mean 'scotland'"), ("uk", "expected one of")])
def test_a_bad_jurisdiction_fails_with_a_clear_error(tmp_path: Path, value: str, hint: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"service:\n  jurisdiction: {value}\n")
    with pytest.raises(ConfigError, match="service.jurisdiction") as raised:
        load_config(path)
    assert hint in str(raised.value)
    for good in NATIONS:
        path.write_text(f"service:\n  jurisdiction: {good}\n")
        assert load_config(path).service["jurisdiction"] == good
    assert validate(parse_config({})).service["jurisdiction"] == "england_wales"


PLANTED = {
    **GOOD,
    "law.yaml": """\
        intents:
          - id: orders
            examples: [court order, order to keep him away, protection order, restraining order, spo]
            answer: "<b>Orders</b> The police can apply for an SPO."  #! E no variants.northern_ireland
            variants:
              scotland: "Ask for a non-harassment order, {helpline_numbr}."  #! E unknown placeholder
              scotlnd: x  #! E unknown jurisdiction 'scotlnd' (did you mean 'scotland'?)
              ni: x  #! E unknown jurisdiction 'ni' (did you mean 'northern_ireland'?)
              england_wales: x  #! E 'england_wales' is the default text
              wales: "<b>Orders"  #! E <b> is never closed
          - id: harassment_law
            examples: [is it harassment, harassment law, two incidents, what counts as harassment, harassing me]
            answer: It is a crime in England and Wales.  #! E no variants.scotland
            variants:
              northern_ireland: It is a crime in Northern Ireland.
              wales: It is a crime in England and Wales.  #! W the same as the default answer
          - id: plain
            examples: [plain one, plain two, plain three, plain four, plain five]
            answer: Nothing here names a law.
            variants: [scotland]  #! E variants: expected jurisdictions
        responses:
          none_of_these:
            answer: "Call {emergency_number} or {helpline_number}."
            variants:
              scotland: "x"  #! W must give {emergency_number} | W must give {helpline_number}
              northrn_ireland: "y"  #! E unknown jurisdiction 'northrn_ireland' (did you mean 'northern_ireland'?)
    """,
}


def test_check_reports_every_planted_variant_mistake_at_its_line(tmp_path: Path) -> None:
    planted_files = {k: v for k, v in PLANTED.items() if k != "responses.yaml"}
    planted_files["responses.yaml"] = GOOD["responses.yaml"].replace(
        "          none_of_these: {answer: \"Call {emergency_number} in an emergency or {helpline_number}.\"}\n", "")
    planted = write(tmp_path, planted_files)
    catalog, problems = load_catalog(tmp_path)
    assert catalog is None
    missing, extra = unexplained(planted, problems)
    ours = [p for p in extra if "law.yaml" in p and "no button leads" not in p]
    assert missing == [] and ours == []
    assert all(str(p).startswith(f"{tmp_path / 'law.yaml'}:") for p in problems
               if "law.yaml" in p.source.file)


def test_opening_hours_closed_variants_are_checked(tmp_path: Path) -> None:
    files = dict(GOOD)
    files["hours.yaml"] = GOOD["hours.yaml"].rstrip(" ") + (
        "            closed_variants:\n"
        "              scotland: Closed. Open now, 24/7 {scotland_line}.  #! E unknown placeholder {scotland_line}\n"
        "              eire: Closed.  #! E unknown jurisdiction 'eire'\n")
    planted = write(tmp_path, files)
    _, problems = load_catalog(tmp_path)
    missing, extra = unexplained(planted, problems)
    assert missing == [] and [p for p in extra if "hours.yaml" in p] == []


def test_the_default_catalog_gives_variants_where_the_law_differs() -> None:
    catalog = default_catalog()
    for intent_id in ("signs_of_stalking", "harassment", "stalking_protection_order", "breach_of_order",
                      "how_to_report", "after_reporting", "threats_to_kill", "intimate_image_abuse",
                      "domestic_abuse", "helpline", "other_support"):
        intent = catalog.intent(intent_id)
        assert intent is not None and {"scotland", "northern_ireland"} <= set(intent.variants), intent_id
    [nsh] = [h for h in catalog.hours if h.id == "national_stalking_helpline"]
    assert set(nsh.closed_variants) == {"scotland", "northern_ireland", "wales"}


async def test_the_nation_choice_goes_through_telegram(running: Running) -> None:
    fake, chat = running.fake, 31

    async def answer_after(step: Any) -> Any:
        before = len(fake.texts(chat))
        step()
        await fake.wait_until(lambda: len(fake.texts(chat)) > before)
        return fake.bot_messages(chat)[-1]

    def button(message: Any, text: str) -> str:
        rows = message.reply_markup["inline_keyboard"]
        return str(next(b["callback_data"] for row in rows for b in row if b["text"] == text))

    orders = await answer_after(lambda: fake.message(chat, ORDERS))
    assert "Stalking Protection Act 2019" in fake.texts(chat)[-1]
    choice = await answer_after(lambda: fake.press(chat, orders.message_id, button(orders, "Where are you in the UK?")))
    await answer_after(lambda: fake.press(chat, choice.message_id, button(choice, "Scotland")))
    assert "don't exist in Scotland" in fake.texts(chat)[-1]
    assert running.engine.conversations.get(chat).nation == "scotland"
