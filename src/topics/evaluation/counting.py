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

#: the reference is counted in blocks of whole documents holding at least this many tokens (the last
#: block fewer); a block costs about 60 bytes a token while it is counted, so 2 M tokens ~ 120 MB
DEFAULT_BLOCK_TOKENS = 2_000_000


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
    *,
    word_sets: Iterable[Iterable[str]] | None = None,
    block_tokens: int = DEFAULT_BLOCK_TOKENS,
) -> ReferenceCounts:
    """Count ``words`` in ``reference`` in one pass: documents always, sliding windows of each size in ``windows``.

    The reference is read in blocks of whole documents of at least ``block_tokens`` tokens; each
    block is counted on its own and the counts are added up (windows never cross documents, so the
    sums are exactly the counts of the whole corpus). With ``word_sets`` (the topics to be scored),
    only the pair counts within each set are kept, summed block by block, and memory depends on the
    words and the block size, not on the length of the reference; without, the windows containing
    each word are kept as intervals (a few bytes per occurrence of a counted word), so that any
    words can be paired later.

    Words absent from the reference vocabulary are not counted (as gensim drops them from topics).
    Raises ``ConfigError`` for an unknown counting, a window size < 1, a block size < 1, or when no
    word is in the vocabulary.
    """
    plan = plan_counts(reference, words, windows, counting, word_sets=word_sets, block_tokens=block_tokens)
    row_of_id = plan.row_of_id()
    tally = plan.tally()
    block: list[np.ndarray] = []
    block_length = 0
    for text in reference:
        block.append(text if isinstance(text, np.ndarray) else np.asarray(text, dtype=np.int64))
        block_length += len(block[-1])
        if block_length >= block_tokens:
            tally.add(block, row_of_id)
            block, block_length = [], 0
    if block or not tally.blocks:
        tally.add(block, row_of_id)
    return plan.counts(tally, reference.vocabulary)


@dataclass(frozen=True)
class CountPlan:
    """What counting a reference needs besides its texts, small and picklable (sized by the topic
    words, not the reference): the counted words and their vocabulary ids, the window sizes, the
    counting, and the word sets whose pair counts are kept (``None``: intervals for any pairs)."""

    words: list[str]
    word_ids: np.ndarray  # vocabulary id of each counted word, in row order
    vocabulary_size: int
    sizes: list[int]
    counting: str
    sets: dict[bytes, np.ndarray] | None

    def row_of_id(self) -> np.ndarray:
        """Lookup table from a vocabulary id to its row, -1 for words not counted (one extra entry)."""
        table = np.full(self.vocabulary_size + 1, -1, dtype=np.int64)
        table[self.word_ids] = np.arange(len(self.words))
        return table

    def tally(self) -> _Tally:
        return _Tally(len(self.words), self.sizes, self.counting, self.sets)

    def counts(self, tally: _Tally, vocabulary: list[str]) -> ReferenceCounts:
        """The counts of a tally of the whole reference, whose vocabulary is ``vocabulary``."""
        log.info(
            "counted %d words in %d documents (%d blocks), windows %s (%s)",
            len(self.words),
            tally.num_docs,
            tally.blocks,
            self.sizes,
            self.counting,
        )
        return ReferenceCounts(
            self.words, set(vocabulary), self.counting, tally.num_docs, tally.doc_counts(), tally.window_counts()
        )


def plan_counts(
    reference: ReferenceCorpus,
    words: Iterable[str],
    windows: Iterable[int] = (),
    counting: str = "gensim",
    *,
    word_sets: Iterable[Iterable[str]] | None = None,
    block_tokens: int = DEFAULT_BLOCK_TOKENS,
) -> CountPlan:
    """Check ``count_reference``'s arguments and settle what is counted (see there); reads no text."""
    if counting not in COUNTINGS:
        raise ConfigError(unknown_name("counting", counting, list(COUNTINGS)))
    sizes = sorted({int(w) for w in windows})
    if any(w < 1 for w in sizes):
        raise ConfigError(f"window sizes must be integers >= 1, got {sizes}")
    if block_tokens < 1:
        raise ConfigError(f"block_tokens must be an integer >= 1, got {block_tokens}")
    vocab_index = {word: i for i, word in enumerate(reference.vocabulary)}
    wanted = list(dict.fromkeys(words))
    counted = [w for w in wanted if w in vocab_index]
    if not counted:
        raise ConfigError(
            f"the reference corpus shares no words with the topics ({len(wanted)} topic words, "
            f"{len(vocab_index)} reference words)"
        )
    sets = None
    if word_sets is not None:
        row_of_word = {word: i for i, word in enumerate(counted)}
        sets = {}
        for word_set in word_sets:
            rows = np.unique(np.asarray([row_of_word[w] for w in word_set if w in row_of_word], dtype=np.int64))
            if len(rows):
                sets[rows.tobytes()] = rows
    word_ids = np.asarray([vocab_index[w] for w in counted], dtype=np.int64)
    return CountPlan(counted, word_ids, len(reference.vocabulary), sizes, counting, sets)


def count_block(plan: CountPlan, ids: np.ndarray, lengths: np.ndarray) -> _Tally:
    """Count one block of whole documents (their token ids end to end, and each document's length)
    on its own, as ``count_reference`` counts each of its blocks: what a Dask worker runs."""
    tally = plan.tally()
    tally.add_block(np.asarray(ids), np.asarray(lengths, dtype=np.int64), plan.row_of_id())
    return tally


def reference_blocks(reference: ReferenceCorpus, block_tokens: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The reference as blocks of whole documents, ``(token ids end to end, document lengths)``,
    closed at the first document boundary at or past ``block_tokens`` tokens, as ``count_reference``
    closes them; an empty reference is one empty block. Texts that read themselves in blocks
    (``texts.blocks(block_tokens)``, a prepared corpus's memory map) are not split into documents."""
    blocks = getattr(reference.texts, "blocks", None)
    if blocks is not None:
        yield from blocks(block_tokens)
        return
    block: list[np.ndarray] = []
    block_length = 0
    yielded = False
    for text in reference:
        block.append(text if isinstance(text, np.ndarray) else np.asarray(text, dtype=np.int64))
        block_length += len(block[-1])
        if block_length >= block_tokens:
            yield _joined(block)
            block, block_length, yielded = [], 0, True
    if block or not yielded:
        yield _joined(block)


def _joined(texts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    return (np.concatenate(texts) if texts else np.zeros(0, dtype=np.int64)), lengths


class _Tally:
    """Counts of blocks of whole documents, added up: documents, co-documents and windows."""

    def __init__(self, n_words: int, sizes: list[int], counting: str, sets: dict[bytes, np.ndarray] | None):
        self.n_words, self.sizes, self.counting, self.sets = n_words, sizes, counting, sets
        self.blocks = 0
        self.num_docs = 0
        self.codocs = sps.csr_matrix((n_words, n_words), dtype=np.int64)
        self.num_windows = dict.fromkeys(sizes, 0)
        # without word sets: each block's intervals (shifted to the global window index) and owners
        self.intervals: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {w: [] for w in sizes}
        # with word sets: occurrences and the sets' pair matrices, summed
        self.occurrences = {w: np.zeros(n_words, dtype=np.int64) for w in sizes}
        self.matrices: dict[int, dict[bytes, np.ndarray]] = {w: {} for w in sizes}

    def add(self, texts: list[np.ndarray], row_of_id: np.ndarray) -> None:
        self.add_block(*_joined(texts), row_of_id)

    def add_block(self, ids: np.ndarray, lengths: np.ndarray, row_of_id: np.ndarray) -> None:
        """Count one block: its documents' token ids end to end and their lengths."""
        num_docs = len(lengths)
        doc_start = np.concatenate(([0], np.cumsum(lengths)))
        # Occurrences of counted words, in block order: row, position in the block, document, position in document.
        token_rows = row_of_id[ids]
        del ids
        where = np.flatnonzero(token_rows >= 0)
        rows = token_rows[where]
        del token_rows
        docs = np.searchsorted(doc_start, where, side="right") - 1
        pos = where - doc_start[docs]

        # Document counts: binary doc-term matrix X, co-document counts X.T @ X.
        x = sps.csr_matrix((np.ones(len(rows), dtype=np.int64), (docs, rows)), shape=(num_docs, self.n_words))
        x.sum_duplicates()
        x.data[:] = 1
        self.codocs = self.codocs + (x.T @ x).tocsr()

        # Occurrences sorted by word, then position in the block.
        order = np.argsort(rows, kind="stable")
        rows, where, docs, pos = rows[order], where[order], docs[order], pos[order]
        for w in self.sizes:
            starts, ends, owner, total = _window_intervals(rows, where, pos, docs, lengths, w, self.counting)
            if self.sets is None:
                offset = self.num_windows[w]
                self.intervals[w].append((starts + offset, ends + offset, owner))
            else:
                ptr = np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=self.n_words))))
                block = WindowCounts(w, total, starts, ends, ptr)
                self.occurrences[w] += block.occurrences
                for key, set_rows in self.sets.items():
                    matrix = block._matrix(set_rows)
                    if key in self.matrices[w]:
                        self.matrices[w][key] += matrix
                    else:
                        self.matrices[w][key] = matrix
            self.num_windows[w] += total
        self.num_docs += num_docs
        self.blocks += 1

    def merge(self, other: _Tally) -> None:
        """Add the counts of ``other``, blocks that come after this tally's (integers: exact in any
        order; callers merge in block order all the same, which window intervals need)."""
        self.codocs = self.codocs + other.codocs
        for w in self.sizes:
            if self.sets is None:
                offset = self.num_windows[w]
                self.intervals[w].extend((starts + offset, ends + offset, owner) for starts, ends, owner in other.intervals[w])
            else:
                self.occurrences[w] += other.occurrences[w]
                for key, matrix in other.matrices[w].items():
                    if key in self.matrices[w]:
                        self.matrices[w][key] += matrix
                    else:
                        self.matrices[w][key] = matrix
            self.num_windows[w] += other.num_windows[w]
        self.num_docs += other.num_docs
        self.blocks += other.blocks

    def doc_counts(self) -> np.ndarray:
        return self.codocs.toarray()

    def window_counts(self) -> dict[int, WindowCounts]:
        result = {}
        for w in self.sizes:
            if self.sets is not None:
                no_intervals = np.zeros(0, dtype=np.int64)
                result[w] = WindowCounts(
                    w,
                    self.num_windows[w],
                    no_intervals,
                    no_intervals,
                    np.zeros(self.n_words + 1, dtype=np.int64),
                    occurrences=self.occurrences[w],
                    has_intervals=False,
                    _cache=self.matrices[w],
                )
                continue
            parts = self.intervals[w]
            starts, ends, owner = (np.concatenate([part[i] for part in parts]) for i in range(3))
            if len(parts) > 1:
                # word-major; a stable sort keeps each word's intervals in block order, i.e. sorted
                order = np.argsort(owner, kind="stable")
                starts, ends, owner = starts[order], ends[order], owner[order]
            ptr = np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=self.n_words))))
            result[w] = WindowCounts(w, self.num_windows[w], starts, ends, ptr)
        return result


def _window_intervals(rows, where, pos, docs, lengths, window, counting):
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
