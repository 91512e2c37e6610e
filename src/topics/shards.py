"""The worker side of ``topics.preprocess``: a shard of the corpus per worker process.

The corpus is cut into chunks of ``CHUNK_DOCS`` documents, chunk i going to worker i mod n. A
``Shard`` keeps its chunks' tokens in its own scratch file and runs every later pass over that
file (phrase layers, counting, token ids, bag-of-words), so memory grows with the vocabulary, never
with the corpus. What a pass counts is a tally: ``PhraseTally`` (unigram and bigram keys, as
64-bit hashes in sorted arrays) or ``DictionaryTally`` (word frequencies by position). ``Workers``
runs the shards in processes (in this process when there is one) and returns their results in
order, with at most two messages waiting per worker.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import sys
from collections import _count_elements, deque
from collections.abc import Iterator
from itertools import chain, compress, islice, repeat
from pathlib import Path
from typing import Any, NamedTuple, Self

import numpy as np

from .tokenize import PHRASE_DELIMITER, PhraseJoiner, Pipeline, phrase_scores

CHUNK_DOCS = 128  # every chunk but the last has exactly this many documents


# --- what a pass counts -----------------------------------------------------------------------

PENDING_KEYS = 1 << 18  # key occurrences buffered before they are folded into the sorted counts


def add_sorted_counts(keys: np.ndarray, counts: np.ndarray, firsts: np.ndarray,
                      new_keys: np.ndarray, new_counts: np.ndarray, new_firsts: np.ndarray):
    """The union of two sorted, unique key arrays: counts of keys in both summed, and each key's
    first place (``firsts``) kept from the first arrays when the key is in both."""
    at = np.searchsorted(keys, new_keys)
    found = at < len(keys)
    found[found] = keys[at[found]] == new_keys[found]
    counts[at[found]] += new_counts[found]
    fresh = np.flatnonzero(~found)
    return (np.insert(keys, at[fresh], new_keys[fresh]), np.insert(counts, at[fresh], new_counts[fresh]),
            np.insert(firsts, at[fresh], new_firsts[fresh]))


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
        self.words: dict[str, int] = {}  # plain word -> count
        self.keys = np.empty(0, dtype=np.int64)  # sorted hashes of the other keys' strings
        self.counts = np.empty(0, dtype=np.int64)
        self.firsts = np.empty(0, dtype=np.int64)  # places
        self.total_words = 0
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []  # (hashes, places), in stream order
        self._pending_size = 0

    def add(self, texts: list[list[str]]) -> None:
        flat = list(chain.from_iterable(texts))
        start, self.total_words = self.total_words, self.total_words + len(flat)
        hashes = np.fromiter(map(hash, map(PHRASE_DELIMITER.join, zip(flat, islice(flat, 1, None)))),
                             dtype=np.int64, count=max(len(flat) - 1, 0))
        places = 2 * np.arange(start, start + len(hashes), dtype=np.int64)
        within = np.ones(len(hashes), dtype=bool)  # pairs not across two documents
        ends = np.cumsum([len(tokens) for tokens in texts], dtype=np.int64) - 1
        within[ends[(ends >= 0) & (ends < len(hashes))]] = False
        self._pending.append((hashes[within], places[within]))
        if compound := list(compress(range(len(flat)), map(str.__contains__, flat, repeat(PHRASE_DELIMITER)))):
            tokens = [flat[index] for index in compound]
            self._pending.append((np.fromiter(map(hash, tokens), dtype=np.int64, count=len(tokens)),
                                  2 * (start + np.array(compound, dtype=np.int64)) + 1))
            _count_elements(self.words, (token for token in flat if PHRASE_DELIMITER not in token))
        else:
            _count_elements(self.words, flat)  # Counter's C counting loop, on a plain dict
        self._pending_size += len(flat)
        if self._pending_size > PENDING_KEYS:
            self._fold()

    def _fold(self) -> None:
        if not self._pending:
            return
        hashes, places = (np.concatenate(column) for column in zip(*self._pending))
        self._pending, self._pending_size = [], 0
        order = np.argsort(hashes, kind="stable")  # equal hashes stay in stream order
        hashes = hashes[order]
        starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]]) if len(hashes) else np.zeros(0, dtype=np.int64)
        counts = np.diff(np.r_[starts, len(hashes)])
        self.keys, self.counts, self.firsts = add_sorted_counts(
            self.keys, self.counts, self.firsts, hashes[starts], counts, places[order[starts]]
        )

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every key's hash (sorted), count, and first place (-1 for the plain words)."""
        self._fold()
        words, self.words = self.words, {}
        word_keys = np.fromiter(map(hash, words), dtype=np.int64, count=len(words))
        word_counts = np.fromiter(words.values(), dtype=np.int64, count=len(words))
        del words
        order = np.argsort(word_keys)
        keys, counts, firsts = add_sorted_counts(
            self.keys, self.counts, self.firsts, word_keys[order], word_counts[order], np.full(len(order), -1, dtype=np.int64)
        )
        self.keys = self.counts = self.firsts = None
        return keys, counts, firsts


class DictionaryTally:
    """Document and collection frequencies over one worker's chunks, by word, and the words in the
    order gensim's ``Dictionary`` would number them: per document the new words sorted, documents
    in order. Each word is a string once (a key of ``index``, in that order); counts are arrays
    by position."""

    def __init__(self):
        self.index: dict[str, int] = {}  # word -> position, in first-seen order
        self.new_words_per_chunk: list[int] = []
        self.cfs = np.zeros(1024, dtype=np.int64)
        self.dfs = np.zeros(1024, dtype=np.int64)
        self.num_docs = 0

    def add(self, texts: list[list[str]]) -> None:
        index, before = self.index, len(self.index)
        in_documents: list[str] = []  # each document's distinct words
        for tokens in texts:
            unique = set(tokens)
            # (index is an exact dict: set.difference looks each word up; with a dict subclass
            # such as Counter it would walk the whole dict instead)
            if new := unique.difference(index):
                for word in sorted(new):
                    index[word] = len(index)
            in_documents.extend(unique)
        self.new_words_per_chunk.append(len(index) - before)
        self.num_docs += len(texts)
        if len(index) > len(self.cfs):
            size = max(len(index), 2 * len(self.cfs))
            self.cfs = np.concatenate([self.cfs, np.zeros(size - len(self.cfs), dtype=np.int64)])
            self.dfs = np.concatenate([self.dfs, np.zeros(size - len(self.dfs), dtype=np.int64)])
        for counts, words in ((self.cfs, chain.from_iterable(texts)), (self.dfs, in_documents)):
            ids = np.fromiter(map(index.__getitem__, words), dtype=np.int64)
            found = np.bincount(ids)
            counts[:len(found)] += found

    def counts(self) -> WordCounts:
        """What the main process needs: the words in order, and their counts trimmed."""
        size = len(self.index)
        return WordCounts(list(self.index), self.new_words_per_chunk, self.cfs[:size].copy(), self.dfs[:size].copy(), self.num_docs)


class WordCounts(NamedTuple):
    """A ``DictionaryTally`` as it reaches the main process."""

    words: list[str]  # in first-seen order
    new_words_per_chunk: list[int]  # how many of them each chunk added
    cfs: np.ndarray  # by position in words
    dfs: np.ndarray
    num_docs: int


# --- shards: one worker's chunks, through every pass ------------------------------------------


class Shard:
    """Chunks ``index``, ``index + count``, ... of the corpus, held by one worker in its own
    scratch files: tokens (one document a line, tokens separated by one space), and at the end
    token ids, document lengths and Matrix Market lines, chunk after chunk."""

    def __init__(self, index: int, count: int, folder: Path, pipeline: Pipeline):
        self.index, self.count, self.folder, self.pipeline = index, count, folder, pipeline
        self.chunk_sizes: list[int] = []
        self.generation = 0
        self._out = None
        self._tally: PhraseTally | DictionaryTally | None = None

    def path(self, name: str) -> Path:
        return self.folder / f"{name}-{self.index}"

    def begin(self, tally: str) -> None:
        self._out = self.path("tokens-0").open("w", encoding="utf-8", newline="\n")
        self._tally = PhraseTally() if tally == "phrases" else DictionaryTally()

    def tokenize(self, chunk: list[tuple[str, tuple[str, ...] | None]]) -> int:
        """(text, tokens or None) pairs -> token lists (pre-tokenised ones unchanged), appended."""
        texts = [list(tokens) if tokens is not None else self.pipeline(text) for text, tokens in chunk]
        self._write(texts)
        self._tally.add(texts)
        self.chunk_sizes.append(len(texts))
        return len(texts)

    def end(self) -> WordCounts | None:
        self._out.close()
        self.pipeline.forget()  # no later pass tokenises: room for the counts that come next
        tally, self._tally = self._tally, None
        return self._handover(tally)

    def _handover(self, tally: PhraseTally | DictionaryTally) -> WordCounts | None:
        """Word counts go to the main process; phrase counts stay here (``phrase_count_files``)."""
        if isinstance(tally, PhraseTally):
            self._phrase_tally = tally
            return None
        return tally.counts()

    def phrase_count_files(self, parts: int) -> list[Path]:
        """This shard's phrase counts in ``parts`` files (not through the pipe), part j holding
        the keys whose hash is j modulo ``parts``: ``keys`` (sorted), ``counts``, ``firsts``."""
        keys, counts, firsts = self._phrase_tally.arrays()
        self._phrase_tally = None
        part_of = keys % parts
        paths = []
        for part in range(parts):
            mine = part_of == part
            paths.append(self.folder / f"phrase-counts-{self.index}-{part}.npz")
            np.savez(paths[-1], keys=keys[mine], counts=counts[mine], firsts=firsts[mine])
        return paths

    @staticmethod
    def merge_phrase_count_part(paths: list[Path], min_count: int) -> tuple:
        """Sum one part's counts over every shard's ``phrase_count_files`` (``paths``, in shard
        order). Returns the number of distinct keys; the plain words' hashes and counts; and for
        the candidates (keys with the delimiter counted more than ``min_count`` times: only those
        can score above a threshold > 0), their counts, a shard that has the key (chosen by its
        hash, so that the work is shared) and where the key first occurs in that shard."""
        columns: dict[str, list[np.ndarray]] = {"keys": [], "counts": [], "firsts": [], "sources": []}
        for source, path in enumerate(paths):
            with np.load(path, allow_pickle=False) as arrays:
                for name in ("keys", "counts", "firsts"):
                    columns[name].append(arrays[name])
            columns["sources"].append(np.full(len(columns["keys"][-1]), source, dtype=np.int32))
            path.unlink()
        keys, counts, firsts, sources = (np.concatenate(column) for column in columns.values())
        del columns
        if not len(keys):
            return 0, keys, counts, counts, sources, firsts
        order = np.argsort(keys, kind="stable")  # each file is sorted: a merge of runs
        keys = keys[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        merged = np.add.reduceat(counts[order], starts)
        unique_keys = keys[starts]
        chosen = order[starts + (unique_keys >> 17) % np.diff(np.r_[starts, len(keys)])]  # not the bits of the part
        is_word = firsts[chosen] < 0
        candidate = ~is_word & (merged > min_count)
        return (len(starts), unique_keys[is_word], merged[is_word],
                merged[candidate], sources[chosen[candidate]], firsts[chosen[candidate]])

    def phrases_among(self, places: np.ndarray, counts: np.ndarray, word_keys: np.ndarray, word_counts: np.ndarray,
                      vocab_size: int, min_count: int, threshold: float) -> tuple[list[str], np.ndarray]:
        """The phrases among this shard's share of the candidates: their strings, read from the
        current token file at their ``places`` (sorted; see ``PhraseTally``), scored with their
        merged ``counts`` and the merged counts of their first and last words (``word_keys``
        sorted); those scoring above ``threshold``, sorted, and their scores."""
        strings: list[str] = []
        tokens_before, next_place = 0, 0
        join = PHRASE_DELIMITER.join
        for texts in self._chunks():
            if next_place == len(places):
                break
            flat = list(chain.from_iterable(texts))
            end = np.searchsorted(places, 2 * (tokens_before + len(flat)))
            for place in places[next_place:end].tolist():
                token = (place >> 1) - tokens_before
                strings.append(flat[token] if place & 1 else join(flat[token:token + 2]))
            tokens_before, next_place = tokens_before + len(flat), end
        if len(strings) != len(places):
            raise RuntimeError(f"shard {self.index}: found {len(strings)} of {len(places)} phrase candidates")

        def counts_of(words: Iterator[str]) -> np.ndarray:
            hashes = np.fromiter(map(hash, words), dtype=np.int64, count=len(strings))
            if not len(word_keys):
                return np.zeros(len(strings), dtype=np.int64)
            at = np.minimum(np.searchsorted(word_keys, hashes), len(word_keys) - 1)
            return np.where(word_keys[at] == hashes, word_counts[at], 0)

        # as gensim's Phrases.score_candidate: the first and the last word of the key, by string
        first = counts_of(string.split(PHRASE_DELIMITER, 1)[0] for string in strings)
        last = counts_of(string.rsplit(PHRASE_DELIMITER, 1)[-1] for string in strings)
        scores = phrase_scores(counts, first, last, vocab_size, min_count)
        keep = np.flatnonzero((first > 0) & (last > 0) & (scores > threshold)).tolist()
        keep.sort(key=strings.__getitem__)
        return [strings[index] for index in keep], scores[keep]

    def _write(self, texts: list[list[str]]) -> None:
        self._out.write("".join(" ".join(tokens) + "\n" for tokens in texts))

    def _chunks(self) -> Iterator[list[list[str]]]:
        with self.path(f"tokens-{self.generation}").open(encoding="utf-8", newline="\n") as handle:
            for size in self.chunk_sizes:
                yield [line[:-1].split(" ") if line != "\n" else [] for line in islice(handle, size)]

    def join_phrases(self, layer: dict, tally: str) -> WordCounts | None:
        """The next generation of the token file: the phrases of ``layer`` joined."""
        joiner = PhraseJoiner(layer)
        counts = PhraseTally() if tally == "phrases" else DictionaryTally()
        old = self.path(f"tokens-{self.generation}")
        with self.path(f"tokens-{self.generation + 1}").open("w", encoding="utf-8", newline="\n") as self._out:
            for texts in self._chunks():
                joined = [joiner(tokens) for tokens in texts]
                self._write(joined)
                counts.add(joined)
        self.generation += 1
        old.unlink()
        return self._handover(counts)

    def peak_rss_mb(self) -> float | None:
        return peak_rss_mb()

    def write_outputs(self, token2id: dict[str, int]) -> list[tuple[int, int, int, int]]:
        """Token ids, document lengths and Matrix Market lines of each chunk, to three files.
        Returns per chunk: documents, token ids, non-zeros, bytes of Matrix Market lines."""
        get, num_terms = token2id.get, max(len(token2id), 1)
        facts = []
        with (
            self.path("ids").open("wb") as ids_out,
            self.path("lengths").open("wb") as lengths_out,
            self.path("mm").open("wb") as mm_out,
        ):
            for k, texts in enumerate(self._chunks()):
                first_doc = (self.index + k * self.count) * CHUNK_DOCS
                flat = list(chain.from_iterable(texts))
                ids = np.fromiter(map(get, flat, repeat(-1)), dtype=np.int64, count=len(flat))
                docs = np.repeat(np.arange(len(texts)), [len(tokens) for tokens in texts])
                keep = ids >= 0
                ids, docs = ids[keep], docs[keep]
                ids.astype("<i4").tofile(ids_out)
                np.bincount(docs, minlength=len(texts)).astype("<i8").tofile(lengths_out)
                cells, counts = np.unique(docs * num_terms + ids, return_counts=True)
                rows = zip((cells // num_terms + first_doc + 1).tolist(), (cells % num_terms + 1).tolist(), counts.tolist())
                lines = "".join(map("%d %d %d\n".__mod__, rows)).encode("ascii")  # as gensim's MmWriter
                mm_out.write(lines)
                facts.append((len(texts), len(ids), len(cells), len(lines)))
        return facts


def peak_rss_mb() -> float | None:
    """This process's peak resident memory so far, in MB (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)  # bytes on macOS, KB elsewhere


# --- workers: shards in processes, ordered and bounded ----------------------------------------


def _serve(shard: Shard, inbox, outbox) -> None:
    try:
        while (message := inbox.get()) is not None:
            method, args = message
            outbox.put(("ok", getattr(shard, method)(*args)))
    except BaseException as error:  # noqa: BLE001 - handed to the main process, which raises it
        outbox.put(("error", error))
        while inbox.get() is not None:  # keep the main process from blocking on a full inbox
            pass


class Workers:
    """``send(i, method, *args)`` runs ``shards[i].method(*args)`` in worker process i (in this
    process when there is one shard); ``receive(i)`` returns shard i's results in order. At most
    two messages wait per worker (bounded memory, unlike ``Pool.imap``).

    The shards compare phrase counts by ``hash(str)``, so their processes must share one hash
    seed: forked processes inherit it; spawned ones (where fork is missing, or ``start_method``
    says so) are given one through ``PYTHONHASHSEED``."""

    def __init__(self, shards: list[Shard], start_method: str | None = None):
        self.shards = shards
        self.count = len(shards)
        self.start_method = start_method or ("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        self._local: list[deque] = [deque() for _ in shards]
        self._processes: list = []

    def __enter__(self) -> Self:
        if self.count > 1:
            context = multiprocessing.get_context(self.start_method)
            self._inboxes = [context.Queue(maxsize=2) for _ in self.shards]
            self._outboxes = [context.Queue() for _ in self.shards]
            self._processes = [
                context.Process(target=_serve, args=(shard, inbox, outbox), daemon=True)
                for shard, inbox, outbox in zip(self.shards, self._inboxes, self._outboxes, strict=True)
            ]
            seed = os.environ.get("PYTHONHASHSEED")
            if self.start_method != "fork":
                os.environ["PYTHONHASHSEED"] = str(random.randrange(1, 2**32))
            try:
                for process in self._processes:
                    process.start()
            finally:
                if seed is None:
                    os.environ.pop("PYTHONHASHSEED", None)
                else:
                    os.environ["PYTHONHASHSEED"] = seed
        return self

    def __exit__(self, *exc_info) -> None:
        if exc_info[0] is None:
            for inbox in getattr(self, "_inboxes", []):
                inbox.put(None)
            for process in self._processes:
                process.join()
        for process in self._processes:
            if process.is_alive():
                process.terminate()
                process.join()
        if exc_info[0] is not None:
            # Messages may be left unread by workers that are gone: do not let this process's
            # exit wait for the queues' feeder threads to deliver them (it would wait forever).
            for box in (*getattr(self, "_inboxes", []), *getattr(self, "_outboxes", [])):
                box.cancel_join_thread()

    def send(self, index: int, method: str, *args) -> None:
        if not self._processes:
            self._local[index].append(getattr(self.shards[index], method)(*args))
            return
        while True:
            try:
                return self._inboxes[index].put((method, args), timeout=1.0)
            except queue.Full:
                self._check_alive(index)

    def receive(self, index: int) -> Any:
        if not self._processes:
            return self._local[index].popleft()
        while True:
            try:
                kind, value = self._outboxes[index].get(timeout=1.0)
            except queue.Empty:
                self._check_alive(index)
                continue
            if kind == "error":
                raise value
            return value

    def all(self, method: str, *args) -> list:
        for index in range(self.count):
            self.send(index, method, *args)
        return [self.receive(index) for index in range(self.count)]

    def _check_alive(self, index: int) -> None:
        process = self._processes[index]
        if not process.is_alive():
            raise RuntimeError(f"preprocessing worker {process.pid} died (exit code {process.exitcode})")
