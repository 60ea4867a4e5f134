"""Escalation detection: is this person in danger now (emergency) or thinking of ending their life (crisis)?

Runs on every message before anything else, on the whole text (no length cap). Tuned for recall:
misspelt words are corrected towards the escalation vocabulary, and a hit is only set aside when
its own sentence frames it in the past, as a habit, or (for threats) as something reported,
with nothing in that sentence saying it is happening now.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.model import Escalation
from bot.text import Speller, normalise, sentences

MAX_SENTENCES = 2000  # a 100,000-character message is still read in full, in bounded time
# letters not right after a backslash ("\bhelp" gives "help", not "bhelp")
_PATTERN_WORD = re.compile(r"(?<![\\a-z])[a-z]{3,}")


@dataclass(frozen=True)
class Hit:
    """One escalation that fired, and the rule that fired it."""

    escalation: str
    rule: str


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(normalise(text).split())


def _contains(words: Sequence[str], phrase: tuple[str, ...]) -> int:
    """Index of the first occurrence of ``phrase`` in ``words``, or -1."""
    n = len(phrase)
    first = phrase[0]
    for i, w in enumerate(words):
        if w == first and tuple(words[i : i + n]) == phrase:
            return i
    return -1


@dataclass(frozen=True)
class _Rules:
    escalation: Escalation
    phrases: tuple[tuple[str, ...], ...]
    threats: tuple[tuple[str, ...], ...]
    patterns: tuple[re.Pattern[str], ...]
    past: tuple[tuple[str, ...], ...]
    reported: tuple[tuple[str, ...], ...]
    present: tuple[tuple[str, ...], ...]


class Detector:
    """Finds escalations in a message; built once per catalog."""

    def __init__(self, escalations: Sequence[Escalation], known_words: Iterable[str] = ()) -> None:
        rules = []
        vocabulary: Counter[str] = Counter()
        for esc in escalations:
            r = _Rules(
                escalation=esc,
                phrases=tuple(p for p in map(_phrase, esc.phrases) if p),
                threats=tuple(p for p in map(_phrase, esc.threats) if p),
                patterns=tuple(re.compile(p) for p in esc.patterns),
                past=tuple(p for p in map(_phrase, esc.past_markers) if p),
                reported=tuple(p for p in map(_phrase, esc.reported_markers) if p),
                present=tuple(p for p in map(_phrase, esc.present_markers) if p),
            )
            rules.append(r)
            for group in (r.phrases, r.threats, r.past, r.reported, r.present):
                for phrase in group:
                    vocabulary.update(phrase)
            # words inside patterns count too: "standing" in a pattern must not become "staring"
            vocabulary.update(w for p in esc.patterns for w in _PATTERN_WORD.findall(p))
        self.rules = tuple(rules)
        # Words the rest of the catalog knows are taken as written: only unknown words are
        # corrected, so "sitting" never becomes "hitting" but "outsdie" becomes "outside".
        self._known = frozenset(known_words)
        self.speller = Speller(vocabulary, min_length=4)

    def _correct(self, word: str) -> str:
        return word if word in self._known else self.speller.correct(word)

    def detect(self, text: str) -> tuple[Hit, ...]:
        """Every escalation the message triggers, in catalog order (emergency before crisis)."""
        found: dict[str, Hit] = {}
        for sentence in sentences(text)[:MAX_SENTENCES]:
            words = [self._correct(w) for w in normalise(sentence).split()]
            if not words:
                continue
            joined = " ".join(words)
            for r in self.rules:
                if r.escalation.id in found:
                    continue
                rule = self._fires(r, words, joined)
                if rule is not None:
                    found[r.escalation.id] = Hit(r.escalation.id, rule)
            if len(found) == len(self.rules):
                break
        return tuple(found[r.escalation.id] for r in self.rules if r.escalation.id in found)

    @staticmethod
    def _fires(r: _Rules, words: list[str], joined: str) -> str | None:
        now = any(_contains(words, p) >= 0 for p in r.present)
        framed_past = not now and any(_contains(words, p) >= 0 for p in r.past)
        if framed_past:
            return None
        for p in r.phrases:
            if _contains(words, p) >= 0:
                return " ".join(p)
        for rx in r.patterns:
            if rx.search(joined):
                return rx.pattern
        if not r.threats:
            return None
        reported = not now and any(_contains(words, p) >= 0 for p in r.reported)
        if reported:
            return None
        for p in r.threats:
            if _contains(words, p) >= 0:
                return " ".join(p)
        return None
