"""Dates of news articles: the date line of an article in its common forms."""

from __future__ import annotations

import datetime as dt
import re

_MONTHS = {
    name: number
    for number, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
         ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
         ("november", "nov"), ("december", "dec")],
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
