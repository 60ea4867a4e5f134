"""The English words the speller must never change, from the frequency list symspellpy ships.

Why this list: symspellpy's ``frequency_dictionary_en_82_765.txt`` is SCOWL's spell-checker word
lists (British and American spellings) ranked by Google Books n-gram counts: 82,765 real words in
2.6 MB, offline, from a package released in 2026. wordfreq's lists were the alternative; they are
57 MB, frozen since 2023, and built from social media, so they hold common typos as "words" and
the speller would stop correcting them.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np

from bot import model_cache
from bot.model_cache import pack_texts, unpack_texts

_PACKAGE = "symspellpy"
_FILE = "frequency_dictionary_en_82_765.txt"


@lru_cache(maxsize=1)
def english_frequencies() -> dict[str, int]:
    """Every word of the list with its corpus count, commonest first (read once per process).

    Parsing and ranking 82,765 lines takes a sixth of a second, paid by every start of ``classify``:
    the ranked list is kept in the model cache, whose key holds symspellpy's version."""
    arrays = model_cache.cached("wordlist-" + model_cache.key([_PACKAGE, _FILE]), _ranked)
    return dict(zip(unpack_texts(arrays, "words"), arrays["counts"].tolist(), strict=True))


def _ranked() -> dict[str, np.ndarray]:
    text = resources.files(_PACKAGE).joinpath(_FILE).read_text(encoding="utf-8")
    out: dict[str, int] = {}
    for line in text.splitlines():
        word, _, count = line.partition(" ")
        if word and count.strip().isdigit():
            out[word] = int(count)
    ranked = sorted(out.items(), key=lambda kv: -kv[1])
    return {**pack_texts("words", [w for w, _ in ranked]),
            "counts": np.fromiter((c for _, c in ranked), dtype=np.int64, count=len(ranked))}


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The list's words, for membership tests."""
    return frozenset(english_frequencies())


def commonest(n: int) -> list[str]:
    """The ``n`` commonest words of the list."""
    return list(english_frequencies())[:n]
