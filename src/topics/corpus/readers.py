"""The readers, one per format, in the ``READERS`` table; each yields ``Document`` or ``Skipped`` items."""

from __future__ import annotations

import csv
import importlib.util
import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from topics.config import CorpusConfig
from topics.corpus.articles import parse_article, parse_date
from topics.corpus.decoding import (
    normalize_newlines,
    read_files,
    read_lines,
)
from topics.corpus.documents import Document, Reader, Skipped
from topics.errors import ConfigError, CorpusError, unknown_name

log = logging.getLogger(__name__)


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
        yield Document(
            id=file.relative_to(path).with_suffix("").as_posix(),
            text=text.strip(),
            source=str(file),
        )


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
            reason = next(
                (undecodable[n] for n in range(first, rows.line_num + 1) if n in undecodable),
                None,
            )
            if reason:
                yield Skipped(source, reason)
            elif extra:
                assert rows.fieldnames is not None  # a row with extra fields follows a header
                yield Skipped(
                    source,
                    f"{len(extra)} more fields than the header's {len(rows.fieldnames)}",
                )
            elif any(value.strip() for value in values):
                yield _record_document(record, first, source, config, warnings)
    except csv.Error as error:
        yield Skipped(
            f"{path}:{rows.line_num}",
            f"not valid CSV ({error}); the rest of the file is left out",
        )


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
