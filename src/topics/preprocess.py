"""From a corpus to a prepared corpus folder: tokens, collocations, dictionary, bag-of-words.

``preprocess(corpus, config, out_dir)`` streams documents once through the token-stream steps of
``topics.tokenize`` in worker processes and writes their tokens to a temporary file on disk; every
later step (phrase passes, dictionary, outputs) streams that file again. Memory therefore grows
with the vocabulary, never with the number of documents' tokens.

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
import json
import logging
import multiprocessing
import os
import platform
import queue
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from importlib import metadata
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from .config import PreprocessConfig, sha256_json
from .errors import CorpusError
from .tokenize import (
    PIPELINE_VERSION,
    Pipeline,
    count_phrase_vocab,
    export_phrase_layer,
    import_phrase_layer,
    phrases_from_counts,
)

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
FILTER_DEFAULTS = {"no_below": 5, "no_above": 0.5, "keep_n": 100000}
PRETOKENISED_FILTER_DEFAULTS = {"no_below": 1, "no_above": 1.0, "keep_n": None}
PRETOKENISED_FORMATS = ("octis",)
CHUNK_DOCS = 128
EMPTY_LISTED = 1000
DOCUMENT_COLUMNS = ["id", "title", "date", "url", "source", "n_tokens", "label", "split"]
REQUIRED_FILES = (
    "prepared.json", "report.json", "vocabulary.txt", "term_frequency.npy", "document_frequency.npy",
    "corpus.mm", "tokens.npy", "offsets.npy", "is_test.npy", "documents.csv", "phrases.json",
)


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
    return sha256_json({"config": config.model_dump(mode="json"), "pipeline": PIPELINE_VERSION, "files": files})


# --- parallel passes: ordered, bounded, with per-worker tallies --------------------------------


class Tally:
    """What a pass counts besides its output: phrase counts for the next phrase layer, or
    document and collection frequencies for the dictionary. Each worker keeps its own tally
    over all its chunks and hands it over once, at the end (merging per chunk would cost the
    main process as much as the counting itself)."""

    def __init__(self, kind: str):
        self.kind = kind  # "phrases" or "dictionary"
        self.vocab: dict[str, int] = {}
        self.total_words = 0
        self.dfs: Counter[str] = Counter()
        self.cfs: Counter[str] = Counter()
        self.num_docs = 0

    def add(self, texts: list[list[str]]) -> None:
        if self.kind == "phrases":
            _, words = count_phrase_vocab(texts, self.vocab)
            self.total_words += words
        else:
            for tokens in texts:
                self.cfs.update(tokens)
                self.dfs.update(set(tokens))
            self.num_docs += len(texts)

    def merge(self, other: Tally) -> None:
        if self.kind == "phrases":
            get = self.vocab.get
            for key, value in other.vocab.items():
                self.vocab[key] = get(key, 0) + value
            self.total_words += other.total_words
        else:
            self.cfs.update(other.cfs)
            self.dfs.update(other.dfs)
            self.num_docs += other.num_docs


class TokenizeTask:
    """Worker task: (text, tokens or None) pairs -> token lists (pre-tokenised ones unchanged)."""

    def __init__(self, pipeline: Pipeline, tally: str):
        self.pipeline = pipeline
        self.tally = Tally(tally)

    def __call__(self, chunk: list[tuple[str, tuple[str, ...] | None]]) -> list[list[str]]:
        texts = [list(tokens) if tokens is not None else self.pipeline(text) for text, tokens in chunk]
        self.tally.add(texts)
        return texts


class PhraseTask:
    """Worker task: token lists -> token lists with the phrases of one layer joined."""

    def __init__(self, layer: dict, tally: str):
        self.layer = layer
        self.tally = Tally(tally)
        self._frozen = None

    def __call__(self, chunk: list[list[str]]) -> list[list[str]]:
        if self._frozen is None:
            self._frozen = import_phrase_layer(self.layer)
        texts = [self._frozen[tokens] for tokens in chunk]
        self.tally.add(texts)
        return texts


def _worker(task, inbox, outbox) -> None:
    try:
        while (chunk := inbox.get()) is not None:
            outbox.put(("ok", task(chunk)))
        outbox.put(("tally", task.tally))
    except BaseException as error:  # noqa: BLE001 - handed to the main process, which raises it
        outbox.put(("error", error))


def _receive(outbox, process) -> Any:
    while True:
        try:
            kind, value = outbox.get(timeout=1.0)
        except queue.Empty:
            if not process.is_alive():
                raise RuntimeError(f"preprocessing worker {process.pid} died (exit code {process.exitcode})") from None
            continue
        if kind == "error":
            raise value
        return value


def parallel_pass(task, chunks: Iterable[list], processes: int, consume: Callable[[list], None]) -> Tally:
    """Run ``task`` over ``chunks`` on ``processes`` worker processes; ``consume`` each result in
    input order; return the merged tallies.

    Chunk i goes to worker i mod n and results are collected in the same rotation, so order is
    kept without sorting; at most a few chunks per worker are in flight (bounded memory, unlike
    ``Pool.imap``, which queues the whole input).
    """
    if processes <= 1:
        for chunk in chunks:
            consume(task(chunk))
        return task.tally
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    inboxes = [context.Queue(maxsize=2) for _ in range(processes)]
    outboxes = [context.Queue() for _ in range(processes)]
    workers = [
        context.Process(target=_worker, args=(task, inbox, outbox), daemon=True)
        for inbox, outbox in zip(inboxes, outboxes, strict=True)
    ]
    for worker in workers:
        worker.start()
    try:
        sent = received = 0
        lag = 2 * processes
        for chunk in chunks:
            inboxes[sent % processes].put(chunk)
            sent += 1
            if sent - received > lag:
                consume(_receive(outboxes[received % processes], workers[received % processes]))
                received += 1
        while received < sent:
            consume(_receive(outboxes[received % processes], workers[received % processes]))
            received += 1
        for inbox in inboxes:
            inbox.put(None)
        tally = Tally(task.tally.kind)
        for outbox, worker in zip(outboxes, workers, strict=True):
            tally.merge(_receive(outbox, worker))
        for worker in workers:
            worker.join()
        return tally
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
                worker.join()


# --- token files: one document a line, tokens separated by one space --------------------------


class TokenFile:
    """A re-iterable stream of token lists stored on disk (tokens never contain whitespace)."""

    def __init__(self, path: Path):
        self.path = path

    def __iter__(self) -> Iterator[list[str]]:
        with self.path.open(encoding="utf-8", newline="\n") as handle:
            for line in handle:
                line = line[:-1]
                yield line.split(" ") if line else []


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


# --- the passes -------------------------------------------------------------------------------


def tokenize_documents(
    documents: Iterable,
    pipeline: Pipeline,
    tokens_path: Path,
    meta_path: Path,
    *,
    tally: str,
    processes: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, Tally]:
    """One pass over ``documents`` (a one-shot iterator is fine): tokens to ``tokens_path``,
    metadata to ``meta_path``. Returns the number of documents and the tally."""
    n_docs = 0

    with tokens_path.open("w", encoding="utf-8", newline="\n") as out, meta_path.open("w", encoding="utf-8", newline="") as meta:
        writer = csv.writer(meta)

        def chunks_of_texts() -> Iterator[list]:
            for chunk in _chunks(documents, CHUNK_DOCS):
                writer.writerows(_meta_row(doc) for doc in chunk)
                yield [(doc.text, doc.tokens) for doc in chunk]

        def consume(texts: list[list[str]]) -> None:
            nonlocal n_docs
            out.writelines(" ".join(tokens) + "\n" for tokens in texts)
            n_docs += len(texts)
            if progress is not None:
                progress(n_docs)

        totals = parallel_pass(TokenizeTask(pipeline, tally), chunks_of_texts(), processes, consume)
    return n_docs, totals


def _meta_row(doc) -> list[str]:
    date = doc.date.isoformat() if isinstance(doc.date, (dt.date, dt.datetime)) else (doc.date or "")
    return [doc.id, doc.title, date, doc.url, doc.source, doc.label, doc.split]


def apply_phrases(texts: Iterable[list[str]], layer: dict, out_path: Path, *, tally: str, processes: int) -> Tally:
    """Join the phrases of ``layer`` in every document of ``texts`` (one pass) into ``out_path``."""
    with out_path.open("w", encoding="utf-8", newline="\n") as out:

        def consume(joined: list[list[str]]) -> None:
            out.writelines(" ".join(tokens) + "\n" for tokens in joined)

        return parallel_pass(PhraseTask(layer, tally), _chunks(texts, CHUNK_DOCS * 4), processes, consume)


def dictionary_from_tally(tally: Tally):
    """A gensim Dictionary from document and collection frequencies; ids in alphabetical order,
    so the result does not depend on how the counting was split across processes."""
    from gensim.corpora import Dictionary

    dictionary = Dictionary()
    dictionary.token2id = {token: index for index, token in enumerate(sorted(tally.cfs))}
    dictionary.cfs = {dictionary.token2id[token]: count for token, count in tally.cfs.items()}
    dictionary.dfs = {dictionary.token2id[token]: count for token, count in tally.dfs.items()}
    dictionary.num_docs = tally.num_docs
    dictionary.num_pos = sum(tally.cfs.values())
    dictionary.num_nnz = sum(tally.dfs.values())
    return dictionary


def heldout_mask(n_docs: int, config: PreprocessConfig, own_splits: Iterable[str] | None) -> np.ndarray:
    """Bool per document: held out. Own splits (pre-tokenised input) win over ``heldout``."""
    if own_splits is not None:
        return np.fromiter((split == "test" for split in own_splits), dtype=bool, count=n_docs)
    mask = np.zeros(n_docs, dtype=bool)
    if config.heldout > 0:
        from sklearn.model_selection import train_test_split

        try:
            _, test = train_test_split(np.arange(n_docs), test_size=config.heldout, random_state=config.split_seed)
        except ValueError as error:
            raise CorpusError(f"[preprocess] heldout={config.heldout} cannot split {n_docs} documents ({error})") from None
        mask[test] = True
    return mask


def _npy_writer(path: Path, dtype: str, length: int):
    handle = path.open("wb")
    np.lib.format.write_array_header_1_0(handle, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": (length,)})
    return handle


def write_outputs(work: Path, texts: Iterable[list[str]], meta_path: Path, dictionary, is_test: np.ndarray) -> dict:
    """Token ids, bag-of-words, documents.csv: one pass over ``texts``. Returns empty-document facts."""
    from gensim.matutils import MmWriter

    token2id = dictionary.token2id
    n_docs = len(is_test)
    n_tokens = int(sum(dictionary.cfs.values()))
    empty: list[dict] = []
    n_empty = n_nnz = 0
    with (
        _npy_writer(work / "tokens.npy", "<i4", n_tokens) as tokens_out,
        _npy_writer(work / "offsets.npy", "<i8", n_docs + 1) as offsets_out,
        meta_path.open(encoding="utf-8", newline="") as meta_in,
        (work / "documents.csv").open("w", encoding="utf-8", newline="") as documents_out,
    ):
        writer = csv.writer(documents_out)
        writer.writerow(DOCUMENT_COLUMNS)
        np.zeros(1, dtype="<i8").tofile(offsets_out)
        offset = 0

        def bags() -> Iterator[list[tuple[int, int]]]:
            nonlocal offset, n_empty, n_nnz
            for index, (tokens, row) in enumerate(zip(texts, csv.reader(meta_in), strict=True)):
                ids = [token2id[token] for token in tokens if token in token2id]
                np.asarray(ids, dtype="<i4").tofile(tokens_out)
                offset += len(ids)
                np.asarray([offset], dtype="<i8").tofile(offsets_out)
                doc_id, title, date, url, source, label, _ = row
                split = "test" if is_test[index] else "train"
                writer.writerow([doc_id, title, date, url, source, len(ids), label, split])
                if not ids:
                    n_empty += 1
                    if len(empty) < EMPTY_LISTED:
                        empty.append({"id": doc_id, "source": source, "reason": "no tokens left after preprocessing"})
                bag = sorted(Counter(ids).items())
                n_nnz += len(bag)
                yield bag

        MmWriter.write_corpus(str(work / "corpus.mm"), bags(), progress_cnt=10**9, index=False, num_terms=len(dictionary))
    if offset != n_tokens:  # the dictionary's counts and the written ids must agree
        raise RuntimeError(f"wrote {offset} token ids, dictionary counts {n_tokens}")
    return {"num_nnz": n_nnz, "empty_documents": n_empty, "empty_documents_listed": empty}


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
    input_fingerprint = corpus.fingerprint()
    fingerprints = {"input": input_fingerprint, "config": config_fingerprint(resolved), "format_version": FORMAT_VERSION}
    fingerprint = sha256_json(fingerprints)

    reused = _existing(out_dir, fingerprint, force)
    if reused is not None:
        log.info("%s: reusing the prepared corpus (fingerprint %s)", out_dir, fingerprint[:12])
        return reused

    work = _make_work_dir(out_dir)
    try:
        facts = _prepare_into(work, corpus, resolved, pipeline, processes or os.cpu_count() or 1, progress)
        facts["seconds"] = round(time.perf_counter() - started, 3)
        _write_json(work / "report.json", facts)
        manifest = {
            "format_version": FORMAT_VERSION,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "preprocess": resolved.model_dump(mode="json"),
            "corpus": _corpus_description(corpus),
            "input_fingerprint": input_fingerprint,
            "config_fingerprint": fingerprints["config"],
            "pipeline_version": PIPELINE_VERSION,
            "fingerprint": fingerprint,
            "num_docs": facts["num_docs"],
            "num_terms": facts["vocabulary_size"],
            "num_tokens": facts["num_tokens"],
            "num_nnz": facts["num_nnz"],
            "versions": _versions(),
        }
        _write_json(work / "prepared.json", manifest)  # written last: marks the folder complete
        _move_into_place(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log.info("%s: prepared %d documents, %d words, %d tokens", out_dir, facts["num_docs"], facts["vocabulary_size"], facts["num_tokens"])
    return PreparedCorpus.load(out_dir)


def _prepare_into(work: Path, corpus, config: PreprocessConfig, pipeline: Pipeline, processes: int, progress) -> dict:
    scratch = work / ".scratch"
    scratch.mkdir()
    tokens_path, meta_path = scratch / "tokens-0.txt", scratch / "meta.csv"
    layers: list[dict] = []
    n_layers = {"none": 0, "bigrams": 1, "trigrams": 2}[config.phrases]

    log.info("tokenising with %d process(es)", processes)
    n_docs, tally = tokenize_documents(
        corpus, pipeline, tokens_path, meta_path, tally="phrases" if n_layers else "dictionary",
        processes=processes, progress=progress,
    )
    corpus_report = _corpus_report(corpus, n_docs)
    source = _corpus_description(corpus).get("source") or "corpus"
    if n_docs == 0:
        raise CorpusError(f"{source}: no documents to prepare ({len(corpus_report.get('skipped', []))} skipped; see the corpus report)")

    for layer_index in range(n_layers):
        frozen = phrases_from_counts(tally.vocab, tally.total_words, config.phrase_min_count, config.phrase_threshold)
        del tally
        layers.append(export_phrase_layer(frozen))
        log.info("phrase layer %d: %d phrases", layer_index + 1, len(frozen.phrasegrams))
        next_path = scratch / f"tokens-{layer_index + 1}.txt"
        tally = apply_phrases(
            TokenFile(tokens_path), layers[-1], next_path,
            tally="phrases" if layer_index + 1 < n_layers else "dictionary", processes=processes,
        )
        tokens_path.unlink()
        tokens_path = next_path

    texts = TokenFile(tokens_path)
    dictionary = dictionary_from_tally(tally)
    del tally
    words_before, tokens_before = len(dictionary), dictionary.num_pos
    if words_before == 0:
        raise CorpusError(
            f"{source}: no tokens left after tokenising {n_docs} documents; loosen [preprocess] stopwords, "
            f"min_token_length ({config.min_token_length}) or max_token_length ({config.max_token_length})"
        )
    dictionary.filter_extremes(no_below=config.no_below, no_above=config.no_above, keep_n=config.keep_n)
    dictionary.compactify()
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
    empties = write_outputs(work, texts, meta_path, dictionary, is_test)

    dictionary.save(str(work / "dictionary.gensim"))
    _write_vocabulary(work, dictionary)
    _write_json(work / "phrases.json", {"delimiter": "_", "layers": layers})
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
        "num_tokens_before_filtering": int(tokens_before),
        "num_tokens": int(sum(dictionary.cfs.values())),
        "phrases": [len(layer["phrasegrams"]) for layer in layers],
        "processes": processes,
    }


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


def _write_vocabulary(work: Path, dictionary) -> None:
    ids = range(len(dictionary))
    id2token = {index: token for token, index in dictionary.token2id.items()}
    with (work / "vocabulary.txt").open("w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(id2token[index] + "\n" for index in ids)
    np.save(work / "term_frequency.npy", np.array([dictionary.cfs[i] for i in ids], dtype=np.int64), allow_pickle=False)
    np.save(work / "document_frequency.npy", np.array([dictionary.dfs[i] for i in ids], dtype=np.int64), allow_pickle=False)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("topics", "gensim", "simplemma", "numpy", "scikit-learn", "pandas", "pydantic"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return versions


# --- the output folder ------------------------------------------------------------------------


def _existing(out_dir: Path, fingerprint: str, force: bool) -> PreparedCorpus | None:
    """The prepared corpus to reuse, or None to (re)compute; raise if ``out_dir`` holds something else."""
    if not out_dir.exists():
        return None
    if not out_dir.is_dir():
        raise CorpusError(f"{out_dir}: exists and is not a folder; choose another --out")
    if (out_dir / "prepared.json").is_file():
        try:
            existing = PreparedCorpus.load(out_dir)
        except CorpusError:
            existing = None
        if existing is not None and existing.fingerprint == fingerprint and not force:
            existing.reused = True
            return existing
        if force:
            return None
        raise CorpusError(
            f"{out_dir}: holds a different prepared corpus; choose another --out or pass force (--force) to replace it"
        )
    if any(out_dir.iterdir()) and not force:
        raise CorpusError(f"{out_dir}: is not empty and is not a prepared corpus; choose another --out or pass force (--force) to replace it")
    return None


def _make_work_dir(out_dir: Path) -> Path:
    work = out_dir.parent / f".{out_dir.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        work.mkdir()
    except OSError as error:
        raise CorpusError(f"{out_dir}: cannot write the prepared corpus there ({error.strerror or error}); choose another --out") from None
    return work


def _move_into_place(work: Path, out_dir: Path) -> None:
    """``os.replace`` the finished folder into place; an existing ``out_dir`` is moved aside first."""
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex[:12]}"
        os.replace(out_dir, old)
    try:
        os.replace(work, out_dir)
    except BaseException:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --- the prepared corpus ----------------------------------------------------------------------


class PreparedCorpus:
    """A prepared corpus folder. ``PreparedCorpus.load(path)``; data is read lazily and streamed."""

    def __init__(self, path: Path, manifest: dict, reused: bool = False):
        self.path = Path(path)
        self.manifest = manifest
        self.fingerprint: str = manifest["fingerprint"]
        self.config = PreprocessConfig.model_validate(manifest["preprocess"])
        self.reused = reused
        self.num_docs: int = manifest["num_docs"]
        self.num_terms: int = manifest["num_terms"]
        self.num_tokens: int = manifest["num_tokens"]

    def __repr__(self) -> str:
        return f"PreparedCorpus({str(self.path)!r}, num_docs={self.num_docs}, num_terms={self.num_terms})"

    @classmethod
    def load(cls, path: Path | str) -> PreparedCorpus:
        path = Path(path)
        again = "run `topics preprocess` again"
        try:
            manifest = json.loads((path / "prepared.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CorpusError(f"{path}: not a prepared corpus (no prepared.json); {again}") from None
        except (OSError, ValueError) as error:
            raise CorpusError(f"{path}/prepared.json: cannot be read ({error}); {again}") from None
        version = manifest.get("format_version") if isinstance(manifest, dict) else None
        if version != FORMAT_VERSION:
            raise CorpusError(f"{path}: prepared corpus format version {version!r}, expected {FORMAT_VERSION}; {again}")
        missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
        if missing:
            raise CorpusError(f"{path}: prepared corpus is incomplete (missing {', '.join(missing)}); {again}")
        try:
            return cls(path, manifest)
        except (KeyError, ValueError) as error:
            raise CorpusError(f"{path}/prepared.json: invalid ({error}); {again}") from None

    @cached_property
    def report(self) -> dict:
        return json.loads((self.path / "report.json").read_text(encoding="utf-8"))

    @cached_property
    def vocabulary(self) -> list[str]:
        with (self.path / "vocabulary.txt").open(encoding="utf-8", newline="\n") as handle:
            return [line[:-1] for line in handle]

    @cached_property
    def term_frequency(self) -> np.ndarray:
        return np.load(self.path / "term_frequency.npy", allow_pickle=False)

    @cached_property
    def document_frequency(self) -> np.ndarray:
        return np.load(self.path / "document_frequency.npy", allow_pickle=False)

    @cached_property
    def dictionary(self):
        """A gensim Dictionary rebuilt from the pickle-free files (same ids, dfs, cfs)."""
        from gensim.corpora import Dictionary

        dictionary = Dictionary()
        dictionary.token2id = {token: index for index, token in enumerate(self.vocabulary)}
        dictionary.dfs = dict(enumerate(self.document_frequency.tolist()))
        dictionary.cfs = dict(enumerate(self.term_frequency.tolist()))
        dictionary.num_docs = self.num_docs
        dictionary.num_pos = self.num_tokens
        dictionary.num_nnz = self.manifest["num_nnz"]
        return dictionary

    @cached_property
    def documents(self):
        import pandas as pd

        return pd.read_csv(
            self.path / "documents.csv", dtype={c: str for c in DOCUMENT_COLUMNS if c != "n_tokens"},
            keep_default_na=False, encoding="utf-8",
        )

    @cached_property
    def is_test(self) -> np.ndarray:
        return np.load(self.path / "is_test.npy", allow_pickle=False)

    def _indices(self, split: str | None) -> np.ndarray:
        if split is None:
            return np.arange(self.num_docs)
        if split not in ("train", "test"):
            raise CorpusError(f"split must be 'train', 'test' or None, got {split!r}")
        return np.flatnonzero(self.is_test if split == "test" else ~self.is_test)

    def token_ids(self, split: str | None = None) -> Iterator[np.ndarray]:
        """Token ids (int32 array) of each document, in order, from the memory-mapped tokens.npy."""
        tokens = np.load(self.path / "tokens.npy", mmap_mode="r", allow_pickle=False)
        offsets = np.load(self.path / "offsets.npy", mmap_mode="r", allow_pickle=False)
        for index in self._indices(split):
            yield np.asarray(tokens[offsets[index]:offsets[index + 1]])

    def bow(self, split: str | None = None) -> BagOfWords:
        """Re-iterable bag-of-words ``[(id, count), ...]`` per document (``[]`` for empty ones)."""
        return BagOfWords(self, split)

    def texts(self, split: str | None = None) -> Iterator[list[str]]:
        vocabulary = self.vocabulary
        for ids in self.token_ids(split):
            yield [vocabulary[i] for i in ids.tolist()]

    def doc_ids(self, split: str | None = None) -> Iterator[str]:
        ids = self.documents["id"].tolist()
        for index in self._indices(split):
            yield ids[index]

    @cached_property
    def _pipeline(self) -> tuple[Pipeline, list]:
        layers = json.loads((self.path / "phrases.json").read_text(encoding="utf-8"))["layers"]
        return Pipeline(self.config), [import_phrase_layer(layer) for layer in layers]

    def prepare_texts(self, texts: Iterable[str]) -> Iterator[list[str]]:
        """New raw texts through exactly this corpus's pipeline: tokeniser, stopwords, lemmas,
        phrase layers and dictionary, all loaded from the folder (nothing is refitted)."""
        pipeline, layers = self._pipeline
        vocabulary = set(self.vocabulary)
        for text in texts:
            tokens = pipeline(text)
            for layer in layers:
                tokens = layer[tokens]
            yield [token for token in tokens if token in vocabulary]


class BagOfWords:
    """Re-iterable gensim-style corpus over a prepared corpus (optionally one split)."""

    def __init__(self, prepared: PreparedCorpus, split: str | None):
        self.prepared = prepared
        self.split = split

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for ids in self.prepared.token_ids(self.split):
            if len(ids) == 0:
                yield []
                continue
            unique, counts = np.unique(ids, return_counts=True)
            yield list(zip(unique.tolist(), counts.tolist()))

    def __len__(self) -> int:
        return len(self.prepared._indices(self.split))
