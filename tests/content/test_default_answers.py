"""What the default catalog answers: the intent ids the code relies on, the 999 and helpline lines, the
escalation answers' content, valid Telegram HTML in every reply, opening hours and the privacy notice."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.catalog.schema import Catalog
from bot.engine import Engine
from bot.htmltext import text_length, validate
from bot.turns import NONE_OF_THESE, Incoming, Outcome
from tests.support.default import default_catalog, default_engine

LONDON = ZoneInfo("Europe/London")
CONTRACT_IDS = (
    "greeting", "menu", "signs_of_stalking", "how_to_report", "after_reporting", "helpline",
    "stalking_protection_order", "breach_of_order", "keep_evidence", "online_stalking", "intimate_image_abuse",
    "threats_to_kill", "harassment", "safety_advice", "domestic_abuse", "help_a_friend", "any_gender",
    "other_support", "privacy", "erase_conversation", "thanks", "goodbye",
)
HELPLINE = "0808 802 0300"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return default_catalog()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return default_engine()


def say(engine: Engine, text: str, when: datetime | None = None) -> Outcome:
    return engine.respond(Incoming(text=text, now=when))


def test_every_contract_id_exists(catalog: Catalog) -> None:
    assert set(CONTRACT_IDS) <= {i.id for i in catalog.intents}
    assert {e.id for e in catalog.escalations} >= {"emergency", "crisis"}


def test_escalation_comes_first_then_the_intent(engine: Engine) -> None:
    out = say(engine, "he threatened to kill me and hes outside now")
    assert out.escalations == ("emergency",)
    assert out.replies[0].kind == "escalation" and out.replies[0].ref == "emergency"
    assert "999" in out.replies[0].html and "press 55" in out.replies[0].html


def test_crisis_answer_is_compassionate_and_gives_samaritans(engine: Engine) -> None:
    out = say(engine, "i want to end it all")
    assert out.escalations == ("crisis",)
    assert "116 123" in out.replies[0].html and "999" in out.replies[0].html


def test_emergency_mentions_silent_solution_and_emergency_sms_and_never_stay_silent(catalog: Catalog) -> None:
    answer = catalog.escalation("emergency").answer  # type: ignore[union-attr]
    assert "press 55" in answer and "emergencySMS" in answer
    everything = " ".join([i.answer for i in catalog.intents] + [e.answer for e in catalog.escalations]
                          + [r.answer for r in catalog.responses.values()])
    assert not re.search(r"stay (silent|quiet)", everything, re.I)


def test_the_bot_never_claims_to_contact_anyone(catalog: Catalog) -> None:
    texts = [i.answer for i in catalog.intents] + [e.answer for e in catalog.escalations]
    pattern = re.compile(r"\b(i|we) (will|'ll|am going to) (call|contact|alert|notify|tell) (the police|999|someone)",
                         re.I)
    assert not [t for t in texts if pattern.search(t)]


@pytest.mark.parametrize("text", ["tell me a joke", "who won the match", "asdf qwerty"])
def test_fallback_carries_999_and_helpline(engine: Engine, text: str) -> None:
    out = say(engine, text)
    assert out.fallback and out.intent is None
    assert "999" in out.replies[-1].html and HELPLINE in out.replies[-1].html
    assert out.replies[-1].buttons, "the fallback offers topics as buttons"


def test_none_of_these_carries_999_and_helpline(engine: Engine) -> None:
    out = engine.respond(Incoming(button=NONE_OF_THESE))
    assert out.fallback and "999" in out.replies[0].html and HELPLINE in out.replies[0].html


def test_all_replies_are_valid_telegram_html_with_short_button_data(engine: Engine, catalog: Catalog) -> None:
    when = datetime(2026, 11, 30, 10, 0, tzinfo=LONDON)
    outcomes = [engine.respond(Incoming(button="i:" + i.id, now=when)) for i in catalog.intents]
    outcomes += [engine.respond(Incoming(button="i:" + e.id, now=when)) for e in catalog.escalations]
    outcomes += [engine.respond(Incoming(button=NONE_OF_THESE, now=when)), say(engine, "zzzz", when)]
    for out in outcomes:
        for reply in out.replies:
            assert validate(reply.html) == [], reply.ref
            assert 0 < text_length(reply.html) <= 4096
            for b in reply.buttons:
                assert (b.data is None) != (b.url is None)
                assert b.url is None or b.url.startswith("https://")
                assert b.data is None or 1 <= len(b.data.encode()) <= 64
                assert 0 < len(b.text) <= 64


def test_helpline_hours_open_and_closed(engine: Engine) -> None:
    tuesday_morning = datetime(2026, 12, 1, 10, 0, tzinfo=LONDON)
    wednesday_morning = datetime(2026, 12, 2, 10, 0, tzinfo=LONDON)
    christmas = datetime(2026, 12, 25, 11, 0, tzinfo=LONDON)
    open_text = engine.respond(Incoming(button="i:helpline", now=tuesday_morning)).replies[0].html
    closed_text = engine.respond(Incoming(button="i:helpline", now=wednesday_morning)).replies[0].html
    holiday_text = engine.respond(Incoming(button="i:helpline", now=christmas)).replies[0].html
    assert "open now" in open_text.lower()
    for text in (closed_text, holiday_text):
        assert "closed" in text.lower()
        assert "116 123" in text and "08 08 16 89 111" in text  # the 24/7 alternatives
    assert "13:00" in closed_text


def test_system_replies_render(engine: Engine) -> None:
    for name in ("non_text", "slow_reply", "erased", "group_chat", "too_long"):
        reply = engine.system_reply(name)
        assert reply.html and validate(reply.html) == []
    assert "999" in engine.system_reply("non_text").html


@pytest.mark.parametrize(("minutes", "expected"), [
    (720, "after 12 hours without messages"),
    (60, "after 1 hour without messages"),
    (90, "after 90 minutes without messages"),
    (0, "not erased automatically"),
])
def test_privacy_notice_tells_the_configured_truth(minutes: int, expected: str) -> None:
    from dataclasses import replace

    from bot.config import Config, PrivacyConfig

    config = replace(Config(), privacy=PrivacyConfig(auto_erase_after_minutes=minutes))
    notice = default_engine(config.answer_values()).respond(Incoming(text="/privacy")).replies[0].html
    assert expected in notice
    assert "48 hours" in notice  # message ids are kept no longer than Telegram lets a bot delete them
    assert "phone number" in notice  # what Telegram does not share
