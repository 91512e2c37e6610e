"""Documents and what a reader skipped: the items a corpus stream yields."""

from __future__ import annotations

import datetime as dt
import logging
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
