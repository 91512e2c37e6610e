"""The HTML report of an experiment folder (``results/<experiment>``): its comparison table
(``runs.csv``), summary and plots, then the best run (or a chosen one) in detail; and
``write_report``, which writes ``report.html`` into a run or an experiment folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from topics._files import atomic_write
from topics.errors import RunError, TopicsError, unknown_name
from topics.experiment.statistics import LOWER_IS_BETTER, aggregate, best_run_id
from topics.reading.compare import compare_runs
from topics.reading.report import _e, _img, _page, run_report, run_section
from topics.runs import is_run_folder
from topics.runs.folder import MANIFEST, write_run_outputs
from topics.runs.run import load_run

if TYPE_CHECKING:
    import pandas as pd

    from topics.runs.run import Run

REPORT_HTML = "report.html"
#: runs.csv columns that can pick the best run, in order of preference; higher is better
COHERENCE_PREFERENCE = ("c_npmi", "c_v", "c_uci", "u_mass")


def experiment_runs(folder: Path) -> pd.DataFrame:
    """``runs.csv`` of an experiment folder (a RunError when it is missing or has no run_id column)."""
    import pandas as pd

    path = Path(folder) / "runs.csv"
    if not path.is_file():
        raise RunError(f"{folder}: neither a run folder (no {MANIFEST}) nor an experiment folder (no runs.csv)")
    table = pd.read_csv(path, dtype={"run_id": str})
    if "run_id" not in table:
        raise RunError(f"{path}: no run_id column; run the experiment again")
    return table


def _metric_column(table: pd.DataFrame, metric: str | None) -> str | None:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    numeric = [c for c in table.columns if c != "run_id" and is_numeric_dtype(table[c]) and not is_bool_dtype(table[c])]
    if metric is not None:
        if metric not in numeric:
            raise RunError(f"runs.csv: {unknown_name('metric', metric, numeric)}")
        return metric
    for name in COHERENCE_PREFERENCE:
        for column in numeric:
            if column == name or column.startswith(name):
                return column
    return None


def _experiment_metric(folder: Path, table: pd.DataFrame) -> str | None:
    """The ``metric`` the experiment file names (it picks its best run too), when runs.csv has that column."""
    import tomllib

    for name in ("experiment.resolved.toml", "experiment.toml"):
        path = Path(folder) / name
        if path.is_file():
            try:
                metric = tomllib.loads(path.read_text(encoding="utf-8")).get("metric")
            except (tomllib.TOMLDecodeError, UnicodeDecodeError):
                return None
            return metric if isinstance(metric, str) and metric in table.columns else None
    return None


def choose_run(folder: Path, table: pd.DataFrame, run_id: str | None, metric: str | None) -> tuple[str, str]:
    """The run to detail and why: ``run_id`` when given, else the best seed of the best setting by
    ``metric`` (default: the experiment's own metric, else the first coherence column of runs.csv)."""
    runs_dir = Path(folder) / "runs"
    if run_id is not None:
        if run_id not in set(table["run_id"]):
            raise RunError(f"{folder}: no run {run_id!r} in runs.csv; choose from {', '.join(table['run_id'])}")
        return run_id, "the run asked for"
    candidates = table[table["status"] == "complete"] if "status" in table else table
    candidates = candidates[[is_run_folder(runs_dir / r) for r in candidates["run_id"]]]
    if candidates.empty:
        raise RunError(f"{folder}: no complete run to report; run the experiment first")
    column = _metric_column(candidates, metric or _experiment_metric(folder, candidates))
    if column is None or candidates[column].isna().all():
        return str(candidates["run_id"].iloc[0]), "the first complete run (runs.csv has no coherence column)"
    chosen, comparison = best_run_id(candidates, column)
    settings = ", ".join(f"{k} = {v}" for k, v in comparison.best.items())
    direction = "lowest" if column in LOWER_IS_BETTER else "highest"
    return chosen, f"the best seed ({direction} {column}) of the best setting over seeds ({settings})"


def run_of(folder: str | Path) -> tuple[Run, str | None]:
    """The run a folder stands for: a run folder itself, or an experiment's best run (with why it was chosen)."""
    folder = Path(folder)
    if not is_run_folder(folder) and (folder / "runs.csv").is_file():
        chosen, reason = choose_run(folder, experiment_runs(folder), None, None)
        return load_run(folder / "runs" / chosen), reason
    return load_run(folder), None


def best_run(experiment_dir: str | Path, metric: str | None = None) -> Run:
    """The best run of an experiment: the best seed of the setting with the best mean ``metric`` over seeds.

    Parameters
    ----------
    experiment_dir : path
        ``results/<experiment>``, written by ``topics.run_experiment``.
    metric : str, optional
        A column of ``runs.csv``; default: the experiment's own metric, else the first coherence column.

    Returns
    -------
    Run

    Examples
    --------
    >>> run = topics.best_run("results/quickstart")  # doctest: +SKIP
    >>> run.topics.head()  # doctest: +SKIP
    """
    folder = Path(experiment_dir)
    chosen, _ = choose_run(folder, experiment_runs(folder), None, metric)
    return load_run(folder / "runs" / chosen)


def _settings_section(table: pd.DataFrame, metric: str | None) -> str:
    """The settings aggregated over seeds (mean, sd, 95% CI), best first, with the best-vs-runner-up test."""

    column = _metric_column(table, metric)
    if column is None:
        return '<p class="note">No run has a score to compare settings by.</p>'
    try:
        comparison = aggregate(table, column)
    except TopicsError as error:
        return f'<p class="note">{_e(error)}</p>'
    return (
        f'<p>{_e(comparison.verdict())}</p><div class="scroll">'
        + comparison.table.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="", border=0)
        + "</div>"
    )


def experiment_report(
    folder: Path,
    *,
    run_id: str | None = None,
    metric: str | None = None,
    period: str = "month",
    words: int = 10,
    docs: int = 5,
) -> str:
    """The full HTML page for an experiment: comparison table, summary, plots, then one run in detail."""

    folder = Path(folder)
    table = experiment_runs(folder)
    chosen, reason = choose_run(folder, table, run_id, metric)
    run = load_run(folder / "runs" / chosen)
    title = f"Experiment {folder.name}"
    parts = [
        f"<h1>{_e(title)}</h1>",
        '<nav><a href="#comparison">comparison</a><a href="#plots">plots</a><a href="#run">best run</a></nav>',
        '<h2 id="comparison">Settings compared over seeds</h2>',
    ]
    parts.append(_settings_section(table, metric or _experiment_metric(folder, table)))
    parts.append("<h2>Every run</h2>")
    shown = table.copy()
    if "run_id" in shown:
        shown["run_id"] = shown["run_id"].map(lambda r: f"<b>{_e(r)}</b>" if r == chosen else _e(r))
    parts.append(
        '<div class="scroll">'
        + shown.to_html(
            index=False,
            escape=False,
            float_format=lambda v: f"{v:.4g}",
            na_rep="",
            border=0,
        )
        + "</div>"
    )
    from topics.reading.search_section import search_section  # "" unless the folder has search.db

    parts.append(search_section(folder))
    plots = sorted((folder / "plots").glob("*.png")) if (folder / "plots").is_dir() else []
    parts.append('<h2 id="plots">Plots</h2>')
    if plots:
        parts.append(
            '<div class="plots">'
            + "".join(f"<figure>{_img(p.read_bytes(), p.stem)}<figcaption>{_e(p.stem)}</figcaption></figure>" for p in plots)
            + "</div>"
        )
    else:
        parts.append('<p class="note">This experiment has no plots.</p>')
    parts.append(
        run_section(
            run,
            period=period,
            words=words,
            docs=docs,
            heading=f"Run {chosen}: {reason}",
            location=f"runs/{chosen}",
        )
    )
    parts.append(static_and_dynamic(folder, table, chosen, metric, period=period, words=words, docs=docs))
    return _page(title, "\n".join(parts))


def static_and_dynamic(
    folder: Path, table: pd.DataFrame, chosen: str, metric: str | None, *, period: str, words: int, docs: int
) -> str:
    """For an experiment whose grid has the dynamic engine beside a static one: the best run of each,
    their topics matched one to one (1 - Jensen-Shannon distance) side by side, and each in detail
    below with its words per period. '' for any other experiment."""
    if "engine" not in table.columns:
        return ""
    complete = table[table["status"] == "complete"] if "status" in table.columns else table
    engines = sorted(str(e) for e in complete["engine"].dropna().unique())
    if "dtm" not in engines or len(engines) < 2:
        return ""
    best = {engine: choose_run(folder, table[table["engine"] == engine], None, metric)[0] for engine in engines}
    dynamic, static = best["dtm"], best[next(e for e in engines if e != "dtm")]
    match = compare_runs(folder / "runs" / static, folder / "runs" / dynamic, topn=words)
    parts = [
        '<h2 id="engines">Static and dynamic runs side by side</h2>',
        f"<p>The best static run, <b>{_e(static)}</b>, and the best dynamic run, <b>{_e(dynamic)}</b> (each the best "
        "seed of its engine's best setting), their topics matched one to one; the dynamic run's words are its "
        "topics averaged over time, and its words per period are in its section below.</p>",
        '<div class="scroll">'
        + match.matched.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0, escape=True)
        + "</div>",
    ]
    for engine, run_id in best.items():
        if run_id != chosen:
            parts.append(
                run_section(
                    load_run(folder / "runs" / run_id),
                    period=period,
                    words=words,
                    docs=docs,
                    heading=f"Run {run_id}: the best {engine} run",
                    location=f"runs/{run_id}",
                )
            )
    return "\n".join(parts)


def write_report(
    folder: str | Path,
    *,
    run_id: str | None = None,
    metric: str | None = None,
    period: str = "month",
    words: int = 10,
    docs: int = 5,
) -> Path:
    """Write ``report.html`` into a run folder (kept in its manifest) or an experiment folder; returns its path.

    Examples
    --------
    >>> topics.write_report("results/quickstart")  # doctest: +SKIP
    PosixPath('results/quickstart/report.html')
    """

    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"{folder}: no such run or experiment folder")
    if is_run_folder(folder):
        if run_id is not None or metric is not None:
            raise RunError(f"{folder}: `run_id` and `metric` choose a run of an experiment; this is a single run")
        run = load_run(folder)
        write_run_outputs(
            folder,
            {REPORT_HTML: run_report(run, period=period, words=words, docs=docs)},
        )
        return folder / REPORT_HTML
    page = experiment_report(folder, run_id=run_id, metric=metric, period=period, words=words, docs=docs)
    return atomic_write(folder / REPORT_HTML, page)
