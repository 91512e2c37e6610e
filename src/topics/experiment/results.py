"""Experiment results folders: ``runs.csv``, plots and ``summary.md``, and reading them back.

``write_outputs`` writes what ``topics run`` leaves beside the runs; ``load_experiment`` opens a
results folder for ``topics compare``, ``topics report`` and notebooks.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from topics._files import atomic_write
from topics.errors import RunError
from topics.experiment.grid import (
    RunSpec,
    chosen_metric,
    grid_axes,
    load_experiment_config,
    scored_measures,
)
from topics.experiment.plots import write_plots
from topics.experiment.statistics import Comparison, compare_settings, summary_markdown
from topics.runs.run import load_run

if TYPE_CHECKING:
    import pandas as pd

    from topics.config import ExperimentConfig
    from topics.runs.run import Run

#: statuses of a planned run
COMPLETE, FAILED, MISSING, UNSCORED = "complete", "failed", "missing", "unscored"


def read_json(path: Path) -> dict[str, Any] | None:

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def flat_params(params: dict[str, Any]) -> dict[str, Any]:
    """Grid values for a table cell: lists joined with '+'."""
    return {k: "+".join(map(str, v)) if isinstance(v, list) else v for k, v in params.items()}


def runs_rows(root: Path, specs: list[RunSpec], errors: dict[str, str]) -> list[dict[str, Any]]:
    """One row per run: run_id, status, every grid parameter (and num_topics), every metric, wall seconds, error."""
    rows = []
    for spec in specs:
        run_dir = root / "runs" / spec.run_id
        manifest = read_json(run_dir / "manifest.json") or {}
        metrics = read_json(run_dir / "metrics.json") or {}
        status = manifest.get("status", MISSING)
        error = errors.get(spec.run_id) or manifest.get("error", "")
        if status == COMPLETE and spec.run_id in errors:
            status = FAILED
        params = flat_params(spec.params)
        params.setdefault("num_topics", spec.model.num_topics)
        row = {"run_id": spec.run_id, "status": status, **params}
        row.update({k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
        row["wall_seconds"] = manifest.get("wall_seconds", "")
        row["error"] = error
        rows.append(row)
    return rows


def write_outputs(
    root: Path, config: ExperimentConfig, specs: list[RunSpec], errors: dict[str, str]
) -> tuple[Comparison, str] | None:
    """``runs.csv``, ``plots/`` and ``summary.md`` (each written atomically); returns the comparison of
    the settings over seeds and the best run (None when no run is scored)."""

    rows = runs_rows(root, specs, errors)
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    tail = ["wall_seconds", "error"]
    columns = [c for c in columns if c not in tail] + tail
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(root / "runs.csv", out.getvalue())
    table = read_runs_table(root / "runs.csv")
    axes = [k for k in specs[0].params if k != "seed"] if specs else []
    metric = chosen_metric(config)
    write_plots(table, root / "plots", axes, scored_measures(config.evaluate))
    atomic_write(
        root / "summary.md",
        summary_markdown(table, config.name, metric, axes, config.description),
    )
    return compare_settings(table, metric, axes)


def read_runs_table(path: Path) -> pd.DataFrame:
    import pandas as pd

    table = pd.read_csv(
        path,
        keep_default_na=False,
        na_values=[""],
        dtype={"run_id": str, "status": str, "error": str},
    )
    if "error" in table.columns:
        table["error"] = table["error"].fillna("")
    return table


@dataclass
class Experiment:
    """A results folder of ``topics run``, read lazily; tables come as pandas DataFrames."""

    path: Path

    @property
    def config(self) -> ExperimentConfig:
        return load_experiment_config(self.path / "experiment.toml")

    @property
    def runs(self) -> pd.DataFrame:
        """``runs.csv``: one row per run."""
        return read_runs_table(self.path / "runs.csv")

    @property
    def axes(self) -> list[str]:
        """The grid parameters (the columns between ``status`` and the metrics), seed excluded."""

        axes = grid_axes(self.config, str(self.path / "experiment.toml"))
        return [key for section in ("preprocess", "model") for key, _ in axes[section]]

    def run(self, run_id: str) -> Run:

        return load_run(self.path / "runs" / run_id)


def load_experiment(path: str | Path) -> Experiment:
    """Open ``results/<experiment>``; a folder without ``runs.csv`` is a RunError."""
    path = Path(path)
    if not (path / "runs.csv").is_file():
        raise RunError(f"{path}: not an experiment results folder (no runs.csv); run `topics run EXPERIMENT.toml` first")
    return Experiment(path)
