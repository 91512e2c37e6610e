"""Reading files of unknown encoding: UTF-8 (with or without BOM), else cp1252, cp1251 or latin-1.

Used by the corpus readers; every file (or line) that cannot be decoded, looks binary or is too long
is reported with a reason, never dropped. Folders are walked without recursion, regular files only,
symbolic links followed only inside the corpus folder and each folder read once.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from topics.corpus.documents import CorpusReport
from topics.errors import CorpusError

log = logging.getLogger("topics.corpus")

# Tried in this order when a file is not UTF-8; charset-normalizer chooses among them. Left free,
# it picks exotic code pages (cp1125, cp1257) for short Russian or French texts.
FALLBACK_ENCODINGS = ("cp1252", "cp1251", "latin_1")
NOT_DECODABLE = "not UTF-8, cp1251 or cp1252"

#: text whose share of control and replacement characters is above this is taken for binary
BINARY_SHARE = 0.05
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")
_ASCII_CONTROLS = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])  # _CONTROL's ASCII characters
#: file signatures of common binary formats, so a PDF named ``.txt`` is never read as text
SIGNATURES = {
    b"%PDF-": "PDF",
    b"PK\x03\x04": "ZIP (or DOCX, XLSX)",
    b"\x1f\x8b": "gzip",
    b"\x89PNG": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF8": "GIF",
    b"\x7fELF": "executable",
}
LONE_CR = "lone CR line ends read as line ends"
_LINE_END = re.compile(rb"\r\n|\r|\n")


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def shown(path: Path | str) -> str:
    """A path as text that can always be written and printed: a byte of a non-UTF-8 file name as ``\\xe9``."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def too_long(size: int, limit: int, unit: str = "characters") -> str:
    return f"longer than max_document_chars ({size:,} {unit} > {limit:,} characters)"


def binary_reason(text: str) -> str:
    """``""``, or why ``text`` looks binary: a share of control and replacement characters above ``BINARY_SHARE``
    (at least 3 of them, so one stray control character in a short line is not enough)."""
    return _binary_reason_of_count(len(_CONTROL.findall(text)), len(text))


def _binary_reason_of_count(count: int, length: int) -> str:
    if count < 3 or count <= BINARY_SHARE * length:
        return ""
    return f"binary content ({count / length:.0%} control or replacement characters)"


_SIGNATURE_MARKS = tuple(SIGNATURES)


def signature(data: bytes) -> str | None:
    """The binary format ``data`` starts like, or None."""
    if not data.startswith(_SIGNATURE_MARKS):  # one call for the usual answer
        return None
    return next((name for mark, name in SIGNATURES.items() if data.startswith(mark)), None)


def guess_encoding(data: bytes) -> str | None:
    """The encoding of non-UTF-8 bytes among ``FALLBACK_ENCODINGS``, or None when it cannot be told."""
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=list(FALLBACK_ENCODINGS)).best()
    return None if best is None else best.encoding


def decode_file(data: bytes) -> tuple[str | None, str, str]:
    """Bytes of a whole file to ``(text, "", encoding)`` with ``\\n`` newlines, or ``(None, reason, "")``.

    UTF-8 (with or without BOM) and UTF-16 with a BOM are read as such; other bytes are decoded with
    the encoding charset-normalizer finds among cp1252, cp1251 and latin-1, when it finds one.
    Binary files (NUL bytes, a known signature, too many control characters) get a reason.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return normalize_newlines(data.decode("utf-16")), "", "utf-16"
        except UnicodeDecodeError:
            return None, "starts with a UTF-16 mark but is not UTF-16", ""
    if b"\x00" in data:
        return None, "binary file (NUL bytes)", ""
    kind = signature(data)
    if kind is not None:
        return None, f"binary file ({kind})", ""
    if data.isascii():
        # ASCII is UTF-8 with one character a byte: count the control characters on the bytes
        text, encoding = data.decode("ascii"), "utf-8"
        reason = _binary_reason_of_count(len(data) - len(data.translate(None, _ASCII_CONTROLS)), len(text))
    else:
        try:
            text, encoding = data.decode("utf-8-sig"), "utf-8"
        except UnicodeDecodeError:
            guessed = guess_encoding(data)
            if guessed is None:
                return None, NOT_DECODABLE, ""
            text, encoding = data.decode(guessed), guessed
        reason = binary_reason(text)
    if reason:
        return None, reason, ""
    return normalize_newlines(text), "", encoding


def decode(data: bytes) -> tuple[str | None, str]:
    """Bytes of a whole file to text with ``\\n`` newlines: ``(text, "")`` or ``(None, reason)`` (see ``decode_file``)."""
    text, reason, _ = decode_file(data)
    return text, reason


def _split_lines(handle, limit: int) -> Iterator[tuple[bytes | None, int, bool]]:
    """Lines of a binary file with universal line ends (``\\n``, ``\\r\\n`` or a lone ``\\r``), in bounded memory:
    ``(bytes without the line end, length, ended by a lone CR)``; bytes None for a line over ``limit`` bytes."""
    buffer, dropped, at_end = b"", 0, False
    while not at_end:
        chunk = handle.read(1 << 20)
        at_end = not chunk
        buffer += chunk
        start = 0
        for match in _LINE_END.finditer(buffer):
            if match.group() == b"\r" and match.end() == len(buffer) and not at_end:
                break  # the \n of a \r\n may be in the next chunk
            length = dropped + match.start() - start
            yield (None if dropped else buffer[start : match.start()]), length, match.group() == b"\r"
            start, dropped = match.end(), 0
        buffer = buffer[start:]
        if len(buffer) > limit:
            dropped += len(buffer)
            buffer = b""
    if buffer or dropped:
        yield (None if dropped else buffer), dropped + len(buffer), False


def read_lines(path: Path, report: CorpusReport, max_chars: int, start: int = 1) -> Iterator[tuple[int, str | None, str]]:
    """Lines of a text file, streamed: ``(line_number, text, "")`` or ``(line_number, None, reason)``.

    Line ends are ``\\n``, ``\\r\\n`` or a lone ``\\r`` (counted in the report's warnings). Each line is
    tried as UTF-8, else decoded with the encoding guessed for that very line (cp1252, cp1251 or
    latin-1), so a cp1251 line among cp1252 lines is read right; a line that cannot be told, that
    looks binary or is longer than ``max_chars`` gets a reason. The encodings of a file that is not
    all UTF-8 are recorded in ``report.encodings``. A file that starts like a binary format is refused.
    """
    try:
        handle = path.open("rb")
    except OSError as error:
        raise CorpusError(f"{shown(path)}: cannot read ({error.strerror or error})") from None
    encodings: dict[str, None] = {}
    lone_cr = in_binary = False
    with handle:
        kind = signature(handle.read(8))
        if kind is not None:
            raise CorpusError(f"{shown(path)}: a {kind} file, not text; give a text file of the corpus")
        handle.seek(0)
        for number, (raw, length, cr) in enumerate(_split_lines(handle, 4 * max_chars + 4), start=start):
            lone_cr = lone_cr or cr
            if raw is None:
                yield number, None, too_long(length, max_chars, "bytes")
                continue
            if number == start and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text, encoding = raw.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                guessed = guess_encoding(raw)
                if guessed is None:
                    in_binary = True
                    yield number, None, NOT_DECODABLE
                    continue
                text, encoding = raw.decode(guessed, errors="replace"), guessed
            reason = binary_reason(text)
            # In a run of binary lines, a short line is binary too unless it is clean UTF-8 text.
            if not reason and in_binary and (encoding != "utf-8" or len(text) < 20 or _CONTROL.search(text)):
                reason = "binary content (in a run of binary lines)"
            in_binary = bool(reason)
            reason = reason or (too_long(len(text), max_chars) if len(text) > max_chars else "")
            if reason:
                yield number, None, reason
                continue
            encodings[encoding] = None
            if encoding != "utf-8":
                report.warnings[f"line decoded as {encoding}"] += 1
            yield number, text, ""
    if lone_cr:
        log.warning("%s: %s", shown(path), LONE_CR)
        report.warnings[LONE_CR] += 1
    if set(encodings) - {"utf-8"}:
        report.encodings[shown(path)] = ", ".join(encodings)


def _real(path: str) -> str:
    return os.path.realpath(path)


def walk(root: Path) -> Iterator[tuple[Path, str]]:
    """Entries under ``root`` in sorted order, depth first: ``(path, "")`` for a regular file to read,
    ``(path, reason)`` for one that is not read (hidden, not a regular file, a symbolic link that loops,
    dangles or points outside ``root``, a folder already read through a link, a folder that cannot be
    listed). A folder is one entry when it is left out as a whole. Never recursive, so any depth is fine.
    """
    real_root = _real(str(root))
    visited = {real_root: root}
    # per folder being listed: its entries, its path, and whether its entries can be looked up
    stack: list[tuple[Iterator[os.DirEntry], Path, bool]] = []

    def listing(folder: Path) -> str:
        try:
            with os.scandir(folder) as entries:
                # A folder without search permission lists its names but cannot stat them: only in
                # one that can be searched is the listing's file type taken for a stat (one system
                # call less a file, a fifth of the time reading a short file takes).
                stack.append((iter(sorted(entries, key=lambda entry: entry.name)), folder, os.access(folder, os.X_OK)))
        except OSError as error:
            return f"cannot list folder ({error.strerror or error})"
        return ""

    reason = listing(root)
    if reason:
        yield root, reason
        return
    while stack:
        entries, folder, searchable = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        path, is_link = folder / entry.name, False
        try:
            is_link = entry.is_symlink()
            if searchable and not is_link and entry.is_file(follow_symlinks=False):
                mode = stat.S_IFREG
            else:
                mode = os.stat(entry.path).st_mode
        except OSError as error:
            if error.errno == errno.ELOOP:
                yield path, "symbolic link loop"
            elif error.errno == errno.ENOENT and is_link:
                yield path, f"dangling symbolic link (to {shown(os.readlink(entry.path))})"
            else:
                yield path, f"cannot read ({error.strerror or error})"
            continue
        is_dir = stat.S_ISDIR(mode)
        if entry.name.startswith("."):
            yield path, "hidden folder" if is_dir else "hidden file"
            continue
        real = _real(entry.path) if is_link or is_dir else ""
        if is_link and os.path.commonpath([real_root, real]) != real_root:
            yield path, f"symbolic link to outside the corpus folder (to {shown(real)})"
            continue
        if is_dir:
            if real in visited:
                yield path, f"folder already read (as {shown(visited[real])})"
                continue
            visited[real] = path
            reason = listing(path)
            if reason:
                yield path, reason
        elif stat.S_ISREG(mode):
            yield path, ""
        else:
            kind = {stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a device", stat.S_ISBLK: "a device"}
            what = next((name for test, name in kind.items() if test(mode)), "not a file")
            yield path, f"not a regular file ({what})"


def read_bytes(path: Path, limit: int) -> bytes | int:
    """The bytes of a file, or its size when that is over ``limit`` (it is then not read).

    Plain ``os`` calls rather than a file object: for the short files of a news archive, the
    object's setup costs as much as the reading (12 instead of 19 µs a 1 KB file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            return size
        data = os.read(fd, size + 1)
        if not data or not (chunk := os.read(fd, 1 << 20)):  # the end of the file
            return data
        chunks = [data, chunk]  # it grew since fstat: read on to its end
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def iter_files(folder: Path, suffix: str | None = None) -> Iterator[Path]:
    """The regular files ``walk`` reads under ``folder`` (ending in ``suffix``, any case, when given)."""
    for path, reason in walk(folder):
        if not reason and (suffix is None or path.name.lower().endswith(suffix)):
            yield path


def read_files(
    folder: Path, report: CorpusReport, max_chars: int, suffix: str | None = None
) -> Iterator[tuple[Path, str | None, str]]:
    """Decoded files under ``folder``: ``(path, text, "")`` or ``(path, None, reason)``, one per entry of ``walk``
    (each counted in ``report.inputs_seen``).

    Entries that are not read, files of another suffix (when given), empty, binary, unreadable,
    undecodable and too long files get a reason. The encoding of a file that is not UTF-8 is recorded
    in ``report.encodings``.
    """
    for path, reason in walk(folder):
        report.inputs_seen += 1
        if reason:
            yield path, None, reason
            continue
        if suffix is not None and path.suffix.lower() != suffix:
            yield path, None, f"not a {suffix} article file ({path.suffix or 'no extension'})"
            continue
        try:
            data = read_bytes(path, 4 * max_chars + 4)  # 4 bytes at most a character
        except OSError as error:
            yield path, None, f"cannot read ({error.strerror or error})"
            continue
        if isinstance(data, int):
            yield path, None, too_long(data, max_chars, "bytes")
            continue
        text, reason, encoding = decode_file(data)
        if text is not None and not text.strip():
            text, reason = None, "empty file"
        elif text is not None and len(text) > max_chars:
            reason, text = too_long(len(text), max_chars), None
        if text is None:
            yield path, None, reason
            continue
        if encoding != "utf-8":
            report.encodings[shown(path)] = encoding
        yield path, text, ""


def printable(text: object) -> str:
    """``text`` with any lone surrogate (from a file name that is not UTF-8) written as ``\\udcxx``,
    so that it can be logged, printed and sent between processes."""
    return str(text).encode("utf-8", errors="backslashreplace").decode("utf-8")
