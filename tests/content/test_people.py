"""Issue 14: the new groups' conversations, follow-ups in a remembered topic, no card twice running,
follow-up validation in `check`, and service.local_services."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.catalog.load import analyse, check
from bot.config import Config, ConfigError, load_config
from bot.engine import Engine
from bot.turns import FOLLOW_UP_PREFIX, Incoming, Outcome
from tests.support.default import default_catalog, default_engine


def _engine(config: Config | None = None) -> Engine:
    return default_engine((config or Config()).answer_values())


def _talk(engine: Engine, *lines: str, chat: int = 7) -> list[Outcome]:
    return [engine.respond(Incoming(text=line, chat=chat)) for line in lines]


@pytest.mark.parametrize(("message", "intent", "says"), [
    ("im 15 and a lad from my class keeps texting me all night", "young_people", "0800 1111"),
    ("i keep going round to my exs flat and i want to stop myself", "own_behaviour", "0808 802 4040"),
    ("can i give my evidence from behind a screen", "court_and_witness", "Special measures"),
    ("can i apply for a non molestation order without a solicitor", "legal_options", "no court fee"),
    ("i want to complain about how the police dealt with my report", "police_complaint", "IOPC"),
    ("i am deaf, how would i call the police", "deaf_emergency", "999 BSL"),
])
def test_each_group_gets_its_own_card(message: str, intent: str, says: str) -> None:
    (outcome,) = _talk(_engine(), message)
    assert outcome.intent == intent
    assert says in outcome.replies[-1].html


def test_someone_who_says_they_will_hurt_her_now_gets_999_first() -> None:
    (outcome,) = _talk(_engine(), "i want to hurt her, i cant stop myself")
    assert outcome.escalations[0] == "emergency"
    assert outcome.replies[0].kind == "escalation"
    assert "999" in outcome.replies[0].html.split("\n")[0]


def test_a_deaf_person_in_danger_gets_the_emergency_answer_first_with_the_deaf_route_then_the_deaf_card() -> None:
    (outcome,) = _talk(_engine(), "im deaf and he is outside my door now")
    assert outcome.escalations == ("emergency",)
    first = outcome.replies[0]
    assert first.kind == "escalation"
    assert "999 BSL" in "\n".join(first.html.split("\n")[:3])  # the route is in its first lines
    assert outcome.intent == "deaf_emergency"
    assert "registered before" in outcome.replies[-1].html


def test_a_young_person_in_danger_gets_the_escalation_first() -> None:
    (outcome,) = _talk(_engine(), "im 14 and he is outside my house right now")
    assert outcome.escalations[0] == "emergency"
    assert outcome.replies[0].kind == "escalation"


def test_follow_ups_after_the_reporting_answer_stay_in_that_topic() -> None:
    report, free, where = _talk(_engine(), "how do i report stalking", "is it free", "whats the address")
    assert report.intent == "how_to_report" and report.follow_up is None
    assert (free.intent, free.follow_up) == ("how_to_report", "cost")
    assert (where.intent, where.follow_up) == ("how_to_report", "where_to_go")
    # the whole card stays one press away
    assert any(b.data == "i:how_to_report" for b in where.replies[-1].buttons)


def test_follow_ups_after_the_helpline_answer_stay_in_that_topic() -> None:
    card, free, hours = _talk(_engine(), "whats the number for the stalking helpline", "is it free", "when is it open")
    assert card.intent == "helpline"
    assert (free.intent, free.follow_up) == ("helpline", "cost")
    assert "free" in free.replies[-1].html
    assert (hours.intent, hours.follow_up) == ("helpline", "hours")


def test_the_same_follow_up_in_another_topic_gets_that_topics_answer() -> None:
    _, free = _talk(_engine(), "how do i apply for a non molestation order", "is it free")
    assert (free.intent, free.follow_up) == ("legal_options", "cost")
    assert "no court fee" in free.replies[-1].html


def test_a_follow_up_with_no_topic_is_not_guessed() -> None:
    # a follow-up of reporting's "cost" card, which names no topic of its own
    (outcome,) = _talk(_engine(), "do i have to pay to call")
    assert outcome.follow_up is None


def test_the_same_card_twice_running_offers_its_follow_ups_and_the_helpline() -> None:
    first, second = _talk(_engine(), "how do i report stalking", "how do i report stalking")
    assert first.replies[-1].html.startswith("<b>Reporting to the police</b>")
    again = second.replies[-1]
    assert second.intent == "how_to_report"
    assert "Reporting to the police" not in again.html
    assert "0808 802 0300" in again.html and "999" in again.html
    data = [b.data for b in again.buttons]
    assert f"{FOLLOW_UP_PREFIX}how_to_report/anonymous" in data
    assert "i:helpline" in data


def test_a_card_asked_for_again_after_another_answer_is_sent_again() -> None:
    first, _, third = _talk(_engine(), "how do i report stalking", "what is an spo", "how do i report stalking")
    assert third.replies[-1].html == first.replies[-1].html


def test_follow_up_buttons_answer_and_forged_data_gets_the_fallback() -> None:
    engine = _engine()
    pressed = engine.respond(Incoming(button=f"{FOLLOW_UP_PREFIX}intimate_image_abuse/should_i_pay", chat=3))
    assert (pressed.intent, pressed.follow_up) == ("intimate_image_abuse", "should_i_pay")
    assert "don't pay" in pressed.replies[-1].html
    for forged in ("f:", "f:how_to_report", "f:how_to_report/nope", "f:nope/cost", "f://", "f:" + "x" * 300):
        outcome = engine.respond(Incoming(button=forged, chat=3))
        assert outcome.fallback and outcome.follow_up is None


def test_a_danger_after_a_topic_still_comes_first() -> None:
    _, danger = _talk(_engine(), "how do i report stalking", "hes outside my door now what do i do next")
    assert danger.escalations[0] == "emergency"
    assert danger.replies[0].kind == "escalation"


def test_erase_forgets_the_topic() -> None:
    engine = _engine()
    _talk(engine, "how do i report stalking")
    engine.respond(Incoming(button="erase", chat=7))
    (free,) = _talk(engine, "is it free")
    # the forgotten topic's card is not sent (the helpline's own "it is free" card may be)
    assert (free.intent, free.follow_up) != ("how_to_report", "cost")


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")


def test_check_reports_planted_follow_up_mistakes_with_their_lines(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", """\
        intents:
          - id: helpline
            examples: [helpline number, who can i talk to, can i ring someone, a number to call, talk to a person]
            answer: Call {helpline_number}. In an emergency call {emergency_number}.
            follow_ups:
              - id: cost
                title: Is it free?
                examples: [is it free, does it cost anything]
                answer: It is free {nope}.
              - id: cost
                title: Twice
                examples: [again]
                answer: Same id.
              - id: hours
                title: Hours
                examples: []
                answer: <b>Open weekdays.
              - id: Bad-Id
                title: Bad
                examples: [x]
                answer: x
              - id: when
                title: When
                examples: [is it free, what time]
                answer: Open.
                tests: [does it cost anything at all]
    """)
    _, problems = check(str(tmp_path))
    text = "\n".join(map(str, problems))
    file = str(tmp_path / "a.yaml")
    assert f"{file}:9:28: error: answer: unknown placeholder {{nope}}" in text
    assert f"{file}:10:13: error: follow-up id 'cost' is already used in 'helpline' at line 6" in text
    assert f"{file}:16:19: error: follow-up 'hours' has no examples" in text
    assert f"{file}:17:17: error: answer: <b> is never closed" in text
    assert f"{file}:18:13: error: follow-up id 'Bad-Id' must be lower_snake_case" in text
    assert f"{file}:24:20: error: 'is it free' is also an example of follow-up 'cost'" in text
    assert f"{file}:26:17: error: follow-up test 'does it cost anything at all' gets only" in text


def test_check_flags_a_follow_up_example_that_reads_like_another(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", """\
        intents:
          - id: helpline
            examples: [helpline number, who can i talk to, can i ring someone, a number to call, talk to a person]
            answer: Call {helpline_number}. In an emergency call {emergency_number}.
            follow_ups:
              - id: cost
                title: Is it free?
                examples: [is it free, is it free to call]
                answer: Free.
              - id: bill
                title: On my bill?
                examples: [is it free to call?, will it show on my bill]
                answer: Not on the bill.
    """)
    _, problems = check(str(tmp_path))
    assert any(p.source.line == 12 and "it would answer as that one" in p.message for p in problems)


def test_the_default_catalog_loads_follow_ups() -> None:
    intent = default_catalog().intent("how_to_report")
    assert intent is not None and intent.follow_up("anonymous") is not None
    assert not [p for p in analyse("intents").problems if p.is_error]


GOOD_SERVICE = """\
service:
  local_services:
    - name: Example IDVA Service
      helps_with: advocacy for people at high risk
      area: Exampleshire
      phone: "0100 000 0000"
      hours: Mon-Fri 9am-5pm
"""


def test_local_services_appear_where_they_fit_and_vanish_when_none(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(GOOD_SERVICE, encoding="utf-8")
    config = load_config(path)
    assert config.local_services[0].area == "Exampleshire"
    (outcome,) = _talk(_engine(config), "what other organisations can help me")
    assert outcome.intent == "other_support"
    assert "Example IDVA Service (Exampleshire): advocacy for people at high risk. 0100 000 0000 · Mon-Fri 9am-5pm" in (
        outcome.replies[-1].html)
    (plain,) = _talk(_engine(), "what other organisations can help me")
    assert "Local services in your area" not in plain.replies[-1].html
    assert plain.replies[-1].html.rstrip().endswith(("near you.", "</a>")) or "near you." in plain.replies[-1].html


@pytest.mark.parametrize(("entry", "says"), [
    ("    - name: A\n      area: B\n      phone: \"1\"\n", "entry 1 (line 3) ('A'): helps_with: missing"),
    ("    - name: A\n      helps_with: C\n      area: B\n", "give a phone: or a url:"),
    ("    - name: A\n      helps_with: C\n      area: B\n      url: http://x.example\n", "must start with https://"),
    ("    - name: A\n      helps_with: C\n      area: B\n      phone: 0100\n", "phone: quote it"),
    ("    - name: A\n      helps_with: C\n      area: B\n      phone: \"1\"\n      email: a@b\n",
     "unknown field(s) email"),
    ("    - just a name\n", "entry 1 (line 3): expected name:"),
])
def test_a_bad_local_service_is_refused_naming_the_entry_and_field(tmp_path: Path, entry: str, says: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("service:\n  local_services:\n" + entry, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert says in str(err.value)


def test_in_a_danger_window_a_topic_follow_up_comes_after_the_short_danger_answer() -> None:
    _, danger, free = _talk(_engine(), "how do i report stalking", "hes outside my house now", "is it free")
    assert danger.escalations[0] == "emergency"
    assert free.replies[0].kind == "escalation"  # the danger is remembered: its short answer first
    assert (free.intent, free.follow_up) == ("how_to_report", "cost")
