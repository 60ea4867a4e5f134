"""The learned half of an escalation: does a sentence read like its examples or like its negatives?

Rules (phrases, patterns) are precise but only know the wording they were written in; people in
danger use any verb, tense and spelling. So each escalation also learns from its ``examples`` (the
situations: someone at the door, attacking now, a plan and a means) and its negatives (past events,
reported threats, idioms, questions about the law, and the catalog's own questions), with the
matcher's features: word stems, stem pairs and character n-grams, TF-IDF weighted.

The model is a logistic regression, trained at load with a fixed number of Adam steps (a few
hundred milliseconds for a thousand examples), each side weighed equally however long its list.
Naive Bayes log-count ratios were tried first: trained in one pass, but out of fold they fired on
twice as many negatives at the same recall, since the negatives share most words with the examples
and only a discriminative fit learns which ones tell them apart.
The threshold is chosen for recall from out-of-fold scores (each example scored by a model that
never saw it), so it says how the model does on wording it has not seen, not on its own lines.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from bot.features import Batch, Features, Index, scale_rows
from bot.model_cache import pack_texts, unpack_texts

WORD_WEIGHT = 0.55  # share of a sentence's vector from words and word pairs, as in the matcher
RECALL = 0.80  # the share of examples, scored out of fold, that must reach the threshold
STEPS = 150  # Adam steps: the out-of-fold recall has levelled off by then on the default catalog
FOLD_STEPS = 100  # steps for the out-of-fold models, which only place the threshold
FOLDS = 3
LEARNING_RATE = 0.5
# A light pull towards 0 on every weight. 1e-4 shrank the rare danger words that tell a situation
# apart: on our own fresh sets (eval/heldout) recall 0.936 emergency / 0.918 crisis at 5.6% false
# escalations, against 0.945 / 0.923 at 5.1% with 1e-5. None at all (early stopping alone) spread
# the out-of-fold scores so far that the threshold fell below the catalog's own not_tests.
L2 = 1e-5
MIN_WORDS = 4  # the learned part scores sentences of at least this many words
SEED = 0  # folds are drawn the same way every load: a reload of the same files gives the same model


@dataclass(frozen=True)
class Evidence:
    """How one sentence scored: at or above ``threshold`` fires; ``nearest`` is the closest example."""

    score: float
    threshold: float
    nearest: str

    @property
    def fires(self) -> bool:
        """Whether the score reaches the threshold."""
        return self.score >= self.threshold


@dataclass(frozen=True)
class _Rows:
    """Training texts as sparse TF-IDF rows."""

    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    n: int


class EscalationModel:
    """A binary scorer trained on one escalation's examples and negatives (or restored from its arrays)."""

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        """A trained model from the arrays ``train`` made (or ``arrays`` gives back): see ``model_cache``."""
        self.example_text = unpack_texts(arrays, "example_text")
        self.n_examples = len(self.example_text)
        self.features = Features.from_arrays(arrays)
        self.is_word = np.array(self.features.kinds, dtype=bool)
        self.idf = arrays["idf"]
        self.weights = arrays["weights"]
        self.bias = float(arrays["bias"])
        self.threshold = float(arrays["threshold"])
        rows, cols, vals = arrays["index_rows"], arrays["index_cols"], arrays["index_vals"]
        self.index = Index(rows, cols, vals, int(arrays["n_texts"]), len(self.is_word))
        self._arrays = dict(arrays)

    @classmethod
    def train(cls, examples: Sequence[Sequence[str]], negatives: Sequence[Sequence[str]],
              example_text: Sequence[str], background: Sequence[Sequence[str]] = ()) -> EscalationModel:
        """Normalised word lists: ``examples`` must fire; ``negatives`` (the escalation's own) and
        ``background`` (the catalog's questions, everyday messages) must not. ``example_text`` names
        each example for --explain."""
        texts = [*examples, *negatives, *background]
        n_examples = len(examples)
        features = Features()
        ids = [features.of(words, grow=True) for words in texts]
        is_word = np.array(features.kinds, dtype=bool)
        n_feats = len(is_word)
        owner, feats = _flatten(ids)
        keys, tf = np.unique(owner * n_feats + feats, return_counts=True)
        rows, cols = keys // n_feats, keys % n_feats
        # Document frequencies come from the escalation's own lists only: the catalog's questions
        # train the model as negatives but do not weigh its words, or an admin's unrelated intents
        # would move its scores ("parcel" common in a shop's catalog made "there is a parcel at the
        # door" read as "hes at the door").
        own = len(examples) + len(negatives)
        df = np.bincount(cols[rows < own], minlength=n_feats)
        idf = np.log((1.0 + own) / (1.0 + df)) + 1.0
        vals = scale_rows(rows, cols, (1.0 + np.log(tf)) * idf[cols], len(texts), is_word, WORD_WEIGHT)
        data = _Rows(rows, cols, vals, len(texts))
        y = np.zeros(len(texts))
        y[:n_examples] = 1.0
        sample = _sample_weights(len(examples), len(negatives), len(background))
        weights, bias = _fit(data, y, sample, n_feats, STEPS)
        word = is_word[cols]
        ranked = np.sort(_out_of_fold(data, y, sample, n_feats)[:n_examples])
        threshold = float(ranked[int(math.floor((1.0 - RECALL) * len(ranked)))]) if len(ranked) else math.inf
        return cls({
            **pack_texts("example_text", example_text), **features.arrays(),
            "idf": idf, "weights": weights,
            "bias": np.array(bias), "threshold": np.array(threshold),
            "index_rows": rows[word], "index_cols": cols[word], "index_vals": vals[word] / math.sqrt(WORD_WEIGHT),
            "n_texts": np.array(len(texts)),
        })

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything the model is, as plain arrays: what ``model_cache`` keeps on disk."""
        return dict(self._arrays)

    def score(self, sentences: Sequence[Sequence[str]]) -> list[Evidence]:
        """Evidence for each sentence (normalised word lists); one with no known feature scores -inf."""
        totals = [self._total(words) for words in sentences]
        # The nearest example only explains a hit: it is looked up for the best firing sentence alone,
        # so a message of thousands of firing sentences costs no more than one.
        best = max(range(len(totals)), key=totals.__getitem__, default=None)
        nearest = "" if best is None or totals[best] < self.threshold else self._nearest([sentences[best]])[0]
        return [Evidence(t, self.threshold, nearest if i == best else "") for i, t in enumerate(totals)]

    def _total(self, words: Sequence[str]) -> float:
        """One sentence's score: ``_weigh`` and the weighted sum for a single row, without its batch overhead.

        This runs on every sentence of every message, where numpy's per-call cost on a few dozen
        features is what adds up; -inf when no feature is known.
        """
        # Too short to read: "yes please", "he", "right" share words with every danger example. The
        # rules answer short cries ("help", "hes here", "kms"); the learned part reads sentences.
        if len(words) < MIN_WORDS:
            return -math.inf
        counts = Counter(self.features.of(words))
        if not counts:
            return -math.inf
        feats = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        w = (1.0 + np.log(tf)) * self.idf[feats]
        word = self.is_word[feats]
        contrib = w * self.weights[feats]
        wn, cn = math.sqrt(float(w[word] @ w[word])), math.sqrt(float(w[~word] @ w[~word]))
        total = self.bias
        if wn:
            total += math.sqrt(WORD_WEIGHT) / wn * float(contrib[word].sum())
        if cn:
            total += math.sqrt(1.0 - WORD_WEIGHT) / cn * float(contrib[~word].sum())
        return total

    def _weigh(self, sentences: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(owner, feature, TF-IDF weight) of the sentences' known features, scaled like the training rows."""
        n_feats = len(self.is_word)
        owner, feats = _flatten([self.features.of(words) for words in sentences])
        keys, tf = np.unique(owner * n_feats + feats, return_counts=True)
        owner, feats = keys // n_feats, keys % n_feats
        vals = scale_rows(owner, feats, (1.0 + np.log(tf)) * self.idf[feats], len(sentences), self.is_word,
                          WORD_WEIGHT)
        return owner, feats, vals

    def _nearest(self, sentences: Sequence[Sequence[str]]) -> list[str]:
        """The example nearest each sentence, by cosine over word features."""
        if not self.n_examples:
            return ["" for _ in sentences]
        owner, feats, vals = self._weigh(sentences)
        word = self.is_word[feats]
        sims = self.index.dot(Batch(len(sentences), owner[word], feats[word], vals[word] / math.sqrt(WORD_WEIGHT)))
        return [self.example_text[int(i)] for i in sims[:, : self.n_examples].argmax(axis=1)]


def _flatten(ids: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(owner, feature) arrays for lists of feature ids."""
    lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
    owner = np.repeat(np.arange(len(ids)), lengths)
    return owner, np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))


def _sample_weights(n_examples: int, n_negatives: int, n_background: int) -> np.ndarray:
    """Each text's share of the loss: examples half, the escalation's negatives and the background a
    quarter each, however long each list is, so a big catalog's thousands of questions cannot
    outweigh the hand-written near misses (nor move the threshold)."""
    shares = (0.5, 0.25 if n_background else 0.5, 0.25 if n_negatives else 0.5)
    sizes = (n_examples, n_negatives, n_background)
    return np.concatenate([np.full(n, share / max(n, 1)) for share, n in zip(shares, sizes, strict=True)])


def _fit(data: _Rows, y: np.ndarray, sample: np.ndarray, n_feats: int, steps: int) -> tuple[np.ndarray, float]:
    """Logistic regression weights and bias by full-batch Adam, each text weighed by ``sample``."""
    rows, cols, vals = data.rows, data.cols, data.vals
    theta = np.zeros(n_feats + 1)  # the last one is the bias
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    grad = np.empty_like(theta)
    for t in range(1, steps + 1):
        z = np.bincount(rows, weights=vals * theta[cols], minlength=data.n) + theta[-1]
        g = (1.0 / (1.0 + np.exp(-z)) - y) * sample
        grad[:-1] = np.bincount(cols, weights=vals * g[rows], minlength=n_feats) + L2 * theta[:-1]
        grad[-1] = g.sum()
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        theta -= LEARNING_RATE * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return theta[:-1], float(theta[-1])


def _out_of_fold(data: _Rows, y: np.ndarray, sample: np.ndarray, n_feats: int) -> np.ndarray:
    """Each training text's score from a model trained on the other folds."""
    # stratified: every fold holds its share of the examples, however few there are
    rng = np.random.default_rng(SEED)
    fold = np.empty(data.n, dtype=np.int64)
    for members in (np.flatnonzero(y == 1.0), np.flatnonzero(y != 1.0)):
        fold[rng.permutation(members)] = np.arange(len(members)) % FOLDS
    out = np.zeros(data.n)
    for k in range(FOLDS):
        train = fold[data.rows] != k
        keep = np.flatnonzero(fold != k)
        renumber = np.full(data.n, -1, dtype=np.int64)
        renumber[keep] = np.arange(len(keep))
        part = _Rows(renumber[data.rows[train]], data.cols[train], data.vals[train], len(keep))
        weights, bias = _fit(part, y[keep], sample[keep] * (data.n / len(keep)), n_feats, FOLD_STEPS)
        scored = np.bincount(data.rows, weights=data.vals * weights[data.cols], minlength=data.n) + bias
        out[fold == k] = scored[fold == k]
    return out
