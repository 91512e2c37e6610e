"""Reading corpora: documents streamed one at a time from disk, whatever the format.

A ``Corpus`` is re-iterable: each iteration reads from disk again, and records what it skipped
(and why) in ``corpus.report``. Readers live in the ``READERS`` table, keyed by format name;
each takes ``(path, config, warnings)`` and yields ``Document`` or ``Skipped`` items.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib.util
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .config import CorpusConfig
from .dates import parse_date
from .decoding import iter_files, normalize_newlines, read_files, read_lines
from .errors import ConfigError, CorpusError, unknown_name

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Document:
    """One document: its id and text, and what is known about it.

    ``source`` is where it came from (a path, with ``:LINE`` for line-based formats).
    ``tokens`` is set only for pre-tokenised input (the OCTIS layout).
    """

    id: str
    text: str
    title: str = ""
    date: dt.date | None = None
    url: str = ""
    source: str = ""
    label: str = ""
    split: str = ""
    tokens: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A document that was not read, and why."""

    source: str
    reason: str


@dataclass
class CorpusReport:
    """What one pass over a corpus read, skipped and warned about."""

    documents_read: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {
            "documents_read": self.documents_read,
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
            "skipped_by_reason": dict(Counter(s.reason.split(";")[0].split(" (")[0] for s in self.skipped)),
            "warnings": dict(self.warnings),
        }


Reader = Callable[[Path, CorpusConfig, Counter], Iterator["Document | Skipped"]]

# ---------------------------------------------------------------- articles

_URL_MARK = re.compile(r"\s*original url:\s*(?P<rest>.*)", re.IGNORECASE)
_URL = re.compile(r"<\s*(?P<bracketed>[^<>\s]+)\s*>|(?P<bare>[a-z][a-z0-9+.-]*://\S+)", re.IGNORECASE)


def _paragraphs(lines: Iterable[str]) -> str:
    """Lines to text: each line stripped, runs of blank lines collapsed to one blank line."""
    text = "\n".join(line.strip() for line in lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def parse_article(text: str, doc_id: str, source: str) -> tuple[Document, list[str]]:
    """One article (``# Title``, a date line, body paragraphs, ``Original url:`` and ``<URL>``) to a Document.

    Title, date and url go to the Document's fields, the body to its text. A missing part leaves
    its field empty and adds a warning (``missing title``, ``missing date``, ``missing url``); text
    after the url is kept in the body (``text after url``). Never raises.
    """
    lines = normalize_newlines(text).split("\n")
    warnings: list[str] = []
    position = 0

    def skip_blank() -> None:
        nonlocal position
        while position < len(lines) and not lines[position].strip():
            position += 1

    skip_blank()
    title = ""
    if position < len(lines) and lines[position].lstrip().startswith("# "):
        title = lines[position].strip()[2:].strip()
        position += 1
        skip_blank()
    if not title:
        warnings.append("missing title")
    date = parse_date(lines[position]) if position < len(lines) else None
    if date is None:
        warnings.append("missing date")
    else:
        position += 1

    # The last "Original url:" line ends the body, so a body quoting those words is kept whole.
    mark = next((i for i in range(len(lines) - 1, position - 1, -1) if _URL_MARK.fullmatch(lines[i])), None)
    body, tail = (lines[position:], []) if mark is None else (lines[position:mark], lines[mark + 1:])
    url = ""
    if mark is not None:
        tail = [_URL_MARK.fullmatch(lines[mark])["rest"], *tail]
        first = next((i for i, line in enumerate(tail) if line.strip()), None)
        match = _URL.fullmatch(tail[first].strip()) if first is not None else None
        if match:
            url = match["bracketed"] or match["bare"]
            del tail[first]
    if not url:
        warnings.append("missing url")
    extra = _paragraphs(tail)
    if extra:
        warnings.append("text after url")
    document = Document(
        id=doc_id, text=_paragraphs([*body, "", extra]), title=title, date=date, url=url, source=source
    )
    return document, warnings


# ---------------------------------------------------------------- readers


def read_articles(path: Path, config: CorpusConfig, warnings: Counter) -> Iterator[Document | Skipped]:
    """A folder of ``.txt`` article files (see ``parse_article``); id = file name without extension.
    Other files are skipped with a reason, so a stray file never goes unnoticed."""
    for file, text, reason in read_files(path):
        if file.suffix.lower() != ".txt":
            yield Skipped(str(file), f"not a .txt article file ({file.suffix or 'no extension'})")
            continue
        if text is None:
            yield Skipped(str(file), reason)
            continue
        document, problems = parse_article(text, file.stem, str(file))
        warnings.update(problems)
        yield document if document.text else Skipped(str(file), "no body text")


def read_text(path: Path, config: CorpusConfig, warnings: Counter) -> Iterator[Document | Skipped]:
    """A folder of plain-text files (any name, e.g. the 20 Newsgroups posts), one document each;
    id = relative path without extension. Binary and undecodable files are skipped with a reason."""
    for file, text, reason in read_files(path):
        if text is None:
            yield Skipped(str(file), reason)
            continue
        yield Document(id=file.relative_to(path).with_suffix("").as_posix(), text=text.strip(), source=str(file))


def read_line_documents(path: Path, config: CorpusConfig, warnings: Counter) -> Iterator[Document | Skipped]:
    """One document per line (like gensim's ``lee_background.cor``); id = line number."""
    for number, line, reason in read_lines(path, warnings):
        source = f"{path}:{number}"
        if line is None:
            yield Skipped(source, reason)
        elif not line.strip():
            yield Skipped(source, "blank line")
        else:
            yield Document(id=str(number), text=line.strip(), source=source)


def _record_document(record: dict, number: int, source: str, config: CorpusConfig, warnings: Counter) -> Document | Skipped:
    """A JSONL or CSV record to a Document, its fields named by ``config``."""
    text = record.get(config.text_field)
    if not isinstance(text, str):
        what = "no" if text is None else "a non-text"
        return Skipped(source, f"{what} {config.text_field!r} field (text_field)")
    if not text.strip():
        return Skipped(source, f"empty {config.text_field!r} field")

    def field_text(name: str) -> str:
        value = record.get(name)
        return "" if value is None else str(value).strip()

    date_text = field_text(config.date_field)
    date = None
    if date_text:
        date = parse_date(date_text) or parse_date(date_text[:10])
        if date is None:
            warnings["unparsable date"] += 1
    return Document(
        id=field_text(config.id_field) or str(number),
        text=normalize_newlines(text).strip(),
        title=field_text(config.title_field),
        date=date,
        label=field_text(config.label_field),
        source=source,
    )


def read_jsonl(path: Path, config: CorpusConfig, warnings: Counter) -> Iterator[Document | Skipped]:
    """One JSON object per line; blank lines are ignored, a bad line is skipped with its number."""
    for number, line, reason in read_lines(path, warnings):
        source = f"{path}:{number}"
        if line is None:
            yield Skipped(source, reason)
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield Skipped(source, f"not valid JSON ({error.msg}, column {error.colno})")
            continue
        if not isinstance(record, dict):
            yield Skipped(source, f"not a JSON object (a {type(record).__name__})")
            continue
        yield _record_document(record, number, source, config, warnings)


def read_csv(path: Path, config: CorpusConfig, warnings: Counter) -> Iterator[Document | Skipped]:
    """A CSV file with a header row; each row's fields named by ``config``."""
    undecodable: dict[int, str] = {}

    def decoded_lines() -> Iterator[str]:
        for number, line, reason in read_lines(path, warnings):
            if line is None:
                undecodable[number] = reason
            yield (line or "") + "\n"

    rows = csv.DictReader(decoded_lines())
    if rows.fieldnames is not None and config.text_field not in rows.fieldnames:
        raise CorpusError(
            f"{path}:1: no column {config.text_field!r} for the text; columns are "
            f"{', '.join(rows.fieldnames)}; set text_field to one of them"
        )
    try:
        for record in rows:
            values = [value for value in record.values() if isinstance(value, str)]
            extra = record.pop(None, [])
            # A quoted field may span lines: the record starts as many lines back as it holds newlines.
            first = rows.line_num - sum(value.count("\n") for value in [*values, *extra])
            source = f"{path}:{first}"
            reason = next((undecodable[n] for n in range(first, rows.line_num + 1) if n in undecodable), None)
            if reason:
                yield Skipped(source, reason)
            elif extra:
                yield Skipped(source, f"{len(extra)} more fields than the header's {len(rows.fieldnames)}")
            elif any(value.strip() for value in values):
                yield _record_document(record, first, source, config, warnings)
    except csv.Error as error:
        yield Skipped(f"{path}:{rows.line_num}", f"not valid CSV ({error}); the rest of the file is left out")


def read_octis(path: Path, config: CorpusConfig, warnings: Counter) -> Iterator[Document | Skipped]:
    """An OCTIS folder: ``corpus.tsv`` lines ``tokens<TAB>split<TAB>label``, tokens separated by spaces."""
    corpus_file = path / "corpus.tsv"
    for number, line, reason in read_lines(corpus_file, warnings):
        source = f"{corpus_file}:{number}"
        if line is None:
            yield Skipped(source, reason)
            continue
        fields = line.split("\t")
        if len(fields) > 3:
            yield Skipped(source, f"{len(fields)} tab-separated fields; expected tokens<TAB>split<TAB>label")
            continue
        tokens = tuple(fields[0].split())
        if not tokens:
            yield Skipped(source, "no tokens")
            continue
        split, label = (field.strip() for field in [*fields[1:], "", ""][:2])
        yield Document(id=str(number), text=" ".join(tokens), source=source, split=split, label=label, tokens=tokens)


SAMPLES = {"lee": "lee_background.cor"}


def sample_path(name: str) -> Path:
    """The file of a sample corpus shipped inside the installed gensim (never downloaded)."""
    if name not in SAMPLES:
        raise ConfigError(unknown_name("sample corpus", name, [f"sample:{key}" for key in SAMPLES]))
    spec = importlib.util.find_spec("gensim")  # finds the package without importing it (slow)
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError(f"sample:{name}: gensim is not installed; install the project (make setup)")
    path = Path(next(iter(spec.submodule_search_locations))) / "test" / "test_data" / SAMPLES[name]
    if not path.is_file():
        raise CorpusError(f"sample:{name}: {path} is missing from the installed gensim; reinstall gensim")
    return path


def read_sample(path: Path, config: CorpusConfig, warnings: Counter) -> Iterator[Document | Skipped]:
    """A sample corpus (``sample:lee``: gensim's 300 Lee news articles, one a line)."""
    return read_line_documents(path, config, warnings)


READERS: dict[str, Reader] = {
    "articles": read_articles,
    "text": read_text,
    "lines": read_line_documents,
    "jsonl": read_jsonl,
    "csv": read_csv,
    "octis": read_octis,
    "sample": read_sample,
}
FOLDER_FORMATS = ("articles", "text", "octis")
FILE_FORMATS = ("lines", "jsonl", "csv")


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
        if config.format is not None and config.format not in READERS:
            raise ConfigError(unknown_name("corpus format", config.format, list(READERS)))
        self.format: str = config.format or detect_format(source)
        if self.format == "sample" and not source.startswith("sample:"):
            raise CorpusError(f"{source}: format 'sample' needs a source like sample:lee")
        if self.format in FOLDER_FORMATS and not self.path.is_dir():
            raise CorpusError(f"{source}: format {self.format!r} reads a folder, but this is a file; set format to one of {', '.join(FILE_FORMATS)}")
        if self.format in FILE_FORMATS + ("sample",) and not self.path.is_file():
            raise CorpusError(f"{source}: format {self.format!r} reads a file, but this is a folder; set format to one of {', '.join(FOLDER_FORMATS)}")
        if self.format == "octis" and not (self.path / "corpus.tsv").is_file():
            raise CorpusError(f"{source}: no corpus.tsv; an OCTIS folder holds corpus.tsv and vocabulary.txt")
        self.report = CorpusReport()

    def __repr__(self) -> str:
        return f"Corpus({self.config.source!r}, format={self.format!r})"

    def __iter__(self) -> Iterator[Document]:
        report = self.report = CorpusReport()
        seen_texts: set[bytes] = set()
        for item in READERS[self.format](self.path, self.config, report.warnings):
            if isinstance(item, Skipped):
                log.warning("%s: %s; skipped", item.source, item.reason)
                report.skipped.append(item)
                continue
            # Repeated texts that differ in other fields (an article at two urls, a repeated line of
            # a benchmark corpus) are kept, but counted.
            digest = hashlib.blake2b(item.text.encode("utf-8"), digest_size=16).digest()
            if digest in seen_texts:
                report.warnings["same text as an earlier document"] += 1
            seen_texts.add(digest)
            report.documents_read += 1
            yield item
        for warning, count in sorted(report.warnings.items()):
            log.warning("%s: %s: %d documents", self.config.source, warning, count)
        log.info("%s: %d documents read, %d skipped", self.config.source, report.documents_read, len(report.skipped))

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
            encoded = name.encode("utf-8")
            with file.open("rb") as handle:
                # Lengths first, so that no two different inputs hash the same byte stream.
                digest.update(b"%d:%d:" % (len(encoded), os.fstat(handle.fileno()).st_size) + encoded)
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        return digest.hexdigest()


def read_corpus(source: str | Path, format: str | None = None, **field_options: str) -> Corpus:
    """A Corpus from a path (or ``sample:lee``), a format name (detected when None) and field options
    (``text_field``, ``id_field``, ``title_field``, ``date_field``, ``label_field``).
    """
    from .config import validate

    if format is not None and format not in READERS:
        raise ConfigError(unknown_name("corpus format", format, list(READERS)))
    config = validate(CorpusConfig, {"source": str(source), "format": format, **field_options}, "read_corpus")
    return Corpus(config)
