"""Safety in a conversation: the cases a new user tried (issue 11), the speller, and per-chat memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.conversation import Conversations
from bot.engine import Engine
from bot.messages import ERASE, KEEP, Incoming, Outcome
from bot.model import Catalog
from bot.wordlist import commonest
from tests.support.default import default_catalog, default_engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return default_catalog()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return default_engine()


def first(outcome: Outcome) -> tuple[str, str | None]:
    """(kind, ref) of the first reply."""
    reply = outcome.replies[0]
    return reply.kind, reply.ref


def test_one_chat_through_every_case_a_new_user_tried(catalog: Catalog) -> None:
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


def test_typed_erase_asks_once_and_only_the_yes_button_erases(catalog: Catalog) -> None:
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


def test_erase_forgets_the_danger_of_that_chat_only(catalog: Catalog) -> None:
    engine = default_engine()
    for chat in (1, 2):
        engine.respond(Incoming(text="he is outside my house", chat=chat))
    engine.respond(Incoming(text="/erase", chat=1))
    assert engine.conversations.danger(1) is None
    assert engine.conversations.danger(2) == "emergency"


def test_conversations_forget_danger_after_its_window_and_a_chat_after_quiet() -> None:
    now = [0.0]
    memory = Conversations(danger_minutes=30, quiet_minutes=60, clock=lambda: now[0])
    memory.update("a", danger="emergency")
    now[0] = 29 * 60
    assert memory.danger("a") == "emergency"
    now[0] = 31 * 60
    assert memory.danger("a") is None
    memory.update("b", danger="crisis")
    now[0] += 61 * 60
    assert memory.get("b").danger is None  # quiet for too long: a fresh state
    assert memory.danger(None) is None
    memory.update(None, danger="crisis")  # a channel with no chat key remembers nothing
    assert len(memory) == 2
    memory.update("c", danger="crisis")
    now[0] += 50 * 60
    memory.touch("c")  # a message 50 minutes later: quiet counts from here
    now[0] += 50 * 60
    assert memory.get("c").danger == "crisis"
    memory.touch("new")
    assert len(memory) == 3  # touching a chat with no state makes none


def test_state_holds_no_text(catalog: Catalog) -> None:
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


def test_accented_letters_are_not_taken_for_look_alikes() -> None:
    from bot.confusables import fold_confusables

    assert fold_confusables("café, tŷ, naïve") == "café, tŷ, naïve"
    assert fold_confusables("һеllо") == "hello"


def _learned_only_catalog() -> Catalog:
    from bot.model import Escalation, Intent, MatcherSettings

    danger = Escalation(
        "emergency", "Emergency", "Call 999 now.",
        examples=("the bridge is shaking and about to fall", "the bridge is cracking under us",
                  "water is coming over the bridge right now", "the old bridge is collapsing"),
        negative_examples=("how old is the bridge", "when was the bridge built", "is the bridge open today",
                           "what is the toll on the bridge", "who painted the bridge"),
    )
    intents = (
        Intent("safety", "Safety", ("is the bridge safe to cross when it is shaking",
                                    "is it safe on the bridge in a storm"), "Safety card."),
        Intent("history", "History", ("how old is the bridge", "who built the bridge"), "History card."),
    )
    # a threshold of 40 puts the bar for a card after a rule's hit (2.5 x 40) out of reach
    return Catalog(intents=intents, escalations=(danger,), settings=MatcherSettings(threshold=40.0))


def test_the_learned_part_fires_on_wording_its_examples_never_used() -> None:
    from bot.safety import Detector

    catalog = _learned_only_catalog()
    detector = Detector.for_catalog(catalog)
    [hit] = detector.detect("help the bridge is cracking and shaking")
    assert hit.evidence is not None and hit.evidence.fires and "bridge" in hit.evidence.nearest
    assert detector.detect("who built the bridge and when") == ()


def test_after_a_learned_hit_a_confident_card_still_follows() -> None:
    engine = Engine(_learned_only_catalog())
    text = "the bridge is shaking and cracking right now. is it safe to cross when it is shaking"
    out = engine.respond(Incoming(text=text))
    assert out.escalations == ("emergency",) and out.intent == "safety"
    assert [r.kind for r in out.replies] == ["escalation", "intent"]


@pytest.mark.parametrize("text", ["help", "quick", "hurry", "send help", "911", "omg help please"])
def test_a_lone_word_of_alarm_gets_the_999_prompt(engine: Engine, text: str) -> None:
    assert first(engine.respond(Incoming(text=text))) == ("escalation", "emergency")


def test_a_command_name_is_not_a_cry_for_help(engine: Engine) -> None:
    assert engine.respond(Incoming(text="/help")).escalations == ()
    assert engine.respond(Incoming(text="/help he is outside my house")).escalations == ("emergency",)


def test_privacy_says_how_long_danger_is_remembered_for_the_settings_in_force(catalog: Catalog) -> None:
    from bot.config import Config, ConversationConfig

    config = Config(conversation=ConversationConfig(danger_minutes=45, quiet_minutes=60))
    html = default_engine(config.placeholders()).respond(Incoming(text="/privacy")).replies[-1].html
    assert "for 45 minutes, in memory only" in html


@pytest.mark.parametrize("text", [
    "he hit me yesterday and he is outside my door",
    "he used to hit me and he is outside",
    "he is outside, he hurt me last time",
])
def test_a_time_marker_frames_its_own_clause_only(engine: Engine, text: str) -> None:
    assert engine.respond(Incoming(text=text)).escalations[:1] == ("emergency",)


def test_emergency_command_with_a_long_text_puts_the_999_answer_first(catalog: Catalog) -> None:
    engine = default_engine()
    out = engine.respond(Incoming(text="/emergency " + "blah " * 450, chat=3))
    assert out.replies[0].ref == "emergency" and "emergency" in out.escalations
    assert engine.conversations.danger(3) == "emergency"


@pytest.mark.slow
def test_check_runs_escalation_tests_on_a_catalog_with_no_intents(tmp_path: Path) -> None:
    from bot.check import load_for_serving

    for name in ("safety.yaml", "responses.yaml"):
        (tmp_path / name).write_text((ROOT / "intents" / name).read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "safety.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    tests:\n", "    tests:\n      - zzqx blorf wibble\n", 1), encoding="utf-8")
    catalog, problems = load_for_serving(str(tmp_path))
    assert catalog is None
    assert any("zzqx blorf wibble" in p.message and p.is_error for p in problems)


def test_a_pattern_that_cannot_join_the_others_still_runs_alone() -> None:
    from bot.model import Escalation
    from bot.safety import Detector

    esc = Escalation("emergency", "E", "Call 999.", patterns=(r"\Qzzqx", r"\bhe is here\b"))
    assert [h.escalation for h in Detector([esc]).detect("he is here")] == ["emergency"]
    assert [h.escalation for h in Detector([esc]).detect("zzqx")] == ["emergency"]


def test_a_tiny_example_set_still_places_the_threshold_between_its_sides() -> None:
    from bot.model import Escalation
    from bot.safety import Detector

    esc = Escalation("emergency", "E", "Call 999.",
                     examples=("he is at my door right now", "someone is at my door now", "a man is at my window now"),
                     negative_examples=("he was at my door last year", "what is a stalking order",
                                        "hello there how are you"))
    detector = Detector([esc])
    assert detector.detect("hello there how are you today") == ()
