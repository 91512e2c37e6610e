"""Boilerplate: lines a document carries that are not its text, dropped before tokenising.

Four rules, each on by default for the ``articles``, ``text``, ``jsonl`` and ``csv`` formats and
off for ``lines``, ``sample`` and ``octis`` (a line there is a whole document, or the input is
already tokens); each can be turned off in ``PreprocessConfig``:

* ``boilerplate_headers``: an e-mail or Usenet header block at the start of a document, that is
  consecutive ``Key: value`` lines (and their indented continuation lines) from the first line,
  when at least two keys of ``HEADER_KEYS`` are among them. The Subject's text is kept as the
  document's first line, without its ``Re:``.
* ``boilerplate_quotes``: quoted lines (starting, after spaces, with ``>``, ``|>`` or ``:>``) and
  attribution lines (ending in ``writes:`` or ``wrote:``, followed by a quoted line; with the
  ``In article <...>`` line before one, where the attribution was wrapped).
* ``boilerplate_signature``: a signature: the lines after the last line that is exactly ``--`` or
  ``-- `` (the marker included), when at most ``SIGNATURE_MAX_LINES`` lines follow it.
* ``boilerplate_repeated``: lines repeated in at least ``repeated_min_share`` of the documents
  and in at least ``REPEATED_MIN_DOCUMENTS`` of them (sign-offs, bylines, copyright lines,
  newsletter footers), compared lower-cased with runs of spaces collapsed. Blank lines never count.

The first three look at one document at a time; they run in the worker processes, before
tokenising (``Cleaner``). Nothing is rewritten: the cleaned document's lines are the original's
in their order, some dropped, with the Subject's text first (a test checks it).

The fourth needs the whole corpus; its lines are counted on a sample of the documents
(``topics.preprocessing.repeated``).

``report.json`` records under ``boilerplate`` what each rule removed (lines and documents), the
ten most frequent lines removed as signatures and as repeated lines, and the documents that lost
more than half of their body's non-blank lines (the header block aside: most short posts would
qualify by it alone), as a count and the first ``FLAGGED_LISTED`` ids. Per rule,
``lines_read == lines_kept + sum of lines removed``; the kept Subject line counts as kept.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from topics.config import PreprocessConfig

RULES = ("headers", "quotes", "signature", "repeated")

#: header keys that mark a block of ``Key: value`` lines as an e-mail or Usenet header (lower case)
HEADER_KEYS = frozenset(
    {
        "from",
        "subject",
        "organization",
        "organisation",
        "lines",
        "newsgroups",
        "message-id",
        "date",
        "path",
        "references",
        "reply-to",
        "sender",
        "nntp-posting-host",
        "distribution",
        "keywords",
        "summary",
        "followup-to",
        "expires",
        "approved",
        "in-reply-to",
        "to",
        "cc",
        "xref",
        "article-i.d.",
        "originator",
        "news-software",
        "x-newsreader",
        "x-mailer",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)
HEADER_RE = re.compile(r"([A-Za-z][\w.-]*):(?:[ \t]|$)")
QUOTE_RE = re.compile(r"[ \t]*(?:>|\|>|:>)")
ATTRIBUTION_RE = re.compile(r"(?:writes|wrote):[ \t]*$", re.IGNORECASE)
ATTRIBUTION_MAX_CHARS = 200
IN_ARTICLE_RE = re.compile(r"[ \t]*In article <", re.IGNORECASE)
RE_PREFIX_RE = re.compile(r"^(?:re(?:\^\d+)?:\s*)+", re.IGNORECASE)
SIGNATURE_MARKS = frozenset({"--", "-- "})
SIGNATURE_MAX_LINES = 15
TOP_LINES = 10  # most frequent removed lines reported per rule
TOP_LINE_CHARS = 200  # a reported line is cut to this many characters
FLAGGED_LISTED = 1000  # ids of documents that lost more than half of their lines, listed
SIGNATURE_LINES_KEPT = 20_000  # distinct signature lines counted per worker before the rarest half is forgotten


def boilerplate_rules(config: PreprocessConfig) -> dict[str, bool]:
    """Which rules ``config`` turns on (``None``, not resolved for a format, is off)."""
    return {rule: bool(getattr(config, f"boilerplate_{rule}")) for rule in RULES}


def normalise_line(line: str) -> str:
    """A line as the repeated rule compares it: lower-cased, runs of whitespace one space, trimmed."""
    return " ".join(line.lower().split())


# --- the per-document rules -------------------------------------------------------------------


@dataclass
class Cleaned:
    """One document after the per-document rules: the lines kept (in order; the Subject's text
    first when a header block was dropped), the lines each rule removed, the body's non-blank
    lines (after the header block), how many of them the rules removed, and the non-blank
    signature lines removed."""

    lines: list[str]
    removed: dict[str, int]
    lines_read: int
    body_lines: int
    body_removed: int
    signature: list[str] = field(default_factory=list)


class Cleaner:
    """``cleaner(text) -> Cleaned``: the per-document rules ``config`` turns on. Picklable."""

    def __init__(self, config: PreprocessConfig):
        rules = boilerplate_rules(config)
        self.headers, self.quotes, self.signature = rules["headers"], rules["quotes"], rules["signature"]

    def __call__(self, text: str) -> Cleaned:
        lines = text.split("\n")
        removed = dict.fromkeys(RULES, 0)
        lines_read = len(lines)
        head: list[str] = []
        if self.headers:
            end, subject = header_block(lines)
            if end:
                kept = [subject] if subject else []
                removed["headers"] = end - len(kept)
                head, lines = kept, lines[end:]
        body_lines = sum(1 for line in lines if line.strip())
        body_removed = 0
        signature: list[str] = []
        if self.signature:
            start = signature_start(lines)
            if start is not None:
                signature = [line for line in lines[start + 1 :] if line.strip()]
                removed["signature"] = len(lines) - start
                body_removed += len(signature) + 1  # and the marker
                lines = lines[:start]
        if self.quotes:
            drop = quoted_lines(lines)
            if drop:
                removed["quotes"] = len(drop)
                body_removed += len(drop)  # quoted and attribution lines are never blank
                lines = [line for index, line in enumerate(lines) if index not in drop]
        return Cleaned(head + lines, removed, lines_read, body_lines, body_removed, signature)


def header_block(lines: list[str]) -> tuple[int, str]:
    """The number of lines of the header block that starts ``lines`` (0 if none) and the
    Subject's text without ``Re:`` ("" if none)."""
    keys: set[str] = set()
    subject = ""
    end = 0
    for line in lines:
        match = HEADER_RE.match(line)
        if match:
            key = match.group(1).lower()
            keys.add(key)
            if key == "subject" and not subject:
                subject = RE_PREFIX_RE.sub("", line[match.end() :].strip()).strip()
        elif not (end and line[:1] in (" ", "\t") and line.strip()):  # not a folded continuation line
            break
        end += 1
    if len(keys & HEADER_KEYS) < 2:
        return 0, ""
    return end, subject


def signature_start(lines: list[str]) -> int | None:
    """The index of the last ``--`` (or ``-- ``) line when at most ``SIGNATURE_MAX_LINES`` lines
    follow it (blank lines at the end not counted), else None."""
    last = len(lines)
    while last and not lines[last - 1].strip():
        last -= 1
    for index in range(last - 1, max(last - SIGNATURE_MAX_LINES - 2, -1), -1):
        if lines[index] in SIGNATURE_MARKS:
            return index
    return None


def quoted_lines(lines: list[str]) -> set[int]:
    """Indices of quoted lines and of the attribution lines before them."""
    quoted = {index for index, line in enumerate(lines) if QUOTE_RE.match(line)}
    if not quoted:
        return quoted
    drop = set(quoted)
    next_nonblank: int | None = None
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if not line.strip():
            continue
        if (
            next_nonblank is not None
            and next_nonblank in quoted
            and len(line) <= ATTRIBUTION_MAX_CHARS
            and ATTRIBUTION_RE.search(line)
        ):
            drop.add(index)
            if index and IN_ARTICLE_RE.match(lines[index - 1]):
                drop.add(index - 1)  # the attribution, wrapped over two lines
        next_nonblank = index
    return drop


# --- what was removed: per worker, merged in the main process ------------------------------------


@dataclass
class BoilerplateCounts:
    """What the rules removed in one worker's documents."""

    documents: int = 0
    lines_read: int = 0
    lines: Counter = field(default_factory=Counter)  # rule -> lines removed
    documents_affected: Counter = field(default_factory=Counter)  # rule -> documents with a line removed
    signature_lines: Counter = field(default_factory=Counter)  # normalised line -> times removed
    repeated_lines: Counter = field(default_factory=Counter)
    flagged: list[int] = field(default_factory=list)  # positions, the first FLAGGED_LISTED
    flagged_count: int = 0

    def add(self, cleaned: Cleaned) -> None:
        self.documents += 1
        self.lines_read += cleaned.lines_read
        for rule, removed in cleaned.removed.items():
            if removed:
                self.lines[rule] += removed
                self.documents_affected[rule] += 1
        if cleaned.signature:
            self.signature_lines.update(normalise_line(line)[:TOP_LINE_CHARS] for line in cleaned.signature)
            if len(self.signature_lines) > SIGNATURE_LINES_KEPT:
                self.signature_lines = Counter(dict(self.signature_lines.most_common(SIGNATURE_LINES_KEPT // 2)))

    def add_repeated(self, removed: list[str]) -> None:
        if removed:
            self.lines["repeated"] += len(removed)
            self.documents_affected["repeated"] += 1
            self.repeated_lines.update(line[:TOP_LINE_CHARS] for line in removed)

    def check(self, index: int, body_lines: int, body_removed: int) -> None:
        """Flag document ``index`` when the rules removed more than half of its body's non-blank lines."""
        if body_removed * 2 > body_lines:
            self.flagged_count += 1
            if len(self.flagged) < FLAGGED_LISTED:
                self.flagged.append(index)


def _top(counters: list[Counter]) -> list[list[Any]]:
    total: Counter = sum(counters, Counter())
    return [[line, count] for line, count in sorted(total.items(), key=lambda item: (-item[1], item[0]))[:TOP_LINES]]


def boilerplate_report(counts: list[BoilerplateCounts], rules: dict[str, bool], repeated: dict | None, ids_of) -> dict:
    """``report.json``'s ``boilerplate`` section from the workers' counts; ``ids_of(positions)``
    gives the ids of documents by position (sorted positions in, ids out)."""
    lines: Counter = sum((c.lines for c in counts), Counter())
    affected: Counter = sum((c.documents_affected for c in counts), Counter())
    lines_read = sum(c.lines_read for c in counts)
    removed: dict[str, dict[str, Any]] = {}
    for rule in RULES:
        if not rules[rule]:
            continue
        removed[rule] = {"lines": lines[rule], "documents": affected[rule]}
    if rules["signature"]:
        removed["signature"]["top_lines"] = _top([c.signature_lines for c in counts])
    if rules["repeated"]:
        removed["repeated"].update(repeated or {})
        removed["repeated"]["top_lines"] = _top([c.repeated_lines for c in counts])
    flagged = sorted(heapq.merge(*(c.flagged for c in counts)))[:FLAGGED_LISTED]
    flagged_count = sum(c.flagged_count for c in counts)
    return {
        "rules": rules,
        "documents": sum(c.documents for c in counts),
        "lines_read": lines_read,
        "lines_kept": lines_read - sum(lines.values()),
        "lines_removed": sum(lines.values()),
        "removed": removed,
        "mostly_removed": {
            "documents": flagged_count,
            "ids": ids_of(flagged) if flagged else [],
            "not_listed": flagged_count - len(flagged),
        },
    }
