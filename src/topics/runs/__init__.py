"""Stage 5, runs: one trained model's folder, written atomically, with its manifest and fingerprints."""

from topics.runs.folder import (
    MANIFEST,
    is_run_folder,
    read_manifest,
    run_config_hash,
    write_run_outputs,
)
from topics.runs.run import Run, build_run, create_run, load_run, write_evaluation

__all__ = [
    "MANIFEST",
    "Run",
    "build_run",
    "create_run",
    "is_run_folder",
    "load_run",
    "read_manifest",
    "run_config_hash",
    "write_evaluation",
    "write_run_outputs",
]
