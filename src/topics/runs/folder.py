"""The run folder on disk: its manifest (identity, versions, times, the SHA-256 of every file) and
the reading outputs added to a finished run.

A run folder is immutable in what training wrote: the manifest's ``files`` (the SHA-256 of every
file at creation) never change. The outputs made for reading it afterwards (``trends.csv``,
``trends.png``, ``report.html``, ``ldavis.html``, evaluation scores) are added beside it, each
written atomically and recorded with its own hash in the manifest's ``outputs``; a later command
never re-hashes a file it did not write, so it can never bless a tampered model. Every load of the
model or of ``topics.csv`` is checked against the creation hashes. The user's ``labels.toml`` is
left out of the hashes: it is theirs to edit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
from pathlib import Path
from typing import Any

from topics._files import (
    atomic_write,
    git_commit,
    package_versions,
    sha256_file,
    sha256_json,
)
from topics.config import TrainConfig
from topics.errors import RunError

MANIFEST = "manifest.json"
#: a user's own topic labels, in the run folder, never hashed
LABELS_FILE = "labels.toml"
#: files added after training, for reading; recorded in the manifest's ``outputs``, never in ``files``
READING_OUTPUTS = frozenset(
    {
        "metrics.json",
        "topic_metrics.csv",
        "trends.csv",
        "trends.png",
        "trend_words.csv",
        "period_metrics.csv",
        "report.html",
        "ldavis.html",
        LABELS_FILE,
    }
)


def run_config_hash(corpus_fingerprint: str, config: TrainConfig, seed: int) -> str:
    """Hash of everything that determines a run's result: prepared corpus, model settings, seed."""
    return sha256_json(
        {
            "corpus": corpus_fingerprint,
            "model": config.model_dump(mode="json"),
            "seed": seed,
        }
    )


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` is a run folder (complete or not) rather than an experiment's."""
    return (Path(folder) / MANIFEST).is_file() or (Path(folder) / "model").is_dir()


def manifest_header(
    run_id: str,
    config_hash: str,
    corpus_fingerprint: str,
    status: str,
    started: dt.datetime,
    wall_seconds: float,
) -> dict[str, Any]:
    """What every manifest records, complete or failed: identity, versions, platform, times."""
    return {
        "run_id": run_id,
        "config_hash": config_hash,
        "corpus_fingerprint": corpus_fingerprint,
        "status": status,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "platform": platform.platform(),
        "started": started.isoformat(timespec="seconds"),
        "ended": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(wall_seconds, 3),
    }


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Record the SHA-256 of every file in ``run_dir`` (but the manifest and the user's labels) and write the manifest.

    Called once, when the run is created: these ``files`` hashes are never recomputed afterwards.
    """
    manifest = dict(manifest)
    manifest["files"] = {
        path.relative_to(run_dir).as_posix(): sha256_file(path)
        for path in sorted(run_dir.rglob("*"))
        if path.is_file() and path.name != MANIFEST and path.relative_to(run_dir).as_posix() != LABELS_FILE
    }
    atomic_write(run_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest of a complete run; a RunError for a missing, failed or unreadable one."""
    path = Path(run_dir) / MANIFEST
    if not Path(run_dir).is_dir():
        raise RunError(f"{run_dir}: no such run folder")
    if not path.is_file():
        raise RunError(f"{run_dir}: not a complete run (no {MANIFEST}); train it again")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunError(f"{path}: not valid JSON ({error}); train the run again") from None
    if not isinstance(manifest, dict) or manifest.get("status") != "complete":
        status = manifest.get("status") if isinstance(manifest, dict) else None
        raise RunError(f"{run_dir}: run status is {status!r}, not complete; train it again")
    return manifest


def _sha256(content: str | bytes) -> str:
    return hashlib.sha256(content.encode("utf-8") if isinstance(content, str) else content).hexdigest()


def _recorded(manifest: dict[str, Any]) -> dict[str, str]:
    """Name -> SHA-256 of every file the manifest vouches for: the creation ``files``, then the
    reading ``outputs`` (which never name a file of the creation)."""
    files: dict[str, str] = dict(manifest.get("files", {}))
    for name, digest in manifest.get("outputs", {}).items():
        if name in READING_OUTPUTS:
            files[name] = digest  # a manifest from before `outputs` hashed these with the creation
    return files


def verify_files(run_dir: Path, manifest: dict[str, Any], names: list[str] | None = None) -> None:
    """Check the SHA-256 of the run's files (or of ``names``) against ``manifest``: a file written
    when the run was created against the creation hashes, a reading output against its own."""
    recorded = _recorded(manifest)
    for name in recorded if names is None else names:
        path = Path(run_dir) / name
        if name not in recorded or not path.is_file() or sha256_file(path) != recorded[name]:
            raise RunError(f"{path}: does not match the run's manifest; it was changed after training, retrain the run")


def write_run_outputs(run_dir: Path, files: dict[str, str | bytes]) -> list[Path]:
    """Atomically write ``files`` (name -> text or bytes) into a complete run and record their hashes in
    the manifest's ``outputs``; the creation hashes (``files``) are left exactly as they were."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    created = {name for name in manifest.get("files", {}) if name not in READING_OUTPUTS}
    for name in files:
        if name in created or name == MANIFEST:
            raise RunError(f"{run_dir / name}: written when the run was created; a later command never replaces it")
    verify_files(run_dir, manifest, sorted(created))
    written = [atomic_write(run_dir / name, content) for name, content in files.items()]
    outputs = dict(manifest.get("outputs", {}))
    # the hash of what this command wrote, never of what it finds on disk
    outputs.update({name: _sha256(content) for name, content in files.items()})
    manifest = dict(manifest)
    manifest["outputs"] = dict(sorted(outputs.items()))
    # a manifest from before `outputs` hashed reading outputs with the creation: they now live in `outputs`
    manifest["files"] = {name: digest for name, digest in manifest.get("files", {}).items() if name not in files}
    atomic_write(run_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return written
