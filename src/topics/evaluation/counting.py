"""Counting a reference corpus once for many topic models: its documents read in blocks, each
block counted on its own and the counts added up (``count_reference``).

The counts serve the coherence measures of Röder, Both & Hinneburg (2015), "Exploring the space of
topic coherence measures" (WSDM), computed as gensim 4.4's ``CoherenceModel`` computes them
(``topics.evaluation.coherence``). Document counts come from a sparse binary doc-term matrix ``X``
as ``X.T @ X``; sliding-window counts are intervals of a global window index
(``topics.evaluation.windows``). One ``count_reference`` call serves any number of topic models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sps

from topics.errors import ConfigError, unknown_name
from topics.evaluation.windows import WindowCounts, window_intervals

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
    progress: Callable[[int, int | None], None] | None = None,
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

    ``progress(documents counted, documents in the reference or None)`` is called after each block
    (once a block, not a document, so that it costs nothing next to the counting).
    """
    plan = plan_counts(reference, words, windows, counting, word_sets=word_sets, block_tokens=block_tokens)
    row_of_id = plan.row_of_id()
    tally = plan.tally()
    total = document_total(reference)
    for ids, lengths in reference_blocks(reference, block_tokens):
        tally.add_block(ids, lengths, row_of_id)
        if progress is not None:
            progress(tally.num_docs, total)
    return plan.counts(tally, reference.vocabulary)


def document_total(reference: ReferenceCorpus) -> int | None:
    """The number of documents of ``reference`` when its texts know it (a list, a prepared corpus), else None."""
    return len(reference.texts) if isinstance(reference.texts, Sized) else None


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
    closed at the first document boundary at or past ``block_tokens`` tokens; an empty reference is
    one empty block. Texts that read themselves in blocks
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
            starts, ends, owner, total = window_intervals(rows, where, pos, docs, lengths, w, self.counting)
            if self.sets is None:
                offset = self.num_windows[w]
                self.intervals[w].append((starts + offset, ends + offset, owner))
            else:
                ptr = np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=self.n_words))))
                block = WindowCounts(w, total, starts, ends, ptr)
                self.occurrences[w] += block.occurrences
                self._add_matrices(w, {key: block._matrix(set_rows) for key, set_rows in self.sets.items()})
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
                self._add_matrices(w, other.matrices[w])
            self.num_windows[w] += other.num_windows[w]
        self.num_docs += other.num_docs
        self.blocks += other.blocks

    def _add_matrices(self, window: int, matrices: dict[bytes, np.ndarray]) -> None:
        """Add the pair-count matrices of word sets (one per set) to those counted so far."""
        mine = self.matrices[window]
        for key, matrix in matrices.items():
            mine[key] = mine[key] + matrix if key in mine else matrix

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
