"""The CLINC150 benchmark's pure pieces: typo generator, catalog writer, metrics and tuning.

benchmarks/clinc150.py (and small_catalogs.py) measure with them; they live here, not in the benchmark,
so tests/unit/test_clinc_tools.py checks them without importing a benchmark. No pytest here: the
benchmarks import this module with only the bench extra installed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

OOS = "oos"

Pairs = list[tuple[str, str]]


# --------------------------------------------------------------------------------------------- typos


def _qwerty_neighbours() -> dict[str, str]:
    """Letters physically next to each letter on a staggered QWERTY keyboard."""
    rows, offsets = ("qwertyuiop", "asdfghjkl", "zxcvbnm"), (0.0, 0.25, 0.75)
    pos = {ch: (r, c + offsets[r]) for r, row in enumerate(rows) for c, ch in enumerate(row)}
    out: dict[str, str] = {}
    for ch, (r, x) in pos.items():
        near = [
            other
            for other, (r2, x2) in pos.items()
            if other != ch and ((r2 == r and abs(x2 - x) == 1) or (abs(r2 - r) == 1 and abs(x2 - x) <= 0.75))
        ]
        out[ch] = "".join(sorted(near))
    return out


KEYBOARD_NEIGHBOURS = _qwerty_neighbours()
TYPO_OPS = ("swap", "drop", "double", "neighbour")


def _edit_once(text: str, rng: random.Random) -> str:
    """One character edit on a letter: swap with the next letter, drop, double, or hit a neighbour key."""
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    options: dict[str, list[int]] = {
        "swap": [i for i in letters if i + 1 < len(text) and text[i + 1].isalpha() and text[i] != text[i + 1]],
        # a drop must leave a letter behind, so the message never becomes empty or blank
        "drop": letters if len(letters) >= 2 else [],
        "double": letters,
        "neighbour": [i for i in letters if text[i].lower() in KEYBOARD_NEIGHBOURS],
    }
    feasible = [op for op in TYPO_OPS if options[op]]
    if not feasible:
        return text
    op = rng.choice(feasible)
    i = rng.choice(options[op])
    if op == "swap":
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if op == "drop":
        return text[:i] + text[i + 1 :]
    if op == "double":
        return text[:i] + text[i] + text[i:]
    key = rng.choice(KEYBOARD_NEIGHBOURS[text[i].lower()])
    return text[:i] + (key.upper() if text[i].isupper() else key) + text[i + 1 :]


def typo(text: str, rng: random.Random, edits: int | None = None) -> str:
    """``text`` with 1-2 seeded letter edits (``edits`` fixes the count); unchanged if it has no letters."""
    if not any(ch.isalpha() for ch in text):
        return text
    for _ in range(20):
        n = edits if edits is not None else rng.randint(1, 2)
        out = text
        for _ in range(n):
            out = _edit_once(out, rng)
        # two edits can cancel out ("ab" -> "ba" -> "ab"); a typo copy must differ from the original
        if out != text:
            return out
    return out


def typo_copy(pairs: Pairs, seed: int) -> Pairs:
    """A seeded copy of a split with 1-2 typos in every message; labels unchanged."""
    rng = random.Random(f"{seed}:typo")
    return [(typo(text, rng), label) for text, label in pairs]


def perturbed_copies(pairs: Pairs, copies: int, seed: int, key: Callable[[str], str] = lambda text: text) -> Pairs:
    """``pairs`` plus ``copies`` - 1 lightly misspelt copies, no two texts alike under ``key``.

    Pass the loader's normalisation as ``key``: it refuses one normalised example in two intents.
    """
    rng = random.Random(f"{seed}:scale")
    seen = {key(text) for text, _ in pairs}
    out = list(pairs)
    for _ in range(copies - 1):
        for text, label in pairs:
            new = text
            for attempt in range(60):
                # one edit is the light touch; short texts run out of fresh one-edit variants, so widen
                new = typo(text, rng, edits=1 if attempt < 20 else 2 + attempt // 20)
                if key(new) not in seen:
                    break
            else:
                new = f"{text} {len(out)}"
            seen.add(key(new))
            out.append((new, label))
    return out


# --------------------------------------------------------------------------------------------- YAML


_UNSAFE = re.compile('[\\\\"\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]')


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in '\\"':
        return "\\" + ch
    code = ord(ch)
    return f"\\x{code:02X}" if code <= 0xFF else f"\\u{code:04X}"


def yaml_quote(text: str) -> str:
    """``text`` as a YAML double-quoted scalar that always loads back as this exact string."""
    return '"' + _UNSAFE.sub(_escape, text) + '"'


def write_catalog(
    directory: Path,
    intents: Mapping[str, Sequence[str]],
    settings: Any | None = None,
    out_of_scope: Sequence[str] = (),
) -> None:
    """Write a minimal catalog (id, title, examples, answer) in our format, one file per intent."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    for intent_id, examples in intents.items():
        lines = [
            "# Generated by benchmarks/clinc150.py from CLINC150 (CC BY 3.0). Do not edit.",
            "intents:",
            f"  - id: {yaml_quote(intent_id)}",
            f"    title: {yaml_quote(intent_id.replace('_', ' ').capitalize())}",
            f"    answer: {yaml_quote('CLINC150 intent ' + intent_id + '.')}",
            "    examples:",
            *(f"      - {yaml_quote(e)}" for e in examples),
        ]
        (directory / f"{intent_id}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    head = ["# Generated by benchmarks/clinc150.py. Do not edit."]
    if settings is not None:
        head += [
            "settings:",
            f"  threshold: {settings.threshold}",
            f"  margin: {settings.margin}",
            f"  suggest: {settings.suggest}",
            f"  max_suggestions: {settings.max_suggestions}",
            f"  unknown_words: {settings.unknown_words}",
        ]
    if out_of_scope:
        head += ["out_of_scope:", *(f"  - {yaml_quote(t)}" for t in out_of_scope)]
    if len(head) > 1:
        (directory / "_catalog.yaml").write_text("\n".join(head) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Scores:
    """Accuracy figures of one classifier on one labelled set (fallback and OOS spelt ``oos``)."""

    in_scope_accuracy: float  # correct intent, over in-scope messages
    oos_recall: float  # fallback, over out-of-scope messages
    balanced: float  # mean of the two above
    mcc: float  # multiclass Matthews correlation, OOS as its own class
    oos_precision: float  # out-of-scope among the fallbacks
    false_fallback: float  # fallback, over in-scope messages
    n_in_scope: int
    n_oos: int


def ratio(num: int, den: int) -> float:
    """num / den, NaN when there is nothing to count."""
    return num / den if den else float("nan")


def mcc(golds: Sequence[str], preds: Sequence[str]) -> float:
    """Multiclass Matthews correlation coefficient (Gorodkin's R_K, as scikit-learn computes it).

    Pure numpy, so the tests need no scikit-learn (a benchmark-only extra).
    """
    import numpy as np

    labels = {label: i for i, label in enumerate(sorted(set(golds) | set(preds)))}
    confusion = np.zeros((len(labels), len(labels)))
    np.add.at(confusion, ([labels[g] for g in golds], [labels[p] for p in preds]), 1)
    true, pred = confusion.sum(axis=1), confusion.sum(axis=0)
    correct, total = np.trace(confusion), confusion.sum()
    denominator = np.sqrt((total**2 - pred @ pred) * (total**2 - true @ true))
    return float((correct * total - true @ pred) / denominator) if denominator else 0.0


def score(golds: Sequence[str], preds: Sequence[str | None]) -> Scores:
    """Score predictions (None or ``oos`` = fallback) against gold labels (``oos`` = out of scope)."""
    flat = [OOS if p is None else p for p in preds]
    ins = [(g, p) for g, p in zip(golds, flat, strict=True) if g != OOS]
    oos = [p for g, p in zip(golds, flat, strict=True) if g == OOS]
    fallbacks = [g for g, p in zip(golds, flat, strict=True) if p == OOS]
    in_acc = ratio(sum(g == p for g, p in ins), len(ins))
    recall = ratio(sum(p == OOS for p in oos), len(oos))
    return Scores(
        in_scope_accuracy=in_acc,
        oos_recall=recall,
        balanced=(in_acc + recall) / 2,
        mcc=mcc(golds, flat),
        oos_precision=ratio(sum(g == OOS for g in fallbacks), len(fallbacks)),
        false_fallback=ratio(sum(p == OOS for _, p in ins), len(ins)),
        n_in_scope=len(ins),
        n_oos=len(oos),
    )


def _quick_balance(golds: Sequence[str], preds: Sequence[str | None]) -> tuple[float, float]:
    """(balanced accuracy, in-scope accuracy) without MCC: the tuning objective, called thousands of times."""
    ins = oos = ok_in = ok_oos = 0
    for g, p in zip(golds, preds, strict=True):
        if g == OOS:
            oos += 1
            ok_oos += p is None or p == OOS
        else:
            ins += 1
            ok_in += p == g
    in_acc, rec = ratio(ok_in, ins), ratio(ok_oos, oos)
    return (in_acc + rec) / 2, in_acc


def percentiles(ns: Sequence[int]) -> dict[str, float]:
    """p50 / p99 / max / mean of latencies given in nanoseconds, in milliseconds."""
    import numpy as np

    ms = np.asarray(ns, dtype=np.float64) / 1e6
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "mean_ms": float(ms.mean()),
        "n": len(ms),
    }


# --------------------------------------------------------------------------------------------- tuning


def _sweep(candidates: Sequence[Sequence[Any]], golds: Sequence[str]) -> Iterator[tuple[float, Any, Any, Any]]:
    """(margin, thresholds, in-scope accuracy, OOS recall) for each margin, over every useful threshold.

    Every threshold that makes a difference (each distinct top score) is tried with each margin from 0
    to 20 in steps of 0.25, just as the anchor's threshold is tried at every distinct score. Counting is
    vectorised over thresholds, with ``decide`` itself choosing the intent at each margin.
    """
    import math

    import numpy as np

    from bot.catalog.schema import MatcherSettings
    from bot.matcher import decide

    top = np.array([c[0].score if c else -1.0 for c in candidates])
    has = np.array([bool(c) and c[0].intent is not None for c in candidates])
    is_oos = np.array([g == OOS for g in golds])
    n_in, n_oos = max(int((~is_oos).sum()), 1), max(int(is_oos.sum()), 1)
    thresholds = np.unique(top[has])
    for m in [d / 4 for d in range(0, 81)]:
        # decide() with no threshold says which intent a margin would answer; the threshold then only
        # has to reach that intent's score (any intent judged before it scored higher)
        open_door = MatcherSettings(threshold=-math.inf, margin=m, suggest=-math.inf)
        picked = [_answered(c, decide(c, open_door)[0]) for c in candidates]
        eligible = np.array([p is not None for p in picked])
        score = np.array([p[0] if p is not None else -1.0 for p in picked])
        right = np.array([p is not None and p[1] == g for p, g in zip(picked, golds, strict=True)])

        def at_least(mask: np.ndarray, score: np.ndarray = score) -> np.ndarray:
            ordered = np.sort(score[mask])
            return len(ordered) - np.searchsorted(ordered, thresholds, side="left")

        yield m, thresholds, at_least(eligible & right & ~is_oos) / n_in, 1.0 - at_least(eligible & is_oos) / n_oos


def _answered(candidates: Sequence[Any], intent: str | None) -> tuple[float, str] | None:
    """(its score, intent) for the intent ``decide`` chose among ``candidates``, or None."""
    return next(((c.score, c.intent) for c in candidates if intent is not None and c.intent == intent), None)


def tune_decision(
    candidates: Sequence[Sequence[Any]],
    golds: Sequence[str],
    decide: Callable[[Sequence[Any], Any], tuple[str | None, tuple[str, ...]]],
    base: Any,
) -> tuple[Any, dict[str, float]]:
    """Threshold x margin maximising balanced accuracy (ties: in-scope accuracy, then lower values).

    Both get equally fine tuning (see ``_sweep``); the chosen pair is then checked with ``decide`` itself.
    """
    import numpy as np

    best: tuple[float, float, float, float] | None = None  # (balanced, in_acc, -t, -m) maximised
    for m, thresholds, in_acc, rec in _sweep(candidates, golds):
        bal = (in_acc + rec) / 2
        i = np.lexsort((-thresholds, in_acc, bal))[-1]
        key = (float(bal[i]), float(in_acc[i]), -float(thresholds[i]), -m)
        if best is None or key > best:
            best = key
    assert best is not None
    bal, in_acc, neg_t, neg_m = best
    chosen = replace(base, threshold=-neg_t, margin=-neg_m, suggest=min(base.suggest, -neg_t))
    checked = _quick_balance(golds, [decide(c, chosen)[0] for c in candidates])
    assert abs(checked[0] - bal) < 1e-9, (checked, bal)  # the vectorised count is decide()'s
    return chosen, {"val_balanced": bal, "val_in_scope_accuracy": in_acc}


def ceiling(candidates: Sequence[Sequence[Any]], golds: Sequence[str], floor: float) -> dict[str, float | None]:
    """What the best threshold x margin for this very set could reach: a bound on any tuning, not a result.

    ``in_scope_accuracy`` is the highest in-scope accuracy of any pair whose balanced accuracy is at
    least ``floor`` (the anchor's), with that pair's OOS recall; ``balanced`` is the highest balanced.
    """
    import numpy as np

    best_bal, best_in, its_rec = 0.0, None, None
    for _, _, in_acc, rec in _sweep(candidates, golds):
        bal = (in_acc + rec) / 2
        best_bal = max(best_bal, float(bal.max(initial=0.0)))
        ok = bal >= floor
        if ok.any():
            i = int(np.argmax(np.where(ok, in_acc, -1.0)))
            if best_in is None or in_acc[i] > best_in:
                best_in, its_rec = float(in_acc[i]), float(rec[i])
    return {"balanced": best_bal, "in_scope_accuracy": best_in, "oos_recall": its_rec, "floor": floor}


def tune_threshold(top_scores: Sequence[float], top_labels: Sequence[str], golds: Sequence[str]) -> float:
    """The score threshold (reject below it) maximising balanced accuracy; ties: higher in-scope accuracy."""
    import numpy as np

    s = np.asarray(top_scores, dtype=np.float64)
    right = np.asarray([p == g for p, g in zip(top_labels, golds, strict=True)])
    is_oos = np.asarray([g == OOS for g in golds])
    said_oos = np.asarray([p == OOS for p in top_labels])
    best_key, best_t = None, float("-inf")
    for t in [float("-inf"), *np.unique(s).tolist(), float("inf")]:
        accept = s >= t
        in_acc = float((right & accept & ~is_oos).sum() / max((~is_oos).sum(), 1))
        rec = float(((~accept | said_oos) & is_oos).sum() / max(is_oos.sum(), 1))
        key = ((in_acc + rec) / 2, in_acc)
        if best_key is None or key > best_key:
            best_key, best_t = key, t
    return best_t


def anchor_predict(outputs: Sequence[Sequence[Any]], threshold: float) -> list[str]:
    """Anchor labels with the out-of-scope threshold applied."""
    return [label if s >= threshold else OOS for label, s in outputs]
