"""How well and how fast bot/language.py tells Welsh from English.

    .venv/bin/python benchmarks/language.py [--welsh eval/welsh.tsv] [--english ../shared/eval/dev.tsv]

Every line of the Welsh file must be detected as Welsh, and no line of the English file as Welsh
("en" and "undecided", which keeps a chat's language, English by default, both count as right).
Targets (exit status 1 if one is missed): Welsh right on at least 95% of its lines, English on at
least 99%. Also prints the detector's time per message, after its models are loaded.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.language import WELSH, detect, warm  # noqa: E402

WELSH_TARGET = 0.95
ENGLISH_TARGET = 0.99
REPEATS = 5


def texts(path: Path) -> list[str]:
    """The text column of an eval file (INTENTS.md format), comments left out."""
    with path.open(encoding="utf-8") as f:
        return [row[2] for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
                if len(row) > 2 and not row[0].startswith("#")]


def main() -> int:
    """Print the figures; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--welsh", type=Path, default=ROOT / "eval" / "welsh.tsv")
    parser.add_argument("--english", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.tsv")
    args = parser.parse_args()
    started = time.perf_counter()
    warm()
    load_ms = (time.perf_counter() - started) * 1000
    welsh, english = texts(args.welsh), texts(args.english)
    welsh_right = [detect(t) == WELSH for t in welsh]
    english_right = [detect(t) != WELSH for t in english]
    lines = welsh + english
    started = time.perf_counter()
    for _ in range(REPEATS):
        for t in lines:
            detect(t)
    per_message_ms = (time.perf_counter() - started) * 1000 / (REPEATS * len(lines))
    w, e = sum(welsh_right) / len(welsh), sum(english_right) / len(english)
    print(f"welsh   {w:.3f} ({sum(welsh_right)}/{len(welsh)} detected as Welsh)  target >= {WELSH_TARGET}")
    print(f"english {e:.3f} ({sum(english_right)}/{len(english)} not taken for Welsh)  target >= {ENGLISH_TARGET}")
    print(f"time    {per_message_ms:.3f} ms a message (models loaded in {load_ms:.0f} ms)")
    for text, right in zip(welsh, welsh_right, strict=True):
        if not right:
            print(f"  missed Welsh: {text}")
    for text, right in zip(english, english_right, strict=True):
        if not right:
            print(f"  English taken for Welsh: {text}")
    return 0 if w >= WELSH_TARGET and e >= ENGLISH_TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
