"""The news-article format: a ``# Title`` line, a date line, the body, ``Original url:`` and the link."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable

from topics.corpus.decoding import (
    normalize_newlines,
)
from topics.corpus.documents import Document

log = logging.getLogger(__name__)

_URL_MARK = re.compile(r"\s*original url:\s*(?P<rest>.*)", re.IGNORECASE)
_URL = re.compile(r"<\s*(?P<bracketed>[^<>\s]+)\s*>|(?P<bare>[a-z][a-z0-9+.-]*://\S+)", re.IGNORECASE)


_BLANK_LINES = re.compile(r"\n{3,}")


def _paragraphs(lines: Iterable[str]) -> str:
    """Lines to text: each line stripped, runs of blank lines collapsed to one blank line."""
    text = "\n".join(map(str.strip, lines))
    if "\n\n\n" in text:  # (a substring test is much faster than the regex's scan)
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def parse_article(text: str, doc_id: str, source: str) -> tuple[Document, list[str]]:
    """One article (``# Title``, a date line, body paragraphs, ``Original url:`` and ``<URL>``) to a Document.

    Title, date and url go to the Document's fields, the body to its text. A missing part leaves
    its field empty and adds a warning (``missing title``, ``missing date``, ``missing url``); text
    after the url is kept in the body (``text after url``); a date outside ``DATE_YEARS`` is left
    out with a warning (``DATE_OUT_OF_RANGE``). Never raises.
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
        if not date_in_window(date):
            warnings.append(DATE_OUT_OF_RANGE)
            date = None

    # The last "Original url:" line ends the body, so a body quoting those words is kept whole.
    mark_match = None
    for mark in range(len(lines) - 1, position - 1, -1):
        if ":" in lines[mark] and (mark_match := _URL_MARK.fullmatch(lines[mark])):  # (no ":", no match)
            break
    url = ""
    if mark_match is None:
        body, tail = lines[position:], []
    else:
        body, tail = lines[position:mark], [mark_match["rest"], *lines[mark + 1 :]]
        first = next((i for i, line in enumerate(tail) if line.strip()), None)
        match = _URL.fullmatch(tail[first].strip()) if first is not None else None
        if match:
            assert first is not None  # match is None when first is
            url = match["bracketed"] or match["bare"]
            del tail[first]
    if not url:
        warnings.append("missing url")
    extra = _paragraphs(tail)
    body_text = _paragraphs(body)
    if extra:
        warnings.append("text after url")
        # (what _paragraphs([*body, "", extra]) gives, without stripping the body's lines twice)
        body_text = f"{body_text}\n\n{extra}" if body_text else extra
    document = Document(
        id=doc_id,
        text=body_text,
        title=title,
        date=date,
        url=url,
        source=source,
    )
    return document, warnings


_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_WEEKDAY = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|rsday|urday|sday)?\.?,?\s+)?"
_TIME = (
    r"(?:(?:\s*,|\s+at|\s*-|\s*\||\s*T|\s)\s*\d{1,2}[:.]\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[ap]\.?m\.?)?)?"
    r"\s*(?:z|utc|gmt|[a-z]{2,4}t|[+-]\d{2}:?\d{2})?(?:\s*\(?(?:utc|gmt)?\s*[+-]\d{1,2}(?::?\d{2})?\)?)?"
)
_DATE_PATTERNS = [
    re.compile(r"\s*" + _WEEKDAY + date + _TIME + r"\s*", re.IGNORECASE)
    for date in (
        rf"{_YEAR}-(?P<nmonth>\d{{1,2}})-{_DAY}",
        rf"{_YEAR}/(?P<nmonth>\d{{1,2}})/{_DAY}",
        rf"{_DAY}\.(?P<nmonth>\d{{1,2}})\.{_YEAR}",
        rf"{_MONTH}\s+{_DAY},?\s+{_YEAR}",
        rf"{_DAY}\s+{_MONTH},?\s+{_YEAR}",
    )
]


#: the years a document's date may have (inclusive): a year outside is taken for a typo or a
#: placeholder (0001, 9999), recorded in the corpus report and the document left undated
DATE_YEARS = (1800, 2200)
DATE_OUT_OF_RANGE = f"date out of range (years {DATE_YEARS[0]}-{DATE_YEARS[1]}); left undated"


def date_in_window(date: dt.date) -> bool:
    """Whether ``date``'s year is within ``DATE_YEARS``."""
    return DATE_YEARS[0] <= date.year <= DATE_YEARS[1]


def parse_date(text: str) -> dt.date | None:
    """The date a whole line states (``May 19, 2014``, ``2014-05-19``, ``Monday, 19 May 2014 10:30 GMT``...), else None.

    Deliberately strict: the line must be a date and nothing else, so a body sentence that merely
    mentions a year is never taken for the date line.
    """
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        parts = match.groupdict()
        month = int(parts["nmonth"]) if parts.get("nmonth") else _MONTHS[parts["month"].lower()]
        try:
            return dt.date(int(parts["year"]), month, int(parts["day"]))
        except ValueError:
            return None
    return None
