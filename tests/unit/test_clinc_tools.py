"""What benchmarks/clinc150.py measures with (tests/support/clinc.py): typos, YAML writer, metrics, tuning."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz.distance import DamerauLevenshtein

from bot.catalog.schema import MatcherSettings
from bot.matcher import Candidate, decide
from tests.support import clinc

SENTENCES = [
    "how would you say fly in italian",
    "what's the spanish word for pasta",
    "i need $20000 transferred from my savings to my checking",
    "ok",
    "a",
    "is it going to rain tomorrow in new york?",
]

TRICKY = ["yes", "no", "on", "off", "null", "~", "1.5", "0x1F", "#hash", ": colon", "a: b", "- dash",
          "'single'", '"double"', "back\\slash", "tab\there", "  padded  ", "[list]", "{map}", "&anchor",
          "*alias", "!tag", "%directive", "@at", "`tick`", "100%", "emoji \U0001F600", "caf\u00e9",
          "line\u2028sep", "bell\x07", "del\x7f", "nbsp\u00a0x", "bom\ufeff"]


def test_typos_are_seeded_and_deterministic() -> None:
    pairs = [(s, "label") for s in SENTENCES * 5]
    assert clinc.typo_copy(pairs, seed=3) == clinc.typo_copy(pairs, seed=3)
    assert clinc.typo_copy(pairs, seed=3) != clinc.typo_copy(pairs, seed=4)
    assert [label for _, label in clinc.typo_copy(pairs, seed=3)] == ["label"] * len(pairs)


@pytest.mark.parametrize("seed", range(40))
def test_typos_make_one_or_two_edits(seed: int) -> None:
    rng = random.Random(seed)
    for text in SENTENCES:
        out = clinc.typo(text, rng)
        assert 1 <= DamerauLevenshtein.distance(text, out) <= 2, (text, out)
        assert DamerauLevenshtein.distance(text, clinc.typo(text, rng, edits=1)) == 1


@given(st.text(max_size=30), st.integers(0, 2**32))
def test_typos_never_empty_a_message(text: str, seed: int) -> None:
    out = clinc.typo(text, random.Random(seed))
    if any(ch.isalpha() for ch in text):
        assert out.strip() and out != text
        assert DamerauLevenshtein.distance(text, out) <= 2
    else:
        assert out == text


def test_typos_touch_only_letters() -> None:
    rng = random.Random(0)
    for _ in range(200):
        out = clinc.typo("12 ab ?!", rng)
        assert [c for c in out if not c.isalpha()] == list("12  ?!")


def test_keyboard_neighbours_are_the_adjacent_keys() -> None:
    near = clinc.KEYBOARD_NEIGHBOURS
    assert set(near["g"]) == set("ftyhvb")
    assert set(near["q"]) == set("wa")
    assert all(ch in near[other] for ch, keys in near.items() for other in keys)  # symmetric


@pytest.mark.parametrize("text", TRICKY)
def test_yaml_quote_round_trips(text: str) -> None:
    assert yaml.safe_load(f"k: {clinc.yaml_quote(text)}") == {"k": text}


@given(st.text(max_size=40))
def test_yaml_quote_round_trips_any_text(text: str) -> None:
    assert yaml.safe_load(f"- {clinc.yaml_quote(text)}") == [text]


def test_catalog_round_trips_through_load_catalog(tmp_path: Path) -> None:
    from bot.catalog.load import load_catalog

    plain = [s for s in TRICKY if s.strip() == s and s.isprintable()]
    intents = {"tricky_words": plain, "translate": SENTENCES[:3], "yes": ["yes please"], "no": ["no thanks"]}
    settings = MatcherSettings(threshold=61.5, margin=2.25, suggest=40.0, max_suggestions=3)
    clinc.write_catalog(tmp_path, intents, settings=settings, out_of_scope=["how do i report a lost dog"])
    catalog, problems = load_catalog(tmp_path)
    assert catalog is not None, [str(p) for p in problems]
    assert [p for p in problems if p.severity == "error"] == []
    assert {i.id: list(i.examples) for i in catalog.intents} == intents
    assert catalog.settings == settings
    assert catalog.out_of_scope == ("how do i report a lost dog",)


def test_perturbed_copies_are_distinct_and_keep_labels() -> None:
    pairs = [(s, f"l{i}") for i, s in enumerate(SENTENCES)]
    def key(text: str) -> str:
        return " ".join("".join(c for c in text.lower() if c.isalnum() or c == " ").split())

    out = clinc.perturbed_copies(pairs, copies=10, seed=1, key=key)
    assert len(out) == 10 * len(pairs)
    assert len({key(t) for t, _ in out}) == len(out)
    assert out[: len(pairs)] == pairs
    assert [label for _, label in out] == [label for _, label in pairs] * 10
    assert out == clinc.perturbed_copies(pairs, copies=10, seed=1, key=key)


def test_scores_on_a_hand_computed_case() -> None:
    golds = ["a", "a", "b", "oos", "oos"]
    preds = ["a", "b", None, None, "b"]
    s = clinc.score(golds, preds)
    assert s.in_scope_accuracy == pytest.approx(1 / 3)
    assert s.oos_recall == pytest.approx(1 / 2)
    assert s.balanced == pytest.approx(5 / 12)
    assert s.oos_precision == pytest.approx(1 / 2)
    assert s.false_fallback == pytest.approx(1 / 3)
    # confusion: correct 2 of 5; predicted counts a1 b2 oos2; true counts a2 b1 oos2
    # (2*5 - (1*2 + 2*1 + 2*2)) / sqrt((25 - 9) * (25 - 9)) = 2 / 16
    assert s.mcc == pytest.approx(0.125)
    assert (s.n_in_scope, s.n_oos) == (3, 2)


def test_percentiles_in_milliseconds() -> None:
    p = clinc.percentiles([1_000_000] * 99 + [9_000_000])
    assert p["p50_ms"] == pytest.approx(1.0)
    assert p["max_ms"] == pytest.approx(9.0)
    assert p["n"] == 100


def test_tune_threshold_rejects_below_the_best_cut() -> None:
    scores = [0.9, 0.8, 0.3, 0.2, 0.5]
    labels = ["a", "b", "a", "b", "a"]
    golds = ["a", "b", "oos", "oos", "b"]
    t = clinc.tune_threshold(scores, labels, golds)
    # any cut in (0.3, 0.8] keeps both right answers and rejects both out-of-scope messages (the last
    # message is wrong either way); ties go to the lowest such cut
    assert 0.3 < t <= 0.5
    assert clinc.anchor_predict(list(zip(labels, scores, strict=True)), t) == ["a", "b", "oos", "oos", "a"]


def test_tune_decision_finds_the_separating_pair() -> None:
    def c(intent: str, score: float) -> Candidate:
        return Candidate(intent, score, "")

    cands = [
        [c("a", 80.0), c("b", 50.0)],
        [c("b", 60.0), c("a", 58.0)],
        [c("a", 55.0), c("b", 20.0)],
        [c("b", 40.0)],
    ]
    golds = ["a", "b", "oos", "oos"]
    chosen, info = clinc.tune_decision(cands, golds, decide, MatcherSettings())
    assert info["val_balanced"] == 1.0
    assert 55.0 < chosen.threshold <= 60.0
    assert chosen.margin <= 2.0
    assert chosen.suggest <= chosen.threshold


def test_tuning_counts_goodbye_on_a_near_tie_as_decide_does() -> None:
    def c(intent: str, score: float) -> Candidate:
        return Candidate(intent, score, "")

    # "goodbye" 4 points ahead: decide answers the next intent, and the sweep must count it so
    cands = [
        [c("goodbye", 70.0), c("thanks", 66.0), c("a", 10.0)],
        [c("goodbye", 90.0), c("thanks", 40.0)],
        [c("a", 60.0), c("b", 30.0)],
        [c("b", 30.0), c("a", 29.0)],
    ]
    golds = ["thanks", "goodbye", "a", "oos"]
    chosen, info = clinc.tune_decision(cands, golds, decide, MatcherSettings())  # asserts sweep == decide
    assert info["val_balanced"] == 1.0
    assert decide(cands[0], chosen)[0] == "thanks"


def test_ceiling_is_the_best_in_scope_accuracy_any_pair_allows_above_the_floor() -> None:
    def c(intent: str, score: float) -> Candidate:
        return Candidate(intent, score, "")

    cands = [
        [c("a", 80.0), c("b", 10.0)],
        [c("b", 50.0), c("a", 10.0)],  # right, but scores below an out-of-scope message
        [c("a", 60.0), c("b", 10.0)],
        [c("b", 30.0), c("a", 10.0)],
    ]
    golds = ["a", "b", "oos", "oos"]
    # accepting from 50 up: in-scope 1.0, OOS recall 0.5; from 60 up: 0.5 / 0.5; above 60: 0.5 / 1.0
    assert clinc.ceiling(cands, golds, floor=0.75) == {
        "balanced": 0.75, "in_scope_accuracy": 1.0, "oos_recall": 0.5, "floor": 0.75}
    assert clinc.ceiling(cands, golds, floor=0.8)["in_scope_accuracy"] is None
