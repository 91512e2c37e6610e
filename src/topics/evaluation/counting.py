"""Topic coherence from sparse counts: u_mass, c_uci, c_npmi and c_v, exact to gensim 4.4.

The measures are those of Röder, Both & Hinneburg (2015), "Exploring the space of topic coherence
measures" (WSDM), computed as gensim's ``CoherenceModel`` computes them: a topic is segmented into
word pairs, probabilities are estimated from document or sliding-window counts in a reference
corpus, each pair is confirmed (log conditional probability, PMI, NPMI, or cosine of NPMI context
vectors) and the confirmations are averaged.

Counting is done once, without a per-window loop. For each counted word the windows that contain
it form a union of disjoint intervals of a global window index, derived from the sorted positions
of the word's occurrences; window counts are interval lengths and pair counts interval
intersections (``np.searchsorted``). Document counts come from a sparse binary doc-term matrix
``X`` as ``X.T @ X``. One ``count_reference`` call serves any number of topic models.

Two countings of windows are offered. ``"boolean"`` is the textbook one: a word is in a window if
any copy of it is. ``"gensim"`` reproduces gensim's ``WordOccurrenceAccumulator``, which updates
the window's word set incrementally and marks a word absent as soon as one copy leaves the window,
even when another copy is still inside, until the word enters again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sps

from topics.errors import ConfigError, unknown_name

log = logging.getLogger(__name__)


log = logging.getLogger(__name__)

EPSILON = 1e-12  # gensim's direct_confirmation_measure.EPSILON, added to the joint probability only
COUNTINGS = ("gensim", "boolean")
DEFAULT_WINDOWS = {"c_v": 110, "c_uci": 10, "c_npmi": 10}


# --- reference corpus -----------------------------------------------------------------------


class ReferenceCorpus:
    """Reference texts as arrays of token ids into ``vocabulary``.

    ``texts`` must be re-iterable (a list, or an object whose ``__iter__`` starts again); it is read
    once per ``count_reference`` call. The constructor only stores its arguments.
    """

    def __init__(self, texts: Iterable[np.ndarray], vocabulary: list[str]):
        if iter(texts) is texts:
            raise ConfigError(
                f"reference texts must be re-iterable (a list or a corpus object), got a one-shot iterator {type(texts).__name__}"
            )
        self.texts = texts
        self.vocabulary = list(vocabulary)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.texts)

    @classmethod
    def from_token_lists(cls, texts: Iterable[list[str]]) -> ReferenceCorpus:
        """Build a vocabulary (in order of first appearance) and the id arrays, in one pass."""
        token2id: dict[str, int] = {}
        arrays = []
        for tokens in texts:
            ids = [token2id.setdefault(token, len(token2id)) for token in tokens]
            arrays.append(np.asarray(ids, dtype=np.int32))
        return cls(arrays, list(token2id))


# --- counting ---------------------------------------------------------------------------------


@dataclass
class WindowCounts:
    """Sliding-window counts for one window size: per word, disjoint sorted intervals
    ``[starts, ends)`` of a global window index; word ``i`` owns entries ``ptr[i]:ptr[i+1]``."""

    size: int
    num_windows: int
    starts: np.ndarray
    ends: np.ndarray
    ptr: np.ndarray
    occurrences: np.ndarray = field(init=False)
    _cache: dict[bytes, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        cumlen = np.concatenate(([0], np.cumsum(self.ends - self.starts)))
        self.occurrences = cumlen[self.ptr[1:]] - cumlen[self.ptr[:-1]]

    def cooccurrence_matrix(self, words: np.ndarray) -> np.ndarray:
        """Windows containing both ``words[i]`` and ``words[j]`` (diagonal: containing the word), for distinct word rows."""
        words = np.asarray(words, dtype=np.int64)
        key = words.tobytes()
        if key not in self._cache:
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


@dataclass
class ReferenceCounts:
    """Counts over a reference corpus for a set of words.

    ``words`` are the counted words (row ``i`` is ``words[i]``); ``num_docs`` and ``doc_counts``
    (``doc_counts[i, j]``: documents containing both words, diagonal: documents containing the word)
    serve u_mass; ``windows`` maps a window size to its ``WindowCounts``.
    """

    words: list[str]
    vocabulary: set[str]
    counting: str
    num_docs: int
    doc_counts: np.ndarray
    windows: dict[int, WindowCounts]

    def __post_init__(self):
        self.index = {word: i for i, word in enumerate(self.words)}


def count_reference(
    reference: ReferenceCorpus,
    words: Iterable[str],
    windows: Iterable[int] = (),
    counting: str = "gensim",
) -> ReferenceCounts:
    """Count ``words`` in ``reference`` in one pass: documents always, sliding windows of each size in ``windows``.

    Words absent from the reference vocabulary are not counted (as gensim drops them from topics).
    Raises ``ConfigError`` for an unknown counting, a window size < 1, or when no word is in the vocabulary.
    """
    if counting not in COUNTINGS:
        raise ConfigError(unknown_name("counting", counting, list(COUNTINGS)))
    sizes = sorted({int(w) for w in windows})
    if any(w < 1 for w in sizes):
        raise ConfigError(f"window sizes must be integers >= 1, got {sizes}")
    vocab_index = {word: i for i, word in enumerate(reference.vocabulary)}
    wanted = list(dict.fromkeys(words))
    counted = [w for w in wanted if w in vocab_index]
    if not counted:
        raise ConfigError(
            f"the reference corpus shares no words with the topics ({len(wanted)} topic words, "
            f"{len(vocab_index)} reference words)"
        )
    n_words = len(counted)
    row_of_id = np.full(len(reference.vocabulary) + 1, -1, dtype=np.int64)
    row_of_id[[vocab_index[w] for w in counted]] = np.arange(n_words)

    texts = [text if isinstance(text, np.ndarray) else np.asarray(text, dtype=np.int64) for text in reference]
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    num_docs = len(texts)
    ids = np.concatenate(texts) if texts else np.zeros(0, dtype=np.int64)
    del texts
    doc_start = np.concatenate(([0], np.cumsum(lengths)))
    # Occurrences of counted words, in corpus order: row, global position, document, position in document.
    token_rows = row_of_id[ids]
    where = np.flatnonzero(token_rows >= 0)
    rows = token_rows[where]
    docs = np.repeat(np.arange(num_docs, dtype=np.int64), lengths)[where]
    pos = where - doc_start[docs]

    # Document counts: binary doc-term matrix X, co-document counts X.T @ X.
    x = sps.csr_matrix((np.ones(len(rows), dtype=np.int64), (docs, rows)), shape=(num_docs, n_words))
    x.sum_duplicates()
    x.data[:] = 1
    doc_counts = (x.T @ x).toarray()

    # Occurrences sorted by word, then position in the corpus.
    order = np.argsort(rows, kind="stable")
    rows, where, docs, pos = rows[order], where[order], docs[order], pos[order]
    window_counts = {w: _window_intervals(rows, where, pos, docs, lengths, n_words, w, counting) for w in sizes}
    log.info(
        "counted %d words in %d documents, windows %s (%s)",
        n_words,
        num_docs,
        sizes,
        counting,
    )
    return ReferenceCounts(counted, set(vocab_index), counting, num_docs, doc_counts, window_counts)


def _window_intervals(rows, where, pos, docs, lengths, n_words, window, counting) -> WindowCounts:
    """The windows containing each word, as disjoint intervals of a global window index.

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
        keys = rows * span + where  # sorted: word-major, then corpus position
        first = np.searchsorted(keys, keys - pos + start, side="left")
        end = np.minimum(end, pos[first])
    keep = start <= end
    owner = rows[keep]
    starts = start[keep] + doc_offset[docs[keep]]
    ends = end[keep] + doc_offset[docs[keep]] + 1
    ptr = np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=n_words))))
    return WindowCounts(window, total, starts, ends, ptr)
