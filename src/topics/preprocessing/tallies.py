"""What the preprocessing workers count in a pass over their chunks, and how the main process
merges their word counts into a gensim Dictionary.

A tally is vocabulary-sized, never corpus-sized, and kept compact: ``PhraseTally`` holds gensim
``Phrases``'s unigram and bigram keys as 64-bit hashes in sorted arrays, ``DictionaryTally`` the
document and collection frequencies as arrays by word position. ``dictionary_from_counts`` builds
the gensim Dictionary from the workers' ``WordCounts``, filtered on arrays first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from itertools import chain, compress, islice, repeat
from typing import NamedTuple, cast

import numpy as np

from topics.config import PreprocessConfig
from topics.preprocessing.phrases import PHRASE_DELIMITER

PENDING_KEYS = 1 << 18  # key occurrences buffered before they are folded into the sorted counts


def sorted_runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``order`` (a stable argsort of ``keys``) and the start of each run of equal keys in
    ``keys[order]``: equal keys stay in their given order, so ``order[starts]`` is where each
    distinct key first occurs."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    return order, np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(keys) else np.zeros(0, dtype=np.int64)


def add_sorted_counts(
    keys: np.ndarray,
    counts: np.ndarray,
    firsts: np.ndarray,
    new_keys: np.ndarray,
    new_counts: np.ndarray,
    new_firsts: np.ndarray,
):
    """The union of two sorted, unique key arrays: counts of keys in both summed, and each key's
    first place (``firsts``) kept from the first arrays when the key is in both."""
    at = np.searchsorted(keys, new_keys)
    found = at < len(keys)
    found[found] = keys[at[found]] == new_keys[found]
    counts[at[found]] += new_counts[found]
    fresh = np.flatnonzero(~found)
    return (
        np.insert(keys, at[fresh], new_keys[fresh]),
        np.insert(counts, at[fresh], new_counts[fresh]),
        np.insert(firsts, at[fresh], new_firsts[fresh]),
    )


class PhraseTally:
    """What gensim's ``Phrases`` counts (``Phrases._learn_vocab``, no connector words) over one
    worker's chunks: every token, and every pair of adjacent tokens joined by the delimiter, each
    keyed by its string.

    The strings of a corpus's pairs would fill a dict of a million strings a worker (about 100
    bytes each). Here plain words (no delimiter) are counted by string, and every other key, a
    pair or a token with the delimiter, is kept as the 64-bit hash of its string, in sorted
    arrays: hash, count, and where it first occurs (24 bytes a key). Equal strings have equal
    hashes, so a pair and a token that spell the same key (``new_york`` + ``city`` and ``new`` +
    ``york_city``) count as one key, as in gensim. Only the strings of the keys that matter (the
    candidates, counted more than ``min_count`` times in all) are read back, from where they first
    occur (``Shard.phrases_among``). A place is ``2 * t`` for the pair starting at token ``t`` of
    this worker's token stream, ``2 * t + 1`` for token ``t`` itself."""

    def __init__(self):
        self.words: Counter[str] = Counter()  # plain word -> count
        # (None once ``arrays`` has handed them over)
        self.keys: np.ndarray | None = np.empty(0, dtype=np.int64)  # sorted hashes of the other keys' strings
        self.counts: np.ndarray | None = np.empty(0, dtype=np.int64)
        self.firsts: np.ndarray | None = np.empty(0, dtype=np.int64)  # places
        self.total_words = 0
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []  # (hashes, places), in stream order
        self._pending_size = 0

    def add(self, texts: list[list[str]]) -> None:
        flat = list(chain.from_iterable(texts))
        start, self.total_words = self.total_words, self.total_words + len(flat)
        hashes = np.fromiter(
            map(hash, map(PHRASE_DELIMITER.join, zip(flat, islice(flat, 1, None)))),
            dtype=np.int64,
            count=max(len(flat) - 1, 0),
        )
        places = 2 * np.arange(start, start + len(hashes), dtype=np.int64)
        within = np.ones(len(hashes), dtype=bool)  # pairs not across two documents
        ends = np.cumsum([len(tokens) for tokens in texts], dtype=np.int64) - 1
        within[ends[(ends >= 0) & (ends < len(hashes))]] = False
        self._pending.append((hashes[within], places[within]))
        if compound := list(compress(range(len(flat)), map(str.__contains__, flat, repeat(PHRASE_DELIMITER)))):
            tokens = [flat[index] for index in compound]
            self._pending.append(
                (
                    np.fromiter(map(hash, tokens), dtype=np.int64, count=len(tokens)),
                    2 * (start + np.array(compound, dtype=np.int64)) + 1,
                )
            )
            self.words.update(token for token in flat if PHRASE_DELIMITER not in token)
        else:
            self.words.update(flat)
        self._pending_size += len(flat)
        if self._pending_size > PENDING_KEYS:
            self._fold()

    def _fold(self) -> None:
        if not self._pending:
            return
        hashes, places = (np.concatenate(column) for column in zip(*self._pending))
        self._pending, self._pending_size = [], 0
        order, starts = sorted_runs(hashes)  # pending is in stream order: order[starts] is first
        counts = np.diff(np.r_[starts, len(hashes)])
        assert self.keys is not None and self.counts is not None and self.firsts is not None, "arrays() was read"
        self.keys, self.counts, self.firsts = add_sorted_counts(
            self.keys,
            self.counts,
            self.firsts,
            hashes[order[starts]],
            counts,
            places[order[starts]],
        )

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every key's hash (sorted), count, and first place (-1 for the plain words)."""
        self._fold()
        words, self.words = self.words, Counter()
        word_keys = np.fromiter(map(hash, words), dtype=np.int64, count=len(words))
        word_counts = np.fromiter(words.values(), dtype=np.int64, count=len(words))
        del words
        order = np.argsort(word_keys)
        assert self.keys is not None and self.counts is not None and self.firsts is not None, "arrays() was read"
        keys, counts, firsts = add_sorted_counts(
            self.keys,
            self.counts,
            self.firsts,
            word_keys[order],
            word_counts[order],
            np.full(len(order), -1, dtype=np.int64),
        )
        self.keys = self.counts = self.firsts = None
        return keys, counts, firsts


class DictionaryTally:
    """Document and collection frequencies over one worker's chunks, by word, and the words in the
    order gensim's ``Dictionary`` would number them: per document the new words sorted, documents
    in order. The chunks come as token ids of the worker's vocabulary (``Shard``); counts are
    arrays by position in that order."""

    def __init__(self):
        self.words: list[str] = []  # in gensim's order
        self.positions = np.full(1024, -1, dtype=np.int64)  # token id -> position in words; -1: not seen yet
        self.new_words_per_chunk: list[int] = []
        self.cfs = np.zeros(1024, dtype=np.int64)
        self.dfs = np.zeros(1024, dtype=np.int64)
        self.num_docs = 0

    def add(self, lengths: np.ndarray, ids: np.ndarray, vocabulary: list[str]) -> None:
        """One chunk: its documents' lengths and their token ids, one after another, in
        ``vocabulary`` (id -> token)."""
        if len(vocabulary) > len(self.positions):
            grown = np.full(max(len(vocabulary), 2 * len(self.positions)), -1, dtype=np.int64)
            grown[: len(self.positions)] = self.positions
            self.positions = grown
        docs = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        positions = self.positions[ids]
        before = len(self.words)
        if (new := positions < 0).any():
            new_ids, first = np.unique(ids[new], return_index=True)
            # the documents are in order along ``ids``, so a word's first occurrence is in its first document
            firsts = sorted(zip(docs[new][first].tolist(), map(vocabulary.__getitem__, new_ids.tolist()), new_ids.tolist()))
            self.positions[[token_id for _, _, token_id in firsts]] = np.arange(before, before + len(firsts))
            self.words.extend(word for _, word, _ in firsts)
            positions = self.positions[ids]
        self.new_words_per_chunk.append(len(self.words) - before)
        self.num_docs += len(lengths)
        size = len(self.words)
        if size > len(self.cfs):
            grown_size = max(size, 2 * len(self.cfs))
            self.cfs = np.concatenate([self.cfs, np.zeros(grown_size - len(self.cfs), dtype=np.int64)])
            self.dfs = np.concatenate([self.dfs, np.zeros(grown_size - len(self.dfs), dtype=np.int64)])
        found = np.bincount(positions)
        self.cfs[: len(found)] += found
        if len(positions):  # each word once a document: the distinct (document, word) pairs
            pairs = np.sort(docs * size + positions)
            found = np.bincount(pairs[np.r_[True, pairs[1:] != pairs[:-1]]] % size)
        self.dfs[: len(found)] += found

    def counts(self) -> WordCounts:
        """What the main process needs: the words in order, and their counts trimmed."""
        size = len(self.words)
        return WordCounts(
            self.words,
            self.new_words_per_chunk,
            self.cfs[:size].copy(),
            self.dfs[:size].copy(),
            self.num_docs,
        )


class WordCounts(NamedTuple):
    """A ``DictionaryTally`` as it reaches the main process."""

    words: list[str]  # in first-seen order
    new_words_per_chunk: list[int]  # how many of them each chunk added
    cfs: np.ndarray  # by position in words
    dfs: np.ndarray
    num_docs: int


def dictionary_from_counts(counts: list[WordCounts], config: PreprocessConfig):
    """A gensim Dictionary from the workers' word counts, with gensim's id order (the words of
    chunk c come from worker c mod n; a word's id is given at its first document), filtered as
    gensim's ``filter_extremes(no_below, no_above, keep_n)`` filters. Returns it with the number of
    words before filtering (its ``num_pos`` is the number of tokens before filtering).

    The filter runs on arrays, before the Dictionary is built (it holds three dicts a word, and
    most of a corpus's words are rare), with ``filter_extremes``'s rules: keep the words whose
    document frequency is in [no_below, int(no_above * documents)], then the ``keep_n`` most
    frequent of them, ties in id order (a stable sort), ids renumbered in order. A test checks it
    against ``filter_extremes`` on the whole vocabulary. The totals (``num_pos``, ``num_nnz``)
    stay those of the whole vocabulary, as ``filter_extremes`` leaves them. Empties ``counts``
    as it goes (the workers' copies of the words are freed once read)."""
    from gensim.corpora import Dictionary

    def new_words_in_chunk_order() -> Iterator[list[str]]:
        starts = [0] * len(counts)
        for chunk in range(sum(len(shard.new_words_per_chunk) for shard in counts)):
            shard = chunk % len(counts)
            size = counts[shard].new_words_per_chunk[chunk // len(counts)]
            yield counts[shard].words[starts[shard] : starts[shard] + size]
            starts[shard] += size

    ids = dict.fromkeys(chain.from_iterable(new_words_in_chunk_order()))  # keeps first occurrences
    for index, word in enumerate(ids):
        ids[word] = index
    cfs, dfs = np.zeros(len(ids), dtype=np.int64), np.zeros(len(ids), dtype=np.int64)
    num_docs = sum(shard.num_docs for shard in counts)
    shard: WordCounts | None
    for index, shard in enumerate(counts):
        positions = np.fromiter(map(ids.__getitem__, shard.words), dtype=np.int64, count=len(shard.words))
        cfs[positions] += shard.cfs  # positions are distinct within a shard
        dfs[positions] += shard.dfs
        cast("list[WordCounts | None]", counts)[index] = shard = None  # its copies of the words' strings can go
    assert config.no_below is not None and config.no_above is not None  # resolved (prepare.resolve_config)
    keep = np.flatnonzero((dfs >= config.no_below) & (dfs <= int(config.no_above * num_docs)))
    if config.keep_n is not None and len(keep) > config.keep_n:
        keep = np.sort(keep[np.argsort(-dfs[keep], kind="stable")[: config.keep_n]])
    words = list(ids)
    del ids
    dictionary = Dictionary()
    dictionary.token2id = dict(zip(map(words.__getitem__, keep.tolist()), range(len(keep))))
    dictionary.cfs = dict(enumerate(cfs[keep].tolist()))
    dictionary.dfs = dict(enumerate(dfs[keep].tolist()))
    dictionary.num_docs = num_docs
    dictionary.num_pos = int(cfs.sum())
    dictionary.num_nnz = int(dfs.sum())
    return dictionary, len(words)
