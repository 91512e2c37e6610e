"""Documents and what a reader skipped: the items a corpus stream yields."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from topics.config import CorpusConfig

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


def reason_kind(reason: str) -> str:
    """The kind of a skip reason, without its details: ``duplicate of a.txt`` → ``duplicate``,
    ``binary file (NUL bytes)`` → ``binary file``, ``2 more fields than the header's 3`` → ``N more fields ...``."""
    if reason.startswith("duplicate of "):
        return "duplicate"
    return re.sub(r"(?<![\w-])\d+(?![\w-])", "N", re.split(r";| \(|: ", reason, maxsplit=1)[0])


@dataclass
class CorpusReport:
    """What one pass over a corpus read, skipped and warned about.

    ``inputs_seen`` counts the units the reader met (``input_unit``: files of a folder, lines of a
    lines or JSONL file, rows of a CSV file), so that ``inputs_seen == documents_read + len(skipped)``.
    ``encodings`` names the encoding of each file (or, per line, each file's encodings) that is not UTF-8.
    """

    documents_read: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: Counter[str] = field(default_factory=Counter)
    inputs_seen: int = 0
    input_unit: str = "documents"
    encodings: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "documents_read": self.documents_read,
            "inputs_seen": self.inputs_seen,
            "input_unit": self.input_unit,
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
            "skipped_by_reason": dict(Counter(reason_kind(s.reason) for s in self.skipped)),
            "warnings": dict(self.warnings),
            "encodings": dict(self.encodings),
        }


Reader = Callable[[Path, CorpusConfig, CorpusReport], Iterator["Document | Skipped"]]
