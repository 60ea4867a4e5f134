"""Which UK nation's law and services an answer describes, and where a person says they are.

The catalog's ``answer:`` is the England and Wales text; ``variants:`` may give a ``scotland``,
``northern_ireland`` or ``wales`` answer beside it. Wales shares England's criminal law, so a ``wales``
variant only adds Welsh services (Live Fear Free); without one a person in Wales gets the default.
Place words are read only to choose among these answers: they never touch the escalation check,
which runs on the whole message before anything here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

DEFAULT = "england_wales"
# Every jurisdiction id, with the words an answer uses for it ("This answer is for Scotland").
NATIONS: Mapping[str, str] = {
    "england_wales": "England and Wales",
    "wales": "Wales",
    "scotland": "Scotland",
    "northern_ireland": "Northern Ireland",
}
VARIANTS = ("wales", "scotland", "northern_ireland")  # what ``variants:`` may name; the default is the answer
# The "Where are you in the UK?" choice: what a person taps, and the id it sets.
CHOICES: tuple[tuple[str, str], ...] = (
    ("England", "england_wales"),
    ("Wales", "wales"),
    ("Scotland", "scotland"),
    ("Northern Ireland", "northern_ireland"),
)

# Places people name, in their usual spellings (after _fold: lower case, apostrophes dropped). Only places
# that are in one nation and rarely anything else: "newport", "bangor" and "newcastle" are in two nations,
# "paisley" and "livingston" are also people's names, and a language ("welsh") is not where someone is.
_PLACES: Mapping[str, tuple[str, ...]] = {
    "scotland": (
        "scotland", "scottish", "police scotland", "glasgow", "edinburgh", "aberdeen", "dundee", "inverness",
        "stirling", "falkirk", "kilmarnock", "ayrshire", "lanarkshire", "fife", "kirkcaldy",
        "dunfermline", "east kilbride", "cumbernauld", "motherwell", "greenock",
        "highlands", "shetland", "orkney", "dumfries", "west lothian", "midlothian",
    ),
    "northern_ireland": (
        "northern ireland", "psni", "belfast", "derry", "londonderry", "lisburn", "newry",
        "armagh", "ballymena", "omagh", "enniskillen", "coleraine", "portadown", "craigavon", "antrim",
        "county down", "county tyrone", "fermanagh", "larne", "strabane",
    ),
    "wales": (
        "wales", "cymru", "north wales", "south wales", "cardiff", "swansea", "wrexham", "aberystwyth",
        "carmarthen", "llanelli", "merthyr", "merthyr tydfil", "pontypridd", "bridgend", "rhyl", "caerphilly",
        "gwent", "dyfed", "powys", "anglesey", "ynys mon", "neath", "port talbot", "caernarfon",
        "llandudno", "haverfordwest", "pembrokeshire", "ceredigion", "gwynedd", "conwy", "denbighshire",
    ),
    "england_wales": (
        "england", "london", "manchester", "birmingham", "leeds", "liverpool", "bristol", "sheffield",
        "nottingham", "leicester", "coventry", "bradford", "plymouth", "southampton", "portsmouth",
        "brighton", "norwich", "cornwall", "essex", "yorkshire", "lancashire",
        "cumbria", "northumberland", "the midlands", "west midlands", "merseyside",
    ),
}
_WORD = {place: nation for nation, places in _PLACES.items() for place in places}
_PLACE = re.compile(r"(?<![a-z0-9])(" + "|".join(sorted(map(re.escape, _WORD), key=len, reverse=True))
                    + r")(?![a-z0-9])")
# A place with the word that leads to it ("in scotland"): the matcher sees "who do i phone", not "... in".
_PLACE_PHRASE = re.compile(r"(?<![a-z0-9])(?:(?:in|from|near|at|around|outside|across)\s+)?(?:the\s+)?"
                           + _PLACE.pattern[len("(?<![a-z0-9])"):])
# "he moved to glasgow", "his mum lives in belfast": someone else's place, not the person's own.
# "he is outside my flat in belfast" (a word for the person themselves in between) is their own place.
_SOMEONE_ELSE = re.compile(r"(?<![a-z])(he|hes|she|shes|they|theyre|him|his|her|hers|their|ex|mum|dad|"
                           r"brother|sister|family|friend|partner)(?![a-z])"
                           r"(?:(?!(?<![a-z])(?:i|im|me|my|mine|our|us|we)(?![a-z]))[^.,;!?]){0,40}$")
# What is left of "im in glasgow" once the place is taken out: a message that only says where they are.
_FILLER = frozenset((
    "i", "im", "am", "me", "my", "here", "living", "live", "based", "from", "in", "at", "near", "the", "uk",
    "currently", "now", "actually", "just", "located", "area", "its", "is", "this", "and", "so", "ok", "okay",
    "hi", "hello", "yes", "ya", "yeah", "we", "were", "us", "our",
))


class HasAnswer(Protocol):
    """Anything with a default answer and per-jurisdiction variants (an Intent or a Response)."""

    @property
    def answer(self) -> str: ...

    @property
    def variants(self) -> Mapping[str, str]: ...


def _fold(text: str) -> str:
    return text.casefold().replace("\u2019", "").replace("'", "")


def nation_in(text: str) -> str | None:
    """The jurisdiction id of the place a person says they are in, or None (no place, or several)."""
    folded = _fold(text)
    found: set[str] = set()
    for m in _PLACE.finditer(folded):
        if _SOMEONE_ELSE.search(folded[: m.start()]):
            continue
        found.add(_WORD[m.group(1)])
    return found.pop() if len(found) == 1 else None


def strip_places(text: str) -> str:
    """The text without place words, so "im in glasgow, can i get an order" is matched as a question."""
    return " ".join(_PLACE_PHRASE.sub(" ", _fold(text)).split())


def only_place(text: str) -> bool:
    """Whether the message names a place and says nothing else ("im in cardiff", "belfast")."""
    folded = _fold(text)
    if not _PLACE.search(folded):
        return False
    rest = re.findall(r"[a-z']+", _PLACE.sub(" ", folded))
    return all(word in _FILLER for word in rest)


def valid(nation: str | None) -> bool:
    """Whether this is a jurisdiction id the bot knows."""
    return nation in NATIONS


def answer_for(item: HasAnswer, nation: str | None) -> str:
    """The answer to show a person in ``nation``: its variant, or the default (England and Wales) text."""
    if nation is None or nation == DEFAULT:
        return item.answer
    return item.variants.get(nation) or item.answer


def differs(item: HasAnswer) -> bool:
    """Whether this answer changes with the nation (it has at least one variant)."""
    return bool(item.variants)


def described(item: HasAnswer, nation: str | None) -> str:
    """Which nation the answer shown to a person in ``nation`` describes, in words."""
    if nation is not None and nation != DEFAULT and nation in item.variants:
        return NATIONS[nation]
    return NATIONS[DEFAULT]
