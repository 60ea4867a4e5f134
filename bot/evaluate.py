"""`python -m bot eval FILE.tsv`: score the engine on labelled messages (format in INTENTS.md).

A line's intent is right when the engine's intent is one of the listed ids; "-" stands for the
fallback, and a "Did you mean" answer counts as the fallback (it did not pick an intent).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.engine import Engine
from bot.turns import Incoming

ESCALATIONS = ("emergency", "crisis")
FALLBACK = "-"
ANY_INTENT = "*"
# The targets the engine issue sets; printed so a run says at once where it stands.
TARGETS = {"intent accuracy": 0.90, "emergency recall": 1.0, "crisis recall": 1.0,
           "false escalations": 0.03, "fallback recall": 0.85}


@dataclass(frozen=True)
class Row:
    """One labelled message."""

    line: int
    escalation: str  # emergency | crisis | none | any
    intents: frozenset[str]  # ids, "-" for the fallback, "*" for any
    text: str


def read_tsv(path: str | Path) -> list[Row]:
    """Parse an eval file; ValueError names the first bad line."""
    rows = []
    for n, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split("\t")
        if len(parts) != 3:
            raise ValueError(f"line {n}: expected 3 tab-separated columns, got {len(parts)}")
        escalation, intents, text = parts
        if escalation not in (*ESCALATIONS, "none", "any"):
            raise ValueError(f"line {n}: escalation must be emergency, crisis, none or any, got {escalation!r}")
        rows.append(Row(n, escalation, frozenset(i.strip() for i in intents.split(",")), text))
    return rows


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def evaluate(engine: Engine, rows: Sequence[Row], *, out: TextIO, show_all: bool = False) -> int:
    """Run every row through the engine and print per-intent figures, the misses and a summary."""
    known = {i.id for i in engine.catalog.intents}
    intent_total = intent_right = 0
    esc_total: Counter[str] = Counter()
    esc_found: Counter[str] = Counter()
    none_total = false_escalations = 0
    fallback_total = fallback_right = 0
    predicted: Counter[str] = Counter()
    predicted_right: Counter[str] = Counter()
    gold_total: Counter[str] = Counter()
    gold_right: Counter[str] = Counter()
    misses: list[str] = []

    for row in rows:
        outcome = engine.respond(Incoming(text=row.text))
        fired = set(outcome.escalations)
        got = outcome.intent or FALLBACK
        problems = []
        if row.escalation in ESCALATIONS:
            esc_total[row.escalation] += 1
            if row.escalation in fired:
                esc_found[row.escalation] += 1
            else:
                problems.append(f"{row.escalation} not detected")
        elif row.escalation == "none":
            none_total += 1
            if fired:
                false_escalations += 1
                problems.append("false escalation: " + ",".join(sorted(fired)))
        if ANY_INTENT not in row.intents:
            right = got in row.intents
            intent_total += 1
            intent_right += right
            predicted[got] += 1
            predicted_right[got] += right
            for gold in row.intents:
                gold_total[gold] += 1
                gold_right[gold] += right
            if row.intents == {FALLBACK}:
                fallback_total += 1
                fallback_right += got == FALLBACK
            if not right:
                shown = got if not outcome.choices else f"{got} (did you mean {', '.join(outcome.choices)})"
                problems.append(f"expected {','.join(sorted(row.intents))}, got {shown}")
        if problems or show_all:
            mark = "MISS" if problems else "ok  "
            misses.append(f"{mark} line {row.line}: {'; '.join(problems) or got}: {row.text}")

    unknown = sorted(i for r in rows for i in r.intents if i not in known and i not in (FALLBACK, ANY_INTENT))
    if unknown:
        out.write("ids in the file that the catalog does not have: " + ", ".join(sorted(set(unknown))) + "\n")
    out.write(f"{'intent':28} {'precision':>9} {'recall':>7} {'lines':>6}\n")
    for intent in sorted(set(gold_total) | set(predicted)):
        out.write(f"{intent:28} {_fmt(_ratio(predicted_right[intent], predicted[intent])):>9} "
                  f"{_fmt(_ratio(gold_right[intent], gold_total[intent])):>7} {gold_total[intent]:>6}\n")
    out.write("\n" + "\n".join(misses) + ("\n" if misses else ""))

    figures = {
        "intent accuracy": (_ratio(intent_right, intent_total), f"{intent_right}/{intent_total}"),
        "emergency recall": (_ratio(esc_found["emergency"], esc_total["emergency"]),
                             f"{esc_found['emergency']}/{esc_total['emergency']}"),
        "crisis recall": (_ratio(esc_found["crisis"], esc_total["crisis"]),
                          f"{esc_found['crisis']}/{esc_total['crisis']}"),
        "false escalations": (_ratio(false_escalations, none_total), f"{false_escalations}/{none_total}"),
        "fallback recall": (_ratio(fallback_right, fallback_total), f"{fallback_right}/{fallback_total}"),
    }
    out.write(f"\n{len(rows)} lines\n")
    for name, (value, counts) in figures.items():
        target = TARGETS[name]
        if value is None:
            verdict = "n/a"
        elif name == "false escalations":
            verdict = "ok" if value <= target else "BELOW TARGET"
        else:
            verdict = "ok" if value >= target else "BELOW TARGET"
        bound = "<=" if name == "false escalations" else ">="
        out.write(f"{name:18} {_fmt(value):>6}  ({counts})  target {bound} {target:g}: {verdict}\n")
    return 0
