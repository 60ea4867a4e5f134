"""Feature ids for normalised words: word stems, stem pairs and character n-grams.

The matcher and the learned escalation check share them, so a typo, another tense or another
word order counts as the same evidence in both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bot.model_cache import pack_texts, unpack_texts
from bot.text import stem

CHAR_NGRAMS = (3, 4, 5)
HEAD_FEATURES = 128  # commonest word features scored as a dense block (see Index)
HEAD_MIN_POSTINGS = 64  # ... when they occur in at least this many examples (small catalogs need none)
DENSE_BATCH = 16  # batches at least this big use the dense block


class Features:
    """Maps normalised words to feature ids: stems, stem pairs and character n-grams of each word."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.kinds: list[bool] = []  # True for word-level features
        self._word_cache: dict[str, tuple[int, ...]] = {}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Features:
        """The features ``arrays`` kept, each with the id it had."""
        out = cls()
        out.ids = {name: i for i, name in enumerate(unpack_texts(arrays, "feature_names"))}
        out.kinds = arrays["feature_is_word"].astype(bool).tolist()
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """The feature names and kinds as plain arrays, for ``bot/model_cache.py``."""
        return {**pack_texts("feature_names", list(self.ids)), "feature_is_word": np.array(self.kinds, dtype=bool)}

    def _id(self, feature: str, word_level: bool, grow: bool) -> int:
        fid = self.ids.get(feature)
        if fid is None and grow:
            fid = self.ids[feature] = len(self.kinds)
            self.kinds.append(word_level)
        return -1 if fid is None else fid

    def _word(self, word: str, grow: bool) -> tuple[int, ...]:
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        padded = "<" + word + ">"
        grams = {padded[i : i + n] for n in CHAR_NGRAMS for i in range(len(padded) - n + 1)}
        ids = [self._id("w" + stem(word), True, grow)]
        ids.extend(self._id("c" + g, False, grow) for g in grams)
        out = tuple(i for i in ids if i >= 0)
        if grow or len(self._word_cache) < 200_000:
            self._word_cache[word] = out
        return out

    def of(self, words: Sequence[str], grow: bool = False) -> list[int]:
        """Feature ids of a word sequence, repeated as often as they occur."""
        out: list[int] = []
        for w in words:
            out.extend(self._word(w, grow))
        stems = [stem(w) for w in words]
        for a, b in zip(stems, stems[1:], strict=False):
            fid = self._id("b" + a + " " + b, True, grow)
            if fid >= 0:
                out.append(fid)
        return out


@dataclass(frozen=True)
class Batch:
    """Several queries' weighted features in flat arrays, sorted by query (``owner``)."""

    size: int
    owner: np.ndarray
    feats: np.ndarray
    weights: np.ndarray

    def subset(self, keep: np.ndarray, scale: float = 1.0) -> Batch:
        """The same queries with only the ``keep`` features (weights times ``scale``)."""
        return Batch(self.size, self.owner[keep], self.feats[keep], self.weights[keep] * scale)


class Index:
    """Sparse rows stored by feature (CSC), for dot products with batches of sparse query vectors.

    Walking postings costs time in proportion to their length, and a few common words have the
    longest: on CLINC150 the 128 commonest word features hold 97% of the postings a test set walks.
    Those features are also kept as a dense block, which a big batch takes in one matrix product (a
    single message walks their postings: a dense row costs more than a posting list on its own).
    """

    def __init__(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int, n_cols: int) -> None:
        self.n_rows = n_rows
        counts = np.bincount(cols, minlength=n_cols)
        head = np.argsort(-counts, kind="stable")[:HEAD_FEATURES]
        head = head[counts[head] >= HEAD_MIN_POSTINGS]
        self.head_slot = np.full(n_cols, -1, dtype=np.int64)
        self.head_slot[head] = np.arange(len(head))
        slot = self.head_slot[cols]
        dense = slot >= 0
        self.head = np.zeros((len(head), n_rows), dtype=np.float32)
        self.head[slot[dense], rows[dense]] = vals[dense]
        order = np.argsort(cols, kind="stable")
        self.indices = rows[order].astype(np.int32)
        self.data = np.asarray(vals, dtype=np.float32)[order]
        self.indptr = np.concatenate(([0], np.cumsum(np.bincount(cols, minlength=n_cols)))).astype(np.int64)

    def dot(self, batch: Batch) -> np.ndarray:
        """A (queries x rows) matrix of dot products with a batch of queries."""
        n, feats, weights, owner = batch.size, batch.feats, batch.weights, batch.owner
        slot = self.head_slot[feats]
        dense = (slot >= 0) & (n >= DENSE_BATCH)
        out = self._tail(feats[~dense], weights[~dense], owner[~dense], n)
        if dense.any():
            used, column = np.unique(slot[dense], return_inverse=True)
            q = np.zeros((n, len(used)), dtype=np.float32)
            np.add.at(q, (owner[dense], column), weights[dense])
            out += q @ self.head[used]
        return out

    def _tail(self, feats: np.ndarray, weights: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
        starts = self.indptr[feats]
        lengths = self.indptr[feats + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros((n, self.n_rows))
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
        cells = self.indices[offsets] + np.repeat(owner * self.n_rows, lengths)
        w = np.repeat(weights, lengths)
        return np.bincount(cells, weights=self.data[offsets] * w, minlength=n * self.n_rows).reshape(n, self.n_rows)


def scale_rows(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int, is_word: np.ndarray,
               word_weight: float) -> np.ndarray:
    """Scale each row's word and character groups to unit length times their share (``word_weight``)."""
    word = is_word[cols]
    wn = np.sqrt(np.bincount(rows, weights=np.where(word, vals * vals, 0.0), minlength=n_rows))
    cn = np.sqrt(np.bincount(rows, weights=np.where(word, 0.0, vals * vals), minlength=n_rows))
    scale = np.where(word, math.sqrt(word_weight) / np.maximum(wn[rows], 1e-12),
                     math.sqrt(1.0 - word_weight) / np.maximum(cn[rows], 1e-12))
    return vals * scale
