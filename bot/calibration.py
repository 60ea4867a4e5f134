"""Choosing the matcher's threshold and margin from the catalog itself, when its settings leave them out.

An admin's catalog has no tuning split, and values tuned on someone else's catalog do not carry over:
scores depend on how many intents there are and how alike they are. So the matcher scores every
example (a sample, for big catalogs) as if it had never seen it (leave-one-out: see
``Matcher._held_out``), and the out-of-scope and negative examples too, and picks the threshold and
margin that best separate "answer it" from "fallback" on those scores: the highest balanced accuracy
(the mean of intent accuracy on the examples and fallback recall), the middle of the best run of
thresholds.

Out-of-scope lines written by the admin are easy to turn away (they are near each other, and unlike
the intents), while the out-of-scope messages people send are often close to a topic. So every
example is also scored as if its own intent were missing from the catalog: the message about a
topic the catalog does not cover, and the hardest kind to turn away. Fallback recall weighs the two
kinds equally (UNKNOWN_SHARE); with fewer than MIN_OUT_OF_SCOPE lines written, the second kind
alone, so a catalog with no out-of-scope lines is calibrated too. On CLINC150 the written lines
alone chose threshold 13, margin 2 (test balanced accuracy 0.857); with both kinds, 29.5 and 6
(0.887; the anchor tuned on val: 0.879). On six small catalogs built from it (benchmarks/
small_catalogs.py) the chosen settings reach 0.866, where the best settings on test would give 0.885.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from bot.catalog.schema import MatcherSettings

THRESHOLDS = np.arange(4.0, 70.01, 0.5)  # the score grid searched (scores run 0-100)
MARGINS = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
SUGGEST_SHARE = 0.55  # "Did you mean" from this share of the threshold (18 -> 10, as tuned by hand on dev)
UNKNOWN_SHARE = 0.5  # share of "intent missing" examples in fallback recall, beside the lines written
MIN_OUT_OF_SCOPE = 10  # fewer out-of-scope lines than this say too little to place a threshold


@dataclass(frozen=True)
class HeldOut:
    """One example scored without itself: its own label (None: out of scope) and the ranking it got."""

    label: str | None
    top: str | None  # the best-scoring label
    score: float
    runner_up: float
    unknown: bool = False  # an example scored as if its intent were not in the catalog (out of scope)


@dataclass(frozen=True)
class Calibration:
    """The settings chosen, and the held-out figures that chose them (for ``check``)."""

    settings: MatcherSettings
    in_scope: int
    out_of_scope: int
    accuracy: float  # intent accuracy of held-out examples at the chosen settings
    fallback_recall: float  # share of held-out out-of-scope lines (and examples of missing intents) turned away
    chosen: bool  # False: no examples, the built-in values were kept

    def describe(self) -> str:
        """One line for ``check``: the values and why."""
        s = self.settings
        if not self.chosen:
            return (f"matcher settings: threshold {s.threshold:g}, margin {s.margin:g} (built-in): the catalog has no "
                    "examples to choose them from")
        lines = f" and {self.out_of_scope} out-of-scope lines" if self.out_of_scope >= MIN_OUT_OF_SCOPE else ""
        return (f"matcher settings chosen from the catalog: threshold {s.threshold:g}, margin {s.margin:g}, "
                f"suggest {s.suggest:g}; scoring {self.in_scope} examples{lines} without themselves, and each "
                f"example as if its intent were missing: intent accuracy {self.accuracy:.2f}, fallback "
                f"{self.fallback_recall:.2f} (set threshold:/margin: in settings: to override)")


def calibrate(held_out: Sequence[HeldOut], base: MatcherSettings) -> Calibration:
    """``base`` with its automatic keys (``base.auto``) chosen from the held-out scores."""
    inside = [h for h in held_out if h.label is not None]
    outside = [h for h in held_out if h.label is None and not h.unknown]
    unknown = [h for h in held_out if h.unknown]
    if not inside or not unknown:
        kept = replace(base, auto=frozenset())
        acc, rec = _rates(inside, outside, unknown, np.array([kept.threshold]), kept.margin)
        return Calibration(kept, len(inside), len(outside), float(acc[0]), float(rec[0]), chosen=False)
    thresholds = THRESHOLDS if "threshold" in base.auto else np.array([base.threshold])
    margins = MARGINS if "margin" in base.auto else (base.margin,)
    best: tuple[float, float, float] | None = None  # (balanced, -margin, threshold)
    for margin in margins:
        acc, rec = _rates(inside, outside, unknown, thresholds, margin)
        balanced = (acc + rec) / 2
        top = float(balanced.max())
        run = np.flatnonzero(balanced >= top - 1e-9)
        # the middle of the best run, not its edge: the held-out scores are a sample
        threshold = float(thresholds[run[len(run) // 2]])
        if best is None or (top, -margin) > best[:2]:
            best = (top, -margin, threshold)
    assert best is not None
    margin, threshold = -best[1], best[2]
    suggest = round(threshold * SUGGEST_SHARE, 1) if "suggest" in base.auto else min(base.suggest, threshold)
    chosen = replace(base, threshold=threshold, margin=margin, suggest=suggest, auto=frozenset())
    acc, rec = _rates(inside, outside, unknown, np.array([threshold]), margin)
    return Calibration(chosen, len(inside), len(outside), float(acc[0]), float(rec[0]), chosen=True)


def _rates(inside: Sequence[HeldOut], outside: Sequence[HeldOut], unknown: Sequence[HeldOut],
           thresholds: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Per threshold: intent accuracy on ``inside``, and fallback recall: on ``outside`` and ``unknown``
    alike (each half) when the catalog has out-of-scope lines, on ``unknown`` alone when it has too few."""

    def accepted(group: Sequence[HeldOut]) -> np.ndarray:
        score = np.array([h.score for h in group])
        lead_ok = np.array([h.top is not None and h.score - h.runner_up >= margin - 1e-6 for h in group], dtype=bool)
        return (score[None, :] >= thresholds[:, None]) & lead_ok[None, :]

    def turned_away(group: Sequence[HeldOut]) -> np.ndarray:
        return (~accepted(group)).sum(axis=1) / max(len(group), 1)

    right = np.array([h.top == h.label for h in inside], dtype=bool)
    acc = (accepted(inside) & right[None, :]).sum(axis=1) / max(len(inside), 1)
    rec = turned_away(unknown)
    if len(outside) >= MIN_OUT_OF_SCOPE:
        rec = UNKNOWN_SHARE * rec + (1.0 - UNKNOWN_SHARE) * turned_away(outside)
    return acc, rec
