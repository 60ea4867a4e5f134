"""`python -m bot check`: every problem in the intent files, one per line, then a summary.

The rules themselves live in bot/catalog/ (rules.py, run by `check` in load.py); this is the command.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from datetime import date
from typing import TextIO

from bot.catalog.load import check


def run_check(directory: str, *, strict: bool = False, serving: bool = False, out: TextIO = sys.stdout,
              service: Mapping[str, str] | None = None, today: date | None = None) -> int:
    """Print every problem, then a summary; exit code 1 on errors (or on warnings with ``strict``)."""
    started = time.perf_counter()
    notes: list[str] = []
    result, problems = check(directory, serving=serving, service=service, today=today, notes=notes)
    elapsed_ms = (time.perf_counter() - started) * 1000
    for p in problems:
        print(p, file=out)
    for line in notes:
        print(line, file=out)
    errors = sum(p.is_error for p in problems)
    warnings = len(problems) - errors
    catalog = result.catalog
    examples = sum(len(i.examples) for i in catalog.intents)
    summary = (f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)} in "
               f"{result.files} file{'s' * (result.files != 1)} ({len(catalog.intents)} intents, "
               f"{examples} examples) in {elapsed_ms:.0f} ms")
    if strict and warnings:
        summary += " (--strict: warnings count as errors)"
    print(summary, file=out)
    return 1 if errors or (strict and warnings) else 0
