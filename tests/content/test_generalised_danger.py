"""The shipped escalations generalise: a story's danger is the sentence that says it, not the story's words;
someone collapsing, or hurt by the writer, just now is an emergency however it is told."""

from __future__ import annotations

import pytest

from tests.support.default import default_engine

CALM_STORIES = [
    "My ex and I split up last spring. Since then he keeps turning up at my work, he messages my sister "
    "about me, and he made a fake account to follow me. I have kept screenshots of everything. What can I do?",
    "A man from my old job has followed me on and off for two years. I kept a diary like the police said. "
    "Is there anything else I should be doing?",
]


@pytest.mark.parametrize("story", CALM_STORIES)
def test_a_stalking_story_with_no_danger_in_it_gets_no_escalation(story: str) -> None:
    assert default_engine().check(story).hits == ()


@pytest.mark.parametrize("story", CALM_STORIES)
def test_the_same_story_ending_in_a_thought_of_suicide_gets_the_crisis_answer(story: str) -> None:
    hits = default_engine().check(f"{story} Honestly I just want to end my life.").hits
    assert "crisis" in [h.escalation for h in hits]


@pytest.mark.parametrize("text", ["my grandad collapsed in the kitchen", "my flatmate passed out and wont wake up"])
def test_someone_collapsing_told_in_the_simple_past_is_an_emergency(text: str) -> None:
    assert "emergency" in [h.escalation for h in default_engine().check(text).hits]


def test_a_collapse_framed_in_the_past_is_not() -> None:
    assert default_engine().check("my grandad collapsed last year and is fine now").hits == ()


def test_the_writer_hurting_someone_just_now_is_an_emergency() -> None:
    hits = default_engine().check("i have just punched my boyfriend and he is bleeding on the floor").hits
    assert "emergency" in [h.escalation for h in hits]


def test_the_writer_telling_of_harm_long_ago_is_not() -> None:
    assert default_engine().check("years ago i hit my partner and i want help to change").hits == ()
