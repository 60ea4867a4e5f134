"""The trained-model cache: unchanged inputs read the learned parts back, any change trains again."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bot import language, model_cache
from bot import matcher as matcher_module
from bot.catalog.load import load_catalog
from bot.catalog.schema import Catalog, Escalation
from bot.check import run_check
from bot.escalation_model import EscalationModel
from bot.matcher import Matcher
from bot.safety import Detector
from tests.support.planted import GOOD, write

DANGER = ["he is outside my house right now", "someone is trying to break in", "he is hitting me please help",
          "there is a man following me home", "he has a knife and is at the door", "my ex is banging on the window",
          "he just smashed the back door", "he is choking me", "a man is in my garden watching me",
          "he is forcing his way into the flat", "he has grabbed me and wont let go", "he is kicking the door in"]
SAFE = ["he was outside my house last year", "how do i report stalking", "i could murder a pizza",
        "what is a stalking protection order", "this job is killing me", "the film had a man at the door",
        "how do i keep a diary of what he does", "can the police stop him messaging me", "shoot me a message later",
        "my ex used to follow me years ago", "is it stalking if he keeps texting", "what evidence do i need"]
QUESTIONS = ["what is the weather", "how do i change my number", "can i block him on instagram", "good morning"]
PROBES = ["he is at my door right now", "i think someone is breaking into my house", "how do i report him",
          "he followed me last year"]


def _escalation(examples: list[str] = DANGER) -> Escalation:
    return Escalation(id="emergency", title="Emergency", answer="Call 999.", phrases=("help he is here",),
                      past_markers=("last year",), examples=tuple(examples * 3), negative_examples=tuple(SAFE * 3))


def _detector(examples: list[str] = DANGER) -> Detector:
    return Detector([_escalation(examples)], background=QUESTIONS)


def _hits(detector: Detector) -> list[tuple[tuple[str, str, float | None], ...]]:
    return [tuple((h.escalation, h.rule, None if h.evidence is None else h.evidence.score) for h in
                  detector.detect(p)) for p in PROBES]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh cache folder, with nothing held in memory from earlier tests."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(model_cache.ENV, str(folder))
    model_cache._memory.clear()
    yield folder
    model_cache._memory.clear()


def _no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> EscalationModel:
        raise AssertionError("trained again although nothing changed")

    monkeypatch.setattr(EscalationModel, "train", refuse)


def test_a_second_build_reads_the_models_back_and_detects_exactly_the_same(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _hits(_detector())
    assert any(h for h in first), "the planted escalation should fire on some probe"
    assert len(list(cache.glob("detector-*.npz"))) == 1
    model_cache._memory.clear()  # as a new process would start
    _no_training(monkeypatch)
    assert _hits(_detector()) == first


def test_a_changed_example_trains_a_new_model(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _detector()
    trained: list[int] = []
    real = EscalationModel.train

    def counting(*args: object, **kwargs: object) -> EscalationModel:
        trained.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(EscalationModel, "train", counting)
    _detector([*DANGER[:-1], "he is climbing in through the window now"])
    assert trained == [1]
    assert len(list(cache.glob("detector-*.npz"))) == 2


def test_a_corrupt_entry_is_trained_again_and_replaced(cache: Path) -> None:
    first = _hits(_detector())
    (entry,) = cache.glob("detector-*.npz")
    entry.write_bytes(b"not a numpy file")
    model_cache._memory.clear()
    assert _hits(_detector()) == first
    with np.load(entry, allow_pickle=False) as data:
        assert "0/weights" in data.files


def test_off_keeps_nothing_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(model_cache.ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model_cache._memory.clear()
    assert model_cache.folder() is None
    _detector()
    assert list(tmp_path.rglob("*")) == []
    model_cache._memory.clear()


def test_a_cache_that_cannot_be_written_costs_only_the_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(model_cache.ENV, str(blocker / "cache"))  # a folder under a file cannot be made
    model_cache._memory.clear()
    assert any(_hits(_detector()))
    model_cache._memory.clear()


def test_the_oldest_entries_go_once_the_cache_is_over_its_size(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_cache, "KEEP_BYTES", 3 * 8_500)  # room for three entries of 1,000 numbers
    for n in range(6):
        model_cache.cached(f"test-{n}", lambda n=n: {"x": np.full(1000, n)})  # type: ignore[misc]
        time.sleep(0.01)  # distinct modification times
    assert sorted(p.name for p in cache.glob("*.npz")) == ["test-3.npz", "test-4.npz", "test-5.npz"]


def test_a_restored_model_scores_like_the_trained_one() -> None:
    words = [t.split() for t in DANGER]
    trained = EscalationModel.train(words, [t.split() for t in SAFE], DANGER, [t.split() for t in QUESTIONS])
    restored = EscalationModel(trained.arrays())
    probes = [p.split() for p in PROBES]
    assert [e.score for e in restored.score(probes)] == [e.score for e in trained.score(probes)]
    assert restored.threshold == trained.threshold and restored.example_text == trained.example_text


def test_check_prints_the_same_problems_from_the_cache(cache: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    files = dict(GOOD)
    files["safety.yaml"] = files["safety.yaml"].replace(
        "            phrases: [he is outside, help he is here]\n",
        "            phrases: [he is outside, help he is here]\n"
        f"            examples: {DANGER * 3}\n            negative_examples: {SAFE * 3}\n")
    write(tmp_path / "intents", files)
    runs = []
    for _ in range(2):
        out = io.StringIO()
        run_check(str(tmp_path / "intents"), out=out)
        runs.append(out.getvalue().rsplit(" in ", 1)[0])  # the summary's timing differs
        model_cache._memory.clear()
        _no_training(monkeypatch)
    assert runs[0] == runs[1]
    assert list(cache.glob("hits-*.npz")), "check should keep the hits of the lines the detector was built from"


def _planted_catalog(folder: Path, extra_example: str = "") -> Catalog:
    files = dict(GOOD)
    # no settings: the matcher calibrates itself, which is trained too
    files["main.yaml"] = files["main.yaml"].replace(
        "        settings: {threshold: 60, margin: 5, suggest: 40, max_suggestions: 2, unknown_words: 1.5}\n", "")
    if extra_example:
        line = "              - reporting stalking\n"
        files["main.yaml"] = files["main.yaml"].replace(line, f"{line}              - {extra_example}\n")
    write(folder, files)
    catalog, problems = load_catalog(folder)
    assert catalog is not None, problems
    return catalog


MATCH_PROBES = ["how can i report him to the police", "hiya", "i need to keep evidence", "what about my dog"]


def _matches(matcher: Matcher) -> list[tuple[str | None, float]]:
    return [(m.intent, m.score) for m in map(matcher.match, MATCH_PROBES)]


def test_a_second_matcher_reads_back_its_features_correction_and_calibration(
        cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = _planted_catalog(tmp_path / "intents")
    first = Matcher(catalog)
    assert first.calibration is not None and first.calibration.chosen
    model_cache._memory.clear()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained again although nothing changed")

    for name in ("_correct_bayes", "_held_out"):
        monkeypatch.setattr(Matcher, name, refuse)
    monkeypatch.setattr(matcher_module, "_example_features", refuse)
    again = Matcher(catalog)
    assert _matches(again) == _matches(first)
    assert again.calibration == first.calibration and again.settings == first.settings


def test_a_matcher_with_a_new_example_is_trained_again(cache: Path, tmp_path: Path) -> None:
    Matcher(_planted_catalog(tmp_path / "a"))
    Matcher(_planted_catalog(tmp_path / "b", extra_example="can i report him online"))
    assert len(list(cache.glob("matcher-correction-*.npz"))) == 2


def test_everyday_languages_are_read_back(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ["diolch yn fawr iawn am eich help heddiw", "thanks for your help today", "bore da, sut wyt ti heddiw"]
    first = language.in_language(lines, language.WELSH)
    assert first == (lines[0], lines[2])
    model_cache._memory.clear()
    monkeypatch.setattr(language, "detect", lambda text: pytest.fail("detected again although nothing changed"))
    assert language.in_language(lines, language.WELSH) == first
