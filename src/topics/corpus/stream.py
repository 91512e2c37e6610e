"""Reading corpora: documents streamed one at a time from disk, whatever the format.

A ``Corpus`` is re-iterable: each iteration reads from disk again, and records what it skipped
(and why) in ``corpus.report``. Readers live in the ``READERS`` table, keyed by format name;
each takes ``(path, config, warnings)`` and yields ``Document`` or ``Skipped`` items.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from topics.config import CorpusConfig, validate
from topics.corpus.articles import parse_date
from topics.corpus.decoding import iter_files, printable, shown
from topics.corpus.documents import CorpusReport, Document, Skipped
from topics.corpus.readers import FILE_FORMATS, FOLDER_FORMATS, READERS, sample_path
from topics.corpus.seen import DigestTable, string_digest
from topics.errors import ConfigError, CorpusError, unknown_name

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- detection and the Corpus


def _looks_like_article(file: Path) -> bool:
    """Whether a file starts with ``# Title`` and then has a date line or ends with ``Original url:``."""
    try:
        with file.open("rb") as handle:
            head = handle.read(4096)
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - 4096))
            tail = handle.read()
    except OSError:
        return False  # reading it again will skip it with the reason
    lines = [line.strip() for line in head.decode("utf-8", errors="replace").splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        return False
    return (len(lines) > 1 and parse_date(lines[1]) is not None) or b"original url:" in tail.lower()


def detect_format(path: str | Path) -> str:
    """The format of a source: ``sample:NAME`` → sample; a folder with ``corpus.tsv`` and ``vocabulary.txt``
    → octis; a folder whose first ``.txt`` file looks like an article → articles; another folder → text;
    ``.jsonl`` → jsonl; ``.csv`` → csv; another file → lines. Reads at most the head and tail of one file.
    """
    if str(path).startswith("sample:"):
        return "sample"
    path = Path(path)
    if path.is_dir():
        if (path / "corpus.tsv").is_file() and (path / "vocabulary.txt").is_file():
            return "octis"
        first = next(iter_files(path, ".txt"), None)
        return "articles" if first is not None and _looks_like_article(first) else "text"
    suffix = path.suffix.lower()
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(suffix, "lines")


class Corpus:
    """A re-iterable stream of Documents read from ``config.source``.

    Each iteration reads from disk again and refills ``report`` (a CorpusReport). Construction only
    checks that the source exists and resolves ``format``.
    """

    def __init__(self, config: CorpusConfig) -> None:
        self.config = config
        source = config.source
        if source.startswith("sample:"):
            self.path = sample_path(source.removeprefix("sample:"))
        else:
            self.path = Path(source).expanduser()
            if not self.path.exists():
                raise CorpusError(f"{source}: no such file or folder; give a corpus folder or file, or sample:lee")
            if not self.path.is_dir() and not self.path.is_file():
                raise CorpusError(
                    f"{source}: not a regular file or a folder (a FIFO, socket or device); give a corpus folder or file"
                )
        if config.format is not None and config.format not in READERS:
            raise ConfigError(unknown_name("corpus format", config.format, list(READERS)))
        self.format: str = config.format or detect_format(source)
        if self.format == "sample" and not source.startswith("sample:"):
            raise CorpusError(f"{source}: format 'sample' needs a source like sample:lee")
        if self.format in FOLDER_FORMATS and not self.path.is_dir():
            raise CorpusError(
                f"{source}: format {self.format!r} reads a folder, but this is a file; set format to one of {', '.join(FILE_FORMATS)}"
            )
        if self.format in FILE_FORMATS + ("sample",) and not self.path.is_file():
            raise CorpusError(
                f"{source}: format {self.format!r} reads a file, but this is a folder; set format to one of {', '.join(FOLDER_FORMATS)}"
            )
        if self.format == "octis" and not (self.path / "corpus.tsv").is_file():
            raise CorpusError(f"{source}: no corpus.tsv; an OCTIS folder holds corpus.tsv and vocabulary.txt")
        self.report = CorpusReport()

    def __repr__(self) -> str:
        return f"Corpus({self.config.source!r}, format={self.format!r})"

    def __iter__(self) -> Iterator[Document]:
        report = self.report = CorpusReport()
        # What came before, in compact tables (topics.corpus.seen): texts and urls by 64-bit digests,
        # which only count warnings (for a million documents a false "same text" is about 1 in 37
        # million); ids by 96-bit digests, since a repeated id renames a document (about 1 in 10^17).
        seen_texts = DigestTable(key_size=8)
        url_texts = DigestTable(key_size=8, value_size=8)  # url -> the text first seen with it
        seen_ids = DigestTable(key_size=12)
        # sources are shown relative to this prefix when an id is made unique
        prefix = shown(self.path if self.path.is_dir() else self.path.parent) + os.sep
        for item in READERS[self.format](self.path, self.config, report):
            if isinstance(item, Skipped):
                log.warning("%s: %s; skipped", printable(item.source), printable(item.reason))
                report.skipped.append(item)
                continue
            # Repeated texts that differ in other fields (an article at two urls, a repeated line of
            # a benchmark corpus) are kept, but counted.
            text_hash = string_digest(item.text)
            if seen_texts.setdefault(text_hash) is not None:
                report.warnings["same text as an earlier document"] += 1
            if item.url:
                first_text = url_texts.setdefault(string_digest(item.url), text_hash)
                if first_text is not None and first_text != text_hash:
                    log.warning(
                        "%s: same url as an earlier document (%s), different text",
                        printable(item.source),
                        printable(item.url),
                    )
                    report.warnings["same url as an earlier document, different text"] += 1
            if seen_ids.setdefault(string_digest(item.id, 12)) is not None:
                # ids are unique in a prepared corpus: a repeated one gets the document's relative source
                relative, n = item.source.removeprefix(prefix), 1
                while True:
                    unique = f"{item.id}@{relative}" + (f"#{n}" if n > 1 else "")
                    n += 1
                    if seen_ids.setdefault(string_digest(unique, 12)) is None:
                        break
                log.warning("%s: id %r repeated; read as %r", printable(item.source), printable(item.id), printable(unique))
                report.warnings["repeated id, made unique with the source (id@source)"] += 1
                item = dataclasses.replace(item, id=unique)
            report.documents_read += 1
            yield item
        for warning, count in sorted(report.warnings.items()):
            log.warning("%s: %s: %d documents", printable(self.config.source), printable(warning), count)
        log.info(
            "%s: %d documents read, %d skipped",
            self.config.source,
            report.documents_read,
            len(report.skipped),
        )

    def input_files(self) -> Iterator[tuple[str, Path]]:
        """The files this corpus reads, as ``(relative name, path)`` in reading order."""
        if self.format in ("articles", "text"):
            for file in iter_files(self.path):
                yield file.relative_to(self.path).as_posix(), file
        elif self.format == "octis":
            yield "corpus.tsv", self.path / "corpus.tsv"
        else:
            yield self.path.name, self.path

    def fingerprint(self) -> str:
        """SHA-256 of the input (relative file names and bytes, streamed), the format and the field options.

        The same files give the same fingerprint on any machine and in any folder.
        """
        digest = hashlib.sha256()
        options = self.config.model_dump(mode="json", exclude={"source", "format"})
        digest.update(json.dumps({"format": self.format, **options}, sort_keys=True).encode("utf-8"))
        for name, file in self.input_files():
            encoded = name.encode("utf-8", errors="surrogateescape")  # a file name need not be UTF-8
            try:
                fd = os.open(file, os.O_RDONLY)  # (no file object: most files are short, see read_bytes)
            except OSError:  # skipped by the readers, with the reason
                fd = -1
            try:
                status = os.fstat(fd) if fd >= 0 else None
                if status is None or stat.S_ISDIR(status.st_mode):  # (a folder opens, but cannot be read)
                    digest.update(b"%d:unreadable:" % len(encoded) + encoded)
                    continue
                # Lengths first, so that no two different inputs hash the same byte stream.
                digest.update(b"%d:%d:" % (len(encoded), status.st_size) + encoded)
                while chunk := os.read(fd, 1 << 20):
                    digest.update(chunk)
            finally:
                if fd >= 0:
                    os.close(fd)
        return digest.hexdigest()


def read_corpus(source: str | Path, format: str | None = None, **field_options: str) -> Corpus:
    """A re-iterable stream of documents from a folder, a file or ``sample:lee``.

    Parameters
    ----------
    source : path or str
        A folder of articles or text files, a JSONL/CSV/lines file, an OCTIS folder, or ``sample:lee``.
    format : str, optional
        ``articles``, ``text``, ``lines``, ``jsonl``, ``csv``, ``octis`` or ``sample``; detected when None.
    **field_options : str
        JSONL/CSV field names: ``text_field``, ``id_field``, ``title_field``, ``date_field``, ``label_field``.

    Returns
    -------
    Corpus
        Reads from disk on every iteration; ``corpus.report`` counts what was read and skipped, and why.

    Examples
    --------
    >>> corpus = topics.read_corpus("sample:lee")  # doctest: +SKIP
    >>> next(iter(corpus)).id  # doctest: +SKIP
    'lee-0'
    """

    if format is not None and format not in READERS:
        raise ConfigError(unknown_name("corpus format", format, list(READERS)))
    config = validate(
        CorpusConfig,
        {"source": str(source), "format": format, **field_options},
        "read_corpus",
    )
    return Corpus(config)
