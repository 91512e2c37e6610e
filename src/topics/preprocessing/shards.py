"""The worker side of ``topics.preprocess``: a shard of the corpus per worker process.

The corpus is cut into chunks of ``CHUNK_DOCS`` documents, chunk i going to worker i mod n. A
``Shard`` keeps its chunks' tokens (as ids of its own vocabulary) in its own scratch file and runs every later pass over that
file (phrase layers, counting, token ids, bag-of-words), so memory grows with the vocabulary, never
with the corpus; what a pass counts is a tally (``topics.tallies``). ``Workers``
(``topics.preprocessing.workers``) runs the shards in processes, ``DaskWorkers``
(``topics.preprocessing.cluster``) on the workers of a Dask cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice, repeat
from pathlib import Path
from typing import BinaryIO, TextIO

import numpy as np

from topics._files import peak_rss_mb
from topics.preprocessing.boilerplate import BoilerplateCounts, Cleaner, boilerplate_rules, normalise_line
from topics.preprocessing.phrases import PHRASE_DELIMITER, PhraseJoiner, phrase_scores
from topics.preprocessing.repeated import LineSample
from topics.preprocessing.tallies import (
    DictionaryTally,
    PhraseTally,
    WordCounts,
    sorted_runs,
)
from topics.preprocessing.tokenize import Pipeline

CHUNK_DOCS = 128  # every chunk but the last has exactly this many documents


# --- shards: one worker's chunks, through every pass ------------------------------------------


class Shard:
    """Chunks ``index``, ``index + count``, ... of the corpus, held by one worker in its own
    scratch files: tokens, as ids of the shard's own vocabulary (per chunk, its documents' lengths
    then their ids, int32; ``vocabulary`` maps a token to its id, ``words`` an id to its token),
    and at the end the prepared corpus's token ids and document lengths, chunk after chunk.
    Tokens are strings only where phrases are counted and joined.

    The per-document boilerplate rules (``topics.preprocessing.boilerplate``) run here, before
    tokenising, in parallel. With the repeated-lines rule the first pass keeps each document's
    lines in a scratch file (``lines``), their token ids in another (``line-tokens``) and counts the lines on a sample; the
    token file is written by ``drop_repeated`` once the repeated lines are known."""

    _phrase_tally: PhraseTally | None  # set by ``end`` after a phrase pass

    def __init__(self, index: int, count: int, folder: Path, pipeline: Pipeline):
        self.index, self.count, self.folder, self.pipeline = (
            index,
            count,
            folder,
            pipeline,
        )
        self.chunk_sizes: list[int] = []
        self.generation = 0
        self._out: TextIO | None = None
        self._tally: PhraseTally | DictionaryTally | None = None
        self._tally_kind = "dictionary"
        rules = boilerplate_rules(pipeline.config)
        self.cleaner = Cleaner(pipeline.config) if any(rules.values()) else None
        self.repeated = rules["repeated"]
        self.boilerplate = BoilerplateCounts()
        self._sample: LineSample | None = None
        self._output_starts: list[list[int]] = []  # documents and token ids before each chunk's outputs
        self.vocabulary: dict[str, int] = {}  # token -> id, in first-seen order
        self.words: list[str] = []  # id -> token
        self._ids_out: BinaryIO | None = None

    def path(self, name: str) -> Path:
        return self.folder / f"{name}-{self.index}"

    def begin(self, tally: str) -> None:
        self._tally_kind = tally
        if self.repeated:
            self._out = self.path("lines").open("w", encoding="utf-8", newline="\n")
            self._ids_out = self.path("line-tokens").open("wb")
            self._sample = LineSample(self.pipeline.config.repeated_sample)
            return
        self._ids_out = self.path("tokens-0").open("wb")
        self._tally = PhraseTally() if tally == "phrases" else DictionaryTally()

    def tokenize(self, chunk: list[tuple[str, tuple[str, ...] | None]]) -> int:
        """(text, tokens or None) pairs -> token lists (pre-tokenised ones unchanged), appended."""
        first = (self.index + self.count * len(self.chunk_sizes)) * CHUNK_DOCS  # the chunk's first document
        if self.repeated:
            self._keep_lines(first, chunk)
        else:
            texts = [self._tokens(first + offset, text, tokens) for offset, (text, tokens) in enumerate(chunk)]
            assert self._tally is not None, "begin() first"
            self._add(self._tally, *self._write(texts))
        self.chunk_sizes.append(len(chunk))
        return len(chunk)

    def _tokens(self, index: int, text: str, tokens: tuple[str, ...] | None) -> list[int]:
        """A document's token ids."""
        if tokens is not None:
            return self._ids(tokens, index)
        if self.cleaner is None:
            return self.pipeline.token_ids(text, self.vocabulary, self.words)
        cleaned = self.cleaner(text)
        self.boilerplate.add(cleaned)
        self.boilerplate.check(index, cleaned.body_lines, cleaned.body_removed)
        return self.pipeline.token_ids("\n".join(cleaned.lines), self.vocabulary, self.words)

    def _ids(self, tokens: Iterable[str], document: int | None = None) -> list[int]:
        """Ids of ``tokens`` given as strings, new tokens added to the vocabulary (and checked to
        be strings, those of pre-tokenised ``document``)."""
        vocabulary, words = self.vocabulary, self.words
        ids = []
        for position, token in enumerate(tokens):
            known = vocabulary.get(token)
            if known is None:
                if not isinstance(token, str):
                    raise TypeError(f"document {document}: token {position} is {token!r}, not a string")
                known = vocabulary[token] = len(words)
                words.append(token)
            ids.append(known)
        return ids

    def _add(self, tally: PhraseTally | DictionaryTally, lengths: np.ndarray, ids: np.ndarray) -> None:
        if isinstance(tally, DictionaryTally):
            tally.add(lengths, ids, self.words)
        else:
            tally.add(self._texts(lengths, ids))

    def _texts(self, lengths: np.ndarray, ids: np.ndarray) -> list[list[str]]:
        """A chunk's documents as lists of token strings."""
        flat = iter(map(self.words.__getitem__, ids.tolist()))
        return [list(islice(flat, length)) for length in lengths.tolist()]

    def _keep_lines(self, first: int, chunk: list[tuple[str, tuple[str, ...] | None]]) -> None:
        """Per document: a line ``n<TAB>body lines<TAB>body lines removed`` and its ``n`` non-blank
        kept lines as they are; its token ids to ``line-tokens``; the lines counted in the sample
        (normalised only for the documents in it)."""
        assert self._out is not None and self._sample is not None and self.cleaner is not None, "begin() first"
        records, texts = [], []
        for offset, (text, tokens) in enumerate(chunk):
            if tokens is not None:
                records.append("0\t0\t0\n")  # no line to compare: never dropped
                texts.append(self._ids(tokens, first + offset))
                continue
            cleaned = self.cleaner(text)
            self.boilerplate.add(cleaned)
            lines = [line for line in cleaned.lines if line.strip()]  # (a blank line has no tokens)
            if self._sample.sampled(first + offset):
                self._sample.add(first + offset, {normalise_line(line) for line in lines})
            records.append(f"{len(lines)}\t{cleaned.body_lines}\t{cleaned.body_removed}\n")
            records.extend(line + "\n" for line in lines)
            texts.append(self.pipeline.token_ids("\n".join(lines), self.vocabulary, self.words))
        self._out.write("".join(records))
        self._write(texts)

    def end(self) -> WordCounts | dict | None:
        """Word counts (or nothing: phrase counts stay here); with the repeated-lines rule, this
        shard's ``LineSample`` counts instead, the token file waiting for ``drop_repeated``."""
        assert self._out is not None or self._ids_out is not None, "begin() first"
        for handle in (self._out, self._ids_out):
            if handle is not None:
                handle.close()
        self._out = self._ids_out = None
        if self.repeated:  # the caches stay: drop_repeated tokenises the documents that lose lines again
            assert self._sample is not None
            sample, self._sample = self._sample, None
            return sample.arrays()
        self.pipeline.forget()  # no later pass tokenises: room for the counts that come next
        assert self._tally is not None, "begin() first"
        tally, self._tally = self._tally, None
        return self._handover(tally)

    def drop_repeated(self, hashes: np.ndarray) -> WordCounts | None:
        """The token file from the ``line-tokens`` file, without the lines whose normalised hash is in
        ``hashes`` (a document that loses a line is tokenised again, from the caches, its kept
        lines read from the ``lines`` file); what
        ``end`` returns without the rule."""
        repeated = frozenset(hashes.tolist())
        tally = PhraseTally() if self._tally_kind == "phrases" else DictionaryTally()
        counts = self.boilerplate
        lines_path = self.path("lines")
        with (
            lines_path.open(encoding="utf-8", newline="\n") as handle,
            self.path("tokens-0").open("wb") as self._ids_out,
        ):
            for chunk, (lengths, ids) in enumerate(self._id_chunks("line-tokens")):
                first = (self.index + self.count * chunk) * CHUNK_DOCS
                retokenised: dict[int, list[int]] = {}  # offset in the chunk -> the document's ids without its repeated lines
                for offset in range(len(lengths)):
                    n_lines, body_lines, body_removed = map(int, next(handle).split("\t"))
                    lines = [line[:-1] for line in islice(handle, n_lines)]
                    normals = [normalise_line(line) for line in lines] if repeated else []
                    removed = [normal for normal in normals if hash(normal) in repeated]
                    if removed:
                        kept = (line for line, normal in zip(lines, normals, strict=True) if hash(normal) not in repeated)
                        retokenised[offset] = self.pipeline.token_ids("\n".join(kept), self.vocabulary, self.words)
                    counts.add_repeated(removed)
                    counts.check(first + offset, body_lines, body_removed + len(removed))
                if retokenised:
                    documents = np.split(ids, np.cumsum(lengths)[:-1])
                    for offset, tokens in retokenised.items():
                        documents[offset] = np.array(tokens, dtype=np.int32)
                    lengths = np.fromiter(map(len, documents), dtype=np.int32, count=len(documents))
                    ids = np.concatenate(documents)
                self._write_arrays(lengths, ids)
                self._add(tally, lengths, ids)
        lines_path.unlink()
        self.path("line-tokens").unlink()
        self.pipeline.forget()
        return self._handover(tally)

    def boilerplate_counts(self) -> BoilerplateCounts:
        return self.boilerplate

    def _handover(self, tally: PhraseTally | DictionaryTally) -> WordCounts | None:
        """Word counts go to the main process; phrase counts stay here (``phrase_count_files``)."""
        if isinstance(tally, PhraseTally):
            self._phrase_tally = tally
            return None
        return tally.counts()

    def phrase_count_files(self) -> list[Path]:
        """This shard's phrase counts in one file per shard (not through the pipe), part j holding
        the keys whose hash is j modulo the number of shards: ``keys`` (sorted), ``counts``, ``firsts``."""
        paths = []
        for part, (keys, counts, firsts) in enumerate(self._phrase_count_parts()):
            paths.append(self.folder / f"phrase-counts-{self.index}-{part}.npz")
            np.savez(paths[-1], keys=keys, counts=counts, firsts=firsts)
        return paths

    def phrase_count_arrays(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The parts of ``phrase_count_files`` as arrays, for a shard whose files no other shard can
        read (on another machine)."""
        return list(self._phrase_count_parts())

    def _phrase_count_parts(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        assert self._phrase_tally is not None, "a phrase pass first"
        keys, counts, firsts = self._phrase_tally.arrays()
        self._phrase_tally = None
        part_of = keys % self.count
        for part in range(self.count):
            mine = part_of == part
            yield keys[mine], counts[mine], firsts[mine]

    @staticmethod
    def merge_phrase_count_part(parts: Sequence[Path | tuple[np.ndarray, np.ndarray, np.ndarray]], min_count: int) -> tuple:
        """Sum one part's counts over every shard's ``phrase_count_files`` (``parts``, in shard
        order; or their arrays, ``phrase_count_arrays``). Returns the number of distinct keys; the
        plain words' hashes and counts; and for the candidates (keys with the delimiter counted
        more than ``min_count`` times: only those can score above a threshold > 0), their counts,
        a shard that has the key (chosen by its hash, so that the work is shared) and where the
        key first occurs in that shard."""
        columns: dict[str, list[np.ndarray]] = {
            "keys": [],
            "counts": [],
            "firsts": [],
            "sources": [],
        }
        for source, part in enumerate(parts):
            if isinstance(part, Path):
                with np.load(part, allow_pickle=False) as arrays:
                    for name in ("keys", "counts", "firsts"):
                        columns[name].append(arrays[name])
                part.unlink()
            else:
                for name, array in zip(("keys", "counts", "firsts"), part, strict=True):
                    columns[name].append(array)
            columns["sources"].append(np.full(len(columns["keys"][-1]), source, dtype=np.int32))
        keys, counts, firsts, sources = (np.concatenate(column) for column in columns.values())
        del columns
        if not len(keys):
            return 0, keys, counts, counts, sources, firsts
        order, starts = sorted_runs(keys)  # each file is sorted: a merge of runs
        merged = np.add.reduceat(counts[order], starts)
        unique_keys = keys[order[starts]]
        chosen = order[starts + (unique_keys >> 17) % np.diff(np.r_[starts, len(keys)])]  # not the bits of the part
        is_word = firsts[chosen] < 0
        candidate = ~is_word & (merged > min_count)
        return (
            len(starts),
            unique_keys[is_word],
            merged[is_word],
            merged[candidate],
            sources[chosen[candidate]],
            firsts[chosen[candidate]],
        )

    def phrases_among(
        self,
        places: np.ndarray,
        counts: np.ndarray,
        word_keys: np.ndarray,
        word_counts: np.ndarray,
        vocab_size: int,
        min_count: int,
        threshold: float,
    ) -> tuple[list[str], np.ndarray]:
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
            end = int(np.searchsorted(places, 2 * (tokens_before + len(flat))))
            for place in places[next_place:end].tolist():
                token = (place >> 1) - tokens_before
                strings.append(flat[token] if place & 1 else join(flat[token : token + 2]))
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
        keep = np.flatnonzero(scores > threshold).tolist()  # a word counted 0 times scores -inf
        keep.sort(key=strings.__getitem__)
        return [strings[index] for index in keep], scores[keep]

    def _write(self, documents: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """One chunk's documents' token ids to the current token file; returns their lengths and ids."""
        lengths = np.fromiter(map(len, documents), dtype=np.int32, count=len(documents))
        ids = np.fromiter(chain.from_iterable(documents), dtype=np.int32, count=int(lengths.sum()))
        self._write_arrays(lengths, ids)
        return lengths, ids

    def _write_arrays(self, lengths: np.ndarray, ids: np.ndarray) -> None:
        assert self._ids_out is not None, "begin() first"
        self._ids_out.write(lengths.astype("<i4", copy=False).tobytes())
        self._ids_out.write(ids.astype("<i4", copy=False).tobytes())

    def _id_chunks(self, name: str | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Per chunk of a token file (the current generation's by default): its documents' lengths and token ids."""
        with self.path(name or f"tokens-{self.generation}").open("rb") as handle:
            for size in self.chunk_sizes:
                lengths = np.frombuffer(handle.read(4 * size), dtype="<i4")
                yield lengths, np.frombuffer(handle.read(4 * int(lengths.sum())), dtype="<i4")

    def _chunks(self) -> Iterator[list[list[str]]]:
        for lengths, ids in self._id_chunks():
            yield self._texts(lengths, ids)

    def join_phrases(self, layer: dict, tally: str) -> WordCounts | None:
        """The next generation of the token file: the phrases of ``layer`` joined."""
        joiner = PhraseJoiner(layer)
        counts = PhraseTally() if tally == "phrases" else DictionaryTally()
        old = self.path(f"tokens-{self.generation}")
        with self.path(f"tokens-{self.generation + 1}").open("wb") as self._ids_out:
            for texts in self._chunks():
                joined = [joiner(tokens) for tokens in texts]
                lengths, ids = self._write([self._ids(tokens) for tokens in joined])
                if isinstance(counts, DictionaryTally):
                    counts.add(lengths, ids, self.words)
                else:
                    counts.add(joined)
        self.generation += 1
        old.unlink()
        return self._handover(counts)

    def peak_rss_mb(self) -> float | None:
        return peak_rss_mb()

    def write_token_files(self, token2id: dict[str, int]) -> list[tuple[int, int]]:
        """Token ids and document lengths of each chunk, to two files. Returns per chunk: documents, token ids."""
        output_ids = np.fromiter(map(token2id.get, self.words, repeat(-1)), dtype=np.int64, count=len(self.words))
        facts = []
        with self.path("ids").open("wb") as ids_out, self.path("lengths").open("wb") as lengths_out:
            for lengths, local_ids in self._id_chunks():
                ids = output_ids[local_ids]
                docs = np.repeat(np.arange(len(lengths)), lengths)
                keep = ids >= 0
                ids, docs = ids[keep], docs[keep]
                ids.astype("<i4").tofile(ids_out)
                np.bincount(docs, minlength=len(lengths)).astype("<i8").tofile(lengths_out)
                facts.append((len(lengths), len(ids)))
        self._output_starts = np.cumsum([(0, 0), *facts], axis=0).tolist()
        return facts

    def read_outputs(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """The token ids and document lengths that ``write_token_files`` wrote for this shard's
        chunks ``start`` to ``stop`` (excluded): how they reach a process that cannot read its files."""
        (docs_before, ids_before), (docs_until, ids_until) = self._output_starts[start], self._output_starts[stop]
        with self.path("ids").open("rb") as ids_in, self.path("lengths").open("rb") as lengths_in:
            ids_in.seek(4 * ids_before)
            lengths_in.seek(8 * docs_before)
            return (
                np.fromfile(ids_in, dtype="<i4", count=ids_until - ids_before),
                np.fromfile(lengths_in, dtype="<i8", count=docs_until - docs_before),
            )
