"""Catalog -> Matcher.match(text) -> Match: which intent a message is about, and how sure we are.

Layers, cheapest first:
1. exact: the normalised message equals a normalised example (score 100).
2. fuzzy: misspelt words are corrected against the catalog's vocabulary with rapidfuzz, then the
   message becomes TF-IDF features (word stems, stem pairs and character n-grams) and is scored
   against every intent at once through inverted indexes. Three views are mixed: a naive Bayes
   posterior (which intent's vocabulary explains the message best; its word weights are corrected
   at load by a discriminative fit to the catalog), the cosine to the intent's centroid
   (everything its examples say) and to its nearest example (one close phrasing).
   Out-of-scope and negative examples form a "none" class that competes like an intent: a message
   nearest to them gets the fallback. Words the catalog has never seen lower every score (see
   `_familiarity`): an unknown topic shows most plainly in words no example uses.
The decision (`decide`) takes a threshold and a margin to the runner-up; too close to call gives
"Did you mean" suggestions instead of a guess. Everything is precomputed at load, in numpy.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from itertools import chain

import numpy as np

from bot import model_cache
from bot.calibration import Calibration, HeldOut, calibrate
from bot.catalog.schema import Catalog, MatcherSettings
from bot.features import Batch, Features, Index, scale_rows
from bot.language import translated_words
from bot.synonyms import Synonyms
from bot.text import Speller, normalise, sentences
from bot.wordlist import english_words

MAX_WORDS = 400  # the matcher reads at most this many words; safety has already read everything
WORD_WEIGHT = 0.55  # share of the score from words and word pairs; the rest from character n-grams
NEAREST_WEIGHT = 0.25  # share of an intent's score from its nearest example; the rest from its centroid
TOP_K = 5
LEAD_TOLERANCE = 1e-6  # float slack when comparing differences of one-decimal scores (see decide)
BATCH = 64  # messages scored together by match_many (bounded memory: BATCH x examples floats)
NB_ALPHA = 0.03  # naive Bayes smoothing
NB_TEMPERATURE = 3.0  # softens naive Bayes' overconfident posteriors
# Discriminative correction of the naive Bayes word weights, trained at load (see _correct_bayes).
CORRECTION_RIVALS = 5  # labels each training example is contrasted with: its best-scoring ones, plus its own
CORRECTION_STEPS = 5  # Newton-like steps; the fit has settled by then on CLINC150 and on our catalog
CORRECTION_PRIOR = 0.3  # L2 pull to 0, in units of one example's evidence: rare words move less
CORRECTION_MAX_EXAMPLES = 20_000  # bigger catalogs train on an even sample: load time and memory stay bounded
POSTERIOR_TOP = 10  # the posterior is shared among the best this many intents, not diluted by hundreds
POSTERIOR_WEIGHT = 0.65  # the posterior's share (as an exponent) of the score; the rest is similarity
LOAD_CHUNK = 32  # examples per block when scoring the whole catalog at load (bounded memory)
CALIBRATION_SAMPLE = 1200  # examples scored held out to choose settings; all of ours
# A message of this many words tells a story: its best intent is answered even when another is close, and
# the close ones are offered beside it ("I can also help with"), instead of a "Did you mean" for a story.
STORY_WORDS = 15
PART_WORDS = 4  # a story's sentences of at least this many words (of letters) are scored on their own too ...
MAX_PARTS = 20  # ... the first this many: the cost of a long message stays bounded
# Intents a guess never lands on: erasing the chat, or ending it (their buttons and commands still work).
NEVER_GUESSED = frozenset({"erase_conversation", "goodbye"})
SURE_LEAD = 10.0  # the lead over the runner-up a NEVER_GUESSED intent needs to be answered


@dataclass(frozen=True)
class Candidate:
    """One scored intent; ``intent`` None is the out-of-scope class."""

    intent: str | None
    score: float
    example: str


@dataclass(frozen=True)
class Match:
    """The matcher's verdict on one message, with everything needed to explain it."""

    intent: str | None
    score: float
    layer: str  # exact | fuzzy | empty | none
    candidates: tuple[Candidate, ...]
    suggestions: tuple[str, ...] = ()
    normalised: str = ""
    corrections: tuple[tuple[str, str], ...] = ()
    unknown: tuple[str, ...] = ()  # words the catalog has never seen, after spelling correction
    familiarity: float = 1.0  # the factor the unknown words put on every score (see Matcher._familiarity)
    also: tuple[str, ...] = ()  # for a story: other intents it is close to, offered beside the answer
    story: bool = False  # long enough to tell a story (STORY_WORDS)
    part: bool = False  # a story no one intent fitted whole, answered by the sentence that clearly asked one


def decide(candidates: Sequence[Candidate], settings: MatcherSettings, *,
           story: bool = False) -> tuple[str | None, tuple[str, ...]]:
    """The pure decision rule: (accepted intent or None, "Did you mean" suggestions).

    ``story``: a long message; its best intent is answered when it reaches the threshold, however close
    the next one (see ``also``).
    """
    if not candidates:
        return None, ()
    top = candidates[0]
    if top.intent is None or top.score < settings.suggest:
        return None, ()
    if story and top.score >= settings.threshold and top.intent not in NEVER_GUESSED:
        return top.intent, ()
    runner_up = candidates[1].score if len(candidates) > 1 else 0.0
    # Scores have one decimal, and their float difference can land just under it (0.7 - 0.2 is
    # 0.4999...): a lead equal to the margin must pass.
    if top.score >= settings.threshold and top.score - runner_up >= settings.margin - LEAD_TOLERANCE:
        if top.intent not in NEVER_GUESSED or top.score - runner_up >= SURE_LEAD - LEAD_TOLERANCE:
            return top.intent, ()
        # Erasing or saying goodbye on a near tie would act on a guess ("she made me delete all my
        # messages" sits between erase and evidence): the next intent is answered if it is clear.
        rest, _ = decide(candidates[1:], settings)
        if rest is not None:
            return rest, ()
    window = _window(settings)
    offered = tuple(
        c.intent for c in candidates
        if c.intent is not None and c.score >= settings.suggest and top.score - c.score <= window + LEAD_TOLERANCE
    )[: settings.max_suggestions]
    return None, offered


def also(candidates: Sequence[Candidate], intent: str, settings: MatcherSettings) -> tuple[str, ...]:
    """For a story answered with ``intent``: the other intents it is close to, to offer beside the answer."""
    top = next((c.score for c in candidates if c.intent == intent), 0.0)
    return tuple(
        c.intent for c in candidates
        if c.intent is not None and c.intent != intent and c.intent not in NEVER_GUESSED
        and c.score >= settings.suggest and top - c.score <= _window(settings) + LEAD_TOLERANCE
    )[: max(settings.max_suggestions - 1, 0)]


def _window(settings: MatcherSettings) -> float:
    """How far below the best score an intent may be and still be offered."""
    return max(settings.margin * 2, 10.0)


def _matcher_inputs(catalog: Catalog) -> Iterator[str]:
    """Everything a matcher's trained parts come from, as text: settings, examples, out of scope, synonyms.

    Not the translations: their words only keep the speller off them, and the speller is built afresh."""
    settings = catalog.settings
    yield repr(replace(settings, auto=frozenset())) + repr(sorted(settings.auto))  # a set's order varies by run
    for intent in catalog.intents:
        yield f"intent:{intent.id}:{len(intent.examples)}:{len(intent.negative_examples)}"
        yield from intent.examples
        yield from intent.negative_examples
    yield f"out_of_scope:{len(catalog.out_of_scope)}"
    yield from catalog.out_of_scope
    for canonical, variants in catalog.synonyms.items():
        yield f"synonym:{canonical}:{len(variants)}"
        yield from variants


def _strongest(rankings: Sequence[Sequence[Candidate]]) -> list[Candidate]:
    """One ranking from a story's whole text and its sentences: each intent at its best score anywhere."""
    best: dict[str | None, Candidate] = {}
    for ranking in rankings:
        for c in ranking:
            if c.intent not in best or c.score > best[c.intent].score:
                best[c.intent] = c
    return sorted(best.values(), key=lambda c: -c.score)[:TOP_K]


def _example_features(normalised: Sequence[str]) -> dict[str, np.ndarray]:
    """The features of every example: their names and kinds, each example's ids in order, and how many."""
    features = Features()
    per_example = [features.of(norm.split(), grow=True) for norm in normalised]
    lengths = np.fromiter((len(f) for f in per_example), dtype=np.int64, count=len(per_example))
    ids = np.fromiter(chain.from_iterable(per_example), dtype=np.int32, count=int(lengths.sum()))  # half the disk
    return {**features.arrays(), "lengths": lengths, "ids": ids}


def _pack_calibration(calibration: Calibration) -> np.ndarray:
    """The calibration as JSON bytes: the values it chose and the figures that chose them."""
    settings = calibration.settings  # every key now given: calibrate leaves nothing automatic
    chosen = {f.name: getattr(settings, f.name) for f in fields(settings) if f.name != "auto"}
    figures = {f.name: getattr(calibration, f.name) for f in fields(calibration) if f.name != "settings"}
    return np.frombuffer(json.dumps({"settings": chosen, **figures}).encode(), dtype=np.uint8)


def _unpack_calibration(packed: np.ndarray, base: MatcherSettings) -> Calibration:
    """The calibration ``_pack_calibration`` kept, for a catalog whose own settings are ``base``."""
    data = json.loads(packed.tobytes())
    return Calibration(settings=replace(base, auto=frozenset(), **data.pop("settings")), **data)


class _Dense:
    """Per-feature rows of label weights (features x labels x columns), for labels: few, shared widely.

    Character n-grams appear under most labels, so a dense gather of one row per query feature
    beats walking sparse postings here.
    """

    def __init__(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int, n_cols: int) -> None:
        self.n_rows = n_rows
        self.columns = vals.shape[1]
        self.matrix = np.zeros((n_cols, self.columns * n_rows), dtype=np.float32)
        for k in range(self.columns):
            self.matrix[cols, k * n_rows + rows] = vals[:, k]

    def column(self, k: int) -> np.ndarray:
        """Value column ``k`` as a (features x rows) view: writes go to the index."""
        return self.matrix[:, k * self.n_rows : (k + 1) * self.n_rows]

    def dot(self, batch: Batch) -> list[np.ndarray]:
        """Per value column, a (queries x rows) matrix of dot products with a batch of queries."""
        weights = batch.weights.astype(np.float32)
        bounds = np.searchsorted(batch.owner, np.arange(batch.size))  # every query has a feature
        summed = np.add.reduceat(self.matrix[batch.feats] * weights[:, None], bounds, axis=0).astype(np.float64)
        return [summed[:, k * self.n_rows : (k + 1) * self.n_rows] for k in range(self.columns)]


def _sum_rows(matrix: np.ndarray, starts: np.ndarray, cols: np.ndarray, weights: np.ndarray,
              out: np.ndarray, lo: int, hi: int) -> None:
    """out[i] = sum of weights[j] * matrix[cols[j]] over example i's entries (starts[i]:starts[i + 1])."""
    for s in range(lo, hi, LOAD_CHUNK):
        e = min(s + LOAD_CHUNK, hi)
        a, b = starts[s], starts[e]
        filled = np.diff(starts[s : e + 1]) > 0  # reduceat cannot sum empty runs: featureless examples keep 0
        out[s:e][filled] = np.add.reduceat(matrix[cols[a:b]] * weights[a:b, None], starts[s:e][filled] - a, axis=0)


@dataclass(frozen=True)
class _Query:
    """A message ready to score: its feature ids, one per occurrence."""

    normalised: str
    corrections: tuple[tuple[str, str], ...]
    unknown: tuple[str, ...]
    familiarity: float
    ids: list[int]
    story: bool  # long enough to tell a story (STORY_WORDS)


class Matcher:
    """Precomputes everything at load; ``match`` is then a handful of vectorised operations."""

    def __init__(self, catalog: Catalog) -> None:
        self.settings = catalog.settings
        labels: list[str | None] = [i.id for i in catalog.intents]
        texts: list[tuple[int, str]] = []
        for li, intent in enumerate(catalog.intents):
            texts.extend((li, e) for e in intent.examples)
        self.none_label = len(labels)
        labels.append(None)
        negatives = [*catalog.out_of_scope, *(n for i in catalog.intents for n in i.negative_examples)]
        texts.extend((self.none_label, n) for n in negatives)
        self.labels = labels
        n_labels = len(labels)

        # what people say is read in the catalog's words, in examples and messages alike (bot/synonyms.py)
        self.synonyms = Synonyms(catalog.synonyms)
        normalised = [" ".join(self.synonyms.apply(normalise(t).split())[:MAX_WORDS]) for _, t in texts]
        self.exact: dict[str, tuple[int, str]] = {}
        clashes: set[str] = set()
        for (li, text), norm in zip(texts, normalised, strict=True):
            if norm in self.exact and self.exact[norm][0] != li:
                clashes.add(norm)
            self.exact.setdefault(norm, (li, text))
        for norm in clashes:
            del self.exact[norm]
        frequencies = Counter(w for norm in normalised for w in norm.split())
        # a translation's words are real words too: "nawr" must not be corrected into "narrow"
        self.speller = Speller(frequencies, words=english_words() | translated_words(catalog))
        # Good-Turing: the share of word occurrences that are a word's only one estimates how often
        # an in-scope message uses a word the catalog lacks (see _familiarity for which words count).
        alpha = sum(n for w, n in frequencies.items() if w.isalpha())
        once = sum(1 for w, n in frequencies.items() if n == 1 and w.isalpha() and len(w) >= self.speller.min_length)
        self.expected_unknown = once / max(alpha, 1)

        # What is trained or counted at load (the features, the naive Bayes correction, the calibration)
        # is read back while these inputs are unchanged: seconds on a big catalog (bot/model_cache.py).
        key = model_cache.key(_matcher_inputs(catalog))
        counted = model_cache.cached(f"matcher-features-{key}", lambda: _example_features(normalised))
        self.features = Features.from_arrays(counted)
        n_feats = len(self.features.kinds)
        self.is_word = np.array(self.features.kinds, dtype=bool)
        lengths = counted["lengths"]
        ex_rows = np.repeat(np.arange(len(lengths)), lengths)
        ex_cols = counted["ids"].astype(np.int64)
        # term frequency per (example, feature)
        keys, tf = np.unique(ex_rows * n_feats + ex_cols, return_counts=True)
        rows, cols = keys // n_feats, keys % n_feats
        self.example_label = np.array([li for li, _ in texts], dtype=np.int64)
        df = np.bincount(cols, minlength=n_feats)
        self.idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
        vals = self._normalise_rows(rows, cols, (1.0 + np.log(tf)) * self.idf[cols], len(texts))
        # Nearest-example similarity uses word-level features only: character n-grams are shared by
        # thousands of examples, and scanning their postings would cost more than everything else.
        word = self.is_word[cols]
        self.examples = Index(rows[word], cols[word], vals[word] / math.sqrt(WORD_WEIGHT), len(texts), n_feats)
        self.example_text = [t for _, t in texts]
        # examples are grouped by label, so each label owns one slice of the similarity vector
        sizes = np.bincount(self.example_label, minlength=n_labels)
        self.bounds = np.concatenate(([0], np.cumsum(sizes)))
        self.nonempty = np.flatnonzero(sizes)

        ckeys, cinv = np.unique(self.example_label[rows] * n_feats + cols, return_inverse=True)
        csum = np.bincount(cinv, weights=vals)
        crow, ccol = ckeys // n_feats, ckeys % n_feats
        cnorm = np.sqrt(np.bincount(crow, weights=csum * csum, minlength=n_labels))
        # Per label, two columns over the same (label, feature) pairs: the centroid's weights and
        # multinomial naive Bayes log-weights. Features a label never saw share one smoothed
        # naive Bayes weight (bayes_base), so only the seen pairs need storing.
        mass = np.bincount(crow, weights=csum, minlength=n_labels)
        centroid = csum / np.maximum(cnorm[crow], 1e-12)
        self.labels_index = _Dense(crow, ccol, np.stack([centroid, np.log1p(csum / NB_ALPHA)], axis=1),
                                   n_labels, n_feats)
        self.bayes_base = math.log(NB_ALPHA) - np.log(mass + NB_ALPHA * n_feats)
        fix = model_cache.cached(f"matcher-correction-{key}", lambda: self._correct_bayes(rows, cols, vals, ckeys,
                                                                                          csum, mass))
        if len(fix):
            self.labels_index.column(1)[fix["features"], fix["labels"]] += fix["correction"]
        self.calibration: Calibration | None = None
        if self.settings.auto:
            def chosen() -> dict[str, np.ndarray]:
                held = self._held_out(rows, cols, vals, (ckeys, csum, mass, cnorm), normalised, frequencies)
                return {"calibration": _pack_calibration(calibrate(held, self.settings))}

            self.calibration = _unpack_calibration(
                model_cache.cached(f"matcher-calibration-{key}", chosen)["calibration"], self.settings)
            self.settings = self.calibration.settings

    def _held_out(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
                  label_sums: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], normalised: Sequence[str],
                  frequencies: Counter[str]) -> list[HeldOut]:
        """A sample of examples, each scored as if the catalog did not hold it, and as if it did not hold
        its intent (see bot/calibration.py).

        Leave-one-out, exactly for what a query meets at once: the example is no one's nearest
        neighbour, its counts leave its label's centroid and naive Bayes likelihood, and words only it
        uses are unknown words. Only the discriminative correction keeps what it learned from it.
        """
        ckeys, csum, label_mass, cnorm = label_sums
        n_feats = len(self.is_word)
        starts = np.searchsorted(rows, np.arange(len(self.example_label) + 1))
        has_features = starts[1:] > starts[:-1]
        members = np.flatnonzero((self.example_label != self.none_label) & has_features)
        chosen = members[:: max(1, -(-len(members) // CALIBRATION_SAMPLE))]
        out: list[HeldOut] = []
        for block in range(0, len(chosen), BATCH):
            idx = chosen[block : block + BATCH]
            lengths = starts[idx + 1] - starts[idx]
            take = np.repeat(starts[idx] - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
            owner = np.repeat(np.arange(len(idx)), lengths)
            feats, weights = cols[take], vals[take]
            batch = Batch(len(idx), owner, feats, weights)
            sims = self.examples.dot(batch.subset(self.is_word[feats], 1.0 / math.sqrt(WORD_WEIGHT)))
            sims[np.arange(len(idx)), idx] = 0.0
            cent, bayes = self.labels_index.dot(batch)
            mass = np.bincount(owner, weights=weights, minlength=len(idx))
            y = self.example_label[idx]
            rows_at = np.arange(len(idx))
            # its label's centroid without it: |c - q| from |c|, c.q and q.q
            dot = cent[rows_at, y] * cnorm[y]
            qq = np.bincount(owner, weights=weights * weights, minlength=len(idx))
            cent[rows_at, y] = (dot - qq) / np.sqrt(np.maximum(cnorm[y] ** 2 - 2.0 * dot + qq, 1e-12))
            # ... and its label's naive Bayes counts without it (as in _correct_bayes)
            own = csum[np.searchsorted(ckeys, y[owner] * n_feats + feats)]
            change = np.bincount(owner, minlength=len(idx), weights=weights * (
                np.log1p(np.maximum(own - weights, 0.0) / NB_ALPHA) - np.log1p(own / NB_ALPHA)))
            base = math.log(NB_ALPHA) - np.log(np.maximum(label_mass[y] - mass, 0.0) + NB_ALPHA * n_feats)
            loglik = bayes + np.outer(mass, self.bayes_base)
            loglik[rows_at, y] += change + mass * (base - self.bayes_base[y])
            familiarity = np.array([self._familiarity_alone(normalised[i], frequencies) for i in idx])
            ranked = self._rank(sims, cent, loglik, familiarity)
            # The same messages had their intent not been in the catalog: out-of-scope lines close to
            # the catalog's topics, the hardest kind to turn away. The intent leaves the posterior's
            # normalisation too, or the others would keep the low share it left them.
            loglik[rows_at, y] = -np.inf
            missing = self._rank(sims, cent, loglik, familiarity)
            for i, candidates in zip(idx, ranked, strict=True):
                out.append(HeldOut(self.labels[self.example_label[i]], *_top_two(candidates)))
            for i, candidates in zip(idx, missing, strict=True):
                own = self.labels[self.example_label[i]]
                out.append(HeldOut(None, *_top_two([c for c in candidates if c.intent != own])))
        return out

    def _familiarity_alone(self, text: str, frequencies: Counter[str]) -> float:
        """``_familiarity`` of an example whose own words are taken out of the catalog's vocabulary."""
        words = text.split()
        own = Counter(words)
        unknown = [w for w in words if len(w) >= self.speller.min_length and w.isalpha()
                   and frequencies[w] <= own[w]]
        return self._familiarity(words, unknown)

    def _correct_bayes(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, ckeys: np.ndarray,
                       csum: np.ndarray, mass: np.ndarray) -> dict[str, np.ndarray]:
        """Train corrections to the naive Bayes weights of word features: (feature, label, correction) arrays.

        Naive Bayes counts words per intent, blind to which words tell two similar intents apart;
        this is what ranks it below a discriminative model. Here, multinomial logistic regression
        is fitted on the catalog with the naive Bayes log-likelihoods as a fixed offset, learning
        only additive corrections to the (word feature, label) weights: queries then cost nothing
        more. Each example's own counts are left out of its label's likelihood, or the training set
        would look solved already. To fit the load budget, every example is contrasted only with
        its CORRECTION_RIVALS best-scoring labels (its own included), the only ones a softmax gives
        weight to, and a few bounded Newton steps fit the (feature, label) pairs that occur.

        ``rows``, ``cols`` and ``vals`` are the examples' features sorted by example; ``csum`` is
        the summed weight per (label, feature) pair of ``ckeys`` (label * features + feature), and
        ``mass`` that of each label.
        """
        n_labels, n_feats = len(self.labels), len(self.is_word)
        usable = self.bounds[1:] > self.bounds[:-1]
        k = min(CORRECTION_RIVALS, int(usable.sum()))
        if k < 2:
            return {}
        # every step-th example: examples are grouped by label, so each label keeps its share
        step = -(-len(self.example_label) // CORRECTION_MAX_EXAMPLES)
        if step > 1:
            keep = rows % step == 0
            rows, cols, vals = rows[keep] // step, cols[keep], vals[keep]
        y = self.example_label[::step]
        n_ex = len(y)
        own = csum[np.searchsorted(ckeys, y[rows] * n_feats + cols)]  # each feature's weight in its own label
        bayes = self.labels_index.column(1)
        starts = np.searchsorted(rows, np.arange(n_ex + 1))
        loglik = np.zeros((n_ex, n_labels), dtype=np.float32)
        weights = vals.astype(np.float32)
        # numpy releases the GIL for these gathers and sums: two threads take half the time on 2 cores
        halves = [(0, n_ex // 2), (n_ex // 2, n_ex)]
        with ThreadPoolExecutor(len(halves)) as pool:
            list(pool.map(lambda h: _sum_rows(bayes, starts, cols, weights, loglik, *h), halves))
        ex_mass = np.bincount(rows, weights=vals, minlength=n_ex)
        loglik += np.outer(ex_mass, self.bayes_base).astype(np.float32)
        # leave-one-out for the own label: its counts without this example
        loglik[np.arange(n_ex), y] = (
            np.bincount(rows, weights=vals * np.log1p(np.maximum(own - vals, 0.0) / NB_ALPHA), minlength=n_ex)
            + ex_mass * (math.log(NB_ALPHA) - np.log(np.maximum(mass[y] - ex_mass, 0.0) + NB_ALPHA * n_feats))
        )
        logits = np.where(usable, loglik / NB_TEMPERATURE, -np.inf)
        rivals = np.argpartition(-logits, k - 1, axis=1)[:, :k]
        missing = ~(rivals == y[:, None]).any(axis=1)
        weakest = np.argmin(np.take_along_axis(logits, rivals, axis=1), axis=1)
        rivals[missing, weakest[missing]] = y[missing]
        offset = np.take_along_axis(logits, rivals, axis=1)
        target = (rivals == y[:, None]).astype(np.float64)

        word = self.is_word[cols]
        w_rows, w_vals = rows[word], np.repeat(vals[word], k)
        word_feats, word_id = np.unique(cols[word], return_inverse=True)
        pairs = (word_id[:, None] * n_labels + rivals[w_rows]).ravel()
        seen = np.zeros(len(word_feats) * n_labels, dtype=bool)
        seen[pairs] = True
        param = (np.cumsum(seen, dtype=np.int32) - 1)[pairs]
        n_params = int(seen.sum())
        cell = (w_rows[:, None] * k + np.arange(k)).ravel()
        # Every weight takes a full Newton step at once. Each one's curvature is taken as its examples'
        # curvature times their total word weight, since all of an example's weights move together:
        # this bounds the joint step (majorise-minimise, as in iterative scaling), so it stays stable
        # with no step size to tune.
        spread = w_vals * np.repeat(np.bincount(w_rows, weights=vals[word], minlength=n_ex)[w_rows], k)
        theta = np.zeros(n_params)
        for _ in range(CORRECTION_STEPS):
            z = offset + np.bincount(cell, weights=theta[param] * w_vals, minlength=n_ex * k).reshape(n_ex, k)
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            grad = np.bincount(param, weights=(p - target).ravel()[cell] * w_vals, minlength=n_params)
            curvature = np.bincount(param, weights=(p * (1.0 - p)).ravel()[cell] * spread, minlength=n_params)
            theta -= (grad + CORRECTION_PRIOR * theta) / (curvature + CORRECTION_PRIOR)
        trained = np.flatnonzero(seen)
        # the logits were divided by the temperature, so the weights take the correction times it
        return {"features": word_feats[trained // n_labels], "labels": trained % n_labels,
                "correction": (NB_TEMPERATURE * theta).astype(np.float32)}

    def _normalise_rows(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int) -> np.ndarray:
        """Scale each row's word and character groups to unit length times their share of the score."""
        return scale_rows(rows, cols, vals, n_rows, self.is_word, WORD_WEIGHT)

    def match(self, text: str) -> Match:
        """Score a message against every intent and decide."""
        return self.match_many([text])[0]

    def match_many(self, texts: Sequence[str]) -> list[Match]:
        """``match`` for many messages, scored together in batches (what `classify` uses)."""
        results: list[Match | None] = []
        pending: list[tuple[int, _Query]] = []
        parts: dict[int, list[_Query | Match]] = {}  # a story's sentences, each scored on its own too
        for text in texts:
            prepared = self._prepare(text)
            if isinstance(prepared, Match):
                results.append(prepared)
                continue
            if prepared.story:
                pieces = [p for p in sentences(text) if sum(w.isalpha() for w in p.split()) >= PART_WORDS]
                if len(pieces) > 1:
                    parts[len(results)] = [self._prepare(p) for p in pieces[:MAX_PARTS]]
            pending.append((len(results), prepared))
            results.append(None)
        queries = [q for _, q in pending]
        scored_parts = {i: [q for q in qs if isinstance(q, _Query)] for i, qs in parts.items()}
        ranked = self._score([*queries, *(q for qs in scored_parts.values() for q in qs)])
        by_part = iter(ranked[len(queries):])
        for (i, q), candidates in zip(pending, ranked, strict=False):
            intent, suggestions = decide(candidates, self.settings, story=q.story)
            part = False
            if i in parts:
                exact = [m.candidates for m in parts[i] if isinstance(m, Match) and m.intent is not None]
                rankings: list[Sequence[Candidate]] = [*exact, *(next(by_part) for _ in scored_parts[i])]
                if intent is None:
                    # the whole story reads as no one thing: a sentence that clearly asks one is answered
                    sure = [c for c in rankings if decide(c, self.settings)[0] not in (None, *NEVER_GUESSED)]
                    if sure:
                        best = max(sure, key=lambda c: c[0].score)[0]
                        merged = _strongest([*sure, candidates])
                        if merged[0].intent == best.intent:  # nothing in the whole outweighs it, out of scope included
                            candidates, intent, suggestions, part = merged, best.intent, (), True
            offered = also(candidates, intent, self.settings) if q.story and intent is not None else ()
            results[i] = Match(intent, candidates[0].score, "fuzzy", tuple(candidates), suggestions, q.normalised,
                               q.corrections, q.unknown, q.familiarity, offered, q.story, part)
        return [r for r in results if r is not None]

    def _score(self, queries: Sequence[_Query]) -> list[list[Candidate]]:
        """Each query's ranked candidates, scored in batches."""
        out: list[list[Candidate]] = []
        for start in range(0, len(queries), BATCH):
            batch = queries[start : start + BATCH]
            features = self._weigh([q.ids for q in batch])
            sims = self.examples.dot(features.subset(self.is_word[features.feats], 1.0 / math.sqrt(WORD_WEIGHT)))
            cent, bayes = self.labels_index.dot(features)
            mass = np.bincount(features.owner, weights=features.weights, minlength=features.size)
            familiarity = np.array([q.familiarity for q in batch])
            out.extend(list(c) for c in self._rank(sims, cent, bayes + np.outer(mass, self.bayes_base), familiarity))
        return out

    def _prepare(self, text: str) -> Match | _Query:
        """A final Match for empty and exact messages; otherwise the message's weighted features."""
        norm = " ".join(self.synonyms.apply(normalise(text).split()[:MAX_WORDS]))
        if not norm:
            return Match(None, 0.0, "empty", (), normalised=norm)
        exact = self.exact.get(norm)
        if exact is not None:
            label = self.labels[exact[0]]
            return Match(label, 100.0, "exact", (Candidate(label, 100.0, exact[1]),), normalised=norm)
        words = norm.split()
        spelt = [self.speller.correct(w) for w in words]
        corrections = tuple((a, b) for a, b in zip(words, spelt, strict=True) if a != b)
        corrected = self.synonyms.apply(spelt) if self.synonyms else spelt  # "cpos" is "cops", so "police"
        # Words shorter than the speller's minimum are mostly typos it does not try to fix ("te", "wha"),
        # not a new topic, so they are not counted.
        unknown = tuple(w for w in corrected
                        if len(w) >= self.speller.min_length and w.isalpha() and w not in self.speller.known)
        ids = self.features.of(corrected)
        if not ids:
            return Match(None, 0.0, "none", (), normalised=norm, corrections=corrections, unknown=unknown)
        return _Query(norm, corrections, unknown, self._familiarity(corrected, unknown), ids,
                      len(words) >= STORY_WORDS)

    def _familiarity(self, words: Sequence[str], unknown: Sequence[str]) -> float:
        """The factor on every score for a message's unknown words: 1.0 up to the share expected in scope.

        Messages about the catalog's topics use its words: on CLINC150 1.1% of in-scope words are
        unknown to the catalog, against 7.0% of out-of-scope ones (2.3% and 4.4% on our dev set). Naive
        Bayes cannot see this, since an unknown word is equally unlikely under every intent, and
        cosines only shrink a little. So the score falls with the share of unknown words beyond the
        share the catalog itself predicts (``expected_unknown``), which keeps small catalogs, whose
        users stray from the examples' words more, from being judged by a large catalog's standard.
        How steeply is the catalog's ``unknown_words`` setting: names of people and places are unknown
        words too, and a catalog whose users give them may turn this off.
        """
        alpha = sum(w.isalpha() for w in words)
        if not alpha or not self.settings.unknown_words:
            return 1.0
        share = len(unknown) / alpha
        return min(1.0, (1.0 - share) / (1.0 - self.expected_unknown)) ** self.settings.unknown_words

    def _weigh(self, queries: Sequence[list[int]]) -> Batch:
        """TF-IDF weights of several queries' features at once, scaled like the examples'."""
        n_feats = len(self.is_word)
        owner = np.repeat(np.arange(len(queries)), [len(ids) for ids in queries])
        keys, tf = np.unique(owner * n_feats + np.fromiter(chain.from_iterable(queries), dtype=np.int64,
                                                           count=len(owner)), return_counts=True)
        owner, feats = keys // n_feats, keys % n_feats
        weights = self._normalise_rows(owner, feats, (1.0 + np.log(tf)) * self.idf[feats], len(queries))
        return Batch(len(queries), owner, feats, weights)

    def _rank(self, sims: np.ndarray, cent: np.ndarray, loglik: np.ndarray,
              familiarity: np.ndarray) -> list[tuple[Candidate, ...]]:
        """Top candidates for each row of a batch (rows: messages; columns: examples or labels)."""
        best = np.zeros_like(cent)
        best[:, self.nonempty] = np.maximum.reduceat(sims, self.bounds[self.nonempty], axis=1)
        similar = NEAREST_WEIGHT * best + (1.0 - NEAREST_WEIGHT) * cent
        # the none class has no meaningful centroid: judge it by its nearest example alone
        similar[:, self.none_label] = best[:, self.none_label]
        loglik = np.where(self.bounds[1:] > self.bounds[:-1], loglik, -np.inf)
        # A row can have no label left (calibration holds out the only intent of a tiny catalog): its
        # posterior is all zeros, never NaN.
        top_ll = loglik.max(axis=1, keepdims=True)
        posterior = np.exp((loglik - np.where(np.isfinite(top_ll), top_ll, 0.0)) / NB_TEMPERATURE)
        if POSTERIOR_TOP and posterior.shape[1] > POSTERIOR_TOP:
            kth = np.partition(posterior, -POSTERIOR_TOP, axis=1)[:, -POSTERIOR_TOP][:, None]
            posterior = np.where(posterior >= kth, posterior, 0.0)
        total = posterior.sum(axis=1, keepdims=True)
        posterior = np.divide(posterior, total, out=np.zeros_like(posterior), where=total > 0)
        # Weighted geometric mean: an intent must both explain the message's words (naive Bayes, relative
        # to the others) and be close to it in absolute terms (similarity) to score high, which is
        # what tells an unknown topic from a known one.
        scores = posterior**POSTERIOR_WEIGHT * np.maximum(similar, 0.0) ** (1.0 - POSTERIOR_WEIGHT)
        scores *= familiarity[:, None]
        k = min(TOP_K, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        ranked = []
        for row, labels in enumerate(top):
            out = []
            for li in labels[np.argsort(-scores[row, labels])]:
                start, end = self.bounds[li], self.bounds[li + 1]
                if start == end:
                    continue
                nearest = start + int(np.argmax(sims[row, start:end]))
                out.append(Candidate(self.labels[li], round(float(scores[row, li]) * 100.0, 1),
                                     self.example_text[nearest]))
            ranked.append(tuple(out))
        return ranked

    def vocabulary(self) -> Iterable[str]:
        """Every word the catalog's examples use."""
        return self.speller.known


def _top_two(candidates: Sequence[Candidate]) -> tuple[str | None, float, float]:
    """(best label, its score, the runner-up's score) of a ranking."""
    if not candidates:
        return None, 0.0, 0.0
    return candidates[0].intent, candidates[0].score, candidates[1].score if len(candidates) > 1 else 0.0


def explain(match: Match) -> list[str]:
    """Human-readable lines: which layer decided, the scores, the runner-up and the matching example."""
    lines = [f"normalised: {match.normalised!r}"]
    if match.corrections:
        lines.append("spelling: " + ", ".join(f"{a} -> {b}" for a, b in match.corrections))
    if match.familiarity < 1.0:
        lines.append(f"unknown words: {', '.join(match.unknown)}; scores x {match.familiarity:.2f}")
    verdict = match.intent or ("did you mean: " + ", ".join(match.suggestions) if match.suggestions else "fallback")
    lines.append(f"layer: {match.layer}; decision: {verdict}; score {match.score:.1f}")
    if match.story:
        offered = f"; also offered: {', '.join(match.also)}" if match.also else ""
        lines.append(f"a story ({STORY_WORDS}+ words): its best intent answered even when another is close{offered}")
    if match.part:
        lines.append("no intent fitted the whole story: answered by its sentence that clearly asked one")
    for rank, c in enumerate(match.candidates[:3], 1):
        name = c.intent or "(out of scope)"
        lines.append(f"  {rank}. {name} {c.score:.1f} via example {c.example!r}")
    return lines
