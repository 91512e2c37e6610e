"""The readers, one per format, in the ``READERS`` table; each yields ``Document`` or ``Skipped`` items.

Each reader counts the units it meets (files, lines, rows) in ``report.inputs_seen`` and yields one
item per unit, so ``inputs_seen == documents_read + len(skipped)`` holds for every corpus.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import logging
from collections.abc import Iterator
from pathlib import Path

from topics.config import CorpusConfig
from topics.corpus.articles import DATE_OUT_OF_RANGE, date_in_window, parse_article, parse_date
from topics.corpus.decoding import (
    normalize_newlines,
    read_files,
    read_lines,
    shown,
    too_long,
)
from topics.corpus.documents import CorpusReport, Document, Reader, Skipped
from topics.corpus.seen import DigestTable, NumberedStrings, string_digest
from topics.errors import ConfigError, CorpusError, unknown_name

log = logging.getLogger(__name__)


class FirstCopies:
    """Which texts were already kept: a later file with the same text is a duplicate of the first
    *kept* copy (never of a file that was skipped). Kept: a 96-bit digest of each text with the
    number of its file, and the files' sources, compressed (``topics.corpus.seen``). Two different
    texts with the same digest would read as duplicates: for a million files the chance is about
    1 in 10^17."""

    def __init__(self) -> None:
        self.first = DigestTable(key_size=12, value_size=4)  # digest -> number of the first copy
        self.sources = NumberedStrings()

    def duplicate_of(self, text: str, source: str) -> str:
        """``""`` and remember ``source`` when ``text`` is new, else ``duplicate of <first source>``."""
        number = self.first.setdefault(string_digest(text.strip(), 12), len(self.sources).to_bytes(4, "little"))
        if number is None:
            self.sources.append(source)
            return ""
        first = self.sources[int.from_bytes(number, "little")]
        return "" if first == source else f"duplicate of {first}"


def read_articles(path: Path, config: CorpusConfig, report: CorpusReport) -> Iterator[Document | Skipped]:
    """A folder of ``.txt`` article files (see ``parse_article``); id = file name without extension.
    Other files are skipped with a reason, so a stray file never goes unnoticed."""
    report.input_unit = "files"
    copies = FirstCopies()
    for file, text, reason in read_files(path, report, config.max_document_chars, suffix=".txt"):
        source = shown(file)
        if text is None:
            yield Skipped(source, reason)
            continue
        document, problems = parse_article(text, shown(file.stem), source)
        report.warnings.update(problems)
        if not document.text:
            yield Skipped(source, "no body text")
            continue
        duplicate = copies.duplicate_of(text, source)
        yield Skipped(source, duplicate) if duplicate else document


def read_text(path: Path, config: CorpusConfig, report: CorpusReport) -> Iterator[Document | Skipped]:
    """A folder of plain-text files (any name, e.g. the 20 Newsgroups posts), one document each;
    id = relative path without extension. Binary and undecodable files are skipped with a reason."""
    report.input_unit = "files"
    copies = FirstCopies()
    for file, text, reason in read_files(path, report, config.max_document_chars):
        source = shown(file)
        reason = reason or copies.duplicate_of(text or "", source)
        if text is None or reason:
            yield Skipped(source, reason)
            continue
        yield Document(
            id=shown(file.relative_to(path).with_suffix("").as_posix()),
            text=text.strip(),
            source=source,
        )


def read_line_documents(path: Path, config: CorpusConfig, report: CorpusReport) -> Iterator[Document | Skipped]:
    """One document per line (like gensim's ``lee_background.cor``); id = line number."""
    report.input_unit = "lines"
    for number, line, reason in read_lines(path, report, config.max_document_chars):
        report.inputs_seen += 1
        source = f"{shown(path)}:{number}"
        if line is None:
            yield Skipped(source, reason)
        elif not line.strip():
            yield Skipped(source, "blank line")
        else:
            yield Document(id=str(number), text=line.strip(), source=source)


def _record_document(record: dict, number: int, source: str, config: CorpusConfig, report: CorpusReport) -> Document | Skipped:
    """A JSONL or CSV record to a Document, its fields named by ``config``."""
    text = record.get(config.text_field)
    if not isinstance(text, str):
        what = "no" if text is None else "a non-text"
        return Skipped(source, f"{what} {config.text_field!r} field (text_field)")
    if not text.strip():
        return Skipped(source, f"empty {config.text_field!r} field")
    if len(text) > config.max_document_chars:
        return Skipped(source, too_long(len(text), config.max_document_chars))

    def field_text(name: str) -> str:
        value = record.get(name)
        return "" if value is None else str(value).strip()

    date_text = field_text(config.date_field)
    date = None
    if date_text:
        date = parse_date(date_text) or parse_date(date_text[:10])
        if date is None:
            report.warnings["unparsable date"] += 1
        elif not date_in_window(date):
            report.warnings[DATE_OUT_OF_RANGE] += 1
            date = None
    return Document(
        id=field_text(config.id_field) or str(number),
        text=normalize_newlines(text).strip(),
        title=field_text(config.title_field),
        date=date,
        label=field_text(config.label_field),
        source=source,
    )


def read_jsonl(path: Path, config: CorpusConfig, report: CorpusReport) -> Iterator[Document | Skipped]:
    """One JSON object per line; a blank or bad line is skipped with its number."""
    report.input_unit = "lines"
    for number, line, reason in read_lines(path, report, config.max_document_chars):
        report.inputs_seen += 1
        source = f"{shown(path)}:{number}"
        if line is None:
            yield Skipped(source, reason)
            continue
        if not line.strip():
            yield Skipped(source, "blank line")
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield Skipped(source, f"not valid JSON ({error.msg}, column {error.colno})")
            continue
        except RecursionError:
            yield Skipped(source, "not valid JSON (nested too deeply)")
            continue
        if not isinstance(record, dict):
            yield Skipped(source, f"not a JSON object (a {type(record).__name__})")
            continue
        yield _record_document(record, number, source, config, report)


def read_csv(path: Path, config: CorpusConfig, report: CorpusReport) -> Iterator[Document | Skipped]:
    """A CSV file with a header row; each row's fields named by ``config``. A row that is not valid CSV
    (a field longer than ``max_document_chars``, a NUL byte) is skipped with its line number."""
    report.input_unit = "rows"
    undecodable: dict[int, str] = {}
    name = shown(path)

    def decoded_lines() -> Iterator[str]:
        for number, line, reason in read_lines(path, report, config.max_document_chars):
            if line is None:
                undecodable[number] = reason
            # a line left out stays a row (an empty line would be no row at all), skipped with its reason
            yield ("-" if line is None else line) + "\n"

    # csv's own limit (131,072 characters a field) would end the file at the first longer field
    limit = csv.field_size_limit(max(config.max_document_chars, csv.field_size_limit()))
    try:
        rows = csv.DictReader(decoded_lines())
        try:
            fieldnames = rows.fieldnames
        except csv.Error as error:
            raise CorpusError(f"{name}:1: the header row is not valid CSV ({error})") from None
        if fieldnames is not None and config.text_field not in fieldnames:
            raise CorpusError(
                f"{name}:1: no column {config.text_field!r} for the text; columns are "
                f"{', '.join(fieldnames)}; set text_field to one of them"
            )
        records = iter(rows)
        while True:
            try:
                record = next(records)
            except StopIteration:
                break
            except csv.Error as error:
                report.inputs_seen += 1
                message = str(error)
                if "field larger than field limit" in message:
                    message = f"longer than max_document_chars (a field over {csv.field_size_limit():,} characters)"
                else:
                    message = f"not valid CSV ({message})"
                yield Skipped(f"{name}:{rows.line_num}", message)
                continue
            report.inputs_seen += 1
            values = [value for value in record.values() if isinstance(value, str)]
            extra = record.pop(None, [])
            # A quoted field may span lines: the record starts as many lines back as it holds newlines.
            first = rows.line_num - sum(value.count("\n") for value in [*values, *extra])
            source = f"{name}:{first}"
            reason = next(
                (undecodable[n] for n in range(first, rows.line_num + 1) if n in undecodable),
                None,
            )
            if reason:
                yield Skipped(source, reason)
            elif extra:
                assert fieldnames is not None  # a row with extra fields follows a header
                yield Skipped(source, f"{len(extra)} more fields than the header's {len(fieldnames)}")
            elif any(value.strip() for value in values):
                yield _record_document(record, first, source, config, report)
            else:
                yield Skipped(source, "empty row")
    finally:
        csv.field_size_limit(limit)


def read_octis(path: Path, config: CorpusConfig, report: CorpusReport) -> Iterator[Document | Skipped]:
    """An OCTIS folder: ``corpus.tsv`` lines ``tokens<TAB>split<TAB>label``, tokens separated by spaces."""
    report.input_unit = "lines"
    corpus_file = path / "corpus.tsv"
    for number, line, reason in read_lines(corpus_file, report, config.max_document_chars):
        report.inputs_seen += 1
        source = f"{shown(corpus_file)}:{number}"
        if line is None:
            yield Skipped(source, reason)
            continue
        fields = line.split("\t")
        if len(fields) > 3:
            yield Skipped(
                source,
                f"{len(fields)} tab-separated fields; expected tokens<TAB>split<TAB>label",
            )
            continue
        tokens = tuple(fields[0].split())
        if not tokens:
            yield Skipped(source, "no tokens")
            continue
        split, label = (field.strip() for field in [*fields[1:], "", ""][:2])
        yield Document(
            id=str(number),
            text=" ".join(tokens),
            source=source,
            split=split,
            label=label,
            tokens=tokens,
        )


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


def read_sample(path: Path, config: CorpusConfig, report: CorpusReport) -> Iterator[Document | Skipped]:
    """A sample corpus (``sample:lee``: gensim's 300 Lee news articles, one a line)."""
    return read_line_documents(path, config, report)


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
