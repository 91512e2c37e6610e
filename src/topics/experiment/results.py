"""Experiment results folders: ``runs.csv``, plots and ``summary.md``, and reading them back.

``write_outputs`` writes what ``topics run`` leaves beside the runs; ``load_experiment`` opens a
results folder for ``topics compare``, ``topics report`` and notebooks.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from topics._files import atomic_write
from topics.errors import RunError, TopicsError
from topics.experiment.grid import (
    RunSpec,
    chosen_metric,
    grid_axes,
    load_experiment_config,
    scored_measures,
)
from topics.experiment.plots import write_plots
from topics.experiment.search_plots import Importances, param_importances, trial_value, write_search_plots
from topics.experiment.statistics import (
    LOWER_IS_BETTER,
    Comparison,
    best_run_id,
    compare_settings,
    format_number,
    summary_markdown,
    to_markdown,
)
from topics.runs.run import load_run

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from topics.config import ExperimentConfig
    from topics.runs.run import Run

#: statuses of a planned run
COMPLETE, FAILED, MISSING, UNSCORED = "complete", "failed", "missing", "unscored"


def inside(path: Path, root: Path) -> Path:
    """``path``, or a RunError when it (a symlink, say) leads out of the results folder ``root``."""
    if not path.resolve().is_relative_to(root.resolve()):
        raise RunError(f"{path}: would be written outside the results folder {root}")
    return path


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

    table = write_runs_table(root, runs_rows(root, specs, errors))
    axes = [k for k in specs[0].params if k != "seed"] if specs else []
    metric = chosen_metric(config)
    # like runs/ and corpora/: a plots/ symlink out of the results folder is never written through
    plots = inside(root / "plots", root)
    write_plots(table, plots, axes, scored_measures(config.evaluate))
    atomic_write(
        root / "summary.md",
        summary_markdown(table, config.name, metric, axes, config.description),
    )
    return compare_settings(table, metric, axes)


def write_runs_table(root: Path, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``root/runs.csv`` from ``rows`` (columns in order of appearance, wall seconds and error last); read back."""
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
    return read_runs_table(root / "runs.csv")


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


# --- search results: the study in search.db -----------------------------------------------------

#: the study of a file with [search], in the experiment folder
STUDY_FILE = "search.db"


@dataclass
class SearchResult:
    """The state of a study after ``run_experiment``: its trials, and the best one."""

    study_file: Path
    objective: list[str]
    trials: int  # finished: complete or pruned
    complete: int
    pruned: int
    failed: int
    new: int  # finished in this call
    best_trial: int | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_values: list[float] = field(default_factory=list)
    #: trial numbers of the Pareto front (several objectives)
    pareto: list[int] = field(default_factory=list)


def search_result(root: Path, measures: list[str], study: optuna.Study | None, new: int) -> SearchResult:
    """Counts of the study's trials, and its best trial by the first of ``measures`` (on the Pareto front)."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False) if study is not None else []
    count = {state: sum(t.state == state for t in trials) for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    result = SearchResult(
        root / STUDY_FILE,
        measures,
        count[TrialState.COMPLETE] + count[TrialState.PRUNED],
        count[TrialState.COMPLETE],
        count[TrialState.PRUNED],
        count[TrialState.FAIL],
        new,
    )
    if study is None or not count[TrialState.COMPLETE]:
        return result
    result.pareto = [t.number for t in study.best_trials]
    best = chosen_trial(study, measures)
    assert best is not None
    result.best_trial, result.best_params, result.best_values = best.number, dict(best.params), list(best.values)
    return result


def chosen_trial(study: optuna.Study, measures: list[str]) -> optuna.trial.FrozenTrial | None:
    """The best trial: among the Pareto front (every complete trial that no other beats on every
    objective; with one objective the best trials), the best by the first of ``measures``; None
    before a trial completes."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    return (min if measures[0] in LOWER_IS_BETTER else max)(study.best_trials, key=lambda t: t.values[0])


def compare_trials(table: pd.DataFrame, metric: str) -> tuple[Comparison, str] | None:
    """The complete trials of a search's ``runs.csv`` compared over seeds by ``metric`` (best first,
    the best against the runner-up by the permutation test), and the best run; None when none is scored."""
    complete = table[table["trial_state"] == "complete"] if len(table) and "trial_state" in table.columns else table.iloc[:0]
    if not len(complete) or metric not in complete.columns:
        return None
    try:
        best_run, comparison = best_run_id(complete, metric, ["trial"])
    except TopicsError:
        return None
    return comparison, best_run


def write_search_outputs(
    root: Path, config: ExperimentConfig, study: optuna.Study, specs: list[RunSpec], measures: list[str]
) -> tuple[Comparison, str] | None:
    """``runs.csv`` (a ``trial`` and a ``trial_state`` column) and ``summary.md``; returns the complete
    trials compared over seeds and the best run (the best seed of the best trial)."""
    from optuna.trial import TrialState

    states = {t.number: t.state.name.lower() for t in study.get_trials(deepcopy=False)}
    rows = []
    for row in runs_rows(root, specs, {}):
        trial = row.pop("trial")
        rows.append(
            {"run_id": row.pop("run_id"), "status": row.pop("status"), "trial": trial, "trial_state": states[trial], **row}
        )
    table = write_runs_table(root, rows)
    compared = compare_trials(table, measures[0])
    assert config.search is not None
    importances = param_importances(study, measures, config.search.seed)
    chosen = chosen_trial(study, measures)
    plots = inside(root / "plots", root)
    written = write_search_plots(study, plots, measures, importances, chosen.number if chosen else None)
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
    summary = _search_summary(config, measures, study, trials, table, compared, importances, written)
    atomic_write(root / "summary.md", summary)
    return compared


def _search_summary(config, measures, study, trials, table, compared, importances: Importances, plots: list[Path]) -> str:
    search = config.search
    lines = [f"# {config.name}", ""]
    if config.description:
        lines += [config.description, ""]
    states = [t.state.name.lower() for t in trials]
    lines += [
        f"Search: sampler {search.sampler} (seed {search.seed}), objective {', '.join(measures)}, "
        f"{search.seeds_per_trial} seeds per trial; {states.count('complete')} complete, {states.count('pruned')} pruned, "
        f"{states.count('fail')} failed trials. Study `{config.name}` in `{STUDY_FILE}` (optuna-dashboard opens it).",
        "",
    ]
    if compared is None:
        return "\n".join([*lines, "No complete trial yet.", ""])
    comparison, best_run = compared
    best = int(comparison.best["trial"])
    row = comparison.table.iloc[0]
    metric = comparison.metric
    params = ", ".join(f"{k} = {format_number(v)}" for k, v in study.trials[best].params.items())
    seeds = table[(table["trial"] == best) & (table["status"] == COMPLETE)][metric]
    lines += [
        f"## Best trial by {metric}: trial {best}",
        "",
        f"Settings: {params}.",
        "",
        f"{metric} {format_number(row[f'{metric}_mean'])} ± {format_number(row[f'{metric}_std'])} (mean ± sd over "
        f"{int(row['seeds'])} seeds; 95% CI [{format_number(row[f'{metric}_ci_low'])}, {format_number(row[f'{metric}_ci_high'])}]); "
        f"per seed: {', '.join(format_number(v) for v in seeds)}.",
        "",
        comparison.verdict(),
        "",
        f"Best run: `{best_run}`, the best seed of the best trial.",
        "",
    ]
    if len(measures) > 1:
        chosen = chosen_trial(study, measures)
        front = sorted(study.best_trials, key=lambda t: t.number)
        lines += [
            "## Pareto front",
            "",
            f"Trials no other trial beats on every objective ({', '.join(measures)}, means over seeds); the chosen "
            f"trade-off is the best by {measures[0]} among them: trial {chosen.number if chosen else ''}.",
            "",
            *(
                f"- trial {t.number}{' (chosen)' if chosen and t.number == chosen.number else ''}: "
                + ", ".join(f"{m} {format_number(v)}" for m, v in zip(measures, t.values))
                for t in front
            ),
            "",
        ]
    lines += [f"## Parameter importances for {importances.metric} (fANOVA)", ""]
    if importances.values:
        lines += [f"- {name}: {value:.3f}" for name, value in importances.values.items()]
    else:
        lines.append(importances.note[:1].upper() + importances.note[1:] + ".")
    lines += [""]
    if plots:
        lines += ["Plots: " + ", ".join(f"`plots/{path.name}`" for path in plots) + ".", ""]
    lines += ["## Trials (the optimisation history)", "", to_markdown(_history(trials, measures[0])), ""]
    return "\n".join(lines)


def _history(trials, metric: str):
    """One row per trial: state, settings, objective value and the best value so far."""
    import pandas as pd

    best: float | None = None
    rows = []
    for trial in trials:
        value = trial_value(trial)
        if trial.state.name == "COMPLETE" and value is not None:
            better = best is None or (value < best if metric in LOWER_IS_BETTER else value > best)
            best = value if better else best
        rows.append(
            {"trial": trial.number, "state": trial.state.name.lower(), **trial.params, metric: value, "best so far": best}
        )
    return pd.DataFrame(rows).fillna(math.nan)
