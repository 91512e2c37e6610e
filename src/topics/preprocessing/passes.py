"""The passes over the workers' shards that the main process drives: tokenising, learning phrase
layers, and assembling the workers' token files into the prepared folder."""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from itertools import islice
from pathlib import Path

import numpy as np

from topics._files import NpyRowWriter, batched
from topics.config import PreprocessConfig
from topics.errors import CorpusError
from topics.preprocessing.boilerplate import boilerplate_report, boilerplate_rules
from topics.preprocessing.cluster import DaskWorkers
from topics.preprocessing.phrases import phrase_layer
from topics.preprocessing.prepared import (
    DOCUMENT_COLUMNS,
    EMPTY_LISTED,
)
from topics.preprocessing.repeated import repeated_line_hashes
from topics.preprocessing.shards import CHUNK_DOCS
from topics.preprocessing.workers import Workers

ShardPool = Workers | DaskWorkers  # where the shards run: processes here, or Dask workers

log = logging.getLogger(__name__)


def learn_phrase_layer(workers: ShardPool, min_count: int, threshold: float) -> dict:
    """The next phrase layer (``tokenize.phrase_layer``) from the workers' phrase counts, merged
    without gathering them: gensim's ``Phrases(min_count, threshold).export_phrases()`` over all
    the workers' tokens.

    Each worker writes its keys' 64-bit hashes and counts as arrays, cut into one part per worker
    by hash (to files; on Dask, returned through this process); worker j sums part j over every
    worker and returns how many distinct keys it holds (gensim's ``len(vocab)``, part of every
    score), the plain words' counts and the candidates.
    Each worker then finds the strings of its share of the candidates in its own tokens and
    scores them; only the phrases come to this process, sorted, and are merged in order (one
    dict of them is built here, not several). Two different keys with the same 64-bit
    hash would count as one: for a million keys the chance is about 1 in 30 million.
    """
    parts = workers.all("phrase_count_files" if workers.shares_files else "phrase_count_arrays")
    for part in range(workers.count):
        workers.send(
            part,
            "merge_phrase_count_part",
            [shard_parts[part] for shard_parts in parts],
            min_count,
        )
    merged = [workers.receive(part) for part in range(workers.count)]
    vocab_size = sum(part[0] for part in merged)
    word_keys, word_counts, candidate_counts, finders, places = (
        np.concatenate(column) for column in list(zip(*merged, strict=True))[1:]
    )
    del merged
    order = np.argsort(word_keys)
    word_keys, word_counts = word_keys[order], word_counts[order]
    for index in range(workers.count):
        mine = np.flatnonzero(finders == index)
        mine = mine[np.argsort(places[mine])]
        workers.send(
            index,
            "phrases_among",
            places[mine],
            candidate_counts[mine],
            word_keys,
            word_counts,
            vocab_size,
            min_count,
            threshold,
        )
    found = [workers.receive(index) for index in range(workers.count)]  # each sorted, all disjoint
    log.debug(
        "merged phrase counts: %d keys, %d candidates",
        vocab_size,
        len(candidate_counts),
    )
    return phrase_layer(
        heapq.merge(*(zip(phrases, scores.tolist()) for phrases, scores in found)),
        threshold,
        min_count,
    )


# --- the passes -------------------------------------------------------------------------------


def tokenize_documents(
    documents: Iterable,
    workers: ShardPool,
    meta_path: Path,
    *,
    tally: str,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, list]:
    """One pass over ``documents`` (a one-shot iterator is fine): tokens to the workers' shards,
    metadata to ``meta_path``. Returns the number of documents and what each worker hands over at
    the end of the pass (``Shard.end``)."""
    n_docs = sent = received = 0
    workers.all("begin", tally)

    def receive() -> None:
        nonlocal n_docs, received
        n_docs += workers.receive(received % workers.count)
        received += 1
        if progress is not None:
            progress(n_docs)

    with meta_path.open("w", encoding="utf-8", newline="") as meta:
        writer = csv.writer(meta)
        for chunk in batched(documents, CHUNK_DOCS):
            writer.writerows(_meta_row(doc) for doc in chunk)
            workers.send(
                sent % workers.count,
                "tokenize",
                [(doc.text, doc.tokens) for doc in chunk],
            )
            sent += 1
            while sent - received > 2 * workers.count - 1:
                receive()
        while received < sent:
            receive()
    return n_docs, workers.all("end")


def drop_repeated_lines(workers: ShardPool, samples: list, n_docs: int, config: PreprocessConfig) -> tuple[list, dict]:
    """After a tokenising pass with the repeated-lines rule: the lines repeated in the workers'
    summed samples (``boilerplate.repeated_line_hashes``) dropped from their token files. Returns
    what each worker hands over at the end of the pass, and what the report says of the sample."""
    hashes, facts = repeated_line_hashes(samples, n_docs, config)
    log.debug(
        "%d repeated lines (in %d of %d sampled documents or more)",
        len(hashes),
        facts["min_documents_in_sample"],
        facts["sample_documents"],
    )
    return workers.all("drop_repeated", hashes), facts


def collect_boilerplate(workers: ShardPool, config: PreprocessConfig, repeated: dict | None, meta_path: Path) -> dict:
    """``report.json``'s ``boilerplate`` section: the workers' counts merged, the ids of the
    documents flagged read from ``meta_path`` by position."""

    def ids_of(positions: list[int]) -> list[str]:
        wanted, ids = iter(positions), []
        target = next(wanted, None)
        with meta_path.open(encoding="utf-8", newline="") as meta:
            for index, row in enumerate(csv.reader(meta)):
                if index == target:
                    ids.append(row[0])
                    target = next(wanted, None)
                    if target is None:
                        break
        return ids

    return boilerplate_report(workers.all("boilerplate_counts"), boilerplate_rules(config), repeated, ids_of)


def _meta_row(doc) -> list[str]:
    date = doc.date.isoformat() if isinstance(doc.date, (dt.date, dt.datetime)) else (doc.date or "")
    return [doc.id, doc.title, date, doc.url, doc.source, doc.label, doc.split]


def heldout_mask(n_docs: int, config: PreprocessConfig, own_splits: Iterable[str] | None) -> np.ndarray:
    """Bool per document: held out. Own splits (pre-tokenised input) win over ``heldout``."""
    if own_splits is not None:
        return np.fromiter((split == "test" for split in own_splits), dtype=bool, count=n_docs)
    mask = np.zeros(n_docs, dtype=bool)
    if config.heldout > 0:
        from sklearn.model_selection import train_test_split

        try:
            _, test = train_test_split(
                np.arange(n_docs),
                test_size=config.heldout,
                random_state=config.split_seed,
            )
        except ValueError as error:
            raise CorpusError(f"[preprocess] heldout={config.heldout} cannot split {n_docs} documents ({error})") from None
        mask[test] = True
    return mask


def assemble_outputs(work: Path, workers: ShardPool, meta_path: Path, dictionary, is_test: np.ndarray) -> dict:
    """Token ids, offsets and documents.csv: the workers write their chunks, the main process
    concatenates them in chunk order. Returns empty-document facts."""
    facts = workers.all("write_token_files", dictionary.token2id)
    n_docs, n_chunks, n_tokens = (
        len(is_test),
        sum(map(len, facts)),
        sum(dictionary.cfs.values()),
    )
    n_nnz = int(dictionary.num_nnz)  # a word counted once per document containing it: the bag-of-words' non-zeros
    empty: list[dict] = []
    n_empty = offset = 0
    with ExitStack() as files:
        outputs = shard_outputs(workers, facts, files)
        # Written in order through files, not memory maps: a map's written pages stay in this
        # process's resident memory until it is closed (215 MB of token ids at a million articles).
        tokens_out = files.enter_context(NpyRowWriter(work / "tokens.npy", (n_tokens,), "<i4"))
        offsets_out = files.enter_context(NpyRowWriter(work / "offsets.npy", (n_docs + 1,), "<i8"))
        meta = csv.reader(files.enter_context(meta_path.open(encoding="utf-8", newline="")))
        writer = csv.writer(files.enter_context((work / "documents.csv").open("w", encoding="utf-8", newline="")))
        writer.writerow(DOCUMENT_COLUMNS)
        offsets_out.write(np.zeros(1, dtype="<i8"))
        index = 0
        for chunk in range(n_chunks):
            shard = chunk % workers.count
            docs, n_ids = facts[shard][chunk // workers.count]
            ids, lengths = next(outputs[shard])
            if len(ids) != n_ids or len(lengths) != docs:
                raise RuntimeError(
                    f"shard {shard}: chunk {chunk} has {len(ids)} token ids of {len(lengths)} documents, not {n_ids} of {docs}"
                )
            tokens_out.write(ids)
            offsets_out.write(offset + np.cumsum(lengths))
            offset += int(lengths.sum())
            for length, (doc_id, title, date, url, source, label, _) in zip(lengths.tolist(), islice(meta, docs), strict=True):
                writer.writerow(
                    [
                        doc_id,
                        title,
                        date,
                        url,
                        source,
                        length,
                        label,
                        "test" if is_test[index] else "train",
                    ]
                )
                index += 1
                if not length:
                    n_empty += 1
                    if len(empty) < EMPTY_LISTED:
                        empty.append(
                            {
                                "id": doc_id,
                                "source": source,
                                "reason": "no tokens left after preprocessing",
                            }
                        )
    if offset != n_tokens or index != n_docs:  # the dictionary's counts and the ids written must agree
        raise RuntimeError(f"wrote {offset} token ids of {index} documents, dictionary counts {n_tokens}")
    return {
        "num_nnz": n_nnz,
        "empty_documents": n_empty,
        "empty_documents_listed": empty,
    }


#: bytes of token ids and document lengths fetched from a remote shard in one call
PIECE_BYTES = 8 << 20


def shard_outputs(workers: ShardPool, facts: list[list[tuple[int, int]]], files: ExitStack) -> list[Iterator[tuple]]:
    """Per shard, its chunks' token ids and document lengths in order (``write_token_files``):
    read from its files, or, when this process cannot read them, fetched from the shard in pieces
    of at most ``PIECE_BYTES`` (or one chunk), the next piece asked for while one is consumed."""

    def read(index: int) -> Iterator[tuple]:
        assert isinstance(workers, Workers)
        shard = workers.shards[index]
        ids_in, lengths_in = (files.enter_context(shard.path(name).open("rb")) for name in ("ids", "lengths"))
        for docs, n_ids in facts[index]:
            yield (
                np.frombuffer(ids_in.read(4 * n_ids), dtype="<i4"),
                np.frombuffer(lengths_in.read(8 * docs), dtype="<i8"),
            )

    def fetch(index: int) -> Iterator[tuple]:
        pieces, start, size = [], 0, 0
        for chunk, (docs, n_ids) in enumerate(facts[index]):
            if chunk > start and size + 4 * n_ids + 8 * docs > PIECE_BYTES:
                pieces.append((start, chunk))
                start, size = chunk, 0
            size += 4 * n_ids + 8 * docs
        pieces.append((start, len(facts[index])))
        for piece in pieces[:2]:
            workers.send(index, "read_outputs", *piece)
        for number, (start, stop) in enumerate(pieces):
            ids, lengths = workers.receive(index)
            if number + 2 < len(pieces):
                workers.send(index, "read_outputs", *pieces[number + 2])
            doc_ends, id_ends = np.cumsum([(0, 0), *facts[index][start:stop]], axis=0).T.tolist()
            for chunk in range(stop - start):
                yield ids[id_ends[chunk] : id_ends[chunk + 1]], lengths[doc_ends[chunk] : doc_ends[chunk + 1]]

    return [(read if workers.shares_files else fetch)(index) for index in range(workers.count)]


def write_phrases(path: Path, layer_paths: list[Path]) -> None:
    """``phrases.json``, ``{"delimiter": "_", "layers": [...]}`` as ``write_json`` writes it, from
    layers that ``write_json`` wrote to files: their lines copied in, indented two levels deeper,
    so that no layer (100,000 phrases or more) is parsed and encoded again in memory."""
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write('{\n  "delimiter": "_",\n  "layers": [')
        for index, layer_path in enumerate(layer_paths):
            out.write(",\n" if index else "\n")
            with layer_path.open(encoding="utf-8", newline="\n") as lines:
                out.write("\n".join("    " + line.removesuffix("\n") for line in lines))
        out.write("\n  ]\n}\n" if layer_paths else "]\n}\n")
