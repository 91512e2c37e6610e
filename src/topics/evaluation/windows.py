"""Sliding-window counts kept as intervals: which windows of a reference contain each counted word,
and the pair counts that follow from them.

For each counted word the windows that contain it form a union of disjoint intervals of a global
window index, derived from the sorted positions of the word's occurrences; window counts are
interval lengths and pair counts interval intersections, so counting needs no per-window loop.

Two countings of windows are offered. ``"boolean"`` is the textbook one: a word is in a window if
any copy of it is. ``"gensim"`` reproduces gensim's ``WordOccurrenceAccumulator``, which updates
the window's word set incrementally and marks a word absent as soon as one copy leaves the window,
even when another copy is still inside, until the word enters again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from topics.errors import ConfigError


@dataclass
class WindowCounts:
    """Sliding-window counts for one window size: ``num_windows`` windows in all, ``occurrences[i]``
    of them containing word ``i``, and what pair counts come from.

    Counted for any words, pairs come from per-word disjoint sorted intervals ``[starts, ends)`` of a
    global window index (word ``i`` owns entries ``ptr[i]:ptr[i+1]``). Counted for given word sets
    only (``count_reference(..., word_sets=...)``), the intervals are empty and the pair matrices of
    those sets, summed over the blocks of the reference, are all there is.
    """

    size: int
    num_windows: int
    starts: np.ndarray
    ends: np.ndarray
    ptr: np.ndarray
    occurrences: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    has_intervals: bool = True
    _cache: dict[bytes, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.has_intervals:
            cumlen = np.concatenate(([0], np.cumsum(self.ends - self.starts)))
            self.occurrences = cumlen[self.ptr[1:]] - cumlen[self.ptr[:-1]]

    def cooccurrence_matrix(self, words: np.ndarray) -> np.ndarray:
        """Windows containing both ``words[i]`` and ``words[j]`` (diagonal: containing the word), for distinct word rows."""
        words = np.asarray(words, dtype=np.int64)
        key = words.tobytes()
        if key not in self._cache:
            if not self.has_intervals:
                raise ConfigError(
                    f"window {self.size}: word rows {words.tolist()[:5]} are not a word set that was counted; "
                    "pass the topic to count_reference in word_sets"
                )
            self._cache[key] = self._matrix(words)
        return self._cache[key]

    def _matrix(self, words: np.ndarray) -> np.ndarray:
        n = len(words)
        if n <= _MAX_BITS:
            return self._small_matrix(words)
        # Too many words for one bit code: fill the matrix block by block of word groups.
        result = np.zeros((n, n), dtype=np.int64)
        groups = [np.arange(i, min(i + _MAX_BITS // 2, n)) for i in range(0, n, _MAX_BITS // 2)]
        for gi, first in enumerate(groups):
            for second in groups[gi:]:
                both = np.concatenate((first, second)) if second is not first else first
                block = self._small_matrix(words[both])
                result[np.ix_(both, both)] = block
        return result

    def _small_matrix(self, words: np.ndarray) -> np.ndarray:
        """Co-occurrence matrix of at most ``_MAX_BITS`` distinct words by a sweep over interval boundaries.

        Word k contributes +2**k at each of its interval starts and -2**k at each end; after sorting the
        boundaries, the running sum is the bit code of the words present in each stretch of windows
        between two boundaries. Summing stretch lengths per code gives every pair count at once.
        """
        n = len(words)
        counts = self.ptr[words + 1] - self.ptr[words]
        if counts.sum() == 0:
            return np.zeros((n, n), dtype=np.int64)
        first = np.repeat(self.ptr[words] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        # One int64 sort key per boundary: position, then an end flag, then the word's slot.
        slot = np.repeat(np.arange(n, dtype=np.int64), counts)
        keys = np.concatenate(((self.starts[first] << 7) | slot, (self.ends[first] << 7) | 64 | slot))
        keys.sort(kind="stable")  # timsort: the keys are 2n sorted runs
        delta = np.left_shift(1, keys & 63)
        delta[(keys & 64) != 0] *= -1
        code = np.cumsum(delta)[:-1]
        length = np.diff(keys >> 7)
        if n <= 16:
            weight = np.bincount(code, weights=length, minlength=1 << n)
            codes = np.flatnonzero(weight)
            weight = weight[codes]
        else:
            codes, inverse = np.unique(code, return_inverse=True)
            weight = np.bincount(inverse, weights=length)
        present = ((codes[:, None] >> np.arange(n)) & 1).astype(np.float64)
        return np.rint(present.T @ (present * weight[:, None])).astype(np.int64)


_MAX_BITS = 62  # bit codes live in int64


def window_intervals(rows, where, pos, docs, lengths, window, counting):
    """The windows containing each word, as disjoint intervals of the block's window index:
    ``(starts, ends, owner, num_windows)``, word-major.

    In a document of length L, window t covers positions t .. t+w-1 (w = min(window, L)) and
    t = 0 .. L-w; an empty document still counts as one window (gensim's ``iter_windows`` with
    ``ignore_below_size=False``). For occurrence o_j (next one o_{j+1} of the same word in the same
    document), the windows whose last occurrence of the word is o_j are t in [o_j-w+1, o_{j+1}-w];
    the word is in the window for t <= o_j (boolean), and in gensim's incremental set for
    t <= a_j, where a_j is the first occurrence >= o_j-w+1: a copy leaving at t-1 >= a_j wipes the
    word out until the next copy enters.
    """
    num_windows_doc = np.maximum(lengths - window, 0) + 1
    doc_offset = np.concatenate(([0], np.cumsum(num_windows_doc)))
    total = int(doc_offset[-1])
    w_eff = np.minimum(window, lengths)[docs]
    same_next = np.zeros(len(rows), dtype=bool)
    same_next[:-1] = (rows[1:] == rows[:-1]) & (docs[1:] == docs[:-1])
    big = np.iinfo(np.int64).max // 4
    next_pos = np.where(same_next, np.roll(pos, -1), big)
    start = np.maximum(pos - w_eff + 1, 0)
    end = np.minimum(np.minimum(pos, next_pos - w_eff), num_windows_doc[docs] - 1)
    if counting == "gensim":
        # a_j: first occurrence of the same word in the same document at position >= start.
        span = int(lengths.sum()) + 1
        keys = rows * span + where  # sorted: word-major, then block position
        first = np.searchsorted(keys, keys - pos + start, side="left")
        end = np.minimum(end, pos[first])
    keep = start <= end
    owner = rows[keep]
    starts = start[keep] + doc_offset[docs[keep]]
    ends = end[keep] + doc_offset[docs[keep]] + 1
    return starts, ends, owner, total
