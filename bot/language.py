"""Which language a message is written in: English (the default) or Welsh.

Detection is offline, per message, by lingua (``lingua-language-detector``) restricted to English
and Welsh. Why lingua, after comparing it with langdetect and py3langid on short Welsh lines written
for the purpose and on the English dev lines (``benchmarks/language.py`` measures the choice):
- accuracy on short text is its design goal (character n-grams of 1-5 plus word-level rules); with
  only English and Welsh loaded and a confidence floor it called no English dev line Welsh, where
  py3langid restricted to the same two languages called 8 of 235 Welsh;
- it ships its models inside the wheel (no download at run time), is released regularly, and its
  Rust core answers in about 0.1 ms a message once the two models are loaded;
- langdetect is unmaintained since 2021, is random unless seeded and takes about 4 ms a message;
  fasttext's language model is a separate download. The cost of lingua is its size: the wheel holds
  every language's models (about 100 MB installed), though only two are ever loaded into memory.

A short message must not flip a chat's language: "hi", "help" or "ok" say nothing about it. So the
detector only decides when the text is long enough and confident, or carries Welsh-only words or
letters ("mae", "diolch", "i'r", "ŵ"); otherwise it returns None and the chat keeps its language,
English by default.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from lingua import Language, LanguageDetectorBuilder

from bot import model_cache
from bot.catalog.schema import Catalog
from bot.text import normalise

ENGLISH = "en"
WELSH = "cy"
MIN_WORDS = 3  # fewer words than this decide nothing on the detector's word alone
MIN_LETTERS = 12
CONFIDENT = 0.9  # lingua's Welsh confidence (0-1) needed without a Welsh marker word
LEANING = 0.5  # ... with one marker word in a longer message

# Common Welsh words that are not English words (nor English text-speak): any one marks a message.
_MARKER_TEXT = """
mae dw dwi rwy rydw rydyn ydw ydy ydych ydi yw ddim dydy dydw dyw fy eich gyda efo hefyd diolch shwmae
sut beth pwy ble pryd oes nawr rwan heddiw iawn croeso nos hwyl fawr yma yno wedi eisiau isio gallu
alla galla allwch gallwch gennych ganddo ganddi heddlu cymorth sgwrs negeseuon neges ffonio ffoniwch
drws allan ofn ofnus perygl argyfwng marw byw lladd helpwch dilewch dileu clirio llinell ffrind gwaith
ysgol dydd noswaith prynhawn hyn hon hwn rhywun popeth mewn rhaid siarad gweld cadw stelcio stelciwr
chi ni nhw fe yn
"""
MARKERS = frozenset(_MARKER_TEXT.split())
# Two-word greetings whose words alone are English too ("bore", "da").
PHRASES = ("bore da", "nos da", "pnawn da", "prynhawn da", "noswaith dda", "dydd da")
# "i'r", "mae'n", "dw i'n": the Welsh article and particle cling to the word before them.
_CLITIC = re.compile(r"^[a-z]+'[rn]$")
_WELSH_LETTERS = frozenset("ŵŷ")  # letters English never writes
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")
_MARKS = re.compile(r"[\u0300-\u036f]")


def _tokens(text: str) -> list[str]:
    """Lower-case words with accents dropped; no English text-speak expansion, which would hide Welsh."""
    bare = _MARKS.sub("", unicodedata.normalize("NFD", text.casefold().replace("\u2019", "'")))
    return _TOKEN.findall(bare)


@lru_cache(maxsize=1)
def _detector() -> Any:
    """lingua's English-Welsh detector, models loaded once per process (a few MB)."""
    builder = LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.WELSH)
    return builder.with_preloaded_language_models().build()


def welsh_confidence(text: str) -> float:
    """lingua's confidence (0-1) that the text is Welsh rather than English."""
    return float(_detector().compute_language_confidence(text, Language.WELSH))


def _markers(tokens: list[str]) -> int:
    joined = f" {' '.join(tokens)} "
    return sum(1 for t in tokens if t in MARKERS or _CLITIC.match(t)) + sum(1 for p in PHRASES if f" {p} " in joined)


def may_be_welsh(text: str) -> bool:
    """Whether the text has a Welsh-only word or letter: cheap, and without one the text is not taken for Welsh."""
    return bool(_WELSH_LETTERS & set(text.casefold())) or _markers(_tokens(text)) > 0


def detect(text: str) -> str | None:
    """"cy" or "en" when the message says which; None when it is too short or unclear to tell."""
    tokens = _tokens(text)
    if not tokens:
        return None
    markers = _markers(tokens)
    if (markers and len(tokens) < MIN_WORDS) or markers >= 2:
        return WELSH  # "diolch", "shwmae", "bore da", "mae gen i ofn": only Welsh says it
    if _WELSH_LETTERS & set(text.casefold()):
        return WELSH
    letters = sum(len(t) for t in tokens)
    if len(tokens) < MIN_WORDS or letters < MIN_LETTERS:
        return None
    confidence = welsh_confidence(text)
    if (markers and confidence >= LEANING) or confidence >= CONFIDENT:
        return WELSH
    return ENGLISH if confidence <= 1 - CONFIDENT and not markers else None


def in_language(lines: Sequence[str], code: str) -> tuple[str, ...]:
    """The lines detected as ``code`` (a catalog's everyday lines): read back while they are unchanged,
    since the detector's models take a quarter of a second to load (bot/model_cache.py)."""
    def found() -> dict[str, np.ndarray]:
        return {"found": np.array([may_be_welsh(line) and detect(line) == code for line in lines], dtype=bool)}

    flags = model_cache.cached("language-" + model_cache.key([code, *lines]), found)["found"]
    return tuple(line for line, flag in zip(lines, flags.tolist(), strict=True) if flag)


def warm() -> None:
    """Load the detector's models now (at catalog build), not on someone's first message."""
    _detector()


def words_of(texts: Iterable[str]) -> frozenset[str]:
    """The words of some texts, as the normaliser spells them (tags and placeholders left out)."""
    return frozenset(w for t in texts for w in normalise(re.sub(r"<[^>]*>|\{[^}]*\}", " ", t)).split())


def translated_words(catalog: Catalog) -> frozenset[str]:
    """Every word of the catalog's translations: real words the speller must never "correct" into English."""
    texts: list[str] = []
    for intent in catalog.intents:
        for it in intent.translations.values():
            texts.extend((it.title, it.answer, *it.examples))
    for esc in catalog.escalations:
        for et in esc.translations.values():
            texts.extend((et.answer, et.follow_up, et.silent_answer, *et.phrases, *et.silent_phrases, *et.examples,
                          *et.negative_examples))
    for response in catalog.responses.values():
        texts.extend(rt.answer for rt in response.translations.values())
    return words_of(texts)
