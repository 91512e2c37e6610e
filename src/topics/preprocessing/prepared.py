"""A prepared corpus folder, as ``topics.preprocess`` writes it: loading and streaming its data.

``PreparedCorpus.load(path)`` checks the folder (format version, required files, each file's size
as recorded in ``prepared.json`` and the arrays' shapes against each other, so a truncated file is
one message naming it) and reads everything lazily: the vocabulary, frequencies and documents table when first asked for;
token ids, bag-of-words, texts and document ids streamed, read from the files a block at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from topics._files import NpyRows, sha256_file
from topics.config import PreprocessConfig
from topics.errors import CorpusError
from topics.preprocessing.phrases import import_phrase_layer
from topics.preprocessing.tokenize import Pipeline

FORMAT_VERSION = 1
#: empty documents listed by name in report.json (all are counted)
EMPTY_LISTED = 1000
DOCUMENT_COLUMNS = [
    "id",
    "title",
    "date",
    "url",
    "source",
    "n_tokens",
    "label",
    "split",
]
REQUIRED_FILES = (
    "prepared.json",
    "report.json",
    "vocabulary.txt",
    "term_frequency.npy",
    "document_frequency.npy",
    "tokens.npy",
    "offsets.npy",
    "is_test.npy",
    "documents.csv",
    "phrases.json",
)


# --- writing the folder -----------------------------------------------------------------------


def file_records(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every file of a prepared corpus folder but ``prepared.json``, which records them."""
    return {
        path.name: {"size": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(Path(folder).iterdir())
        if path.is_file() and path.name != "prepared.json"
    }


def write_vocabulary(work: Path, dictionary) -> None:
    ids = range(len(dictionary))
    id2token = {index: token for token, index in dictionary.token2id.items()}
    with (work / "vocabulary.txt").open("w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(id2token[index] + "\n" for index in ids)
    np.save(
        work / "term_frequency.npy",
        np.array([dictionary.cfs[i] for i in ids], dtype=np.int64),
        allow_pickle=False,
    )
    np.save(
        work / "document_frequency.npy",
        np.array([dictionary.dfs[i] for i in ids], dtype=np.int64),
        allow_pickle=False,
    )


def _has_prepared_marker(folder: Path) -> bool:
    """Whether ``folder/prepared.json`` is the manifest of a prepared corpus (the only folder `force` replaces)."""
    try:
        manifest = json.loads((folder / "prepared.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and {"format_version", "fingerprint", "preprocess"} <= manifest.keys()


def existing_prepared(out_dir: Path, fingerprint: Callable[[], str], force: bool) -> PreparedCorpus | None:
    """The prepared corpus to reuse, or None to (re)compute; raise if ``out_dir`` holds something else.

    ``fingerprint()`` (which may have to read the whole input) is called only when there is a
    prepared corpus to compare with."""
    if not out_dir.exists():
        return None
    if not out_dir.is_dir():
        raise CorpusError(f"{out_dir}: exists and is not a folder; choose another output folder")
    if (out_dir / "prepared.json").is_file():
        try:
            existing = PreparedCorpus.load(out_dir)
        except CorpusError:
            existing = None
        if existing is not None and not force and existing.fingerprint == fingerprint():
            existing.reused = True
            return existing
        if force and (existing is not None or _has_prepared_marker(out_dir)):
            return None
        if existing is None and not _has_prepared_marker(out_dir):
            raise CorpusError(f"{out_dir}: is not a prepared corpus of this package; choose another output folder")
        raise CorpusError(
            f"{out_dir}: holds a different prepared corpus; choose another output folder, or set `force` to "
            "replace it (the whole folder is deleted and prepared again)"
        )
    if any(out_dir.iterdir()):
        raise CorpusError(f"{out_dir}: is not empty and is not a prepared corpus; choose another output folder")
    return None


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
            corpus = cls(path, manifest)
        except (KeyError, ValueError) as error:
            raise CorpusError(f"{path}/prepared.json: invalid ({error}); {again}") from None
        corpus._check_files()
        return corpus

    def _check_files(self) -> None:
        """Cheap checks that no file is truncated or swapped: sizes as recorded at creation (folders
        prepared before sizes were recorded skip these), then the arrays' shapes against each other
        and the counts of ``prepared.json``. A CorpusError names the first file that fails."""
        again = "the file is truncated or was changed; run `topics preprocess` again"
        recorded = self.manifest.get("files")
        for name, record in (recorded if isinstance(recorded, dict) else {}).items():
            path = self.path / name
            size = path.stat().st_size if path.is_file() else None
            if size != record.get("size"):
                found = "missing" if size is None else f"{size} bytes"
                raise CorpusError(f"{path}: {found}, {record.get('size')} bytes when it was prepared; {again}")
        shapes = {name: _npy_shape(self.path / name, again) for name in NPY_FILES}
        expected = {
            "offsets.npy": self.num_docs + 1,
            "is_test.npy": self.num_docs,
            "term_frequency.npy": self.num_terms,
            "document_frequency.npy": self.num_terms,
        }
        for name, length in expected.items():
            if shapes[name] != (length,):
                raise CorpusError(f"{self.path / name}: shape {shapes[name]}, expected ({length},) from prepared.json; {again}")
        offsets = np.load(self.path / "offsets.npy", mmap_mode="r", allow_pickle=False)
        if shapes["tokens.npy"] != (int(offsets[-1]),) or int(offsets[0]) != 0:
            raise CorpusError(
                f"{self.path / 'tokens.npy'}: shape {shapes['tokens.npy']}, expected ({int(offsets[-1])},) "
                f"from offsets.npy; {again}"
            )
        with (self.path / "vocabulary.txt").open("rb") as handle:
            lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
        if lines != self.num_terms:
            raise CorpusError(
                f"{self.path / 'vocabulary.txt'}: {lines} words, expected {self.num_terms} from prepared.json; {again}"
            )

    def verify(self) -> None:
        """Check every file's SHA-256 against ``prepared.json`` (a full read of the folder; ``load``
        checks sizes and shapes only). A CorpusError names the first file that differs."""
        recorded = self.manifest.get("files")
        if not isinstance(recorded, dict):
            raise CorpusError(
                f"{self.path}/prepared.json: records no file hashes (an older prepared corpus); run `topics preprocess` again"
            )
        for name, record in recorded.items():
            path = self.path / name
            if not path.is_file() or sha256_file(path) != record.get("sha256"):
                raise CorpusError(f"{path}: does not match prepared.json; the file was changed, run `topics preprocess` again")

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
            self.path / "documents.csv",
            dtype={c: str for c in DOCUMENT_COLUMNS if c != "n_tokens"},
            keep_default_na=False,
            encoding="utf-8",
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

    def token_blocks(self, split: str | None = None, block_docs: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The documents of ``split`` (all by default), ``block_docs`` (default ``BOW_BLOCK_DOCS``) at a time, as ``(tokens,
        lengths)``: the token ids of the block's documents end to end and each one's length.

        tokens.npy is read a block at a time with a seek and a read (``NpyRows``), never through a
        memory map, whose touched pages would stay resident: a pass over a million articles would
        hold the whole file. A block's documents are read as one span of the file, from its first
        document to its last (the other split's documents in between are read and left out)."""
        block_docs = block_docs or BOW_BLOCK_DOCS
        offsets = np.load(self.path / "offsets.npy", allow_pickle=False)
        indices = self._indices(split)
        with NpyRows(self.path / "tokens.npy") as tokens:
            for first in range(0, len(indices), block_docs):
                block = indices[first : first + block_docs]
                starts, lengths = offsets[block], offsets[block + 1] - offsets[block]
                span_start = int(starts[0])
                span = tokens.read(span_start, int(offsets[block[-1] + 1]))
                if len(block) == int(block[-1]) - int(block[0]) + 1:  # consecutive documents: the span is the block
                    yield span, lengths
                    continue
                total = int(lengths.sum())
                within = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
                yield span[np.repeat(starts - span_start, lengths) + within], lengths

    def token_ids(self, split: str | None = None) -> Iterator[np.ndarray]:
        """Token ids (int32 array) of each document, in order (read a block at a time: ``token_blocks``)."""
        for tokens, lengths in self.token_blocks(split):
            bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
            for start, end in pairwise(bounds):
                yield tokens[start:end]

    def bow(self, split: str | None = None) -> BagOfWords:
        """Re-iterable bag-of-words ``[(id, count), ...]`` per document (``[]`` for empty ones)."""
        return BagOfWords(self, split)

    def texts(self, split: str | None = None) -> Iterator[list[str]]:
        vocabulary = self.vocabulary
        for ids in self.token_ids(split):
            yield [vocabulary[i] for i in ids.tolist()]

    def doc_ids(self, split: str | None = None) -> Iterator[str]:
        """The documents' ids, in order: documents.csv's ``id`` column read a block of rows at a time
        (the whole table, titles and URLs, is several times the size of the ids at a million articles)."""
        import pandas as pd

        if split not in (None, "train", "test"):
            self._indices(split)  # the error naming the splits
        selected = None if split is None else (self.is_test if split == "test" else ~self.is_test)
        first = 0
        for chunk in pd.read_csv(
            self.path / "documents.csv",
            usecols=["id"],
            dtype={"id": str},
            keep_default_na=False,
            encoding="utf-8",
            chunksize=DOC_ID_BLOCK_ROWS,
        ):
            ids = chunk["id"].tolist()
            if selected is None:
                yield from ids
            else:
                yield from (doc_id for doc_id, keep in zip(ids, selected[first : first + len(ids)].tolist()) if keep)
            first += len(ids)

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


NPY_FILES = ("tokens.npy", "offsets.npy", "is_test.npy", "term_frequency.npy", "document_frequency.npy")


def _npy_shape(path: Path, again: str) -> tuple[int, ...]:
    """The shape in a ``.npy`` header, after checking the file holds exactly the data it declares."""
    try:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(handle)
            header_end = handle.tell()
        size = path.stat().st_size
    except (OSError, ValueError, EOFError) as error:
        raise CorpusError(f"{path}: not a readable .npy file ({error}); {again}") from None
    expected = header_end + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if dtype.hasobject or size != expected:
        raise CorpusError(f"{path}: {size} bytes, its header declares {expected} ({shape} of {dtype}); {again}")
    return tuple(int(n) for n in shape)


#: documents read (and counted into bag-of-words) at once when streaming tokens
BOW_BLOCK_DOCS = 4096
#: rows of documents.csv parsed at once when streaming the documents' ids
DOC_ID_BLOCK_ROWS = 65536


class BagOfWords:
    """Re-iterable gensim-style corpus over a prepared corpus (optionally one split)."""

    def __init__(self, prepared: PreparedCorpus, split: str | None):
        self.prepared = prepared
        self.split = split

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        # Counted a block of documents at a time (one np.unique over (document, word) keys), not
        # per document: gensim iterates the corpus once a pass, and per-document calls cost more
        # than the E-step on short documents. Ids sorted within a document, as np.unique gives them.
        num_terms = max(self.prepared.num_terms, 1)
        for tokens, lengths in self.prepared.token_blocks(self.split):
            if len(tokens) == 0:
                yield from ([] for _ in lengths)
                continue
            docs = np.repeat(np.arange(len(lengths)), lengths)
            keys, counts = np.unique(docs * num_terms + tokens.astype(np.int64), return_counts=True)
            bounds = np.searchsorted(keys, np.arange(len(lengths) + 1) * num_terms).tolist()
            words, counts_list = (keys % num_terms).tolist(), counts.tolist()
            for d in range(len(lengths)):
                a, b = bounds[d], bounds[d + 1]
                yield list(zip(words[a:b], counts_list[a:b]))

    def __len__(self) -> int:
        return len(self.prepared._indices(self.split))
