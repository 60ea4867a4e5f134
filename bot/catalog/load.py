"""The catalog's front door: a folder of intent files in, a Catalog and every problem out.

Loading never raises on bad input: it returns the problems (errors and warnings) and a Catalog only
when there is no error. `check` adds the rules that run the catalog through the matcher and the safety
detector, and `load_for_serving` is how every way into serving gets its catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from bot.catalog import rules
from bot.catalog.build import build
from bot.catalog.entries import Positions, positions, read_folder
from bot.catalog.problems import CatalogError, Problem, Problems
from bot.catalog.schema import Catalog, Source
from bot.config import Config
from bot.matcher import Matcher


@dataclass(frozen=True)
class Analysis:
    """Everything `check` needs: the valid parts as a Catalog, the problems, and where each phrase is."""

    catalog: Catalog
    problems: list[Problem]
    files: int
    positions: Positions
    normalised: Mapping[str, str]  # example -> bot.text.normalise(example)


def analyse(
    directory: str | Path, *, for_serving: bool = False, service: Mapping[str, str] | None = None
) -> Analysis:
    """Load what can be loaded and report every problem: the Catalog holds only the valid parts.

    `check` uses this to run the matcher on a partly broken catalog; serving code wants `load_catalog`.
    """
    problems = Problems()
    # the same defaults the engine fills answers with when it is given no service settings
    found = read_folder(Path(directory), problems, service if service is not None else Config().answer_values())
    catalog, normalised = build(found, problems, for_serving)
    return Analysis(catalog, problems.listed(), len(found.texts), positions(found, str(directory)), normalised)


def load_catalog(
    directory: str | Path, *, for_serving: bool = False, service: Mapping[str, str] | None = None
) -> tuple[Catalog | None, list[Problem]]:
    """Load and validate every intent file in ``directory``; the Catalog is None when there are errors.

    ``service`` (config ``service:``) names the placeholders answers may use and fills them for the
    length checks; it defaults to the built-in service settings.
    """
    result = analyse(directory, for_serving=for_serving, service=service)
    if any(p.is_error for p in result.problems):
        return None, result.problems
    return result.catalog, result.problems


def require_catalog(
    directory: str | Path, *, for_serving: bool = False, service: Mapping[str, str] | None = None
) -> Catalog:
    """`load_catalog` for callers that stop on errors: raises CatalogError with every problem."""
    catalog, problems = load_catalog(directory, for_serving=for_serving, service=service)
    if catalog is None:
        raise CatalogError(problems)
    return catalog


def check(directory: str, *, serving: bool = False, service: Mapping[str, str] | None = None,
          today: date | None = None, notes: list[str] | None = None) -> tuple[Analysis, list[Problem]]:
    """Every problem in a catalog: loading, matcher, safety, confusable examples and helpline dates.

    ``notes`` receives lines worth showing that are not problems (the matcher settings it chose).
    """
    result = analyse(directory, for_serving=serving, service=service)
    catalog, where = result.catalog, result.positions
    problems = list(result.problems)
    try:
        # escalation tests run even on a catalog with no intents: serving must never skip them
        matcher = Matcher(catalog) if catalog.intents else None
        if matcher is not None:
            problems.extend(rules.intent_tests(catalog, where, matcher))
            if matcher.calibration is not None and notes is not None:
                notes.append(matcher.calibration.describe())
            problems.extend(rules.follow_up_tests(catalog, where))
            problems.extend(rules.translated_examples(catalog, where))
        problems.extend(rules.escalation_tests(catalog, where, matcher))
        if matcher is not None:
            problems.extend(rules.confusable_examples(catalog, where, result.normalised))
    except Exception as exc:  # a half-broken catalog must not hide the problems already found
        message = f"the matcher checks could not run: {type(exc).__name__}: {exc}"
        problems.append(Problem(Source(str(directory), 0, 0), message))
    problems.extend(rules.closed_dates(catalog, where, today or datetime.now(UTC).date()))
    problems.sort(key=Problem.sort_key)
    return result, problems


def load_for_serving(directory: str, service: Mapping[str, str] | None = None) -> tuple[Catalog | None, list[Problem]]:
    """The catalog if `check` passes it for serving (escalation tests and examples included), else None.

    Every way into serving (`run`, `chat`, /reload, a change on disk) comes through here, so the
    bot serves exactly what `check` accepts: an edit that silences an escalation is refused.
    """
    result, problems = check(directory, serving=True, service=service)
    if any(p.is_error for p in problems):
        return None, problems
    return result.catalog, problems
