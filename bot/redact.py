"""Remove personal details from a message before an admin may see it (pure, no I/O).

Used only by the optional unmatched-message log. Redaction is best effort: it removes the details people
most often type (numbers, addresses, street names, names they introduce), not every name or place, which is why the log
is off by default and kept only briefly.
"""

from __future__ import annotations

import re

# Each rule is (label, pattern); order matters: emails contain domains, links contain digits, and
# phone numbers would otherwise be half-eaten by the digit-run rule.
_URL = re.compile(
    r"""(?ix)
    (?:\b(?:https?|ftp)://|\bwww\.)\S+
    | (?<![\w.\-])(?:[a-z0-9-]+\.)+(?:com|co\.uk|org\.uk|gov\.uk|uk|org|net|io|me|info|biz|app|ly|gl|to|tv|xyz)
      (?![a-z0-9-])(?:/\S*)?
    """
)
_EMAIL = re.compile(r"(?i)(?<![\w.%+\-])[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+\b")
# UK numbers: +44 / 0044 / 0, then 9-10 more digits with optional spaces, dashes, dots or brackets.
_PHONE = re.compile(
    r"""(?x)
    (?<![\w+])
    (?: \+\s?44\s?(?:\(\s?0\s?\)\s?)? | 00\s?44\s?(?:\(\s?0\s?\)\s?)? | \(?0 )
    \d(?:[\s.\-()]{0,2}\d){8,9}
    (?!\d)
    """
)
_POSTCODE = re.compile(r"(?i)\b(?:GIR\s?0AA|[A-Z]{1,2}\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2})\b")
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{2,}")
# Six or more digits, possibly grouped ("1234 5678 9012", "12-345-678"): card, account, reference numbers.
_DIGITS = re.compile(r"(?<![\w])\d(?:[\s\-]?\d){5,}(?![\w])")

_STREET_WORDS = (
    "street|st|road|rd|avenue|ave|lane|ln|close|drive|dr|way|crescent|cres|court|ct|place|pl|gardens|gdns|"
    "grove|terrace|ter|hill|square|sq|park|mews|row|walk|green|view|rise|parade|boulevard|gate|"
    "estate|flats|towers|yard|wharf|quay|mount|vale|approach"
)
# Words that show "3 days in the park" is not an address.
_NOT_STREET = (
    "the|in|at|to|of|for|a|an|my|his|her|their|our|your|on|by|from|and|or|with|near|times?|hours?|days?|"
    "weeks?|months?|years?|mins?|minutes?|seconds?|texts?|calls?|messages?|people|men|women"
)
_ADDRESS = re.compile(
    rf"""(?ix)
    \b(?:(?:flat|apartment|apt|unit|house|no\.?|number)\s*\d+[a-z]?\s*,?\s*)?
    \d{{1,4}}[a-z]?,?\s+
    (?:(?!(?:{_NOT_STREET})\b)[a-z][a-z'’\-]*\s+){{0,3}}
    (?:{_STREET_WORDS})\b\.?
    """
)
# Without a house number, a street is told from "the park" or "a long drive" by its capitalised name:
# "Tesco on Wibble Street". Only full street words: "Dr", "St" and "Hill" are also in people's names.
_NAMED_STREET_WORDS = (
    "street|road|rd|lane|avenue|ave|close|drive|way|crescent|place|gardens|grove|terrace|square|mews|"
    "parade|boulevard"
)
_FLAT = re.compile(r"(?i)\b(?:flat|apartment|apt|unit)\s*\d+[a-z]?\b")

# Words that end a name: a name is at most three words and never one of these.
# fmt: off
_NOT_NAME = frozenset({
    "and", "but", "or", "so", "because", "cos", "cuz", "i", "im", "i'm", "i’m", "me", "my", "he", "she",
    "they", "them", "his", "her", "their", "him", "it", "is", "was", "am", "are", "be", "been", "from",
    "in", "at", "on", "of", "to", "for", "with", "by", "the", "a", "an", "not", "no", "yes", "please",
    "thanks", "thank", "back", "now", "later", "today", "tomorrow", "tonight", "soon", "again", "if",
    "when", "then", "too", "also", "just", "really", "very", "who", "what", "why", "how", "where", "this",
    "that", "there", "here", "ok", "okay", "x", "xx", "xxx", "lol",
})
# fmt: on
# A strong cue is followed by a name whatever its case; after a weak one ("i am", "this is") a name is told
# from "i am scared" only by its capital letter.
_CUE = re.compile(
    r"""(?ix)
    \b(?: my\s+name\s+is | my\s+name['’]?s | name\s+is | names\s+is | i['’]?m\s+called
        | i\s+am\s+called | call\s+me | (?:his|her|their)\s+name\s+is | (?:his|her|their)\s+name['’]?s
        | (?:he|she|they)(?:['’]s|['’]re|\s+is|\s+are|s)?\s+called | named
        | (?P<weak> i['’]?m | i\s+am | this\s+is ) )
    \s+
    """
)
_NAME_WORD = re.compile(r"[^\W\d_][\w'’\-]*")


def _redact_names(text: str) -> str:
    out: list[str] = []
    pos = 0
    for cue in _CUE.finditer(text):
        if cue.start() < pos:
            continue
        out.append(text[pos : cue.end()])
        pos = cue.end()
        taken = 0
        scan = pos
        while taken < 3:
            gap = re.match(r"[ \t]*", text[scan:])
            start = scan + (gap.end() if gap else 0)
            word = _NAME_WORD.match(text, start)
            if not word or word.group().lower() in _NOT_NAME:
                break
            if cue.group("weak") and not word.group()[0].isupper():
                break
            taken += 1
            scan = word.end()
        if taken:
            out.append("[name]")
            pos = scan
    out.append(text[pos:])
    return "".join(out)


_NOT_PLACE = "|".join(sorted((re.escape(w) for w in _NOT_NAME), key=len, reverse=True))
_NAMED_STREET = re.compile(
    rf"""(?x)
    \b(?:(?!(?i:{_NOT_PLACE})\b)[A-Z][\w'’\-]*\s+){{1,3}}
    (?i:{_NAMED_STREET_WORDS})\b\.?
    """
)


_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("[email]", _EMAIL),
    ("[url]", _URL),
    ("[phone]", _PHONE),
    ("[postcode]", _POSTCODE),
    ("[handle]", _HANDLE),
    ("[address]", _ADDRESS),
    ("[address]", _NAMED_STREET),
    ("[address]", _FLAT),
    ("[number]", _DIGITS),
)


def redact(text: str) -> str:
    """The text with phone numbers, emails, postcodes, links, handles, addresses and names replaced."""
    for label, pattern in _RULES:
        text = pattern.sub(label, text)
    return _redact_names(text)
