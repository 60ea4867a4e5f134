"""Text normalisation shared by the matcher and the safety check.

Both sides of every comparison (admin examples and incoming messages) go through the same steps, so
"He's outside", "hes outside" and "HE IS OUTSIDE!!" all become "he is outside".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.confusables import fold_confusables
from bot.wordlist import english_frequencies, english_words

# Characters people (and phone keyboards) use for an apostrophe.
_APOSTROPHES = dict.fromkeys(map(ord, "\u2019\u2018\u02bc\u02b9\u0060\u00b4\u2032\uff07"), "'")
# Zero-width and direction marks: invisible, but they split words for a naive tokenizer.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u202a\u202b\u202c\u202d\u202e"))
_ASCII_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_LINE_BREAKS = dict.fromkeys(map(ord, "\r\x0b\x0c\x85\u2028\u2029"), "\n")
_NON_WORD = re.compile(r"[^a-z0-9']+")
_APOS_RUN = re.compile(r"'+")

# Contractions and text-speak, keyed by the token with apostrophes removed. Only unambiguous forms:
# "shed", "well", "were", "ill" and "id" stay words unless written with an apostrophe.
_CONTRACTIONS = {
    "he's": "he is", "she's": "she is", "it's": "it is", "that's": "that is", "what's": "what is",
    "who's": "who is", "where's": "where is", "there's": "there is", "here's": "here is",
    "how's": "how is", "let's": "let us", "someone's": "someone is", "somebody's": "somebody is",
    "i'm": "i am", "i've": "i have", "i'll": "i will",
    "i'd": "i would", "he'll": "he will", "she'll": "she will", "he'd": "he would",
    "she'd": "she would", "they'll": "they will", "they're": "they are", "they've": "they have",
    "we're": "we are", "we've": "we have", "we'll": "we will", "you're": "you are",
    "you've": "you have", "you'll": "you will", "you'd": "you would", "it'll": "it will",
    "won't": "will not", "can't": "can not", "cannot": "can not", "don't": "do not",
    "doesn't": "does not", "didn't": "did not", "isn't": "is not", "aren't": "are not",
    "wasn't": "was not", "weren't": "were not", "haven't": "have not", "hasn't": "has not",
    "hadn't": "had not", "wouldn't": "would not", "couldn't": "could not",
    "shouldn't": "should not", "mustn't": "must not", "ain't": "is not", "y'all": "you all",
    "could've": "could have", "would've": "would have", "should've": "should have",
    "might've": "might have", "must've": "must have",
}
_BARE = {
    "hes": "he is", "shes": "she is", "thats": "that is", "whats": "what is", "whos": "who is",
    "wheres": "where is", "theres": "there is", "hows": "how is", "someones": "someone is",
    "somebodys": "somebody is", "im": "i am", "ive": "i have",
    "hed": "he would", "theyre": "they are", "theyve": "they have", "youre": "you are",
    "youve": "you have", "wont": "will not", "cant": "can not", "dont": "do not",
    "doesnt": "does not", "didnt": "did not", "isnt": "is not", "arent": "are not",
    "wasnt": "was not", "werent": "were not", "havent": "have not", "hasnt": "has not",
    "hadnt": "had not", "wouldnt": "would not", "couldnt": "could not", "shouldnt": "should not",
    "aint": "is not", "couldve": "could have", "wouldve": "would have", "shouldve": "should have",
    "u": "you", "ya": "you", "yu": "you", "ur": "your", "youre'": "you are", "r": "are",
    "rn": "right now", "atm": "at the moment", "pls": "please", "plz": "please", "plss": "please",
    "plse": "please", "pleas": "please", "wat": "what", "wot": "what", "wht": "what",
    "idk": "i do not know", "dunno": "do not know", "ik": "i know", "thx": "thanks",
    "thnx": "thanks", "thanx": "thanks", "ty": "thank you", "tysm": "thank you so much",
    "msg": "message", "msgs": "messages", "txt": "text", "txts": "texts", "txting": "texting",
    "b4": "before", "2day": "today", "2nite": "tonight", "tonite": "tonight", "2moro": "tomorrow",
    "tmrw": "tomorrow", "tmr": "tomorrow", "gf": "girlfriend", "bf": "boyfriend", "bc": "because",
    "cos": "because", "coz": "because", "cuz": "because", "bcos": "because", "abt": "about",
    "smth": "something", "sth": "something", "sum1": "someone", "some1": "someone",
    "any1": "anyone", "no1": "no one", "every1": "everyone", "ppl": "people", "gonna": "going to",
    "wanna": "want to", "gotta": "got to", "tho": "though", "thru": "through", "nite": "night",
    "n": "and", "w": "with", "rly": "really", "v": "very", "ok": "okay", "k": "okay",
    "okk": "okay", "kk": "okay", "pic": "picture", "pics": "pictures", "vid": "video",
    "vids": "videos", "fb": "facebook", "insta": "instagram", "ig": "instagram", "yr": "year",
    "yrs": "years", "hr": "hour", "hrs": "hours", "min": "minute", "mins": "minutes",
    "wk": "week", "wks": "weeks", "mth": "month", "mths": "months", "nxt": "next",
    "shud": "should", "cud": "could", "wud": "would", "cld": "could", "wld": "would",
    "dis": "this", "dat": "that", "da": "the", "luv": "love", "bruv": "mate", "hun": "love",
    "srsly": "seriously", "prob": "probably", "probs": "probably", "def": "definitely",
    "gov": "government", "num": "number", "no.": "number", "nbr": "number", "numbr": "number",
    "convo": "conversation", "info": "information", "tbh": "to be honest", "imo": "in my opinion",
    "omg": "oh my god", "hm": "hmm",
}


def fold(text: str) -> str:
    """Unicode-normalise, fold look-alike letters and casefold; keep punctuation (safety patterns may want it)."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_APOSTROPHES)
    text = fold_confusables(text).casefold()
    text = text.translate(_LINE_BREAKS)  # line breaks end sentences; every kind becomes "\n"
    if text.isascii():  # the common case: only ASCII control characters to blank out
        return _ASCII_CONTROL.sub(" ", text)
    # invisible formatting characters (Cf) vanish so they cannot split a word; other controls blank
    return "".join(
        ch if ch == "\n" or (cat := unicodedata.category(ch))[0] != "C" else ("" if cat == "Cf" else " ")
        for ch in text
    )


@lru_cache(maxsize=65536)
def _expand(token: str) -> str:
    if "'" in token:
        full = _CONTRACTIONS.get(token)
        if full:
            return full
        if token.endswith("'s"):  # possessive: "mum's" -> "mum"
            token = token[:-2]
        token = token.replace("'", "")
    if _HELD.search(token):
        token = _unstretched(token)
    return _BARE.get(token, token)


_HELD = re.compile(r"([a-z])\1\1+")  # a letter three times or more: no English word has one ("iii" aside)


def _unstretched(token: str) -> str:
    """A word typed with a key held down ("hes hereee", "pleeease", "goooood") as the word it stretches.

    Its letters held down, a word is two edits or more from itself, out of the speller's reach. Each
    run becomes one letter or two, whichever makes the commoner word ("hereee" -> "here", "goooood" ->
    "good"); the word list's own ("iii", "zzz") stay as they are.
    """
    counts = english_frequencies()
    if token in counts:
        return token
    one, two = _HELD.sub(r"\1", token), _HELD.sub(r"\1\1", token)
    return two if counts.get(two, 0) > counts.get(one, 0) else one


def normalise(text: str) -> str:
    """The canonical form of a message: folded, contractions and text-speak expanded, words only."""
    # Examples are normalised by the loader, the matcher and the detector alike: remember short texts.
    return _normalise_short(text) if len(text) <= _CACHED_LENGTH else _normalise(text)


_CACHED_LENGTH = 300


def _normalise(text: str) -> str:
    folded = _APOS_RUN.sub("'", fold(text))
    if not folded.isascii():
        return _normalise_accented(folded)
    out = []
    for raw in _NON_WORD.sub(" ", folded).split():
        token = raw.strip("'")
        if token:
            out.append(_expand(token))
    return " ".join(out)


# Letters decomposed (NFD) keep their accents as combining marks (U+0300-U+036F) through tokenising.
_NON_WORD_OR_MARK = re.compile(r"[^a-z0-9'\u0300-\u036f]+")
_MARKS = re.compile(r"[\u0300-\u036f]+")


def _normalise_accented(folded: str) -> str:
    """Accented Latin letters fold to their base letter ("tŷ" -> "ty") instead of vanishing as non-words.

    Welsh writes â ê î ô û ŵ ŷ, ä ë ï ö ü and á é. A word that had an accent is a word of another
    language, so the English text-speak table is not applied to it ("tŷ" is "ty", never "thank you").
    Letters of other scripts still vanish, as in the ASCII path.
    """
    out = []
    for raw in _NON_WORD_OR_MARK.sub(" ", unicodedata.normalize("NFD", folded)).split():
        token = raw.strip("'")
        bare = _MARKS.sub("", token).strip("'")
        if bare:
            out.append(_expand(bare) if bare == token else bare.replace("'", ""))
    return " ".join(out)


_normalise_short = lru_cache(maxsize=65536)(_normalise)


def words(text: str) -> list[str]:
    """Normalised words of a message."""
    return normalise(text).split()


# linear on any input: no branch can be retried at every position of a long run of spaces
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n")
# A sentence typed on a phone often runs into the next with no space ("i found the place.Next i get
# the rope"): a word, its stop, then a capital starting a word. Read before case folding; "e.g.",
# "U.K." and web addresses ("ring.com") have no such capital.
_RUN_ON = re.compile(r"(?<=[a-z][a-z][.!?])(?=[A-Z][a-z])")


def sentences(text: str) -> list[str]:
    """Split a message into sentences (on . ! ? ; and newlines); never returns an empty list."""
    parts = [p.strip() for chunk in _RUN_ON.split(text) for p in _SENTENCE_END.split(fold(chunk))]
    return [p for p in parts if p] or [text]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix-stripping stem: 'stalking', 'stalked', 'stalks' -> 'stalk'."""
    # Why not a library: Snowball (snowballstemmer 3.1.1, Porter2, which cuts deeper: "harassment" ->
    # "harass", "abuser" -> "abus") was measured in this one's place on 2026-12-04. Our own sets did
    # not move (dev 0.950, fresh questions 0.931 / 0.932); on CLINC150 in-scope accuracy fell from
    # 0.866 to 0.852 and the typo drop rose from 4.69 to 5.31 points, past its goal of 5.
    if len(word) <= 3 or not word.isalpha():
        return word
    w = word
    if w.endswith(("ies", "ied")) and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ingly", "edly", "ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]
            break
    if w.endswith("ly") and len(w) > 5:
        w = w[:-2]
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    return w


TYPO_RATIO = 20  # a vocabulary word this many times commoner, one edit away, is what a rare non-word misspells


class Speller:
    """Corrects misspelt words towards a vocabulary with rapidfuzz (1-2 edits, swaps count 1).

    A real English word (``words``: by default the list in ``bot.wordlist``) is never changed, even
    when it is one edit from a vocabulary word: "exist" is not a typo of "exit", nor "sitting" of
    "hitting". Only tokens that are no word at all are corrected.
    """

    def __init__(self, frequencies: Mapping[str, int], min_length: int = 4,
                 words: frozenset[str] | None = None) -> None:
        self.known = frozenset(frequencies)
        self.words = english_words() if words is None else words
        self.min_length = min_length
        by_length: dict[int, list[str]] = {}
        for word in self.known:
            if word.isalpha():
                by_length.setdefault(len(word), []).append(word)
        # most frequent first, so a tie goes to the commoner word
        self._by_length = {n: sorted(ws, key=lambda w: (-frequencies[w], w)) for n, ws in by_length.items()}
        self._rank = {w: i for ws in self._by_length.values() for i, w in enumerate(ws)}  # 0 = commonest
        self._frequencies = frequencies
        self._cache: dict[str, str] = {}

    def correct(self, word: str) -> str:
        """The closest vocabulary word, or the word itself when it is a word already or nothing is close."""
        if word in self.words or not word.isalpha():
            return word
        if word in self.known:
            return self._typo_known(word) if len(word) >= self.min_length else word
        if len(word) < self.min_length:
            return self._swapped(word)
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        max_distance = 1 if len(word) < 7 else 2
        best, best_distance = word, max_distance + 1
        for n in sorted(range(len(word) - max_distance, len(word) + max_distance + 1),
                        key=lambda n: abs(n - len(word))):
            choices: Sequence[str] = self._by_length.get(n, ())
            if not choices or abs(n - len(word)) >= best_distance:
                continue
            found = process.extractOne(word, choices, scorer=OSA.distance, score_cutoff=best_distance - 1)
            if found is not None and found[1] < best_distance:
                best, best_distance = found[0], found[1]
        if len(self._cache) < 100_000:
            self._cache[word] = best
        return best

    def _typo_known(self, word: str) -> str:
        """A vocabulary word that is no English word and one edit from a far commoner one is a typo that
        an example kept on purpose ("hlep me" beside a hundred "help"s): read as the word it misspells,
        or a rule written for "help" would never see it. Names and brands have no such neighbour."""
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        floor = TYPO_RATIO * self._frequencies[word]
        choices = [w for w in self._by_length.get(len(word), []) + self._by_length.get(len(word) - 1, [])
                   + self._by_length.get(len(word) + 1, []) if self._frequencies[w] >= floor and w != word]
        found = process.extractOne(word, choices, scorer=OSA.distance, score_cutoff=1) if choices else None
        best = found[0] if found is not None else word
        if len(self._cache) < 100_000:
            self._cache[word] = best
        return best

    def _swapped(self, word: str) -> str:
        """A short word is only corrected for two swapped neighbours ("hwo" -> "how", "ym" -> "my").

        One edit turns a 2-3 letter word into many others, so only the commonest typo of all, a
        transposition, is trusted there; the most frequent known word wins.
        """
        swaps = [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)]
        known = [w for w in swaps if w in self.known]
        if not known:
            return word
        return min(known, key=lambda w: self._rank.get(w, 0))
