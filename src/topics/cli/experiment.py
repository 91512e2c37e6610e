"""`topics run` and `topics compare`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from topics.cli import SchedulerOption, app, console, error_console, reported

if TYPE_CHECKING:
    import pandas as pd

    from topics.experiment.runner import ExperimentProgress


class Format(str, Enum):  # noqa: UP042 (StrEnum would change str() of the members typer shows)
    table = "table"
    csv = "csv"
    markdown = "markdown"


@contextlib.contextmanager
def _progress_display() -> Iterator:
    """The runs' progress on standard error; yields the ``ExperimentProgress`` callback.

    On a terminal: a rich bar of the runs (done, running, failed, elapsed time and ETA) and, under
    it, a bar per running run of its passes. Otherwise (a log file, ``nohup``): plain lines, at most
    one every ``render.PLAIN_INTERVAL`` seconds (``render.PlainExperimentProgress``). Snapshots
    come from more than one thread (the runs' passes are read by a second one), hence the lock.
    """
    import threading

    from topics.cli.render import PlainExperimentProgress

    lock = threading.Lock()

    def locked(update: Callable[[ExperimentProgress], None]) -> Callable[[ExperimentProgress], None]:
        def call(snapshot: ExperimentProgress) -> None:
            with lock:
                update(snapshot)

        return call

    if not error_console.is_terminal:
        lines = PlainExperimentProgress(_write_line)
        yield locked(lines.update)
        with lock:
            lines.close()
        return
    with _rich_display() as update:
        yield locked(update)


def _write_line(line: str) -> None:
    error_console.file.write(line + "\n")
    error_console.file.flush()


@contextlib.contextmanager
def _rich_display() -> Iterator:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from topics.cli.render import plural, short_run_id

    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=error_console,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=None, detail="")
        runs: dict[str, TaskID] = {}  # a bar per running run that reports its passes

        def update(snapshot: ExperimentProgress) -> None:
            training = snapshot.phase == "training"
            progress.update(
                task,
                description=snapshot.phase,
                total=snapshot.total if training else None,
                completed=snapshot.done if training else 0,
                detail=f"running {snapshot.running}, [red]failed {snapshot.failed}[/]",
            )
            passes = snapshot.passes if training else {}
            for run_id in set(runs) - set(passes):
                progress.remove_task(runs.pop(run_id))
            for run_id, step in sorted(passes.items()):
                if run_id not in runs:
                    runs[run_id] = progress.add_task(f"  {short_run_id(run_id)}", total=step.total, detail="")
                progress.update(runs[run_id], completed=step.done, total=step.total, detail=plural(step.unit))

        yield update


@app.command("run")
@reported
def run_command(
    experiment: Annotated[Path, typer.Argument(help="experiment TOML file (see experiments/)")],
    results: Annotated[
        Path,
        typer.Option("--results", help="results folder; the experiment goes into RESULTS/<name>"),
    ] = Path("results"),
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="runs trained at once (default: the cores)"),
    ] = None,
    executor: Annotated[str, typer.Option(help="local (joblib processes) or dask")] = "local",
    scheduler: SchedulerOption = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="list the runs and what is already done; run nothing"),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="redo every run, complete ones too")] = False,
) -> None:
    """Run (or resume) every run of an experiment's grid, or its [search] study, score them, and write runs.csv and summary.md."""
    import optuna

    from topics.config import load_toml
    from topics.experiment.runner import run_experiment

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the summary below says what its log would

    load_toml(experiment)  # a missing file, a folder or another encoding: one message before anything starts

    if dry_run:
        result = run_experiment(
            experiment,
            results,
            jobs=jobs,
            executor=executor,
            scheduler=scheduler,
            dry_run=True,
        )
        _print_plan(result)
        return
    with _progress_display() as update:
        result = run_experiment(
            experiment,
            results,
            jobs=jobs,
            executor=executor,
            scheduler=scheduler,
            force=force,
            progress=update,
        )
    if result.search is not None:
        _print_search(result)
        if result.search.failed:
            raise typer.Exit(1)
        return
    console.print(
        f"{result.config.name}: {len(result.plan)} runs; skipped {result.skipped} complete, "
        f"trained {result.trained} (redone failed: {result.redone_failed}), failed {result.failed} "
        f"in {result.wall_seconds:.1f} s -> {result.path}"
    )
    for outcome in result.outcomes:
        if outcome.status != "complete":
            console.print(f"[red]failed[/] {outcome.run_id}: {outcome.error}", highlight=False)
    if result.failed:
        console.print(f"[red]{result.failed} of {len(result.plan)} runs failed[/]; fix the cause and rerun to redo them")
        raise typer.Exit(1)
    summary = result.path / "summary.md"
    if result.comparison is not None:
        console.print(result.comparison.verdict(), highlight=False)
        console.print(f"best run: {result.best_run_id} (the best seed of the best setting)", highlight=False)
    console.print(f"table: {result.path / 'runs.csv'}; summary: {summary}; plots: {result.path / 'plots'}")


def _print_search(result) -> None:
    from topics.experiment.statistics import format_number

    search = result.search
    console.print(
        f"{result.config.name}: {search.trials} trials finished ({search.complete} complete, {search.pruned} pruned; "
        f"{search.new} new), {search.failed} failed; runs trained {result.trained}, reused {result.skipped}, "
        f"failed {result.failed} in {result.wall_seconds:.1f} s -> {result.path}",
        highlight=False,
    )
    for outcome in result.outcomes:
        if outcome.status != "complete":
            console.print(f"[red]failed[/] {outcome.run_id}: {outcome.error}", highlight=False)
    if search.best_trial is not None:
        values = ", ".join(f"{m} {format_number(v)}" for m, v in zip(search.objective, search.best_values))
        params = ", ".join(f"{k} = {format_number(v)}" for k, v in search.best_params.items())
        console.print(f"best trial: {search.best_trial} ({values}, mean over seeds): {params}", highlight=False)
    if len(search.objective) > 1:
        console.print(f"Pareto front: trials {', '.join(map(str, search.pareto))}", highlight=False)
    if result.comparison is not None:
        console.print(result.comparison.verdict(), highlight=False)
        console.print(f"best run: {result.best_run_id} (the best seed of the best trial)", highlight=False)
    console.print(
        f"study: {search.study_file}; table: {result.path / 'runs.csv'}; summary (with parameter importances): "
        f"{result.path / 'summary.md'}; plots: {result.path / 'plots'}"
    )


def _print_plan(result) -> None:
    from rich.table import Table

    table = Table(title=f"{result.config.name}: {len(result.plan)} runs -> {result.path}")
    table.add_column("run")
    table.add_column("status")
    for planned in result.plan:
        colour = {"complete": "green", "failed": "red", "unscored": "yellow"}.get(planned.status, "white")
        table.add_row(planned.spec.run_id, f"[{colour}]{planned.status}[/]")
    console.print(table)
    counts: dict[str, int] = {}
    for planned in result.plan:
        counts[planned.status] = counts.get(planned.status, 0) + 1
    console.print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))


def _print_frame(frame: pd.DataFrame, output: Format, title: str | None = None) -> None:
    from topics.experiment.statistics import format_number, to_markdown

    if output is Format.csv:
        console.out(frame.to_csv(index=False), end="", highlight=False)
    elif output is Format.markdown:
        console.out(to_markdown(frame), end="", highlight=False)
    else:
        from rich.table import Table

        table = Table(title=title)
        for column in frame.columns:
            table.add_column(
                str(column),
                justify="right" if frame[column].dtype.kind in "if" else "left",
            )
        for row in frame.itertuples(index=False):
            table.add_row(*(format_number(value) for value in row))
        console.print(table)


def _compact(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """For the terminal: the metric as 'mean ± sd' and '[low, high]', other metrics' means shortened."""
    from topics.experiment.statistics import format_number

    compact = frame.drop(
        columns=[
            f"{metric}_mean",
            f"{metric}_std",
            f"{metric}_ci_low",
            f"{metric}_ci_high",
        ]
    )
    position = list(compact.columns).index("seeds") + 1
    compact.insert(
        position,
        f"{metric} mean ± sd",
        [f"{format_number(m)} ± {format_number(s)}" for m, s in zip(frame[f"{metric}_mean"], frame[f"{metric}_std"])],
    )
    compact.insert(
        position + 1,
        "95% CI",
        [f"[{format_number(lo)}, {format_number(hi)}]" for lo, hi in zip(frame[f"{metric}_ci_low"], frame[f"{metric}_ci_high"])],
    )
    return compact.rename(columns={c: c.removesuffix("_mean") for c in compact.columns if c.endswith("_mean")})


@app.command("compare")
@reported
def compare_command(
    paths: Annotated[
        list[Path],
        typer.Argument(help="experiment results folders (results/<name>), or exactly two run folders"),
    ],
    metric: Annotated[
        str | None,
        typer.Option(help="metric that orders the settings (default: the first recorded)"),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            help="group by this parameter; repeat for several (default: every grid parameter)",
        ),
    ] = None,
    output: Annotated[Format, typer.Option("--format", help="table, csv or markdown")] = Format.table,
    topn: Annotated[int, typer.Option(help="top words shown per topic (comparing two runs)")] = 10,
) -> None:
    """Compare experiments' settings over seeds (mean, sd, 95% CI, test of the best), or two runs' topics."""
    from topics.errors import RunError
    from topics.reading.compare import compare_experiments, compare_runs
    from topics.runs import is_run_folder

    are_runs = [is_run_folder(path) for path in paths]
    if any(are_runs):
        if not all(are_runs) or len(paths) != 2:
            raise RunError(
                "compare takes experiment results folders, or exactly two run folders; got " + ", ".join(map(str, paths))
            )
        match = compare_runs(paths[0], paths[1], topn=topn)
        _print_frame(
            match.matched,
            output,
            title=f"{paths[0].name} vs {paths[1].name}: topics matched one to one",
        )
        for name, unmatched in (
            (paths[0].name, match.unmatched_a),
            (paths[1].name, match.unmatched_b),
        ):
            if len(unmatched):
                _print_frame(unmatched, output, title=f"unmatched topics of {name}")
        return
    comparison = compare_experiments(paths, metric, by)
    frame = comparison.table if output is not Format.table else _compact(comparison.table, comparison.metric)
    _print_frame(frame, output, title=f"by {comparison.metric}, over seeds (mean, sd, 95% CI)")
    if output is Format.table:
        console.print(comparison.verdict(), highlight=False)
