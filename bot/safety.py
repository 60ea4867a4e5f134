"""Escalation detection: is this person in danger now (emergency) or thinking of ending their life (crisis)?

Runs on every message before anything else, on the whole text (no length cap). Tuned for recall:
misspelt words are corrected towards the escalation vocabulary, and a hit is only set aside when
its own sentence frames it in the past, as a habit, or (for threats) as something reported,
with nothing in that sentence saying it is happening now.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from bot.model import Escalation
from bot.text import Speller, normalise, sentences

# letters not right after a backslash ("\bhelp" gives "help", not "bhelp")
NEAR = 3  # words between a hit and a "now" marker for the marker to count
_PATTERN_WORD = re.compile(r"(?<![\\a-z])[a-z]{3,}")


@dataclass(frozen=True)
class Hit:
    """One escalation that fired, and the rule that fired it."""

    escalation: str
    rule: str


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
    patterns: tuple[re.Pattern[str], ...]
    past: _Phrases
    reported: _Phrases
    present: _Phrases


class Detector:
    """Finds escalations in a message; built once per catalog."""

    def __init__(self, escalations: Sequence[Escalation], known_words: Iterable[str] = ()) -> None:
        rules = []
        vocabulary: Counter[str] = Counter()
        for esc in escalations:
            r = _Rules(
                escalation=esc,
                phrases=_Phrases(esc.phrases),
                threats=_Phrases(esc.threats),
                patterns=tuple(re.compile(p) for p in esc.patterns),
                past=_Phrases(esc.past_markers),
                reported=_Phrases(esc.reported_markers),
                present=_Phrases(esc.present_markers),
            )
            rules.append(r)
            for group in (r.phrases, r.threats, r.past, r.reported, r.present):
                vocabulary.update(group.words())
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
        for sentence in sentences(text):
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
        past = r.past.find(words) is not None
        reported = past or r.reported.find(words) is not None
        # "now" overrides the framing only next to the hit: in "he hit me years ago, does that
        # matter now" it is about the question, in "last week he followed me and now he is
        # outside" it is about the danger.
        now = [i for i, _ in r.present.all(words)]

        def happening(start: int, end: int, framed: bool) -> bool:
            return not framed or any(start - NEAR <= i <= end + NEAR for i in now)

        for i, phrase in r.phrases.all(words):
            if happening(i, i + len(phrase), past):
                return " ".join(phrase)
        for rx in r.patterns:
            for m in rx.finditer(joined):
                start = joined.count(" ", 0, m.start())
                if happening(start, start + m.group().count(" ") + 1, past):
                    return rx.pattern
        for i, threat in r.threats.all(words):
            if happening(i, i + len(threat), reported):
                return " ".join(threat)
        return None
