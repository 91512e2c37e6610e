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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import scipy.sparse as sps

from .errors import ConfigError, unknown_name

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
                "reference texts must be re-iterable (a list or a corpus object), got a one-shot iterator "
                f"{type(texts).__name__}"
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
    log.info("counted %d words in %d documents, windows %s (%s)", n_words, num_docs, sizes, counting)
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


# --- segmentation and confirmation ---------------------------------------------------------------


def _one_preceding(n: int) -> tuple[np.ndarray, np.ndarray]:
    """gensim's s_one_pre: (W'=w_i, W*=w_j) for j < i, in gensim's order."""
    pairs = [(i, j) for i in range(1, n) for j in range(i)]
    return _as_arrays(pairs)


def _one_one(n: int) -> tuple[np.ndarray, np.ndarray]:
    """gensim's s_one_one: (w_i, w_j) for i != j."""
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    return _as_arrays(pairs)


def _one_set(n: int) -> tuple[np.ndarray, np.ndarray]:
    """gensim's s_one_set: every ordered pair, self-pairs included (W* is the whole topic)."""
    pairs = [(i, j) for i in range(n) for j in range(n)]
    return _as_arrays(pairs)


def _as_arrays(pairs):
    arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


class _Stats(NamedTuple):
    """Counts for the segment pairs of one topic (probabilities are these over ``total``)."""

    prime: np.ndarray  # count of W'
    star: np.ndarray  # count of W*
    joint: np.ndarray  # count of W' and W* together
    total: float
    grouping: np.ndarray  # topic position x distinct word, one-hot


def _log_conditional(stats: _Stats, n: int) -> np.ndarray:
    """u_mass confirmation, log((P(W',W*) + eps) / P(W*)); 0 where P(W*) = 0 (gensim catches the division)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        star = stats.star / stats.total
        value = np.log((stats.joint / stats.total + EPSILON) / star)
    return np.where(stats.star == 0, 0.0, value)


def _log_ratio(stats: _Stats, n: int) -> np.ndarray:
    """PMI, log((P(W',W*) + eps) / (P(W') P(W*)))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log((stats.joint / stats.total + EPSILON) / (stats.prime / stats.total * (stats.star / stats.total)))


def _normalized_log_ratio(stats: _Stats, n: int) -> np.ndarray:
    """NPMI, PMI / -log(P(W',W*) + eps)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _log_ratio(stats, n) / -np.log(stats.joint / stats.total + EPSILON)


def _indirect_cosine(stats: _Stats, n: int) -> np.ndarray:
    """c_v: cosine between the NPMI context vector of each word and that of the whole topic (gamma=1)."""
    npmi = _normalized_log_ratio(stats, n).reshape(n, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Context vectors are indexed by distinct word: a repeated topic word adds into one entry.
        vectors = npmi @ stats.grouping
        topic_vector = npmi.sum(axis=0) @ stats.grouping
        dots = vectors @ topic_vector
        norms = np.sqrt((vectors**2).sum(axis=1)) * np.sqrt((topic_vector**2).sum())
        return dots / norms


class Measure(NamedTuple):
    """One row of the measure table, after gensim's COHERENCE_MEASURES."""

    segmentation: Callable[[int], tuple[np.ndarray, np.ndarray]]
    estimation: str  # "document" or "window"
    confirmation: Callable[[_Stats, int], np.ndarray]
    window: int | None


MEASURES: dict[str, Measure] = {
    "u_mass": Measure(_one_preceding, "document", _log_conditional, None),
    "c_uci": Measure(_one_one, "window", _log_ratio, DEFAULT_WINDOWS["c_uci"]),
    "c_npmi": Measure(_one_one, "window", _normalized_log_ratio, DEFAULT_WINDOWS["c_npmi"]),
    "c_v": Measure(_one_set, "window", _indirect_cosine, DEFAULT_WINDOWS["c_v"]),
}


def _measure(name: str) -> Measure:
    if name not in MEASURES:
        raise ConfigError(unknown_name("measure", name, list(MEASURES)))
    return MEASURES[name]


# --- scoring ----------------------------------------------------------------------------------


def score(topics: list[list[str]], counts: ReferenceCounts, measure: str, window: int | None = None) -> np.ndarray:
    """Coherence of each topic (a list of its top words, best first) under ``measure``.

    Topic words absent from the reference vocabulary are dropped, as gensim does. A topic left with
    no word, or (u_mass) with a single one, scores NaN. ``window`` defaults to ``DEFAULT_WINDOWS``
    and must have been counted by ``count_reference``. Röder et al. (2015); values match gensim 4.4.
    """
    spec = _measure(measure)
    if spec.estimation == "window":
        window = spec.window if window is None else int(window)
        if window not in counts.windows:
            raise ConfigError(
                f"window {window} for {measure} was not counted; counted windows: {sorted(counts.windows)}"
            )
        window_counts = counts.windows[window]
    values = np.full(len(topics), np.nan)
    for t, topic in enumerate(topics):
        kept = [w for w in topic if w in counts.vocabulary]
        missing = [w for w in kept if w not in counts.index]
        if missing:
            raise ConfigError(f"topic {t}: words {missing[:5]} were not counted; pass them to count_reference")
        rows = np.asarray([counts.index[w] for w in kept], dtype=np.int64)
        n = len(rows)
        prime_at, star_at = spec.segmentation(n)
        if n == 0 or len(prime_at) == 0:
            continue
        prime, star = rows[prime_at], rows[star_at]
        distinct, position_of = np.unique(rows, return_inverse=True)
        grouping = np.zeros((n, len(distinct)))
        grouping[np.arange(n), position_of] = 1.0
        prime_at, star_at = position_of[prime_at], position_of[star_at]
        if spec.estimation == "document":
            diag = np.diagonal(counts.doc_counts)
            stats = _Stats(diag[prime], diag[star], counts.doc_counts[prime, star], float(counts.num_docs), grouping)
        else:
            occ = window_counts.occurrences
            joint = window_counts.cooccurrence_matrix(distinct)[prime_at, star_at]
            stats = _Stats(occ[prime], occ[star], joint, float(window_counts.num_windows), grouping)
        values[t] = np.mean(spec.confirmation(stats, n))
    return values


def score_models(
    models_topics: list[list[list[str]]],
    reference: ReferenceCorpus,
    measures: list[str],
    *,
    windows: dict[str, int] | None = None,
    counting: str = "gensim",
) -> list[dict[str, np.ndarray]]:
    """Score several models' topics under several measures, counting the reference corpus once.

    Returns, for each model, ``{measure: per-topic values}``. ``windows`` overrides
    ``DEFAULT_WINDOWS`` per measure.
    """
    specs = {m: _measure(m) for m in measures}
    windows = dict(windows or {})
    for name in windows:
        _measure(name)
    chosen = {m: windows.get(m, spec.window) for m, spec in specs.items() if spec.estimation == "window"}
    words = (w for topics in models_topics for topic in topics for w in topic)
    counts = count_reference(reference, words, chosen.values(), counting=counting)
    return [{m: score(topics, counts, m, chosen.get(m)) for m in measures} for topics in models_topics]
