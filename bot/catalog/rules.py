"""The catalog's rules, one function per rule, each reporting at file:line:col.

Two kinds, in the order `check` runs them:
- rules over what was read, across files (ids, examples, answers, buttons, variants, what serving needs):
  each reports through the reporter of the file the problem is in;
- rules that run the built catalog through the real matcher and safety detector: each `tests:` phrase
  must reach its own intent, escalation tests must fire and not_tests must not, out-of-scope messages
  must get the fallback, and examples of different intents that are nearly the same are flagged.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from rapidfuzz import fuzz, process

from bot import htmltext, jurisdiction, placeholders, templates
from bot.catalog.entries import ButtonEntry, Entry, Found, Positions, Text, suggest
from bot.catalog.problems import FileProblems, Problem, Problems
from bot.catalog.schema import ESCALATION_IDS, REQUIRED_RESPONSES, Catalog, Escalation, OpeningHours
from bot.followups import ACCEPT, DIRECT, FollowUpMatcher
from bot.hours import hours_text
from bot.localize import examples_in, languages
from bot.matcher import Matcher, explain
from bot.safety import Detector, Hit
from bot.text import normalise

MENU_ROOTS = ("menu", "greeting")  # where a person starts pressing buttons
SMALL_TALK = ("thanks", "goodbye")  # typed, never looked for in a menu
EMERGENCY_MARKERS = ("{emergency_number}", "999")
HELPLINE_MARKERS = ("{helpline_number}", "0808 802 0300")
# A default answer naming one of these describes England and Wales law only, so a person in Scotland or
# Northern Ireland needs an answer of their own: an Act by name, "England and Wales", or an order that
# exists under that name only there (Northern Ireland's SPOs are under its own 2022 Act, told in its variant).
EW_ONLY_LAW = re.compile(
    r"England (?:and|&amp;|&) Wales|\b[A-Z][a-z]+(?: (?:[A-Z][a-z]+|from|of|and|the|on))* Act \d{4}|"
    r"(?i:\bSPOs?\b|Stalking Protection Orders?|\brestraining orders?|\bnon-molestation orders?|"
    r"Domestic Abuse Protection Orders?|\bDAPOs?\b|Clare's Law)")
CONFUSABLE = 92  # rapidfuzz ratio of two normalised examples at or above which they are confusable
_LENGTH_RATIO = CONFUSABLE / (200 - CONFUSABLE)  # ratio >= C needs shorter/longer >= C/(200-C)
_BLOCK = 512  # query rows per cdist call: bounds memory on big catalogs
CLOSED_DATES_NOTICE = timedelta(days=60)


# -- rules over what was read ----------------------------------------------------------------------


def unique_ids(problems: Problems, entries: list[Entry], what: str) -> dict[str, Entry]:
    """Each id once: a second entry with the same id is an error (and left out); the first ones by id."""
    seen: dict[str, Entry] = {}
    for e in entries:
        first = seen.get(e.id.value)
        if first is not None:
            problems.file(e.file).error(e.id.node, f"{what} id {e.id.value!r} is already used at "
                                                   f"{first.file}:{first.id.node.line}: ids must be unique")
        else:
            seen[e.id.value] = e
    return seen


def unique_hours(problems: Problems, found: Found) -> dict[str, OpeningHours]:
    """Each opening_hours id once, like `unique_ids`."""
    by_id: dict[str, OpeningHours] = {}
    for hours, node, _ in found.hours:
        if hours.id in by_id:
            report = problems.file(hours.source.file if hours.source else "")
            report.error(node, f"opening_hours id {hours.id!r} is already used at {by_id[hours.id].source}")
        else:
            by_id[hours.id] = hours
    return by_id


@dataclass(frozen=True)
class Placeholders:
    """What answers may name in {braces}, and the longest values they may be filled with."""

    status: frozenset[str]  # what a status text may use besides {opens}/{closes}
    fill: Mapping[str, str]  # every placeholder an answer may use -> its longest value
    urls: Mapping[str, str]  # the values a button url is filled with


def placeholders_of(service: Mapping[str, str], hours: Iterable[OpeningHours]) -> Placeholders:
    """The service's placeholders, with each line's {<id>_status} and {<id>_hours}."""
    urls = placeholders.values(service, (), datetime.now(UTC), as_html=False)
    values = placeholders.values(service, (), datetime.now(UTC))
    status = frozenset(values)
    for h in hours:
        # the longer of the two texts, so the length check covers both
        opened = _fill_or_empty(h.open_text, {**values, "closes": "16:00"})
        closed = [_fill_or_empty(t, {**values, "opens": "on Wednesday 30 September at 09:30"})
                  for t in (h.closed_text, *h.closed_variants.values())]
        values[f"{h.id}_status"] = max(opened, *closed, key=len)
        values[f"{h.id}_hours"] = hours_text(h)
    return Placeholders(status, values, urls)


def _fill_or_empty(template: str, values: Mapping[str, str]) -> str:
    try:
        return templates.fill(template, values)
    except templates.PlaceholderError:
        return ""  # reported by `template`


def template(report: FileProblems, text: Text, known: Collection[str], what: str) -> bool:
    """HTML and placeholder checks on one template; True when it can be served."""
    ok = True
    for p in htmltext.validate(text.value, check_links=False):
        line, col = report.at(text.node, p.offset)
        report.error(text.node, f"{what}: {p.message}", line, col)
        ok = False
    found, brace_problems = templates.scan(text.value)
    for offset, message in brace_problems:
        line, col = report.at(text.node, offset)
        report.error(text.node, f"{what}: {message}", line, col)
        ok = False
    for offset, name in found:
        if name not in known:
            line, col = report.at(text.node, offset)
            report.error(text.node, f"{what}: unknown placeholder {{{name}}}{suggest(name, known)}; "
                                    f"known: {', '.join(sorted(known))}", line, col)
            ok = False
    return ok


def status_texts(problems: Problems, found: Found, values: Placeholders) -> None:
    """Each opening_hours open_text and closed_text: a template with {closes} or {opens}."""
    for key, text in found.hours_texts:
        template(problems.file(text.file), text, values.status | {"closes" if key == "open_text" else "opens"}, key)


def answer(report: FileProblems, text: Text | None, values: Placeholders, name: str) -> str | None:
    """HTML, placeholder and length checks on one answer; its text when it can be served."""
    if text is None:
        return None
    if not template(report, text, values.fill, name):
        return None
    rendered = templates.fill(text.value, values.fill)
    for p in htmltext.validate(rendered):
        report.error(text.node, f"{name}, once placeholders are filled: {p.message}")
    length = htmltext.text_length(rendered)
    if length > htmltext.TELEGRAM_LIMIT:
        report.error(text.node, f"{name} is {length} characters once placeholders are filled; "
                                f"Telegram's limit is {htmltext.TELEGRAM_LIMIT}: shorten it")
    return text.value


def button(report: FileProblems, b: ButtonEntry, intent_by_id: Mapping[str, Entry], values: Placeholders) -> bool:
    """A button leads to a known intent, or to an https:// link once its placeholders are filled."""
    if b.intent is not None:
        if b.intent.value not in intent_by_id:
            report.error(b.intent.node, f"button to unknown intent {b.intent.value!r}"
                                        f"{suggest(b.intent.value, intent_by_id)}")
            return False
        return True
    if b.url is None or b.text is None:
        return False
    found, problems = templates.scan(b.url.value)
    unknown = [n for _, n in found if n not in values.urls]
    if problems or unknown:
        if problems:
            detail = problems[0][1]
        else:
            detail = f"unknown placeholder {{{unknown[0]}}}{suggest(unknown[0], values.urls)}"
        report.error(b.url.node, f"button url: {detail}")
        return False
    url = templates.fill(b.url.value, values.urls).strip()
    if url and not url.lower().startswith("https://"):
        report.error(b.url.node, f"button url {url!r} must start with https://")
        return False
    return True


def variant_differs(report: FileProblems, name: str, text: Text, checked: str, default: Text | None) -> None:
    """A nation's variant that says what the default answer says is a warning: it is not needed."""
    if default is not None and " ".join(checked.split()) == " ".join(default.value.split()):
        report.warn(text.node, f"variants.{name} is the same as the default answer: remove it")


def law_has_variants(report: FileProblems, e: Entry) -> bool:
    """An answer naming England and Wales law needs a variant for Scotland and for Northern Ireland."""
    default: Text | None = e.fields.get("answer")
    law = EW_ONLY_LAW.search(default.value) if default is not None else None
    if default is None or law is None:
        return True
    ok = True
    line, col = report.at(default.node, law.start())
    for name in ("scotland", "northern_ireland"):
        if name not in e.fields.get("variants", {}):
            report.error(default.node, f"answer names {law.group()!r}, England and Wales law, but there is no "
                                       f"variants.{name}: a person in {jurisdiction.NATIONS[name]} would be "
                                       "told the wrong law; add their own answer", line, col)
            ok = False
    return ok


def unique_examples(problems: Problems, intent_by_id: Mapping[str, Entry], normalised: dict[str, str]) -> None:
    """The same normalised example in two intents is an error; twice in one intent a warning.

    ``normalised`` is filled with each example's normalised form, for `confusable_examples`.
    """
    owner: dict[str, tuple[Entry, Text]] = {}
    for e in intent_by_id.values():
        report = problems.file(e.file)
        negatives = {normalise(t.value) for t in e.fields["negative_examples"]}
        translated = [t for texts in e.fields.get("translations", {}).values() for t in texts["examples"]]
        for t in e.fields["examples"] + translated:
            norm = normalised.get(t.value)
            if norm is None:
                norm = normalised[t.value] = normalise(t.value)
            if norm in negatives:
                report.error(t.node, f"{t.value!r} is both an example and a negative example of "
                                     f"{e.id.value!r}: remove one")
            first = owner.get(norm)
            if first is None:
                owner[norm] = (e, t)
            elif first[0] is e:
                report.warn(t.node, f"{t.value!r} normalises to the same text as {first[1].value!r} "
                                    f"(line {first[1].node.line}): remove one")
            else:
                other, ot = first
                report.error(t.node, f"{t.value!r} is also an example of {other.id.value!r} "
                                     f"({other.file}:{ot.node.line}): keep it in one intent")
                problems.file(other.file).error(ot.node, f"{ot.value!r} is also an example of {e.id.value!r} "
                                                         f"({e.file}:{t.node.line}): keep it in one intent")


def synonyms(problems: Problems, found: Found, intent_by_id: Mapping[str, Entry]) -> dict[str, tuple[str, ...]]:
    """The synonyms that can be used, canonical words -> variants; each one that cannot is a problem.

    Errors: the same words listed twice (a key in two places, or a variant under two keys), or a
    variant that is itself a key (which would it read as?). Warnings: a variant that reads as its own
    key or that examples already use (measured: mapping "cops" and "mom", which our American-register
    examples use, to "police" and "mum" cost dev and real questions a line each), and a key no example
    uses, which cannot bring a message nearer any intent.
    """
    examples = [f" {normalise(t.value)} " for e in intent_by_id.values() for t in e.fields["examples"]]
    used = {w for text in examples for w in text.split()}
    keys: dict[str, Text] = {}
    for key, _ in found.synonyms:
        norm = normalise(key.value)
        if norm in keys:
            first = keys[norm]
            problems.file(key.file).error(key.node, f"synonyms: {key.value!r} is listed twice (also "
                                                    f"{first.file}:{first.node.line}): merge the two lists")
        else:
            keys[norm] = key
    owner: dict[str, Text] = {}
    out: dict[str, tuple[str, ...]] = {}
    for key, variants in found.synonyms:
        report = problems.file(key.file)
        norm = normalise(key.value)
        if keys.get(norm) is not key:
            continue
        if not norm:
            report.error(key.node, f"synonyms: {key.value!r} has no words once normalised: write words")
            continue
        missing = [w for w in norm.split() if w not in used]
        if missing:
            report.warn(key.node, f"synonyms: no example uses {', '.join(map(repr, missing))}, so reading "
                                  f"messages as {key.value!r} cannot help: use the catalog's own words")
        kept: list[str] = []
        for v in variants:
            words = normalise(v.value)
            if not words:
                report.error(v.node, f"synonyms: {v.value!r} has no words once normalised: remove it")
            elif words == norm:
                report.warn(v.node, f"synonyms: {v.value!r} already reads as {key.value!r}: remove it")
            elif words in keys:
                report.error(v.node, f"synonyms: {v.value!r} is itself a key ({keys[words].file}:"
                                     f"{keys[words].node.line}): a variant must not be another word's key")
            elif any(f" {words} " in text for text in examples):
                n = sum(f" {words} " in text for text in examples)
                uses = "example already uses" if n == 1 else "examples already use"
                report.warn(v.node, f"synonyms: {n} {uses} {v.value!r}: the matcher knows it, and reading it as "
                                    f"{key.value!r} would only blur it, so it is left as it is: remove it")
            elif words in owner:
                first = owner[words]
                report.error(v.node, f"synonyms: {v.value!r} is already a synonym ({first.file}:"
                                     f"{first.node.line}): list it under one key")
            else:
                owner[words] = v
                kept.append(v.value)
        out[key.value] = tuple(kept)
    return out


def reachable(problems: Problems, intent_by_id: Mapping[str, Entry], entries: list[Entry]) -> None:
    """Warn about intents no button leads to, starting from the menu, greeting and bot responses."""
    roots: list[str] = [i for i in MENU_ROOTS if i in intent_by_id]
    if not roots:
        return
    edges: dict[str, list[str]] = {}
    for e in entries:
        key = e.id.value if e.kind == "intent" else f"{e.kind}:{e.id.value}"
        buttons = [*e.buttons, *(b for f in e.follow_ups for b in f.buttons)]
        edges[key] = [b.intent.value for b in buttons if b.intent is not None]
    seen = set(roots)
    todo = roots + [k for k in edges if ":" in k]
    while todo:
        for target in edges.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    for iid, e in intent_by_id.items():
        if iid not in seen and iid not in SMALL_TALK:
            problems.file(e.file).warn(e.id.node, f"no button leads to {iid!r} from the menu, so people reach it "
                                                  "only by typing: add it to the buttons of the menu or a related "
                                                  "intent")


def servable(problems: Problems, found: Found, escalations: Mapping[str, Entry], responses: Mapping[str, Entry],
             for_serving: bool) -> None:
    """What a catalog needs before the bot may serve it: errors when serving, warnings otherwise."""
    if not found.texts:  # no file could be read: that error says it all
        return
    consequence = "" if for_serving else " (the bot will refuse to serve this catalog)"
    folder = problems.file(str(found.directory))
    report = folder.error if for_serving else folder.warn
    for eid in ESCALATION_IDS:
        if eid not in escalations:
            report(None, f"no {eid!r} escalation{consequence}: add it (usually in safety.yaml)")
    for name in REQUIRED_RESPONSES:
        if name not in responses:
            report(None, f"no responses.{name}{consequence}: add it")
    for name in ("fallback", "none_of_these", "did_you_mean"):
        entry = responses.get(name)
        text = entry.fields.get("answer") if entry else None
        if entry is None or text is None:
            continue
        in_file = problems.file(entry.file)
        report = in_file.error if for_serving else in_file.warn
        # every nation's fallback carries them too
        texts = [(f"responses.{name}", text)] + [(f"responses.{name} variants.{nation}", t)
                                                  for nation, t in entry.fields.get("variants", {}).items()]
        for code, translated in entry.fields.get("translations", {}).items():
            if translated.get("answer") is not None:
                texts.append((f"responses.{name}.translations.{code}", translated["answer"]))
        for what, t in texts:
            if not any(m in t.value for m in EMERGENCY_MARKERS):
                report(t.node, f"{what} must give {{emergency_number}} (999){consequence}")
            if not any(m in t.value for m in HELPLINE_MARKERS):
                report(t.node, f"{what} must give {{helpline_number}} (helpline){consequence}")


# -- rules run through the matcher and the safety detector -----------------------------------------


def _explained(message: str, lines: list[str]) -> str:
    return message + "".join(f"\n      {line}" for line in lines)


def intent_tests(catalog: Catalog, where: Positions, matcher: Matcher) -> list[Problem]:
    """Intent tests, negative examples and out-of-scope messages run through the real matcher."""
    out: list[Problem] = []
    for intent in catalog.intents:
        for i, phrase in enumerate(intent.tests):
            m = matcher.match(phrase)
            if m.intent != intent.id:
                got = repr(m.intent) if m.intent else (
                    "'Did you mean: " + ", ".join(m.suggestions) + "'" if m.suggestions else "the fallback")
                message = f"test {phrase!r} gets {got}, not {intent.id!r}: add examples like it"
                out.append(Problem(where.of(intent.id, "tests", i), _explained(message, explain(m))))
        for i, phrase in enumerate(intent.negative_examples):
            m = matcher.match(phrase)
            if m.intent == intent.id:
                message = f"negative example {phrase!r} still matches {intent.id!r}: reword the example"
                src = where.of(intent.id, "negative_examples", i)
                out.append(Problem(src, _explained(message, explain(m))))
    for i, phrase in enumerate(catalog.out_of_scope):
        m = matcher.match(phrase)
        if m.intent is not None:
            message = f"out-of-scope message {phrase!r} matches {m.intent!r} instead of getting the fallback"
            out.append(Problem(where.of("", "out_of_scope", i), _explained(message, explain(m))))
    return out


def follow_up_tests(catalog: Catalog, where: Positions) -> list[Problem]:
    """Each follow-up's tests must reach it within its topic; an example nearer another follow-up is flagged."""
    matcher = FollowUpMatcher(catalog)
    out: list[Problem] = []
    for intent in catalog.intents:
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
                    out.append(Problem(where.of(owner, "tests", i), message))
            for i, example in enumerate(f.examples):
                rival = matcher.match(intent.id, example, exclude=f.id)
                if rival is not None and rival.score >= DIRECT:
                    message = (f"follow-up example {example!r} of {f.id!r} is {rival.score:.0f}% like "
                               f"{rival.example!r} of {rival.follow_up.id!r}: it would answer as that one; "
                               "reword one or keep one")
                    out.append(Problem(where.of(owner, "examples", i), message, "warning"))
    return out


def translated_examples(catalog: Catalog, where: Positions) -> list[Problem]:
    """Each translated example must get its own intent from its language's matcher (as the engine serves it)."""
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
                    src = where.of(intent.id, f"translations.{code}.examples", i)
                    out.append(Problem(src, _explained(message, explain(m))))
    return out


def _built_from(esc: Escalation) -> Iterator[str]:
    """The escalation's lines its detector is trained or built from: examples, negatives, translations."""
    yield from esc.examples
    yield from esc.negative_examples
    for t in esc.translations.values():
        yield from (*t.phrases, *t.examples, *t.negative_examples)


def escalation_tests(catalog: Catalog, where: Positions, matcher: Matcher | None) -> list[Problem]:
    """Escalation tests must fire their escalation; not_tests must not."""
    # the engine's detector: words the matcher knows are taken as written, not spell-corrected
    detector = Detector.for_catalog(catalog, matcher.vocabulary() if matcher is not None else ())
    # The lines the detector was built from are read back while nothing that shapes it changed; the
    # tests, few and the promises, always run.
    lines = list(dict.fromkeys([*catalog.everyday, *(line for e in catalog.escalations for line in _built_from(e))]))
    known = dict(zip(lines, detector.detect_known(lines), strict=True))

    def detect(text: str) -> tuple[Hit, ...]:
        return known[text] if text in known else detector.detect(text)

    out: list[Problem] = []
    for esc in catalog.escalations:
        owner = f"escalation:{esc.id}"
        for i, phrase in enumerate(esc.tests):
            if not any(h.escalation == esc.id for h in detect(phrase)):
                message = f"test {phrase!r} does not fire {esc.id!r}: add a phrase or pattern that covers it"
                out.append(Problem(where.of(owner, "tests", i), message))
        for i, phrase in enumerate(esc.not_tests):
            fired = [h for h in detect(phrase) if h.escalation == esc.id]
            if fired:
                message = f"not_test {phrase!r} fires {esc.id!r} ({fired[0].describe()}): narrow that rule"
                out.append(Problem(where.of(owner, "not_tests", i), message))
        # The learned part saw these lines, so each one that still misfires points at a contradiction:
        # a past_marker sets it aside, or the negatives say the opposite. They are training data, not
        # promises (tests are), so a warning: an admin's big catalog must not stop the bot serving.
        for i, phrase in enumerate(esc.examples):
            if not any(h.escalation == esc.id for h in detect(phrase)):
                message = (f"example {phrase!r} does not fire {esc.id!r}: a past_marker sets it aside, or "
                           "negative_examples say the opposite")
                out.append(Problem(where.of(owner, "examples", i), message, "warning"))
        for code, translation in esc.translations.items():
            for name, phrases in (("phrases", translation.phrases), ("examples", translation.examples)):
                for i, phrase in enumerate(phrases):
                    if not any(h.escalation == esc.id for h in detect(phrase)):
                        message = f"translated {name[:-1]} {phrase!r} ({code}) does not fire {esc.id!r}"
                        out.append(Problem(where.of(owner, f"translations.{code}.{name}", i), message, "warning"))
            for i, phrase in enumerate(translation.negative_examples):
                fired = [h for h in detect(phrase) if h.escalation == esc.id]
                if fired:
                    message = (f"translated negative example {phrase!r} ({code}) fires {esc.id!r} "
                               f"({fired[0].describe()})")
                    out.append(Problem(where.of(owner, f"translations.{code}.negative_examples", i), message,
                                       "warning"))
        for i, phrase in enumerate(esc.negative_examples):
            fired = [h for h in detect(phrase) if h.escalation == esc.id]
            if fired:
                message = f"negative example {phrase!r} fires {esc.id!r} ({fired[0].describe()})"
                if fired[0].evidence is not None:
                    message += ": examples say the opposite, reword or remove one"
                else:
                    message += ": narrow that rule, or add a past_marker"
                # a false alarm costs a reply, a miss can cost a life: this one is a warning
                out.append(Problem(where.of(owner, "negative_examples", i), message, "warning"))
    for i, phrase in enumerate(catalog.everyday):
        hits = detect(phrase)
        if hits:
            message = f"everyday message {phrase!r} fires {hits[0].escalation!r} ({hits[0].describe()})"
            out.append(Problem(where.of("", "everyday", i), message, "warning"))
    return out


def confusable_examples(catalog: Catalog, where: Positions, normalised: Mapping[str, str]) -> list[Problem]:
    """Warnings, at both places, for examples of different intents that read nearly the same."""
    owner_of: dict[str, tuple[str, int]] = {}
    clash: set[str] = set()
    for intent in catalog.intents:
        for i, example in enumerate(intent.examples):
            norm = normalised.get(example) or normalise(example)
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
    out: list[Problem] = []
    for a, b, score in pairs:
        (ia, xa), (ib, xb) = owner_of[a], owner_of[b]
        ea, eb = catalog.by_id[ia].examples[xa], catalog.by_id[ib].examples[xb]
        sa, sb = where.of(ia, "examples", xa), where.of(ib, "examples", xb)
        for src, mine, other, other_id, other_src in ((sa, ea, eb, ib, sb), (sb, eb, ea, ia, sa)):
            out.append(Problem(src, f"confusable: {mine!r} is {score:.0f}% like {other!r} of {other_id!r} "
                                    f"({other_src}): reword one or keep one", "warning"))
    return out


def closed_dates(catalog: Catalog, where: Positions, today: date) -> list[Problem]:
    """Warn when a line's closed_dates (bank holidays) have run out or soon will."""
    out: list[Problem] = []
    for hours in catalog.hours:
        src = where.of(f"hours:{hours.id}", "closed_dates")
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
