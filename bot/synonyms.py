"""What people say, in the catalog's own words: "cops" reads "police", "911" reads "999".

Admins list them in the catalog (``synonyms:``, canonical words -> what people say instead) and
`check` validates them. They apply to the matcher alone, to its examples and to every message, so
both sides meet in the same words. Never to the escalation check: its phrases are written for the
words people use, and a synonym an admin loads must not be able to rewrite a cry for help into
something it does not fire on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from bot.text import normalise


def _words(text: str) -> tuple[str, ...]:
    return tuple(normalise(text).split())


class Synonyms:
    """Replaces each listed variant in a word sequence with its canonical words, longest variant first."""

    def __init__(self, mapping: Mapping[str, Sequence[str]]) -> None:
        """``mapping``: canonical words -> the variants people use for them (as written in the catalog)."""
        self._by_first: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
        for canonical, variants in mapping.items():
            target = _words(canonical)
            for variant in variants:
                words = _words(variant)
                if words and target and words != target:
                    self._by_first.setdefault(words[0], []).append((words, target))
        for group in self._by_first.values():
            group.sort(key=lambda pair: -len(pair[0]))

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def apply(self, words: Sequence[str]) -> list[str]:
        """The words with every variant replaced (left to right, longest first; linear in the words)."""
        return [w for _, replaced in self.replacements(words) for w in replaced]

    def replacements(self, words: Sequence[str]) -> Iterator[tuple[tuple[str, ...], tuple[str, ...]]]:
        """(words as written, words read) for each stretch of the message, in order."""
        i = 0
        while i < len(words):
            for variant, target in self._by_first.get(words[i], ()):
                if tuple(words[i : i + len(variant)]) == variant:
                    yield variant, target
                    i += len(variant)
                    break
            else:
                yield (words[i],), (words[i],)
                i += 1
