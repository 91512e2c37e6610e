"""Writing reading outputs (trends, report, pyLDAvis page) into a finished run folder.

A run folder is immutable in what training wrote; the outputs made for reading it afterwards
(``trends.csv``, ``trends.png``, ``report.html``, ``ldavis.html``) are added beside it. Each file
is written atomically and the manifest is then refreshed, so its hashes stay valid and a complete
run never looks incomplete or changed. Before that, the files training wrote are checked against
the manifest, so a refresh never blesses a tampered model. The user's ``labels.toml`` is left
out of the hashes: it is theirs to edit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .labels import LABELS_FILE
from .runs import MANIFEST, atomic_write_bytes, atomic_write_text, read_manifest, write_manifest

#: files added after training, for reading; never checked before a refresh
READING_OUTPUTS = frozenset({"trends.csv", "trends.png", "report.html", "ldavis.html", LABELS_FILE})


def _readable(path: Path) -> None:
    """Give a written file the usual permissions (temporary files are created owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def write_run_outputs(run_dir: Path, files: dict[str, str | bytes]) -> list[Path]:
    """Atomically write ``files`` (name -> text or bytes) into a complete run and refresh its manifest."""
    from .runs import load_run

    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    run = load_run(run_dir)
    run.verify([name for name in manifest.get("files", {}) if name not in READING_OUTPUTS])
    written = []
    for name, content in files.items():
        path = run_dir / name
        if isinstance(content, bytes):
            atomic_write_bytes(path, content)
        else:
            atomic_write_text(path, content)
        _readable(path)
        written.append(path)
    write_manifest(run_dir, {k: v for k, v in manifest.items() if k != "files"})
    refreshed = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
    if LABELS_FILE in refreshed.get("files", {}):
        del refreshed["files"][LABELS_FILE]
        atomic_write_text(run_dir / MANIFEST, json.dumps(refreshed, indent=2, sort_keys=True) + "\n")
    return written


def write_file(path: Path, content: str | bytes) -> Path:
    """Atomically write one file outside a run folder (an experiment's report)."""
    if isinstance(content, bytes):
        atomic_write_bytes(Path(path), content)
    else:
        atomic_write_text(Path(path), content)
    _readable(Path(path))
    return Path(path)
