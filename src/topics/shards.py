"""The worker side of ``topics.preprocess``: a shard of the corpus per worker process.

The corpus is cut into chunks of ``CHUNK_DOCS`` documents, chunk i going to worker i mod n. A
``Shard`` keeps its chunks' tokens in its own scratch file and runs every later pass over that
file (phrase layers, counting, token ids, bag-of-words), so memory grows with the vocabulary, never
with the corpus. ``Workers`` runs the shards in processes (in this process when there is one) and
returns their results in order, with at most two messages waiting per worker.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import queue
from collections import Counter, deque
from collections.abc import Iterator
from itertools import chain, islice, repeat
from pathlib import Path
from typing import Any, Self

import numpy as np

from .tokenize import (
    PHRASE_DELIMITER,
    PhraseJoiner,
    Pipeline,
    count_phrase_vocab,
    phrase_candidates,
)

CHUNK_DOCS = 128  # every chunk but the last has exactly this many documents


# --- what a pass counts -----------------------------------------------------------------------


class Tally:
    """What a worker counts over its chunks in one pass: phrase counts for the next phrase layer,
    or document and collection frequencies (and first occurrences, for the id order) for the
    dictionary. A dictionary tally goes to the main process at the end of the pass; phrase counts
    stay in the worker (``Shard.phrase_count_arrays``)."""

    def __init__(self, kind: str):
        self.kind = kind  # "phrases" or "dictionary"
        self.vocab: dict[str, int] = {}
        self.total_words = 0
        self.dfs: Counter[str] = Counter()
        self.cfs: Counter[str] = Counter()
        self.num_docs = 0
        self.first_seen: list[str] = []  # words new to this worker: per document sorted, in order
        self.first_seen_per_chunk: list[int] = []
        self._seen: set[str] | None = set()  # the words of first_seen, for fast membership

    def add(self, texts: list[list[str]]) -> None:
        if self.kind == "phrases":
            _, words = count_phrase_vocab(texts, self.vocab)
            self.total_words += words
            return
        before, seen = len(self.first_seen), self._seen
        for tokens in texts:
            unique = set(tokens)
            self.cfs.update(tokens)
            self.dfs.update(unique)
            # (a set, not the keys of dfs: set.difference with a dict subclass walks the whole dict)
            if new := unique.difference(seen):
                seen |= new
                self.first_seen.extend(sorted(new))
        self.first_seen_per_chunk.append(len(self.first_seen) - before)
        self.num_docs += len(texts)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_seen": None}


def _stable_hash(key: str) -> int:
    """A 64-bit hash of ``key`` that every process agrees on, whatever its hash seed."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


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
        self._tally: Tally | None = None

    def path(self, name: str) -> Path:
        return self.folder / f"{name}-{self.index}"

    def begin(self, tally: str) -> None:
        self._out = self.path("tokens-0").open("w", encoding="utf-8", newline="\n")
        self._tally = Tally(tally)

    def tokenize(self, chunk: list[tuple[str, tuple[str, ...] | None]]) -> int:
        """(text, tokens or None) pairs -> token lists (pre-tokenised ones unchanged), appended."""
        texts = [list(tokens) if tokens is not None else self.pipeline(text) for text, tokens in chunk]
        self._write(texts)
        self._tally.add(texts)
        self.chunk_sizes.append(len(texts))
        return len(texts)

    def end(self) -> Tally | int:
        self._out.close()
        self.pipeline.forget()  # no later pass tokenises: room for the counts that come next
        tally, self._tally = self._tally, None
        return self._handover(tally)

    def _handover(self, tally: Tally) -> Tally | int:
        """A dictionary tally goes to the main process; phrase counts stay here (see
        ``learn_phrase_layer``), and only their number of words goes."""
        if tally.kind == "phrases":
            self._phrase_counts = tally
            return tally.total_words
        return tally

    def phrase_count_arrays(self, same_hash: bool) -> Path:
        """This shard's phrase counts as arrays, in an ``.npz`` file (not through the pipe: no
        pickled copy): ``hashes`` of the keys, ``counts``, ``is_phrase`` (the key has the
        delimiter). The keys stay here, in the same order, for ``phrase_counts_of``."""
        vocab = self._phrase_counts.vocab
        self._phrase_counts = None
        self._phrase_keys = keys = list(vocab)
        if same_hash:  # str hashes agree between forked processes (one hash seed)
            hashes = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))
        else:  # spawned processes each have their own seed: a stable hash
            hashes = np.fromiter((_stable_hash(key) for key in keys), dtype=np.int64, count=len(keys))
        counts = np.fromiter(vocab.values(), dtype=np.int64, count=len(keys))
        del vocab
        is_phrase = np.fromiter(map(str.__contains__, keys, repeat(PHRASE_DELIMITER)), dtype=bool, count=len(keys))
        path = self.folder / f"phrase-counts-{self.index}.npz"
        np.savez(path, hashes=hashes, counts=counts, is_phrase=is_phrase)
        return path

    @staticmethod
    def merge_phrase_count_part(part: int, count: int, paths: list[Path], min_count: int):
        """Sum the counts of the keys whose hash is ``part`` modulo ``count`` over every shard's
        ``phrase_count_arrays``. Returns the number of distinct keys, and for each key worth
        scoring (a plain word, or a candidate counted more than ``min_count`` times): the shard it
        was first seen in, its position there, and its merged count."""
        columns: dict[str, list[np.ndarray]] = {"hashes": [], "counts": [], "is_phrase": [], "positions": [], "sources": []}
        for source, path in enumerate(paths):
            with np.load(path, allow_pickle=False) as arrays:
                hashes = arrays["hashes"]
                mine = np.flatnonzero(hashes % count == part)
                columns["hashes"].append(hashes[mine])
                columns["counts"].append(arrays["counts"][mine])
                columns["is_phrase"].append(arrays["is_phrase"][mine])
            columns["positions"].append(mine)
            columns["sources"].append(np.full(len(mine), source, dtype=np.int32))
        hashes, counts, is_phrase, positions, sources = (np.concatenate(column) for column in columns.values())
        del columns
        if not len(hashes):
            return 0, sources, positions, counts
        order = np.argsort(hashes, kind="stable")
        hashes = hashes[order]
        starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
        merged = np.add.reduceat(counts[order], starts)
        first = order[starts]  # where each distinct key first occurs
        wanted = ~is_phrase[first] | (merged > min_count)
        return len(starts), sources[first[wanted]], positions[first[wanted]], merged[wanted]

    def phrase_counts_of(self, positions: list[int], counts: list[int], min_count: int) -> tuple[dict[str, int], dict[str, int]]:
        """The keys at ``positions`` (of ``phrase_count_arrays``) with their merged ``counts``, as
        ``phrase_candidates`` splits them: plain words and phrase candidates."""
        keys, self._phrase_keys = self._phrase_keys, None
        return phrase_candidates(dict(zip(map(keys.__getitem__, positions), counts, strict=True)), min_count)

    def _write(self, texts: list[list[str]]) -> None:
        self._out.write("".join(" ".join(tokens) + "\n" for tokens in texts))

    def _chunks(self) -> Iterator[list[list[str]]]:
        with self.path(f"tokens-{self.generation}").open(encoding="utf-8", newline="\n") as handle:
            for size in self.chunk_sizes:
                yield [line[:-1].split(" ") if line != "\n" else [] for line in islice(handle, size)]

    def join_phrases(self, layer: dict, tally: str) -> Tally | int:
        """The next generation of the token file: the phrases of ``layer`` joined."""
        joiner, counts = PhraseJoiner(layer), Tally(tally)
        old = self.path(f"tokens-{self.generation}")
        with self.path(f"tokens-{self.generation + 1}").open("w", encoding="utf-8", newline="\n") as self._out:
            for texts in self._chunks():
                joined = [joiner(tokens) for tokens in texts]
                self._write(joined)
                counts.add(joined)
        self.generation += 1
        old.unlink()
        return self._handover(counts)

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
    two messages wait per worker (bounded memory, unlike ``Pool.imap``)."""

    def __init__(self, shards: list[Shard]):
        self.shards = shards
        self.count = len(shards)
        self._local: list[deque] = [deque() for _ in shards]
        self._processes: list = []
        self.same_hash = True  # do str hashes agree between the shards' processes?

    def __enter__(self) -> Self:
        if self.count > 1:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            self.same_hash = context.get_start_method() == "fork"
            self._inboxes = [context.Queue(maxsize=2) for _ in self.shards]
            self._outboxes = [context.Queue() for _ in self.shards]
            self._processes = [
                context.Process(target=_serve, args=(shard, inbox, outbox), daemon=True)
                for shard, inbox, outbox in zip(self.shards, self._inboxes, self._outboxes, strict=True)
            ]
            for process in self._processes:
                process.start()
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
