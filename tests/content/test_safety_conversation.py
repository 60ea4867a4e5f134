"""Safety in a conversation on the default catalog: the cases a new user tried (issue 11), the speller,
and per-chat memory (the rules on planted escalations are in tests/unit/test_safety_rules.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine import Engine
from bot.turns import ERASE, KEEP, Incoming, Outcome
from bot.wordlist import commonest
from tests.support.default import default_engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return default_engine()


def first(outcome: Outcome) -> tuple[str, str | None]:
    """(kind, ref) of the first reply."""
    reply = outcome.replies[0]
    return reply.kind, reply.ref


def test_one_chat_through_every_case_a_new_user_tried() -> None:
    engine = default_engine()

    def say(text: str) -> Outcome:
        outcome = engine.respond(Incoming(text=text, chat=7))
        assert not outcome.erase, f"{text!r} erased the chat"
        return outcome

    # a passive suicidal thought: the Samaritans first, and nothing erased
    assert first(say("i might as well not exist")) == ("escalation", "crisis")
    # deleting photos or texts is about evidence, not erasing the chat
    for text in ("how do i delete the photos he sent", "she made me delete all my messages to my friends"):
        out = say(text)
        assert out.intent == "keep_evidence" or out.escalations, (text, out.intent)
        assert all(r.ref != "erase_conversation" for r in out.replies)
    assert first(say("im being assaulted")) == ("escalation", "emergency")
    out = say("my neighbour is being beaten up next door")
    assert first(out) == ("escalation", "emergency")
    assert out.intent is None, "a weak guess must not follow the 999 prompt"
    assert first(say("theres a man following me rn")) == ("escalation", "emergency")
    # follow-ups in the danger window: the short danger answer first, never "Did you mean"
    for text in ("hes still behind me", "omg omg hes trying the handle", "what do i do", "where do i go"):
        out = say(text)
        assert first(out) == ("escalation", "emergency"), text
        assert not out.choices and not out.fallback, text
    # cannot talk: the silent route (press 55) first
    out = say("cant call he will hear me")
    assert first(out) == ("escalation", "emergency")
    assert "press 55" in out.replies[0].html and "emergencySMS" in out.replies[0].html
    out = say("HES HERE HES OUTSIDE")
    assert [r.kind for r in out.replies] == ["escalation"], "no unrelated card after the 999 prompt"


def test_the_emergency_answer_says_what_to_do_now_in_its_first_three_lines(engine: Engine) -> None:
    html = engine.respond(Incoming(text="he is outside my house")).replies[0].html
    top = "\n".join(html.splitlines()[:3])
    assert "999" in top and "press 55" in top and "emergencySMS" in top
    assert "ANI" not in html and "stay silent" not in html.lower()


def test_a_confident_reported_threat_still_follows_the_escalation(engine: Engine) -> None:
    out = engine.respond(Incoming(text="he threatened to kill me and he is outside now"))
    assert out.escalations == ("emergency",) and out.intent == "threats_to_kill"


def test_typed_erase_asks_once_and_only_the_yes_button_erases() -> None:
    engine = default_engine()
    asked = engine.respond(Incoming(text="please erase this chat", chat=1))
    assert not asked.erase
    assert [b.data for b in asked.replies[0].buttons] == [ERASE, KEEP]
    kept = engine.respond(Incoming(button=KEEP, chat=1))
    assert not kept.erase and "Nothing was erased" in kept.replies[0].html
    assert engine.respond(Incoming(button=ERASE, chat=1)).erase
    assert engine.respond(Incoming(text="/erase", chat=1)).erase


def test_did_you_mean_never_guesses_erase_or_goodbye_and_carries_999(engine: Engine) -> None:
    for text in ("remove it", "cya", "wipe", "gone now bye", "as well"):
        out = engine.respond(Incoming(text=text))
        assert "erase_conversation" not in out.choices and "goodbye" not in out.choices, text
        if out.choices:
            assert "999" in out.replies[-1].html and "0808 802 0300" in out.replies[-1].html


def test_erase_forgets_the_danger_of_that_chat_only() -> None:
    engine = default_engine()
    for chat in (1, 2):
        engine.respond(Incoming(text="he is outside my house", chat=chat))
    engine.respond(Incoming(text="/erase", chat=1))
    assert engine.conversations.danger(1) is None
    assert engine.conversations.danger(2) == "emergency"


def test_state_holds_no_text() -> None:
    engine = default_engine()
    engine.respond(Incoming(text="zorblatt is outside my house", chat=9))
    state = engine.conversations.get(9)
    assert "zorblatt" not in repr(state)


def test_the_speller_never_changes_the_20000_commonest_english_words(engine: Engine) -> None:
    words = [w for w in commonest(20_000) if w.isalpha()]
    assert len(words) > 19_000
    changed = [(w, engine.matcher.speller.correct(w)) for w in words if engine.matcher.speller.correct(w) != w]
    assert changed == []
    detector = engine.detector
    changed = [(w, detector._correct(w)) for w in words if detector._correct(w) != w]
    assert changed == []


def test_the_speller_still_corrects_non_words(engine: Engine) -> None:
    assert engine.detector._correct("outsdie") == "outside"
    assert engine.matcher.speller.correct("stalkign") == "stalking"
    assert engine.detector._correct("rn") == "rn"  # text-speak stays as it is (normalise expands it)


@pytest.mark.parametrize("text", ["һе іѕ оutѕіdе mу һоuѕе", "ʜᴇ ɪs ᴏᴜᴛsɪᴅᴇ ᴍʏ ʜᴏᴜsᴇ"])
def test_look_alike_letters_do_not_hide_danger(engine: Engine, text: str) -> None:
    assert engine.respond(Incoming(text=text)).escalations[:1] == ("emergency",)


@pytest.mark.parametrize("text", ["help", "quick", "hurry", "send help", "911", "omg help please"])
def test_a_lone_word_of_alarm_gets_the_999_prompt(engine: Engine, text: str) -> None:
    assert first(engine.respond(Incoming(text=text))) == ("escalation", "emergency")


def test_a_command_name_is_not_a_cry_for_help(engine: Engine) -> None:
    assert engine.respond(Incoming(text="/help")).escalations == ()
    assert engine.respond(Incoming(text="/help he is outside my house")).escalations == ("emergency",)


def test_privacy_says_how_long_danger_is_remembered_for_the_settings_in_force() -> None:
    from bot.config import Config, ConversationConfig

    config = Config(conversation=ConversationConfig(danger_minutes=45, quiet_minutes=60))
    html = default_engine(config.answer_values()).respond(Incoming(text="/privacy")).replies[-1].html
    assert "for 45 minutes, in memory only" in html


@pytest.mark.parametrize("text", [
    "he hit me yesterday and he is outside my door",
    "he used to hit me and he is outside",
    "he is outside, he hurt me last time",
])
def test_a_time_marker_frames_its_own_clause_only(engine: Engine, text: str) -> None:
    assert engine.respond(Incoming(text=text)).escalations[:1] == ("emergency",)


def test_emergency_command_with_a_long_text_puts_the_999_answer_first() -> None:
    engine = default_engine()
    out = engine.respond(Incoming(text="/emergency " + "blah " * 450, chat=3))
    assert out.replies[0].ref == "emergency" and "emergency" in out.escalations
    assert engine.conversations.danger(3) == "emergency"


@pytest.mark.slow
def test_check_runs_escalation_tests_on_a_catalog_with_no_intents(tmp_path: Path) -> None:
    from bot.catalog.load import load_for_serving

    for name in ("safety.yaml", "responses.yaml"):
        (tmp_path / name).write_text((ROOT / "intents" / name).read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "safety.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    tests:\n", "    tests:\n      - zzqx blorf wibble\n", 1), encoding="utf-8")
    catalog, problems = load_for_serving(str(tmp_path))
    assert catalog is None
    assert any("zzqx blorf wibble" in p.message and p.is_error for p in problems)
