"""`python -m bot check`: every problem in the intent files, one per line, in well under a second.

On top of what loading reports (bot/catalog.py), this runs the catalog through the real matcher and
safety detector: each `tests:` phrase must reach its own intent, escalation tests must fire and
not_tests must not, out-of-scope messages must get the fallback, and examples of different intents
that are nearly the same are flagged as confusable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, TextIO

import numpy as np
from rapidfuzz import fuzz, process

from bot.catalog.load import Analysis, Problem, analyse
from bot.catalog.schema import Catalog, Source

if TYPE_CHECKING:
    from bot.matcher import Matcher

CONFUSABLE = 92  # rapidfuzz ratio of two normalised examples at or above which they are confusable
_LENGTH_RATIO = CONFUSABLE / (200 - CONFUSABLE)  # ratio >= C needs shorter/longer >= C/(200-C)
_BLOCK = 512  # query rows per cdist call: bounds memory on big catalogs
CLOSED_DATES_NOTICE = timedelta(days=60)


def _explained(message: str, lines: list[str]) -> str:
    return message + "".join(f"\n      {line}" for line in lines)


def matcher_problems(result: Analysis, matcher: Matcher) -> list[Problem]:
    """Intent tests, negative examples and out-of-scope messages run through the real matcher."""
    from bot.matcher import explain

    catalog = result.catalog
    out: list[Problem] = []
    for intent in catalog.intents:
        for i, phrase in enumerate(intent.tests):
            m = matcher.match(phrase)
            if m.intent != intent.id:
                got = repr(m.intent) if m.intent else (
                    "'Did you mean: " + ", ".join(m.suggestions) + "'" if m.suggestions else "the fallback")
                message = f"test {phrase!r} gets {got}, not {intent.id!r}: add examples like it"
                out.append(Problem(result.source(intent.id, "tests", i), _explained(message, explain(m))))
        for i, phrase in enumerate(intent.negative_examples):
            m = matcher.match(phrase)
            if m.intent == intent.id:
                message = f"negative example {phrase!r} still matches {intent.id!r}: reword the example"
                src = result.source(intent.id, "negative_examples", i)
                out.append(Problem(src, _explained(message, explain(m))))
    for i, phrase in enumerate(catalog.out_of_scope):
        m = matcher.match(phrase)
        if m.intent is not None:
            message = f"out-of-scope message {phrase!r} matches {m.intent!r} instead of getting the fallback"
            out.append(Problem(result.source("", "out_of_scope", i), _explained(message, explain(m))))
    return out


def follow_up_problems(result: Analysis) -> list[Problem]:
    """Each follow-up's tests must reach it within its topic; an example nearer another follow-up is flagged."""
    from bot.followups import ACCEPT, DIRECT, FollowUpMatcher

    matcher = FollowUpMatcher(result.catalog)
    out: list[Problem] = []
    for intent in result.catalog.intents:
        for f in intent.follow_ups:
            owner = f"{intent.id}/{f.id}"
            for i, phrase in enumerate(f.tests):
                hit = matcher.match(intent.id, phrase)
                if hit is None or hit.follow_up.id != f.id or hit.score < ACCEPT:
                    if hit is not None and hit.follow_up.id == f.id:
                        got = f"only {hit.score:.0f} for {f.id!r} (like {hit.example!r}; it needs {ACCEPT:.0f})"
                    else:
                        got = "nothing" if hit is None else (
                            f"{hit.follow_up.id!r} ({hit.score:.0f}, like {hit.example!r})")
                        got += f", not {f.id!r}"
                    message = f"follow-up test {phrase!r} gets {got} in the topic {intent.id!r}: add examples like it"
                    out.append(Problem(result.source(owner, "tests", i), message))
            for i, example in enumerate(f.examples):
                rival = matcher.match(intent.id, example, exclude=f.id)
                if rival is not None and rival.score >= DIRECT:
                    message = (f"follow-up example {example!r} of {f.id!r} is {rival.score:.0f}% like "
                               f"{rival.example!r} of {rival.follow_up.id!r}: it would answer as that one; "
                               "reword one or keep one")
                    out.append(Problem(result.source(owner, "examples", i), message, "warning"))
    return out


def translation_problems(result: Analysis) -> list[Problem]:
    """Each translated example must get its own intent from its language's matcher (as the engine serves it)."""
    from bot.localize import examples_in, languages
    from bot.matcher import Matcher, explain

    catalog = result.catalog
    out: list[Problem] = []
    for code in languages(catalog):
        examples = examples_in(catalog, code)
        if examples is None:
            continue
        matcher = Matcher(examples)
        for intent in catalog.intents:
            translation = intent.translations.get(code)
            for i, phrase in enumerate(translation.examples if translation is not None else ()):
                m = matcher.match(phrase)
                if m.intent != intent.id:
                    got = repr(m.intent) if m.intent else "the fallback"
                    message = (f"translated example {phrase!r} ({code}) gets {got}, not {intent.id!r}: "
                               "reword it, or move it to the intent it means")
                    src = result.source(intent.id, f"translations.{code}.examples", i)
                    out.append(Problem(src, _explained(message, explain(m))))
    return out


def safety_problems(result: Analysis, matcher: Matcher | None) -> list[Problem]:
    """Escalation tests must fire their escalation; not_tests must not."""
    from bot.safety import Detector

    catalog = result.catalog
    # the engine's detector: words the matcher knows are taken as written, not spell-corrected
    detector = Detector.for_catalog(catalog, matcher.vocabulary() if matcher is not None else ())
    out: list[Problem] = []
    for esc in catalog.escalations:
        owner = f"escalation:{esc.id}"
        for i, phrase in enumerate(esc.tests):
            if not any(h.escalation == esc.id for h in detector.detect(phrase)):
                message = f"test {phrase!r} does not fire {esc.id!r}: add a phrase or pattern that covers it"
                out.append(Problem(result.source(owner, "tests", i), message))
        for i, phrase in enumerate(esc.not_tests):
            fired = [h for h in detector.detect(phrase) if h.escalation == esc.id]
            if fired:
                message = f"not_test {phrase!r} fires {esc.id!r} ({fired[0].describe()}): narrow that rule"
                out.append(Problem(result.source(owner, "not_tests", i), message))
        # The learned part saw these lines, so each one that still misfires points at a contradiction:
        # a past_marker sets it aside, or the negatives say the opposite. They are training data, not
        # promises (tests are), so a warning: an admin's big catalog must not stop the bot serving.
        for i, phrase in enumerate(esc.examples):
            if not any(h.escalation == esc.id for h in detector.detect(phrase)):
                message = (f"example {phrase!r} does not fire {esc.id!r}: a past_marker sets it aside, or "
                           "negative_examples say the opposite")
                out.append(Problem(result.source(owner, "examples", i), message, "warning"))
        for code, translation in esc.translations.items():
            for name, phrases in (("phrases", translation.phrases), ("examples", translation.examples)):
                for i, phrase in enumerate(phrases):
                    if not any(h.escalation == esc.id for h in detector.detect(phrase)):
                        message = f"translated {name[:-1]} {phrase!r} ({code}) does not fire {esc.id!r}"
                        out.append(Problem(result.source(owner, f"translations.{code}.{name}", i), message,
                                           "warning"))
            for i, phrase in enumerate(translation.negative_examples):
                fired = [h for h in detector.detect(phrase) if h.escalation == esc.id]
                if fired:
                    message = (f"translated negative example {phrase!r} ({code}) fires {esc.id!r} "
                               f"({fired[0].describe()})")
                    out.append(Problem(result.source(owner, f"translations.{code}.negative_examples", i), message,
                                       "warning"))
        for i, phrase in enumerate(esc.negative_examples):
            fired = [h for h in detector.detect(phrase) if h.escalation == esc.id]
            if fired:
                message = f"negative example {phrase!r} fires {esc.id!r} ({fired[0].describe()})"
                if fired[0].evidence is not None:
                    message += ": examples say the opposite, reword or remove one"
                else:
                    message += ": narrow that rule, or add a past_marker"
                # a false alarm costs a reply, a miss can cost a life: this one is a warning
                out.append(Problem(result.source(owner, "negative_examples", i), message, "warning"))
    for i, phrase in enumerate(catalog.everyday):
        hits = detector.detect(phrase)
        if hits:
            message = f"everyday message {phrase!r} fires {hits[0].escalation!r} ({hits[0].describe()})"
            out.append(Problem(result.source("", "everyday", i), message, "warning"))
    return out


def confusable_problems(result: Analysis) -> list[Problem]:
    """Warnings, at both places, for examples of different intents that read nearly the same."""
    from bot.text import normalise

    owner_of: dict[str, tuple[str, int]] = {}
    clash: set[str] = set()
    for intent in result.catalog.intents:
        for i, example in enumerate(intent.examples):
            norm = result.normalised.get(example) or normalise(example)
            first = owner_of.setdefault(norm, (intent.id, i))
            if first[0] != intent.id:
                clash.add(norm)  # identical across intents: already an error from loading
    texts = sorted((n for n in owner_of if n not in clash), key=len)
    if len(texts) < 2:
        return []
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    pairs: list[tuple[str, str, float]] = []
    for start in range(0, len(texts), _BLOCK):
        stop = min(start + _BLOCK, len(texts))
        # Sorted by length, so each block needs only the choices from its own start up to the longest
        # string that could still reach the cut; earlier choices were compared when they were queries.
        hi = int(np.searchsorted(lengths, lengths[stop - 1] / _LENGTH_RATIO, side="right"))
        scores = process.cdist(texts[start:stop], texts[start:hi], scorer=fuzz.ratio,
                               score_cutoff=CONFUSABLE, dtype=np.uint8, workers=1)
        for r, c in zip(*np.nonzero(scores), strict=True):
            qi, ci = start + int(r), start + int(c)
            if qi < ci and owner_of[texts[qi]][0] != owner_of[texts[ci]][0]:
                pairs.append((texts[qi], texts[ci], float(scores[r, c])))
    catalog = result.catalog
    out: list[Problem] = []
    for a, b, score in pairs:
        (ia, xa), (ib, xb) = owner_of[a], owner_of[b]
        ea, eb = catalog.by_id[ia].examples[xa], catalog.by_id[ib].examples[xb]
        sa, sb = result.source(ia, "examples", xa), result.source(ib, "examples", xb)
        for src, mine, other, other_id, other_src in ((sa, ea, eb, ib, sb), (sb, eb, ea, ia, sa)):
            out.append(Problem(src, f"confusable: {mine!r} is {score:.0f}% like {other!r} of {other_id!r} "
                                    f"({other_src}): reword one or keep one", "warning"))
    return out


def hours_problems(result: Analysis, today: date) -> list[Problem]:
    """Warn when a line's closed_dates (bank holidays) have run out or soon will."""
    out: list[Problem] = []
    for hours in result.catalog.hours:
        src = result.source(f"hours:{hours.id}", "closed_dates")
        if not hours.closed_dates:
            out.append(Problem(src, f"{hours.id}: no closed_dates: list the bank holidays when it is closed",
                               "warning"))
            continue
        last = max(hours.closed_dates)
        if last < today.isoformat():
            out.append(Problem(src, f"{hours.id}: every closed_date is past (last {last}): add the coming "
                                    "bank holidays", "warning"))
        elif date.fromisoformat(last) - today < CLOSED_DATES_NOTICE:
            message = f"{hours.id}: closed_dates run out on {last}: add next year's bank holidays"
            out.append(Problem(src, message, "warning"))
    return out


def check(directory: str, *, serving: bool = False, service: Mapping[str, str] | None = None,
          today: date | None = None, notes: list[str] | None = None) -> tuple[Analysis, list[Problem]]:
    """Every problem in a catalog: loading, matcher, safety, confusable examples and helpline dates.

    ``notes`` receives lines worth showing that are not problems (the matcher settings it chose).
    """
    result = analyse(directory, for_serving=serving, service=service)
    problems = list(result.problems)
    try:
        from bot.matcher import Matcher

        # escalation tests run even on a catalog with no intents: serving must never skip them
        matcher = Matcher(result.catalog) if result.catalog.intents else None
        if matcher is not None:
            problems.extend(matcher_problems(result, matcher))
            if matcher.calibration is not None and notes is not None:
                notes.append(matcher.calibration.describe())
            problems.extend(follow_up_problems(result))
            problems.extend(translation_problems(result))
        problems.extend(safety_problems(result, matcher))
        if matcher is not None:
            problems.extend(confusable_problems(result))
    except Exception as exc:  # a half-broken catalog must not hide the problems already found
        message = f"the matcher checks could not run: {type(exc).__name__}: {exc}"
        problems.append(Problem(Source(str(directory), 0, 0), message))
    problems.extend(hours_problems(result, today or datetime.now(UTC).date()))
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
