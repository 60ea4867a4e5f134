"""Whole stories: a long message gets its main answer and the others beside it, or, when no intent fits
the whole of it, the answer its clearest sentence asks for."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.catalog.load import load_catalog
from bot.catalog.schema import MatcherSettings
from bot.engine import Engine
from bot.matcher import NEVER_GUESSED, SURE_LEAD, Candidate, Match, Matcher, _Query, also, decide
from bot.turns import INTENT_PREFIX, Incoming
from tests.support.planted import GOOD, write

S = MatcherSettings(threshold=20, margin=5, suggest=10, max_suggestions=3)


def _c(*pairs: tuple[str | None, float]) -> list[Candidate]:
    return [Candidate(intent, score, "") for intent, score in pairs]


def test_a_story_is_answered_with_its_best_intent_when_another_is_close() -> None:
    close = _c(("how_to_report", 30), ("keep_evidence", 28), ("safety_advice", 12))
    assert decide(close, S) == (None, ("how_to_report", "keep_evidence"))
    assert decide(close, S, story=True) == ("how_to_report", ())
    assert also(close, "how_to_report", S) == ("keep_evidence",)  # safety_advice is 18 points behind


def test_a_story_below_the_threshold_still_gets_did_you_mean() -> None:
    weak = _c(("how_to_report", 18), ("keep_evidence", 17))
    assert decide(weak, S, story=True) == (None, ("how_to_report", "keep_evidence"))


@pytest.mark.parametrize("never", sorted(NEVER_GUESSED))
def test_a_story_never_lands_on_erasing_or_goodbye(never: str) -> None:
    close = _c((never, 30), ("how_to_report", 29))
    assert decide(close, S, story=True)[0] is None
    assert never not in also(_c(("how_to_report", 30), (never, 29)), "how_to_report", S)


@pytest.mark.parametrize("never", sorted(NEVER_GUESSED))
def test_erasing_or_goodbye_needs_a_clear_lead_where_others_need_the_margin(never: str) -> None:
    near = _c((never, 40), ("keep_evidence", 40 - S.margin))  # enough for any other intent
    assert decide(_c(("how_to_report", 40), ("keep_evidence", 40 - S.margin)), S)[0] == "how_to_report"
    assert decide(near, S)[0] == "keep_evidence"  # the next one is answered when it is clear
    assert decide([*near, Candidate("safety_advice", 40 - S.margin, "")], S)[0] is None
    assert decide(_c((never, 40), ("keep_evidence", 40 - SURE_LEAD)), S)[0] == never


def test_also_offers_only_close_in_scope_intents_and_at_most_two() -> None:
    many = _c(("a", 40), (None, 39), ("b", 38), ("c", 35), ("d", 33), ("e", 10))
    assert also(many, "a", S) == ("b", "c")
    assert also(_c(("a", 40), ("b", 20)), "a", S) == ()  # 20 points below: not close


def _engine(tmp_path: Path) -> Engine:
    write(tmp_path, GOOD)
    catalog, problems = load_catalog(tmp_path)
    assert catalog is not None, problems
    return Engine(replace(catalog, settings=S))


def test_the_answer_to_a_story_carries_buttons_for_its_other_topics(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(tmp_path)
    story = Match("how_to_report", 30.0, "fuzzy", tuple(_c(("how_to_report", 30), ("keep_evidence", 28))),
                  also=("keep_evidence",), story=True)
    monkeypatch.setattr(Engine, "_match", staticmethod(lambda snap, text: story))
    out = engine.respond(Incoming("he keeps turning up at my work and i have kept every message he sent me"))
    assert out.intent == "how_to_report"
    card, offer = out.replies
    assert card.ref == "how_to_report" and "I can also help with" in offer.html
    assert [b.data for b in offer.buttons][0] == INTENT_PREFIX + "keep_evidence"


def test_a_long_message_in_the_planted_catalog_is_answered_not_offered_choices(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    text = ("since we split up he keeps messaging me and waiting outside my flat, i want to report him to the "
            "police and keep evidence of it all")
    match = engine.matcher.match(text)
    assert match.story and len(text.split()) >= 15
    out = engine.respond(Incoming(text))
    assert out.intent is not None and out.choices == ()


def test_a_story_no_intent_fits_whole_is_answered_by_the_sentence_that_clearly_asks_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(tmp_path)
    matcher = engine.matcher
    asks = "how do i report him to the police"

    def scored(self: Matcher, queries: list[_Query]) -> list[list[Candidate]]:
        # the whole story reads as no one thing; its one question, alone, is clear
        return [_c(("how_to_report", 45), ("keep_evidence", 12)) if q.normalised == asks
                else _c(("keep_evidence", 15), ("how_to_report", 14)) for q in queries]

    monkeypatch.setattr(Matcher, "_score", scored)
    story = ("we split up in the spring and i moved to a new flat across town. he still finds out where i go. "
             f"{asks}?")
    match = matcher.match(story)
    assert (match.intent, match.part) == ("how_to_report", True)
    no_question = "we split up in the spring and i moved to a new flat across town. he still finds out where i go."
    assert matcher.match(no_question).intent is None  # no sentence asks anything clearly: no guess


def test_a_story_sentence_never_erases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    matcher = _engine(tmp_path).matcher
    monkeypatch.setattr(Matcher, "_score", lambda self, queries: [
        _c(("erase_conversation", 60)) if q.normalised.startswith("please delete") else _c(("keep_evidence", 15))
        for q in queries])
    story = "he went through my phone again last night and read everything. please delete this whole chat now."
    assert matcher.match(story).intent is None
