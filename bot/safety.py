"""Escalation detection: is this person in danger now (emergency) or thinking of ending their life (crisis)?

Runs on every message before anything else, on the whole text (no length cap), in time linear in
its length. Two parts, and either one fires:
- the rules (phrases, threats, RE2 patterns): precise, for the wording an admin wrote down;
- the learned part (bot/escalation_model.py), trained on the escalation's examples and negatives:
  for the wording nobody wrote down.
Tuned for recall: misspelt words are corrected towards the escalation vocabulary, and a hit of
either part is only set aside when its own sentence frames it in the past, as a habit, or (for
threats) as something reported, with nothing in that sentence saying it is happening now.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from bot import model_cache
from bot.catalog.schema import Catalog, Escalation
from bot.denial import denial, may_deny, owned_up
from bot.escalation_model import MIN_WORDS, EscalationModel, Evidence
from bot.language import WELSH, in_language, may_be_welsh, translated_words
from bot.language import detect as detect_language
from bot.patterns import PatternError, compile_pattern
from bot.text import Speller, normalise, sentences

# letters not right after a backslash ("\bhelp" gives "help", not "bhelp")
NEAR = 3  # words between a hit and a "now" marker for the marker to count
# With learned_reads_whole, how far below the threshold a message of several sentences may score, read
# as one, and its firing sentence still count. The sentence alone has a few words ("i do not think i am",
# "i have said no many times") that share the crisis examples' first-person shape; the whole story is
# about something else. On the sets we had read (every seen safety set, and the question sets with
# real/questions), crisis learned hits in messages of several sentences: 16 of 66 false ones were 3 or
# more below, 28 were 2 or more below, against 0 and 1 of 130 true ones. At 2.5 no crisis line of those
# sets was lost and false escalations fell from 0.046 to 0.043 (safety sets) and 0.020 to 0.015
# (question sets); at 1.5 three true crisis stories were lost. For emergency the same cut lost 7 of 41
# true hits to remove 17 false ones, so emergency does not read the whole.
WHOLE_MARGIN = 2.5
MAX_BACKGROUND = 4000  # background negatives the learned part trains on, at most
MIN_LEARNED = 60  # a translation's examples needed before its learned part is trained (see _translated)
_PATTERN_WORD = re.compile(r"(?<![\\a-z])[a-z]{3,}")


@dataclass(frozen=True)
class Hit:
    """One escalation that fired, and the rule (or the learned part's evidence) that fired it."""

    escalation: str
    rule: str
    evidence: Evidence | None = None  # set when the learned part fired

    def describe(self) -> str:
        """One line for --explain: which part fired and why."""
        if self.evidence is None:
            return f"rule {self.rule!r}"
        e = self.evidence
        return f"learned part: score {e.score:.2f} >= {e.threshold:.2f}, nearest example {e.nearest!r}"


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(normalise(text).split())


class _Phrases:
    """Word sequences indexed by their first word: finding any in a sentence is linear in its length."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.by_first: dict[str, list[tuple[str, ...]]] = {}
        for phrase in (p for p in map(_phrase, texts) if p):
            self.by_first.setdefault(phrase[0], []).append(phrase)
        for group in self.by_first.values():
            group.sort(key=len, reverse=True)

    def words(self) -> Iterable[str]:
        """Every word of every phrase."""
        return (w for group in self.by_first.values() for phrase in group for w in phrase)

    def find(self, words: Sequence[str]) -> tuple[str, ...] | None:
        """The first phrase found in ``words``, or None."""
        return next((phrase for _, phrase in self.all(words)), None)

    def all(self, words: Sequence[str]) -> Iterator[tuple[int, tuple[str, ...]]]:
        """Every (position, phrase) found in ``words``, left to right."""
        for i, w in enumerate(words):
            for phrase in self.by_first.get(w, ()):
                if tuple(words[i : i + len(phrase)]) == phrase:
                    yield i, phrase


@dataclass(frozen=True)
class _Rules:
    escalation: Escalation
    phrases: _Phrases
    threats: _Phrases
    patterns: tuple[Any, ...]  # RE2 patterns (bot/patterns.py)
    any_pattern: Any  # all of them as one alternation: most sentences match none, and one search says so
    model: EscalationModel | None
    silent: _Phrases
    past: _Phrases
    reported: _Phrases
    present: _Phrases


# Words that start a new clause: a time marker frames its own clause, not the whole sentence.
# Welsh ones too ("ddoe fe wnaeth e fy nharo ac mae e tu allan"); "a" (and) is left out, being English.
_CLAUSE_WORDS = frozenset({"and", "but", "then", "so", "now", "because", "cos", "while", "though", "although",
                           "ac", "ond", "wedyn", "achos", "felly", "oherwydd"})


# A run-on typed with no stop starts a new clause at a subject after a word that ends one: "theres a
# man following me he keeps slowing down", "he is here he is banging on the door".
_SUBJECTS = frozenset({"he", "she", "they", "i", "we"})
_CLAUSE_ENDS = frozenset({"me", "us", "him", "her", "them", "it", "now", "here", "there", "again", "today",
                          "tonight", "outside", "inside"})


def _clauses(words: Sequence[str], commas: Sequence[int]) -> list[int]:
    """The clause number of each word: a new clause starts at a comma, at a joining word, or at a
    subject that follows a word ending a clause (see _CLAUSE_ENDS)."""
    starts = set(commas)
    out, k = [], 0
    for i, w in enumerate(words):
        if i and (i in starts or w in _CLAUSE_WORDS or (w in _SUBJECTS and words[i - 1] in _CLAUSE_ENDS)):
            k += 1
        out.append(k)
    return out


# Words that put a clause in the present (English, and Welsh "mae", "dw", "rwy'n"...): a clause with one
# of them, or a present marker, keeps its own time; one without carries on the story before it. Besides
# the verbs that carry tense: "now", and the writer's present wants and feelings ("my brother took his
# own life and now i want to die too", "i used to cut, i keep thinking about it").
_PRESENT_FORMS = frozenset({"is", "are", "am", "has", "have", "do", "does", "can", "cannot", "will", "now",
                            "want", "wants", "wanna", "feel", "feels", "need", "needs", "keep", "keeps", "wish",
                            "mae", "maen", "ma", "dw", "dwi", "rwy", "rwyn", "rydw", "ydw", "wyt", "ydy",
                            "yw", "ydyn", "rydyn", "ydych"})


def _carried(r: _Rules, framed: set[int], words: Sequence[str], clause: Sequence[int],
             reported: bool = False) -> set[int]:
    """``framed`` and every clause after a framed one that is not in the present tense again.

    A time given early holds for the clauses that go on with the same story: in "five years ago he
    choked me, held a knife to my throat and would not stop hitting me" all three are the past; in
    "last week he hit me and he is at my door" the door is now. Someone else's words (``reported``)
    also end where the writer speaks for themselves: in "my friend said i should call someone because
    i keep thinking about suicide" the last clause is the writer's own.
    """
    if not framed:
        return framed
    present = {clause[i] for i, w in enumerate(words) if w in _PRESENT_FORMS}
    present |= {clause[i] for i, _ in r.present.all(words)}
    if reported:
        present |= {clause[i] for i, w in enumerate(words) if w == "i"}
    out = set(framed)
    for k in range(min(framed) + 1, clause[-1] + 1):
        if k - 1 in out and k not in present:
            out.add(k)
    return out


_YEAR = re.compile(r"(19|20)[0-9][0-9]")
_YEAR_LEADS = frozenset({"in", "since", "back", "during", "from", "of", "until", "till"})


# A habit said with "keep" frames what it governs, the words after it: in "he keeps turning up at my
# work" the turning up is the habit; in "hes on my train keeps looking at me" the train is now.
_FORWARD = frozenset({"keep", "keeps"})


def _past_clauses(r: _Rules, words: Sequence[str], clause: Sequence[int], before: int | None = None) -> set[int]:
    """Clauses with a past marker, or a year said as a time ("in 2020", "back in 2019"): no list holds every year.

    ``before``: the first word of a hit, when there is one; a "keep" marker after it in its own clause
    does not count."""
    framed = {clause[i] for i, marker in r.past.all(words)
              if before is None or marker[0] not in _FORWARD or i < before or clause[i] != clause[before]}
    framed |= {clause[i] for i, w in enumerate(words)
               if i and words[i - 1] in _YEAR_LEADS and _YEAR.fullmatch(w)}
    return framed


def _framed_clauses(r: _Rules, words: list[str], clause: list[int]) -> set[int]:
    """Clauses a past marker frames, and reported markers too where the escalation says so."""
    framed = _past_clauses(r, words, clause)
    framed = _carried(r, framed, words, clause)
    if r.escalation.reported_frames_learned:
        framed |= _carried(r, {clause[i] for i, _ in r.reported.all(words)}, words, clause, reported=True)
    return framed


def _joined(patterns: Sequence[str]) -> Any:
    """All the patterns as one RE2 alternation, or None when they cannot be joined (each then runs alone)."""
    if not patterns:
        return None
    try:
        return compile_pattern("|".join(f"(?:{p})" for p in patterns))
    except PatternError:  # e.g. an unterminated \Q...: fine alone, not inside a group
        return None


def _translated(esc: Escalation) -> list[tuple[str, Escalation]]:
    """One rule set per translation of the escalation, firing it (same id) in that language.

    Each language gets its own rules and its own learned part: its examples against its own near
    misses (the English ones when it has none) and, as background, that language's everyday lines and
    questions (see Detector). So adding Welsh does not move the English model's threshold, and Welsh
    is not learned as "danger" for being Welsh: mixed with the English near misses and questions, the
    Welsh lines were too small a share of the negatives, and any "dw i eisiau ..." fired crisis.
    With fewer than MIN_LEARNED examples a learned part cannot place its threshold (out of fold,
    ten examples share too few words: it fired on most everyday Welsh), so the language then relies
    on its phrases, and `check` warns about each example they miss.
    """
    return [(code, replace(esc, phrases=t.phrases, threats=(), patterns=(), silent_phrases=t.silent_phrases,
                           past_markers=t.past_markers, present_markers=t.present_markers, reported_markers=(),
                           examples=t.examples if len(t.examples) >= MIN_LEARNED else (),
                           negative_examples=t.negative_examples or esc.negative_examples,
                           translations={}, tests=(), not_tests=()))
            for code, t in esc.translations.items()]


def even_sample(items: Sequence[str], cap: int) -> Sequence[str]:
    """At most ``cap`` of ``items``, spread evenly from first to last (all of them when they fit)."""
    n = len(items)
    return items if n <= cap else [items[i * n // cap] for i in range(cap)]


def _detection_inputs(escalations: Sequence[Escalation], translated: Sequence[tuple[str, Escalation]],
                      known: Iterable[str], background: Sequence[str],
                      backgrounds: Mapping[str, Sequence[str]]) -> Iterator[str]:
    """Every input that shapes a detector's learned parts, as text (its answers and tests do not)."""
    def fields(esc: Escalation) -> Iterator[str]:
        for name in ("id", "phrases", "patterns", "threats", "past_markers", "reported_markers",
                     "present_markers", "examples", "negative_examples", "silent_phrases"):
            value = getattr(esc, name)
            values = (value,) if isinstance(value, str) else value
            yield f"{name}:{len(values)}"
            yield from values
        yield f"reported_frames_learned:{esc.reported_frames_learned}"
        yield f"learned_reads_whole:{esc.learned_reads_whole}"

    for code, esc in (*((None, e) for e in escalations), *translated):
        yield f"escalation:{code}"
        yield from fields(esc)
    for name, lines in (("known", sorted(known)), ("background", background),
                        *((f"background:{code}", lines) for code, lines in sorted(backgrounds.items()))):
        yield f"{name}:{len(lines)}"
        yield from lines


def _readable(text: str) -> list[list[str]]:
    """A text's sentences as the learned part reads them (normalised words, MIN_WORDS or more), or the
    whole text when none is that long."""
    parts = [words for words in (normalise(s).split() for s in sentences(text)) if len(words) >= MIN_WORDS]
    return parts or [normalise(text).split()]


def _train(examples: Sequence[str], negatives: Sequence[str], background: Sequence[str]) -> EscalationModel:
    """The learned part for these texts, trained on sentences, as it scores them.

    An example may tell a story and say the danger in one sentence of it ("he has followed me since
    March. i have kept a diary. i want to kill myself"): trained whole, its story words would read as
    danger, and a story with no danger at all would fire. So a first model, trained on whole examples,
    picks each example's sentence that reads most like danger, and the model is trained again on those
    (multiple-instance learning); every sentence of a negative is a negative.
    """
    negative = [words for t in negatives for words in _readable(t)]
    quiet = [words for t in background for words in _readable(t)]
    whole = [normalise(t).split() for t in examples]
    first = EscalationModel.train(whole, negative, examples, quiet)
    best = []
    for words, text in zip(whole, examples, strict=True):
        parts = _readable(text)
        if len(parts) == 1:
            best.append(words)
            continue
        scores = [e.score for e in first.score(parts)]
        best.append(parts[max(range(len(parts)), key=scores.__getitem__)])
    if best == whole:
        return first
    return EscalationModel.train(best, negative, examples, quiet)


def _pack_hits(hits: Iterable[tuple[Hit, ...]]) -> np.ndarray:
    """Each text's hits as JSON bytes (floats round-trip exactly)."""
    rows = [[[h.escalation, h.rule, None if h.evidence is None else
              [h.evidence.score, h.evidence.threshold, h.evidence.nearest]] for h in text_hits] for text_hits in hits]
    return np.frombuffer(json.dumps(rows).encode(), dtype=np.uint8)


def _unpack_hits(packed: np.ndarray) -> list[tuple[Hit, ...]]:
    """The hits ``_pack_hits`` kept."""
    return [tuple(Hit(esc, rule, None if ev is None else Evidence(*ev)) for esc, rule, ev in text_hits)
            for text_hits in json.loads(packed.tobytes())]


def _part(models: Mapping[str, np.ndarray], k: int) -> EscalationModel | None:
    """Rule set ``k``'s learned part from the arrays ``Detector._learn_all`` made, or None if it has none."""
    prefix = f"{k}/"
    arrays = {name[len(prefix):]: value for name, value in models.items() if name.startswith(prefix)}
    return EscalationModel(arrays) if arrays else None


class Detector:
    """Finds escalations in a message; built once per catalog."""

    def __init__(self, escalations: Sequence[Escalation], known_words: Iterable[str] = (),
                 background: Sequence[str] = (), translated: Sequence[tuple[str, Escalation]] = (),
                 backgrounds: Mapping[str, Sequence[str]] = MappingProxyType({})) -> None:
        """``background``: the catalog's questions (intent examples, out of scope), negatives for every learned part.

        ``backgrounds``: a language's own everyday lines and questions, its learned parts' background in
        place of ``background``.

        ``translated``: (language code, escalation) for the escalations' rules in other languages (same
        ids). Their phrases fire on every message, whatever its language; each learned part scores only
        the messages detected as its own language (the English ones: all others), since a model knows
        nothing of words it never saw.
        """
        rules = []
        vocabulary: Counter[str] = Counter()
        self._languages = (*(None for _ in escalations), *(code for code, _ in translated))
        for esc in (*escalations, *(e for _, e in translated)):
            r = _Rules(
                escalation=esc,
                phrases=_Phrases(esc.phrases),
                threats=_Phrases(esc.threats),
                patterns=tuple(compile_pattern(p) for p in esc.patterns),
                any_pattern=_joined(esc.patterns),
                model=None,
                silent=_Phrases(esc.silent_phrases),
                past=_Phrases(esc.past_markers),
                reported=_Phrases(esc.reported_markers),
                present=_Phrases(esc.present_markers),
            )
            rules.append(r)
            for group in (r.phrases, r.threats, r.silent, r.past, r.reported, r.present):
                vocabulary.update(group.words())
            # words inside patterns count too: "standing" in a pattern must not become "staring"
            vocabulary.update(w for p in esc.patterns for w in _PATTERN_WORD.findall(p))
            vocabulary.update(w for t in esc.examples for w in normalise(t).split())
        # Words the rest of the catalog knows are taken as written: only unknown words are
        # corrected, so "sitting" never becomes "hitting" but "outsdie" becomes "outside".
        self._known = frozenset(known_words)
        self.speller = Speller(vocabulary, min_length=4)
        # Training takes seconds: unchanged inputs read the models back instead (bot/model_cache.py).
        entry = "detector-" + model_cache.key(_detection_inputs(escalations, translated, self._known,
                                                                 background, backgrounds))
        models = model_cache.cached(entry, lambda: self._learn_all(rules, background, backgrounds))
        self._entry = entry
        self.rules = tuple(replace(r, model=_part(models, k)) for k, r in enumerate(rules))
        self._foreign = frozenset(code for code, _ in translated)
        self._ids = tuple(dict.fromkeys(r.escalation.id for r in self.rules))  # a language's rules share the id

    @classmethod
    def for_catalog(cls, catalog: Catalog, known_words: Iterable[str] = ()) -> Detector:
        """The detector a catalog is served with; its intents' examples, out_of_scope and everyday are background."""
        # Each language's danger words fire the same escalation: one check, whatever the chat's language.
        # English everyday lines teach the English learned part; the other languages' lines (told apart
        # by the language detector) and questions teach theirs, so English scores stay as they were.
        welsh = in_language(catalog.everyday, WELSH)
        background = (*(e for i in catalog.intents for e in i.examples), *catalog.out_of_scope,
                      *(line for line in catalog.everyday if line not in welsh))
        backgrounds = {WELSH: (*welsh, *(e for i in catalog.intents if WELSH in i.translations
                                         for e in i.translations[WELSH].examples))}
        translated = [pair for esc in catalog.escalations for pair in _translated(esc)]
        known = frozenset(known_words) | translated_words(catalog)
        return cls(catalog.escalations, known, background, translated, backgrounds)

    def _learn_all(self, rules: Sequence[_Rules], background: Sequence[str],
                   backgrounds: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
        """Each rule set's trained learned part as arrays, under ``<rule index>/``: see ``_part``."""
        out: dict[str, np.ndarray] = {}
        for k, (r, code) in enumerate(zip(rules, self._languages, strict=True)):
            model = self._learn(r, background if code is None else backgrounds.get(code) or background)
            if model is not None:
                out.update((f"{k}/{name}", value) for name, value in model.arrays().items())
        return out

    def _learn(self, r: _Rules, background: Sequence[str]) -> EscalationModel | None:
        """The rules' learned part, when the escalation has examples and negatives."""
        esc = r.escalation
        if not esc.examples or not esc.negative_examples:
            return None
        # A question the rules already answer as danger ("he is outside, what do i do") is no
        # negative: the learned part must not be taught that it is safe.
        # A big catalog's questions are sampled evenly: the model needs their shape, not every one, and
        # training time must not grow with the catalog. Evenly down to the cap, never every other line
        # (one example past the cap used to halve the background and move the threshold).
        quiet = tuple(t for t in even_sample(background, MAX_BACKGROUND) if self._rule_fires(r, t) is None)
        return _train(esc.examples, esc.negative_examples, quiet)

    def _correct(self, word: str) -> str:
        return word if word in self._known else self.speller.correct(word)

    def _words(self, text: str) -> list[list[str]]:
        return [words for words, _ in self._sentences(text)]

    def _sentences(self, text: str) -> list[tuple[list[str], list[int]]]:
        """Each sentence's corrected words, with the clause each word belongs to (see _clauses)."""
        out = []
        for sentence in sentences(text):
            words: list[str] = []
            commas: list[int] = []
            for part in sentence.split(","):
                commas.append(len(words))
                words.extend(self._correct(w) for w in normalise(part).split())
            if words:
                out.append((words, _clauses(words, commas)))
        return out

    def _rule_fires(self, r: _Rules, text: str) -> str | None:
        parsed = self._sentences(text)
        answers = not owned_up(words for words, _ in parsed)
        for words, clause in parsed:
            rule = self._fires(r, words, " ".join(words), clause, answers)
            if rule is not None:
                return rule
        return None

    def detect(self, text: str) -> tuple[Hit, ...]:
        """Every escalation the message triggers, in catalog order (emergency before crisis)."""
        found: dict[str, Hit] = {}
        parsed = self._sentences(text)
        split = [words for words, _ in parsed]
        answers = not owned_up(split)  # "i said no. that was a lie": no "no" in the message counts
        for words, clause in parsed:
            joined = " ".join(words)
            for r in self.rules:
                if r.escalation.id in found:
                    continue
                rule = self._fires(r, words, joined, clause, answers)
                if rule is not None:
                    found[r.escalation.id] = Hit(r.escalation.id, rule)
            if len(found) == len(self._ids):
                break
        language: list[str | None] = []  # detected once, only when a translated learned part needs it
        for r, code in zip(self.rules, self._languages, strict=True):
            if r.model is None or r.escalation.id in found or not split:
                continue
            if code is not None or self._foreign:
                if not language:  # most English has no Welsh word at all: no need to ask the detector
                    language.append(detect_language(text) if may_be_welsh(text) else None)
                if language[0] != code and (code is not None or language[0] in self._foreign):
                    continue
            best = self._learned(r, [self._undenied(r, w, c, answers) for w, c in parsed])
            if best is not None:
                found[r.escalation.id] = Hit(r.escalation.id, "learned", best)
        return tuple(found[i] for i in self._ids if i in found)

    def detect_known(self, texts: Sequence[str]) -> list[tuple[Hit, ...]]:
        """``detect`` of each text, for texts this detector was built from (its examples, negatives,
        everyday lines): their hits depend on nothing else, so `check` reads them back while the
        detector's inputs are unchanged (bot/model_cache.py)."""
        entry = "hits-" + model_cache.key([self._entry, *texts])
        packed = model_cache.cached(entry, lambda: {"hits": _pack_hits(self.detect(t) for t in texts)})
        return _unpack_hits(packed["hits"])

    def silent(self, escalation_id: str, text: str) -> bool:
        """Whether the message says the person cannot talk or call (the escalation's silent_phrases)."""
        rules = [r for r in self.rules if r.escalation.id == escalation_id]
        return any(r.silent.find(words) is not None for r in rules for words in self._words(text))

    @staticmethod
    def _learned(r: _Rules, parsed: list[tuple[list[str], list[int]]]) -> Evidence | None:
        """The strongest firing sentence whose framing does not set it aside."""
        assert r.model is not None
        best: Evidence | None = None
        for (words, clause), evidence in zip(parsed, r.model.score([w for w, _ in parsed]), strict=True):
            if not evidence.fires or (best is not None and evidence.score <= best.score):
                continue
            framed = _framed_clauses(r, words, clause)
            if not framed or r.present.find(words) is not None:
                best = evidence
                continue
            # Framed in the past (or, for an escalation without threats, reported): the danger may sit
            # in a clause of its own ("he hit me yesterday and he is at my door"), so the clauses no
            # marker frames are read alone.
            rest = [[w for w, c in zip(words, clause, strict=True) if c == k]
                    for k in sorted(set(clause) - framed)]
            alone = [e for e in r.model.score(rest) if e.fires] if rest else []
            if alone:
                best = max(alone, key=lambda e: e.score)
        if best is not None and r.escalation.learned_reads_whole and len(parsed) > 1:
            whole = r.model.score([[w for words, _ in parsed for w in words]])[0]
            if whole.score < best.threshold - WHOLE_MARGIN:
                return None
        return best

    @staticmethod
    def _hits(r: _Rules, words: list[str], joined: str) -> Iterator[tuple[int, int, str, bool]]:
        """Each rule hit in the sentence: its first word, the word after it, the rule, and whether it
        is a threat (framed by reporting as well as by the past)."""
        for i, phrase in r.phrases.all(words):
            yield i, i + len(phrase), " ".join(phrase), False
        gate = r.any_pattern
        if r.patterns and (gate is None or gate.search(joined)):
            # word index of each character offset, found by bisection: linear in the sentence overall
            starts = [0, *(i + 1 for i, ch in enumerate(joined) if ch == " ")]
            for rx in r.patterns:
                for m in rx.finditer(joined):
                    start = bisect_right(starts, m.start()) - 1
                    yield start, start + m.group().count(" ") + 1, str(rx.pattern), False
        for i, threat in r.threats.all(words):
            yield i, i + len(threat), " ".join(threat), True

    @classmethod
    def _fires(cls, r: _Rules, words: list[str], joined: str, clause: list[int], answers: bool = True) -> str | None:
        # A marker frames its own clause only: in "he hit me yesterday and he is at my door" the
        # "yesterday" is about the hitting, not the door.
        reported = _carried(r, {clause[i] for i, _ in r.reported.all(words)}, words, clause, reported=True)
        # "now" overrides the framing only next to the hit: in "he hit me years ago, does that
        # matter now" it is about the question, in "last week he followed me and now he is
        # outside" it is about the danger. A time marker between them keeps the hit in its own time:
        # in "he tried to strangle me last year and now he is messaging" the "now" is the messages'.
        now = [i for i, _ in r.present.all(words)]
        marked = [i for i, _ in r.past.all(words)]
        for start, end, rule, threat in cls._hits(r, words, joined):
            # "i am not suicidal", "not in danger, just asking"
            if denial(words, clause, start, end, answers) is not None:
                continue
            past = _carried(r, _past_clauses(r, words, clause, before=start), words, clause)
            framing = past | reported if threat else past
            framed = any(clause[i] in framing for i in range(start, min(end, len(words))))
            if not framed or any(start - NEAR <= i <= end + NEAR
                                 and not any(min(i, end) <= m < max(i, start) for m in marked) for i in now):
                return rule
        return None

    @classmethod
    def _undenied(cls, r: _Rules, words: list[str], clause: list[int],
                  answers: bool = True) -> tuple[list[str], list[int]]:
        """The sentence without what its writer denies ("i am not suicidal, i just want to know who to
        call"): the learned part must not read the denied words as the danger they deny."""
        if not may_deny(words):
            return words, clause
        gone: set[int] = set()
        for start, end, _, _ in cls._hits(r, words, " ".join(words)):
            negator = denial(words, clause, start, end, answers)
            if negator is not None:
                gone.update(range(negator, end))
        if not gone:
            return words, clause
        kept = [i for i in range(len(words)) if i not in gone]
        return [words[i] for i in kept], [clause[i] for i in kept]
