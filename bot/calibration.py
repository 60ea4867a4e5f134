"""Choosing the matcher's threshold and margin from the catalog itself, when its settings leave them out.

An admin's catalog has no tuning split, and values tuned on someone else's catalog do not carry over:
scores depend on how many intents there are and how alike they are. So the matcher scores every
example (a sample, for big catalogs) as if it had never seen it (leave-one-out: see
``Matcher._held_out``) and picks the threshold and margin that best separate "answer it" from
"fallback" on those scores: the highest balanced accuracy (the mean of intent accuracy on the examples
and fallback recall), the middle of the best run of thresholds.

Out-of-fold scores of the messages the catalog does not cover are what place the threshold, and an
admin writes few of them. So every example is also scored as if its own intent were missing from the
catalog: the message about a topic the catalog does not cover, and the hardest kind to turn away. Fallback
recall is measured on those alone. The ``out_of_scope`` lines written in the catalog still turn messages
away at match time (they form the fallback's class), but held out they are too easy to turn away: they
are near each other, and the discriminative correction of naive Bayes (``Matcher._correct_bayes``)
learned their words. On two small catalogs from CLINC150, 80% and 87% of them were still nearest the
fallback held out, against 38% of the new out-of-scope messages of the test set. Weighed half beside the
missing intents, they chose low thresholds with wide margins that new messages got past: on the small
catalogs of benchmarks/small_catalogs.py (six seeds, 1 to 6), the self-chosen settings reached 0.955 of
the anchor's balanced accuracy with them, 0.972 without. On CLINC150 the missing intents alone chose
threshold 44.5, margin 4 (test balanced accuracy 0.880; the anchor tuned on val: 0.877).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from bot.catalog.schema import MatcherSettings

THRESHOLDS = np.arange(4.0, 70.01, 0.5)  # the score grid searched (scores run 0-100)
MARGINS = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
SUGGEST_SHARE = 0.55  # "Did you mean" from this share of the threshold (18 -> 10, as tuned by hand on dev)


@dataclass(frozen=True)
class HeldOut:
    """One example scored without itself: its own label (None: scored as if its intent were not in the
    catalog) and the ranking it got."""

    label: str | None
    top: str | None  # the best-scoring label
    score: float
    runner_up: float


@dataclass(frozen=True)
class Calibration:
    """The settings chosen, and the held-out figures that chose them (for ``check``)."""

    settings: MatcherSettings
    in_scope: int
    accuracy: float  # intent accuracy of held-out examples at the chosen settings
    fallback_recall: float  # share of the examples of a missing intent turned away
    chosen: bool  # False: no examples, the built-in values were kept

    def describe(self) -> str:
        """One line for ``check``: the values and why."""
        s = self.settings
        if not self.chosen:
            return (f"matcher settings: threshold {s.threshold:g}, margin {s.margin:g} (built-in): the catalog has no "
                    "examples to choose them from")
        return (f"matcher settings chosen from the catalog: threshold {s.threshold:g}, margin {s.margin:g}, "
                f"suggest {s.suggest:g}; scoring {self.in_scope} examples without themselves, and each "
                f"example as if its intent were missing: intent accuracy {self.accuracy:.2f}, fallback "
                f"{self.fallback_recall:.2f} (set threshold:/margin: in settings: to override)")


def calibrate(held_out: Sequence[HeldOut], base: MatcherSettings) -> Calibration:
    """``base`` with its automatic keys (``base.auto``) chosen from the held-out scores."""
    inside = [h for h in held_out if h.label is not None]
    unknown = [h for h in held_out if h.label is None]
    if not inside or not unknown:
        kept = replace(base, auto=frozenset())
        acc, rec = _rates(inside, unknown, np.array([kept.threshold]), kept.margin)
        return Calibration(kept, len(inside), float(acc[0]), float(rec[0]), chosen=False)
    thresholds = THRESHOLDS if "threshold" in base.auto else np.array([base.threshold])
    margins = MARGINS if "margin" in base.auto else (base.margin,)
    best: tuple[float, float, float] | None = None  # (balanced, -margin, threshold)
    for margin in margins:
        acc, rec = _rates(inside, unknown, thresholds, margin)
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
    acc, rec = _rates(inside, unknown, np.array([threshold]), margin)
    return Calibration(chosen, len(inside), float(acc[0]), float(rec[0]), chosen=True)


def _rates(inside: Sequence[HeldOut], unknown: Sequence[HeldOut], thresholds: np.ndarray,
           margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Per threshold: intent accuracy on ``inside``, and fallback recall on ``unknown``."""

    def accepted(group: Sequence[HeldOut]) -> np.ndarray:
        score = np.array([h.score for h in group])
        lead_ok = np.array([h.top is not None and h.score - h.runner_up >= margin - 1e-6 for h in group], dtype=bool)
        return (score[None, :] >= thresholds[:, None]) & lead_ok[None, :]

    right = np.array([h.top == h.label for h in inside], dtype=bool)
    acc = (accepted(inside) & right[None, :]).sum(axis=1) / max(len(inside), 1)
    rec = (~accepted(unknown)).sum(axis=1) / max(len(unknown), 1)
    return acc, rec
