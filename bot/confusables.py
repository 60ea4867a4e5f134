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

_SMALL_CAPITAL = re.compile(r"^LATIN LETTER SMALL CAPITAL ([A-Z])$")


@lru_cache(maxsize=1)
def table() -> dict[int, str]:
    """A str.translate table: look-alike character -> lower-case ASCII letter or digit."""
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
