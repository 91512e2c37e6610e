"""From a corpus to a prepared corpus folder: tokens, collocations, dictionary, bag-of-words.

``preprocess(corpus, config, out_dir)`` reads documents once, in the main process, and hands them
out in chunks to worker processes, chunk i to worker i mod n. Each worker keeps the tokens of its
chunks in its own scratch file and runs every later pass over that file (phrase layers, counting,
token ids, bag-of-words: ``topics.shards``; what is counted: ``topics.tallies``); the main process
only merges the workers' counts, learns the phrases and the dictionary, and concatenates the
workers' output files in chunk order. With ``executor="dask"`` the shards are Dask actors, one on each
worker of a cluster (``topics.preprocessing.cluster``), and the same passes give the same files.
Memory therefore grows with the vocabulary, never with the number of documents' tokens, and the
vocabulary-sized state is kept in arrays where it can be (phrase counts as 64-bit hashes, word
counts by position, the vocabulary filtered before the gensim Dictionary is built). What runs
here before, between and after the workers' passes is kept short (no gensim or scikit-learn import
before the workers start, the input hashed while they work, phrase counts merged and scored in
the workers): on 2 cores it is what limits the speed-up.

The folder (written atomically) holds::

    prepared.json        format version, resolved config, fingerprints, package versions
    report.json          documents read, skipped (and why), empty documents, sizes, seconds
    vocabulary.txt       one word a line, in id order
    term_frequency.npy   int64 per id: occurrences in the corpus
    document_frequency.npy  int64 per id: documents containing the word
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
import importlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np

from topics._files import (
    package_versions,
    peak_rss_mb,
    replace_folder,
    sha256_json,
    work_dir_beside,
    write_json,
)
from topics.config import PreprocessConfig
from topics.errors import ConfigError, CorpusError, unknown_name
from topics.preprocessing.cluster import dask_workers
from topics.preprocessing.inputs import (
    PRETOKENISED_FORMATS,
    check_language,
    check_not_the_input,
    config_fingerprint,
    corpus_description,
    phrase_blocklist,
    phrase_list_layers,
    report_of_corpus,
    resolve_config,
)
from topics.preprocessing.passes import (
    ShardPool,
    assemble_outputs,
    collect_boilerplate,
    drop_repeated_lines,
    heldout_mask,
    learn_phrase_layer,
    tokenize_documents,
    write_phrases,
)
from topics.preprocessing.phrases import block_phrases
from topics.preprocessing.prepared import (
    FORMAT_VERSION,
    REQUIRED_FILES,
    BagOfWords,
    PreparedCorpus,
    existing_prepared,
    file_records,
    write_vocabulary,
)
from topics.preprocessing.shards import Shard
from topics.preprocessing.tallies import dictionary_from_counts
from topics.preprocessing.tokenize import PIPELINE_VERSION, Pipeline
from topics.preprocessing.workers import Workers

__all__ = [
    "REQUIRED_FILES",
    "BagOfWords",
    "PreparedCorpus",
    "preprocess",
    "resolve_config",
]

log = logging.getLogger(__name__)

#: where the shards run: worker processes on this machine, or the workers of a Dask cluster
EXECUTORS = ("local", "dask")

# --- the entry point --------------------------------------------------------------------------


def preprocess(
    corpus,
    config: PreprocessConfig,
    out_dir: Path,
    *,
    processes: int | None = None,
    progress: Callable[[int], None] | None = None,
    force: bool = False,
    executor: str = "local",
    scheduler: str | None = None,
) -> PreparedCorpus:
    """Clean, tokenise and count ``corpus`` into a prepared corpus folder (reused when it already
    holds this corpus with this config).

    Parameters
    ----------
    corpus : Corpus
        Re-iterable documents with ``.report``, ``.fingerprint()`` and ``.format`` (``topics.read_corpus``).
    config : PreprocessConfig
        Token steps, phrases and vocabulary filters.
    out_dir : path
        The folder to write, atomically (built beside, swapped in when complete).
    processes : int, optional
        Worker processes for tokenising; default: all cores. Outputs are identical for any number.
        With ``executor="dask"``: the LocalCluster's worker processes, or at most this many of
        the workers at ``scheduler``.
    progress : callable, optional
        Called with the number of documents tokenised so far.
    force : bool
        Replace a prepared corpus of other inputs or settings (never a folder that is not one).
    executor : str
        ``"local"``, worker processes on this machine, or ``"dask"``, one shard of the corpus on
        each worker of a Dask cluster (``topics.preprocessing.cluster``): the same files, byte for byte.
    scheduler : str, optional
        With ``executor="dask"``, the address of a running Dask scheduler; default a LocalCluster.

    Returns
    -------
    PreparedCorpus

    Examples
    --------
    >>> prepared = topics.preprocess(topics.read_corpus("sample:lee"), topics.PreprocessConfig(), "prepared/lee")  # doctest: +SKIP
    >>> prepared.num_docs, prepared.num_terms  # doctest: +SKIP
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    if executor not in EXECUTORS:
        raise ConfigError(unknown_name("executor", executor, EXECUTORS))
    if scheduler and executor != "dask":
        raise ConfigError("`scheduler` is the address of a Dask scheduler; it needs `executor` dask")
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

    check_not_the_input(corpus, out_dir)
    reused = existing_prepared(out_dir, fingerprint, force)
    if reused is not None:
        log.info(
            "%s: reusing the prepared corpus (fingerprint %s)",
            out_dir,
            reused.fingerprint[:12],
        )
        return reused
    check_language(corpus, resolved)

    try:
        work = work_dir_beside(out_dir)
    except OSError as error:
        raise CorpusError(
            f"{out_dir}: cannot write the prepared corpus there ({error.strerror or error}); choose another output folder"
        ) from None
    try:
        facts = _prepare_into(work, corpus, resolved, pipeline, processes, progress, executor, scheduler)
        facts["seconds"] = round(time.perf_counter() - started, 3)
        write_json(work / "report.json", facts)
        manifest = {
            "format_version": FORMAT_VERSION,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "preprocess": resolved.model_dump(mode="json"),
            "corpus": corpus_description(corpus),
            "input_fingerprint": input_fingerprint.result(),
            "config_fingerprint": config_hash,
            "pipeline_version": PIPELINE_VERSION,
            "fingerprint": fingerprint(),
            "num_docs": facts["num_docs"],
            "num_terms": facts["vocabulary_size"],
            "num_tokens": facts["num_tokens"],
            "num_nnz": facts["num_nnz"],
            "versions": package_versions(),
            "files": file_records(work),  # size and SHA-256 of each file: load checks the sizes
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
    processes: int | None,
    progress,
    executor: str,
    scheduler: str | None,
) -> dict:
    scratch = work / ".scratch"
    scratch.mkdir()
    meta_path = scratch / "meta.csv"
    phrase_counts: list[int] = []  # the layers themselves wait in scratch files, out of memory
    listed = phrase_list_layers(config, pipeline)  # None: the layers are learnt
    blocklist = phrase_blocklist(config, pipeline)
    blocked: list[int] = []  # learnt or listed phrases the blocklist removed, per layer
    n_layers = len(listed) if listed is not None else {"none": 0, "bigrams": 1, "trigrams": 2}[config.phrases]
    source = corpus_description(corpus).get("source") or "corpus"

    if executor == "dask":
        pool: AbstractContextManager[ShardPool] = dask_workers(pipeline, scheduler, processes)
    else:
        processes = processes or os.cpu_count() or 1
        log.info("tokenising with %d process(es)", processes)
        pool = Workers([Shard(index, processes, scratch, pipeline) for index in range(processes)])
    with pool as workers:
        # gensim is needed next in this process and not in the workers: load it while they tokenise
        loading_gensim = threading.Thread(target=importlib.import_module, args=("gensim.corpora",), daemon=True)
        loading_gensim.start()
        n_docs, tallies = tokenize_documents(
            corpus,
            workers,
            meta_path,
            tally="phrases" if n_layers and listed is None else "dictionary",
            progress=progress,
        )
        repeated: dict | None = None  # what the report says of the repeated lines' sample
        if config.boilerplate_repeated:
            tallies, repeated = drop_repeated_lines(workers, tallies, n_docs, config)
        boilerplate = collect_boilerplate(workers, config, repeated, meta_path)
        loading_gensim.join()  # two threads importing gensim at once can see it half initialised
        corpus_report = report_of_corpus(corpus, n_docs)
        if n_docs == 0:
            raise CorpusError(
                f"{source}: no documents to prepare ({len(corpus_report.get('skipped', []))} skipped; see the corpus report)"
            )
        log.debug("tokenised %d documents", n_docs)
        for layer_index in range(n_layers):
            if listed is None:
                layer = learn_phrase_layer(workers, config.phrase_min_count, config.phrase_threshold)
            else:
                layer = listed[layer_index]
            layer, removed = block_phrases(layer, blocklist)
            blocked.append(removed)
            phrase_counts.append(len(layer["phrasegrams"]))
            log.info("phrase layer %d: %d phrases", layer_index + 1, phrase_counts[-1])
            write_json(scratch / f"phrase-layer-{layer_index}.json", layer)
            tallies = workers.all(
                "join_phrases",
                layer,
                "phrases" if layer_index + 1 < n_layers and listed is None else "dictionary",
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
        empties = assemble_outputs(work, workers, meta_path, dictionary, is_test)
        log.debug("outputs written")
        peak_memory = {
            "main": peak_rss_mb(),
            "workers": workers.all("peak_rss_mb") if workers.count > 1 or not workers.shares_files else [],
        }

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
    if boilerplate["mostly_removed"]["documents"]:
        warnings["documents that lost more than half of their lines to boilerplate rules (see boilerplate.mostly_removed)"] = (
            boilerplate["mostly_removed"]["documents"]
        )
    return {
        "documents_read": corpus_report.get("documents_read", n_docs),
        "skipped": corpus_report.get("skipped", []),
        "skipped_by_reason": corpus_report.get("skipped_by_reason", {}),
        **{key: corpus_report[key] for key in ("inputs_seen", "input_unit", "encodings") if key in corpus_report},
        "warnings": warnings,
        "num_docs": n_docs,
        "num_test_docs": int(is_test.sum()),
        **empties,
        "vocabulary_size_before_filtering": words_before,
        "vocabulary_size": len(dictionary),
        "num_tokens_before_filtering": dictionary.num_pos,
        "num_tokens": int(sum(dictionary.cfs.values())),
        "phrases": phrase_counts,
        **({"phrases_blocked": blocked} if config.phrase_blocklist is not None else {}),
        "boilerplate": boilerplate,
        "executor": executor,
        "processes": workers.count,  # on Dask, the workers: one shard each
        "peak_memory_mb": peak_memory,
    }
