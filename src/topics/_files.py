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
