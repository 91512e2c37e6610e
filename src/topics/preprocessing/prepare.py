"""From a corpus to a prepared corpus folder: tokens, collocations, dictionary, bag-of-words.

``preprocess(corpus, config, out_dir)`` reads documents once, in the main process, and hands them
out in chunks to worker processes, chunk i to worker i mod n. Each worker keeps the tokens of its
chunks in its own scratch file and runs every later pass over that file (phrase layers, counting,
token ids, bag-of-words: ``topics.shards``; what is counted: ``topics.tallies``); the main process
only merges the workers' counts, learns the phrases and the dictionary, and concatenates the
workers' output files in chunk order.
Memory therefore grows with the vocabulary, never with the number of documents' tokens, and the
vocabulary-sized state is kept in arrays where it can be (phrase counts as 64-bit hashes, word
counts by position, the vocabulary filtered before the gensim Dictionary is built). What runs
here before, between and after the workers' passes is kept short (no gensim or scikit-learn import
before the workers start, the input hashed while they work, phrase counts merged and scored in
the workers): on 2 cores it is what limits the speed-up.

The folder (written atomically) holds::

    prepared.json        format version, resolved config, fingerprints, package versions
    report.json          documents read, skipped (and why), empty documents, sizes, seconds
    dictionary.gensim    gensim Dictionary.save (pickle); the same data pickle-free in:
    vocabulary.txt       one word a line, in id order
    term_frequency.npy   int64 per id: occurrences in the corpus
    document_frequency.npy  int64 per id: documents containing the word
    corpus.mm            bag-of-words of every document, in order (Matrix Market)
    tokens.npy, offsets.npy  token ids of document d: tokens[offsets[d]:offsets[d + 1]]
    is_test.npy          bool per document: held out
    documents.csv        id, title, date, url, source, n_tokens, label, split
    phrases.json         the phrase layers (gensim FrozenPhrases, pickle-free)

Decisions:

* Token ids follow gensim's own order: ``Dictionary(texts)`` numbers the new words of each document
  in sorted order, documents in corpus order, and ``filter_extremes`` keeps the relative order. So
  a gensim ``Dictionary`` built from ``prepared.texts()`` has exactly our ids, and a gensim model
  trained on it with the same seed starts from the same (per-id) random state as ours.
* The dictionary is learnt from all documents, train and test: held-out documents must be
  expressible in the model's vocabulary for perplexity, and the vocabulary uses no labels. The
  only thing test documents lend the training side is document frequencies, as in gensim's and
  OCTIS's usual practice.
* Documents left with no tokens after filtering stay in the corpus (their row in
  ``documents.csv`` has ``n_tokens`` 0 and their bag-of-words is ``[]``), so document indices
  always match the input; ``report.json`` counts them and lists them (first 1000).
"""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import importlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from topics._files import (
    batched,
    package_versions,
    peak_rss_mb,
    replace_folder,
    sha256_json,
    work_dir_beside,
    write_json,
)
from topics.config import PreprocessConfig
from topics.errors import CorpusError
from topics.preprocessing.phrases import phrase_layer
from topics.preprocessing.prepared import (
    DOCUMENT_COLUMNS,
    FORMAT_VERSION,
    REQUIRED_FILES,
    BagOfWords,
    PreparedCorpus,
    existing_prepared,
    npy_writer,
    write_vocabulary,
)
from topics.preprocessing.shards import CHUNK_DOCS, Shard, Workers
from topics.preprocessing.tallies import dictionary_from_counts
from topics.preprocessing.tokenize import PIPELINE_VERSION, Pipeline

__all__ = [
    "REQUIRED_FILES",
    "BagOfWords",
    "PreparedCorpus",
    "preprocess",
    "resolve_config",
]

log = logging.getLogger(__name__)

FILTER_DEFAULTS = {"no_below": 5, "no_above": 0.5, "keep_n": 100000}
PRETOKENISED_FILTER_DEFAULTS = {"no_below": 1, "no_above": 1.0, "keep_n": None}
PRETOKENISED_FORMATS = ("octis",)
EMPTY_LISTED = 1000


def resolve_config(config: PreprocessConfig, corpus_format: str | None) -> PreprocessConfig:
    """``config`` with format defaults filled in: filtering bounds, and no phrases for pre-tokenised input."""
    pretokenised = corpus_format in PRETOKENISED_FORMATS
    defaults = PRETOKENISED_FILTER_DEFAULTS if pretokenised else FILTER_DEFAULTS
    update: dict[str, Any] = {key: value for key, value in defaults.items() if getattr(config, key) is None}
    if pretokenised:
        update["phrases"] = "none"
    return config.model_copy(update=update)


def config_fingerprint(config: PreprocessConfig) -> str:
    """Resolved config + tokeniser version + the contents of stopword files."""
    files = {}
    for name in config.stopwords:
        path = Path(name)
        if path.is_file():
            files[name] = sha256_json(path.read_text(encoding="utf-8", errors="replace"))
    return sha256_json(
        {
            "config": config.model_dump(mode="json"),
            "pipeline": PIPELINE_VERSION,
            "files": files,
        }
    )


def learn_phrase_layer(workers: Workers, min_count: int, threshold: float) -> dict:
    """The next phrase layer (``tokenize.phrase_layer``) from the workers' phrase counts, merged
    without gathering them: gensim's ``Phrases(min_count, threshold).export_phrases()`` over all
    the workers' tokens.

    Each worker writes its keys' 64-bit hashes and counts as arrays, cut into one part per worker
    by hash; worker j sums part j over every worker and returns how many distinct keys it holds
    (gensim's ``len(vocab)``, part of every score), the plain words' counts and the candidates.
    Each worker then finds the strings of its share of the candidates in its own tokens and
    scores them; only the phrases come to this process, sorted, and are merged in order (one
    dict of them is built here, not several). Two different keys with the same 64-bit
    hash would count as one: for a million keys the chance is about 1 in 30 million.
    """
    paths = workers.all("phrase_count_files")
    for part in range(workers.count):
        workers.send(
            part,
            "merge_phrase_count_part",
            [shard_paths[part] for shard_paths in paths],
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
    workers: Workers,
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


def write_outputs(work: Path, workers: Workers, meta_path: Path, dictionary, is_test: np.ndarray) -> dict:
    """Token ids, bag-of-words, documents.csv: the workers write their chunks, the main process
    concatenates them in chunk order. Returns empty-document facts."""
    facts = workers.all("write_outputs", dictionary.token2id)
    n_docs, n_chunks, n_tokens = (
        len(is_test),
        sum(map(len, facts)),
        sum(dictionary.cfs.values()),
    )
    n_nnz = sum(chunk[2] for shard in facts for chunk in shard)
    empty: list[dict] = []
    n_empty = offset = 0
    with ExitStack() as files:
        ids_in, lengths_in, mm_in = (
            [files.enter_context(shard.path(name).open("rb")) for shard in workers.shards] for name in ("ids", "lengths", "mm")
        )
        tokens_out = files.enter_context(npy_writer(work / "tokens.npy", "<i4", n_tokens))
        offsets_out = files.enter_context(npy_writer(work / "offsets.npy", "<i8", n_docs + 1))
        mm_out = files.enter_context((work / "corpus.mm").open("wb"))
        meta = csv.reader(files.enter_context(meta_path.open(encoding="utf-8", newline="")))
        writer = csv.writer(files.enter_context((work / "documents.csv").open("w", encoding="utf-8", newline="")))
        writer.writerow(DOCUMENT_COLUMNS)
        # gensim's MmWriter header: the sizes line padded to 50 characters
        mm_out.write(b"%%MatrixMarket matrix coordinate real general\n")
        mm_out.write(f"{n_docs} {len(dictionary)} {n_nnz}".ljust(50).encode("ascii") + b"\n")
        np.zeros(1, dtype="<i8").tofile(offsets_out)
        index = 0
        for chunk in range(n_chunks):
            shard = chunk % workers.count
            docs, n_ids, _, n_bytes = facts[shard][chunk // workers.count]
            tokens_out.write(ids_in[shard].read(4 * n_ids))
            mm_out.write(mm_in[shard].read(n_bytes))
            lengths = np.frombuffer(lengths_in[shard].read(8 * docs), dtype="<i8")
            (offset + np.cumsum(lengths)).astype("<i8").tofile(offsets_out)
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


# --- the entry point --------------------------------------------------------------------------


def preprocess(
    corpus,
    config: PreprocessConfig,
    out_dir: Path,
    *,
    processes: int | None = None,
    progress: Callable[[int], None] | None = None,
    force: bool = False,
) -> PreparedCorpus:
    """Prepare ``corpus`` (re-iterable Documents with ``.report``, ``.fingerprint()``, ``.format``)
    into the folder ``out_dir``; reuse it if it already holds this corpus with this config.

    ``processes``: worker processes for tokenising (default: all cores). ``progress(n)`` is called
    with the number of documents tokenised so far. ``force`` replaces a folder holding anything else.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    if iter(corpus) is corpus:
        raise CorpusError("preprocess needs a re-iterable corpus (e.g. topics.read_corpus), got a one-shot iterator")
    corpus_format = getattr(corpus, "format", None)
    resolved = resolve_config(config, corpus_format)
    pipeline = Pipeline(resolved)  # checks stopword lists and languages before any work
    # The input is hashed in a thread: waited for at once when there is a folder to compare with,
    # otherwise while the workers tokenise (hashing first would add its time to the run).
    hashing = ThreadPoolExecutor(max_workers=1)
    input_fingerprint = hashing.submit(corpus.fingerprint)
    hashing.shutdown(wait=False)  # its one thread ends with that task
    config_hash = config_fingerprint(resolved)

    def fingerprint() -> str:
        return sha256_json(
            {
                "input": input_fingerprint.result(),
                "config": config_hash,
                "format_version": FORMAT_VERSION,
            }
        )

    reused = existing_prepared(out_dir, fingerprint, force)
    if reused is not None:
        log.info(
            "%s: reusing the prepared corpus (fingerprint %s)",
            out_dir,
            reused.fingerprint[:12],
        )
        return reused

    try:
        work = work_dir_beside(out_dir)
    except OSError as error:
        raise CorpusError(
            f"{out_dir}: cannot write the prepared corpus there ({error.strerror or error}); choose another output folder"
        ) from None
    try:
        facts = _prepare_into(work, corpus, resolved, pipeline, processes or os.cpu_count() or 1, progress)
        facts["seconds"] = round(time.perf_counter() - started, 3)
        write_json(work / "report.json", facts)
        manifest = {
            "format_version": FORMAT_VERSION,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "preprocess": resolved.model_dump(mode="json"),
            "corpus": _corpus_description(corpus),
            "input_fingerprint": input_fingerprint.result(),
            "config_fingerprint": config_hash,
            "pipeline_version": PIPELINE_VERSION,
            "fingerprint": fingerprint(),
            "num_docs": facts["num_docs"],
            "num_terms": facts["vocabulary_size"],
            "num_tokens": facts["num_tokens"],
            "num_nnz": facts["num_nnz"],
            "versions": package_versions(),
        }
        write_json(work / "prepared.json", manifest)  # written last: marks the folder complete
        replace_folder(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log.info(
        "%s: prepared %d documents, %d words, %d tokens",
        out_dir,
        facts["num_docs"],
        facts["vocabulary_size"],
        facts["num_tokens"],
    )
    return PreparedCorpus.load(out_dir)


def _prepare_into(
    work: Path,
    corpus,
    config: PreprocessConfig,
    pipeline: Pipeline,
    processes: int,
    progress,
) -> dict:
    scratch = work / ".scratch"
    scratch.mkdir()
    meta_path = scratch / "meta.csv"
    phrase_counts: list[int] = []  # the layers themselves wait in scratch files, out of memory
    n_layers = {"none": 0, "bigrams": 1, "trigrams": 2}[config.phrases]
    source = _corpus_description(corpus).get("source") or "corpus"

    log.info("tokenising with %d process(es)", processes)
    with Workers([Shard(index, processes, scratch, pipeline) for index in range(processes)]) as workers:
        # gensim is needed next in this process and not in the workers: load it while they tokenise
        loading_gensim = threading.Thread(target=importlib.import_module, args=("gensim.corpora",), daemon=True)
        loading_gensim.start()
        n_docs, tallies = tokenize_documents(
            corpus,
            workers,
            meta_path,
            tally="phrases" if n_layers else "dictionary",
            progress=progress,
        )
        loading_gensim.join()  # two threads importing gensim at once can see it half initialised
        corpus_report = _corpus_report(corpus, n_docs)
        if n_docs == 0:
            raise CorpusError(
                f"{source}: no documents to prepare ({len(corpus_report.get('skipped', []))} skipped; see the corpus report)"
            )
        log.debug("tokenised %d documents", n_docs)
        for layer_index in range(n_layers):
            layer = learn_phrase_layer(workers, config.phrase_min_count, config.phrase_threshold)
            phrase_counts.append(len(layer["phrasegrams"]))
            log.info("phrase layer %d: %d phrases", layer_index + 1, phrase_counts[-1])
            write_json(scratch / f"phrase-layer-{layer_index}.json", layer)
            tallies = workers.all(
                "join_phrases",
                layer,
                "phrases" if layer_index + 1 < n_layers else "dictionary",
            )
            del layer
        log.debug("phrases joined")
        dictionary, words_before = dictionary_from_counts(tallies, config)
        del tallies
        log.debug(
            "dictionary of %d words (%d before filtering)",
            len(dictionary),
            words_before,
        )
        if words_before == 0:
            raise CorpusError(
                f"{source}: no tokens left after tokenising {n_docs} documents; loosen [preprocess] stopwords, "
                f"min_token_length ({config.min_token_length}) or max_token_length ({config.max_token_length})"
            )
        if len(dictionary) == 0:
            raise CorpusError(
                f"{source}: no words left after vocabulary filtering of {words_before} words; loosen [preprocess] "
                f"no_below ({config.no_below}), no_above ({config.no_above}) or keep_n ({config.keep_n})"
            )

        pretokenised = getattr(corpus, "format", None) in PRETOKENISED_FORMATS
        with meta_path.open(encoding="utf-8", newline="") as meta:
            own_splits = (row[6] for row in csv.reader(meta)) if pretokenised else None
            is_test = heldout_mask(n_docs, config, own_splits)
        np.save(work / "is_test.npy", is_test, allow_pickle=False)
        empties = write_outputs(work, workers, meta_path, dictionary, is_test)
        log.debug("outputs written")
        peak_memory = {
            "main": peak_rss_mb(),
            "workers": workers.all("peak_rss_mb") if processes > 1 else [],
        }

    dictionary.save(str(work / "dictionary.gensim"))
    write_vocabulary(work, dictionary)
    write_phrases(
        work / "phrases.json",
        [scratch / f"phrase-layer-{index}.json" for index in range(n_layers)],
    )
    shutil.rmtree(scratch)

    warnings = dict(corpus_report.get("warnings", {}))
    if pretokenised and config.heldout > 0:
        warnings["heldout ignored: pre-tokenised input keeps its own train/test split"] = 1
    if empties["empty_documents"]:
        warnings["documents with no tokens after preprocessing (kept, bag-of-words [])"] = empties["empty_documents"]
    return {
        "documents_read": corpus_report.get("documents_read", n_docs),
        "skipped": corpus_report.get("skipped", []),
        "skipped_by_reason": corpus_report.get("skipped_by_reason", {}),
        "warnings": warnings,
        "num_docs": n_docs,
        "num_test_docs": int(is_test.sum()),
        **empties,
        "vocabulary_size_before_filtering": words_before,
        "vocabulary_size": len(dictionary),
        "num_tokens_before_filtering": dictionary.num_pos,
        "num_tokens": int(sum(dictionary.cfs.values())),
        "phrases": phrase_counts,
        "processes": processes,
        "peak_memory_mb": peak_memory,
    }


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


def _corpus_report(corpus, n_docs: int) -> dict:
    report = getattr(corpus, "report", None)
    if report is None:
        return {"documents_read": n_docs}
    return report.to_dict() if hasattr(report, "to_dict") else dict(report)


def _corpus_description(corpus) -> dict:
    description: dict[str, Any] = {"format": getattr(corpus, "format", None)}
    config = getattr(corpus, "config", None)
    if config is not None and hasattr(config, "model_dump"):
        description["config"] = config.model_dump(mode="json")
        description["source"] = getattr(config, "source", None)
    return description
