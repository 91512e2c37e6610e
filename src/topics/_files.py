"""Files every stage writes the same way: atomic writes, folder swaps, hashes, versions, memory.

A file is written to a temporary sibling and renamed into place, so a reader never sees half of
it; a folder is built beside its target and swapped in (the old one moved aside first, deleted
last), so a crash at any moment leaves either the old folder or the new one, never neither.
Written files get the permissions of the user's umask (``tempfile`` creates them owner-only).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from importlib import metadata
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: packages whose versions are recorded beside every prepared corpus and run
KEY_PACKAGES = (
    "topics",
    "gensim",
    "scikit-learn",
    "numpy",
    "scipy",
    "pandas",
    "simplemma",
    "pydantic",
    "joblib",
    "dask",
    "tomotopy",
)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def readable(path: Path) -> None:
    """Give a written file the permissions of the user's umask (temporary files are owner-only)."""
    os.chmod(path, 0o666 & ~_umask())


def atomic_write(path: str | Path, content: str | bytes) -> Path:
    """Write ``content`` (text is UTF-8, newlines as given) to ``path`` through a temporary file and a rename."""
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        readable(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON, encoded piece by piece into the file (a phrase layer's JSON is
    tens of MB as one string). Not atomic: for files inside a folder that is swapped in whole."""
    with path.open("w", encoding="utf-8") as out:
        json.dump(data, out, indent=2, ensure_ascii=False, default=str)
        out.write("\n")


def work_dir_beside(target: Path, kind: str = "tmp") -> Path:
    """A new empty folder ``.<name>.<kind>-<random>`` next to ``target``, for building it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.parent / f".{target.name}.{kind}-{uuid.uuid4().hex[:12]}"
    work.mkdir(mode=0o777 & ~_umask())
    return work


def replace_folder(work: Path, target: Path) -> None:
    """Swap the finished folder ``work`` in as ``target``: the old ``target`` is moved aside,
    ``work`` renamed into place, then the old one deleted. A crash at any point leaves a complete
    folder at ``target`` or, between the two renames, the old one beside it (restored on error)."""
    os.chmod(work, 0o777 & ~_umask())
    aside = None
    if target.exists() or target.is_symlink():
        aside = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
        os.replace(target, aside)
    try:
        os.replace(work, target)
    except BaseException:
        if aside is not None:
            os.replace(aside, target)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def sha256_file(path: Path) -> str:
    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def sha256_json(data: Any) -> str:
    """SHA-256 of the canonical JSON of ``data`` (sorted keys, no spaces)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of Python and every key package that is installed."""
    versions = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_commit() -> str | None:
    """The project's git commit, when the package runs from a checkout."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def peak_rss_mb() -> float | None:
    """This process's peak resident memory so far, in MB (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)  # bytes on macOS, KB elsewhere


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of ``size`` items (the last may be shorter); ``itertools.batched`` from Python 3.12."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def drop_none(data: Any) -> Any:
    """``data`` without None values, recursively: TOML has no null (None means 'default')."""
    if isinstance(data, dict):
        return {key: drop_none(value) for key, value in data.items() if value is not None}
    if isinstance(data, list):
        return [drop_none(value) for value in data]
    return data


# --- .npy files read and written in blocks ------------------------------------------------------
#
# Pages of a memory map stay in the process's resident memory once touched (the peak counts them),
# so a pass over a file as large as the corpus reads it a block at a time instead: a seek and a
# read into an array of its own. Writing goes the same way, rows after numpy's own header.


class NpyRows:
    """The rows of a ``.npy`` file (C order), read a block at a time with a seek and a read.

    ``shape``, ``dtype`` and the data's ``offset`` come from numpy's own header parsing (a
    memory map opened for them and closed, its data never touched). Use as a context manager::

        with NpyRows(path) as rows:
            block = rows.read(first, last)
    """

    def __init__(self, path: str | Path) -> None:
        import numpy as np

        self.path = Path(path)
        try:
            mapped = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except ValueError as error:  # a truncated file: the map would reach past its end
            raise ValueError(f"{self.path}: not a readable .npy file ({error})") from None
        if not mapped.flags.c_contiguous:
            raise ValueError(f"{self.path}: stored in Fortran order; rows cannot be read in blocks")
        self.shape: tuple[int, ...] = tuple(int(n) for n in mapped.shape)
        self.dtype = mapped.dtype
        self.offset = int(mapped.offset)
        del mapped
        self.row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))
        self._handle = self.path.open("rb")

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 0

    def __enter__(self) -> NpyRows:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._handle.close()

    def read(self, first: int, last: int) -> Any:
        """Rows ``first`` to ``last`` (excluded) as a new array."""
        import numpy as np

        count = max(0, last - first)
        if count == 0 or self.row_bytes == 0:
            return np.empty((count, *self.shape[1:]), dtype=self.dtype)
        self._handle.seek(self.offset + first * self.row_bytes)
        flat = np.fromfile(self._handle, dtype=self.dtype, count=count * self.row_bytes // self.dtype.itemsize)
        if len(flat) * self.dtype.itemsize != count * self.row_bytes:
            raise ValueError(f"{self.path}: shorter than its header says")
        return flat.reshape((count, *self.shape[1:]))

    def blocks(self, rows: int) -> Iterator[Any]:
        """Every row, ``rows`` at a time (the last block fewer)."""
        for first in range(0, len(self), rows):
            yield self.read(first, min(first + rows, len(self)))


class NpyRowWriter:
    """A ``.npy`` file of a known ``shape`` written a block of rows at a time: byte for byte what
    ``np.save`` writes for the whole array (tested). ``close`` checks that every row was written."""

    def __init__(self, path: str | Path, shape: tuple[int, ...], dtype: Any) -> None:
        import numpy as np

        self.path, self.shape, self.dtype = Path(path), tuple(int(n) for n in shape), np.dtype(dtype)
        self.written = 0
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": self.shape}
        self._handle = self.path.open("wb")
        try:
            np.lib.format.write_array_header_1_0(self._handle, header)
        except ValueError:  # a header too long for format 1.0: np.save writes 2.0 then
            self._handle.seek(0)
            self._handle.truncate()
            np.lib.format.write_array_header_2_0(self._handle, header)

    def __enter__(self) -> NpyRowWriter:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self._handle.close()

    def write(self, rows: Any) -> None:
        import numpy as np

        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape[1:] != self.shape[1:] or self.written + len(rows) > self.shape[0]:
            raise ValueError(f"{self.path}: rows of shape {rows.shape} do not fit {self.shape} after {self.written} rows")
        self._handle.write(rows.tobytes())
        self.written += len(rows)

    def close(self) -> None:
        self._handle.close()
        if self.written != (self.shape[0] if self.shape else 0):
            raise ValueError(f"{self.path}: {self.written} rows written of {self.shape[0]}")


def mapped_npy_file(array: Any) -> Path | None:
    """The file ``array`` maps whole, when it is a memory map of a ``.npy`` file as
    ``np.load(mmap_mode=...)`` opens it (not a view of one); else None."""
    import mmap

    import numpy as np

    if isinstance(array, np.memmap) and isinstance(array.base, mmap.mmap) and array.filename:
        return Path(array.filename)
    return None


def row_blocks(array: Any, rows: int) -> Iterator[Any]:
    """The rows of ``array``, ``rows`` at a time. A memory map of a whole ``.npy`` file is read from
    the file with seeks and reads, so that a pass over it does not leave the file resident; any
    other array is sliced."""
    path = mapped_npy_file(array)
    if path is not None and array.ndim >= 1:
        with NpyRows(path) as stored:
            if stored.shape == array.shape and stored.dtype == array.dtype and stored.offset == array.offset:
                yield from stored.blocks(rows)
                return
    for first in range(0, len(array), rows):
        yield array[first : first + rows]
