"""The run folder on disk: its manifest (identity, versions, times, the SHA-256 of every file) and
the reading outputs added to a finished run.

A run folder is immutable in what training wrote; the outputs made for reading it afterwards
(``trends.csv``, ``trends.png``, ``report.html``, ``ldavis.html``, evaluation scores) are added
beside it. Each file is written atomically and the manifest is then refreshed, so its hashes stay
valid and a complete run never looks incomplete or changed. Before that, the files training wrote
are checked against the manifest, so a refresh never blesses a tampered model. The user's
``labels.toml`` is left out of the hashes: it is theirs to edit.
"""

from __future__ import annotations

import datetime as dt
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
#: files added after training, for reading; never checked before a refresh
READING_OUTPUTS = frozenset(
    {
        "metrics.json",
        "topic_metrics.csv",
        "trends.csv",
        "trends.png",
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
    """Record the SHA-256 of every file in ``run_dir`` (but the manifest and the user's labels) and write the manifest."""
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


def verify_files(run_dir: Path, manifest: dict[str, Any], names: list[str] | None = None) -> None:
    """Check the SHA-256 of the run's files (or of ``names``) against ``manifest``."""
    recorded = manifest.get("files", {})
    for name in recorded if names is None else names:
        path = Path(run_dir) / name
        if name not in recorded or not path.is_file() or sha256_file(path) != recorded[name]:
            raise RunError(f"{path}: does not match the run's manifest; it was changed after training, retrain the run")


def write_run_outputs(run_dir: Path, files: dict[str, str | bytes]) -> list[Path]:
    """Atomically write ``files`` (name -> text or bytes) into a complete run and refresh its manifest."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    verify_files(
        run_dir,
        manifest,
        [name for name in manifest.get("files", {}) if name not in READING_OUTPUTS],
    )
    written = [atomic_write(run_dir / name, content) for name, content in files.items()]
    write_manifest(run_dir, {k: v for k, v in manifest.items() if k != "files"})
    return written
