"""Look-alike letters folded to the ASCII letter they imitate: "һе іѕ оutѕіdе" reads "he is outside".

NFKC already folds fullwidth and mathematical letters; it leaves other scripts' look-alikes (Cyrillic
"о" for "o") and Latin small capitals ("ʜᴇ") alone, and those would hide danger from the escalation
check. The table comes from Unicode's confusables data as shipped by confusable-homoglyphs (kept up
to date, data only); `confusables` (2021) and `homoglyphs` (2020) were the unmaintained alternatives.
Letters with accents are not confusables and stay as written ("é", "ŵ").
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from functools import lru_cache
from importlib import resources

import numpy as np

from bot import model_cache
from bot.model_cache import pack_texts, unpack_texts

_SMALL_CAPITAL = re.compile(r"^LATIN LETTER SMALL CAPITAL ([A-Z])$")


@lru_cache(maxsize=1)
def table() -> dict[int, str]:
    """A str.translate table: look-alike character -> lower-case ASCII letter or digit.

    Built from the JSON and a walk over the first two Unicode planes (an eighth of a second at every
    start), so it is kept in the model cache, under the Unicode version this Python names letters by."""
    arrays = model_cache.cached("confusables-" + model_cache.key([unicodedata.unidata_version]), _built)
    return dict(zip(arrays["codes"].tolist(), unpack_texts(arrays, "letters"), strict=True))


def _built() -> dict[str, np.ndarray]:
    out = _walk()
    return {"codes": np.fromiter(out, dtype=np.int64, count=len(out)), **pack_texts("letters", list(out.values()))}


def _walk() -> dict[int, str]:
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json")
                      .read_text(encoding="utf-8"))
    out: dict[int, str] = {}
    for char, glyphs in data.items():
        if len(char) != 1 or char.isascii():
            continue
        ascii_like = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()]
        if ascii_like:
            out[ord(char)] = ascii_like[0].lower()
    for code in range(0x80, min(sys.maxunicode, 0x1FFFF)):
        m = _SMALL_CAPITAL.match(unicodedata.name(chr(code), ""))
        if m:
            out.setdefault(code, m.group(1).lower())
    return out


def fold_confusables(text: str) -> str:
    """The text with every look-alike letter replaced by the ASCII letter it imitates."""
    return text if text.isascii() else text.translate(table())
