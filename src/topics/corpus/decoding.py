"""Reading files of unknown encoding: UTF-8 (with or without BOM), else cp1252, cp1251 or latin-1.

Used by the corpus readers; every file that cannot be decoded is reported with a reason, never dropped.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("topics.corpus")

# Tried in this order when a file is not UTF-8; charset-normalizer chooses among them. Left free,
# it picks exotic code pages (cp1125, cp1257) for short Russian or French texts.
FALLBACK_ENCODINGS = ("cp1252", "cp1251", "latin_1")
NOT_DECODABLE = "not UTF-8, cp1251 or cp1252"


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def guess_encoding(data: bytes) -> str | None:
    """The encoding of non-UTF-8 bytes among ``FALLBACK_ENCODINGS``, or None when it cannot be told."""
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=list(FALLBACK_ENCODINGS)).best()
    return None if best is None else best.encoding


def decode(data: bytes) -> tuple[str | None, str]:
    """Bytes of a whole file to text with ``\\n`` newlines: ``(text, "")`` or ``(None, reason)``.

    UTF-8 (with or without BOM) and UTF-16 with a BOM are read as such; other bytes are decoded with
    the encoding charset-normalizer finds among cp1252, cp1251 and latin-1, when it finds one.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return normalize_newlines(data.decode("utf-16")), ""
        except UnicodeDecodeError:
            return None, "starts with a UTF-16 mark but is not UTF-16"
    if b"\x00" in data:
        return None, "binary file (NUL bytes)"
    try:
        return normalize_newlines(data.decode("utf-8-sig")), ""
    except UnicodeDecodeError:
        pass
    encoding = guess_encoding(data)
    if encoding is None:
        return None, NOT_DECODABLE
    return normalize_newlines(data.decode(encoding)), ""


def read_lines(path: Path, warnings: Counter) -> Iterator[tuple[int, str | None, str]]:
    """Lines of a text file, streamed: ``(line_number, text, "")`` or ``(line_number, None, reason)``.

    Each line is tried as UTF-8; the first line that is not fixes a fallback encoding for the file
    (guessed from that line), counted in ``warnings``.
    """
    fallback: str | None = None
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            raw = raw.rstrip(b"\r\n")
            try:
                yield number, normalize_newlines(raw.decode("utf-8")), ""
                continue
            except UnicodeDecodeError:
                pass
            if fallback is None:
                fallback = guess_encoding(raw)
                if fallback is not None:
                    log.warning(
                        "%s:%d: not UTF-8; reading the file's other non-UTF-8 lines as %s",
                        path,
                        number,
                        fallback,
                    )
            if fallback is None:
                yield number, None, NOT_DECODABLE
            else:
                warnings[f"line decoded as {fallback}"] += 1
                yield (
                    number,
                    normalize_newlines(raw.decode(fallback, errors="replace")),
                    "",
                )


def iter_files(folder: Path, suffix: str | None = None) -> Iterator[Path]:
    """Files under ``folder`` (ending in ``suffix``, any case, when given), recursively, in sorted order;
    hidden ones left out."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        log.warning("%s: cannot list folder (%s); left out", folder, error.strerror)
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from iter_files(Path(entry.path), suffix)
        elif suffix is None or entry.name.lower().endswith(suffix):
            yield Path(entry.path)


def read_files(folder: Path) -> Iterator[tuple[Path, str | None, str]]:
    """Decoded files under ``folder``: ``(path, text, "")`` or ``(path, None, reason)``.

    Empty, binary, unreadable and undecodable files get a reason, and so does a file whose text is
    exactly that of an earlier one (``duplicate of <earlier path>``); only digests are kept.
    """
    first_seen: dict[bytes, str] = {}
    for path in iter_files(folder):
        try:
            data = path.read_bytes()
        except OSError as error:
            yield path, None, f"cannot read ({error.strerror})"
            continue
        text, reason = decode(data)
        if text is not None and not text.strip():
            text, reason = None, "empty file"
        if text is None:
            yield path, None, reason
            continue
        digest = hashlib.blake2b(text.strip().encode("utf-8"), digest_size=16).digest()
        if digest in first_seen:
            yield path, None, f"duplicate of {first_seen[digest]}"
            continue
        first_seen[digest] = str(path)
        yield path, text, ""
