"""The matcher chooses its threshold and margin from the catalog when the settings leave them out."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from bot.calibration import HeldOut, calibrate
from bot.catalog.load import load_catalog
from bot.catalog.schema import MatcherSettings
from bot.check import run_check
from bot.matcher import Matcher

AUTO = MatcherSettings(auto=frozenset({"threshold", "margin", "suggest"}))


def held(label: str, top: str | None, score: float, runner_up: float = 0.0) -> HeldOut:
    return HeldOut(label, top, score, runner_up)


def missing(top: str | None, score: float, runner_up: float = 0.0) -> HeldOut:
    """An example scored as if its intent were not in the catalog."""
    return HeldOut(None, top, score, runner_up)


def test_a_clean_gap_between_in_scope_and_missing_intent_scores_places_the_threshold_inside_it() -> None:
    inside = [held("a", "a", s) for s in (40, 45, 50, 55, 60)]
    cal = calibrate(inside + [missing("b", s) for s in (5, 8, 10, 12, 14, 15, 9, 7, 6, 11)], AUTO)
    assert cal.chosen and 15 < cal.settings.threshold <= 40
    assert cal.accuracy == 1.0 and cal.fallback_recall == 1.0
    assert cal.settings.suggest < cal.settings.threshold and not cal.settings.auto


def test_when_scores_cannot_separate_them_the_margin_does() -> None:
    # messages of a missing intent score higher than the in-scope ones, but only just ahead of their runner-up
    inside = [held("a", "a", 45, 35)] * 5
    cal = calibrate(inside + [missing("b", 50, 49)] * 5, AUTO)
    assert 1.0 < cal.settings.margin <= 10.0
    assert cal.accuracy == 1.0 and cal.fallback_recall == 1.0


def test_the_wrong_intent_on_top_is_never_counted_right() -> None:
    inside = [held("a", "b", 60, 0)] * 5
    assert calibrate(inside + [missing("a", 5)] * 5, AUTO).accuracy == 0.0


def test_explicit_values_win_and_only_the_missing_ones_are_chosen() -> None:
    given = MatcherSettings(threshold=30.0, suggest=12.0, auto=frozenset({"margin"}))
    inside = [held("a", "a", s, s - 3) for s in (40, 45, 50)]
    cal = calibrate(inside + [missing("b", 20), missing("b", 25), missing("b", 35, 34)], given)
    assert cal.settings.threshold == 30.0 and cal.settings.suggest == 12.0
    assert cal.settings.margin > 0.0  # the one missing message over the threshold is turned away by a lead


def test_a_catalog_with_no_examples_keeps_the_built_in_values_and_says_why() -> None:
    cal = calibrate([], AUTO)
    assert not cal.chosen and cal.settings.threshold == MatcherSettings().threshold
    assert "no examples" in cal.describe() and not cal.settings.auto


CATALOG = """\
intents:
  - id: report
    examples: [how do i report stalking, tell the police about him, report him to the police,
               where can i report a stalker, can i report it online, reporting stalking]
    answer: Report it.
  - id: evidence
    examples: [keep a diary of what he does, save his messages, screenshot everything,
               what evidence should i keep, record every incident, keep voicemails]
    answer: Keep evidence.
out_of_scope:
  - what is the weather tomorrow
  - book a table for two
  - how do i bake bread
  - what time is the football on
  - play some music
  - how do i renew my passport
  - where is the nearest petrol station
  - tell me a joke
  - how tall is mount everest
  - convert pounds to dollars
  - recipe for lasagne
  - when does the bank open
"""


def test_a_catalog_without_settings_gets_chosen_values_and_check_prints_them(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(CATALOG)
    catalog, _ = load_catalog(tmp_path)
    assert catalog is not None and catalog.settings.auto == {"threshold", "margin", "suggest"}
    matcher = Matcher(catalog)
    assert matcher.calibration is not None and matcher.calibration.chosen
    assert matcher.calibration.in_scope == 12
    assert not matcher.settings.auto
    assert matcher.match("where do i report a stalker online").intent == "report"
    assert matcher.match("what is the weather like in leeds").intent is None
    out = io.StringIO()
    run_check(str(tmp_path), out=out)
    assert f"threshold {matcher.settings.threshold:g}, margin {matcher.settings.margin:g}" in out.getvalue()


def test_settings_in_the_catalog_are_used_as_given(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(CATALOG + "settings:\n  threshold: 33\n  margin: 7\n  suggest: 20\n")
    catalog, _ = load_catalog(tmp_path)
    assert catalog is not None
    matcher = Matcher(catalog)
    assert matcher.calibration is None
    assert (matcher.settings.threshold, matcher.settings.margin, matcher.settings.suggest) == (33, 7, 20)


def test_a_one_intent_catalog_calibrates_without_nan(tmp_path: Path) -> None:
    # Held out as if missing, the only intent leaves no label at all: scores must be zeros, not NaN.
    (tmp_path / "a.yaml").write_text(CATALOG.split("  - id: evidence")[0])
    catalog, _ = load_catalog(tmp_path)
    assert catalog is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        matcher = Matcher(catalog)
    assert matcher.calibration is not None
    assert matcher.match("where can i report a stalker").intent == "report"
