"""Experiments: a grid of runs from one TOML file, trained in parallel, resumable, then scored together.

``run_experiment`` validates the file, prepares each distinct preprocessing once under
``corpora/<key>/``, trains the missing or failed runs with an executor (``EXECUTORS``: joblib
processes or a Dask cluster), scores every trained run with one ``evaluate_many`` call (coherence
counted once per reference corpus), and writes ``runs.csv``, ``plots/`` and ``summary.md``.
Results land in ``<results>/<experiment name>/``; a lock file keeps two ``topics run`` apart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import tomli_w

from topics._files import atomic_write
from topics.config import ExperimentConfig
from topics.corpus.stream import Corpus
from topics.errors import ConfigError, RunError, TopicsError
from topics.experiment.background import periodically
from topics.experiment.executors import EXECUTORS, Outcome, RunPasses, TrainTask, get_executor, read_passes
from topics.experiment.grid import (
    RunSpec,
    expand_grid,
    grid_axes,
    load_experiment_config,
    resolved_config,
    scored_measures,
)
from topics.experiment.results import (
    COMPLETE,
    FAILED,
    MISSING,
    UNSCORED,
    Experiment,
    SearchResult,
    flat_params,
    inside,
    load_experiment,
    read_json,
    read_runs_table,
    write_outputs,
)
from topics.experiment.scoring import score_experiment
from topics.experiment.statistics import Comparison
from topics.preprocessing.prepare import preprocess
from topics.preprocessing.prepared import PreparedCorpus
from topics.runs.folder import run_config_hash

if TYPE_CHECKING:
    import pandas as pd


__all__ = [
    "Experiment",
    "EXECUTORS",
    "ExperimentProgress",
    "ExperimentResult",
    "expand_grid",
    "load_experiment",
    "load_experiment_config",
    "run_experiment",
]

log = logging.getLogger(__name__)


@dataclass
class ExperimentProgress:
    """A snapshot for progress displays: the phase, and runs done, running and failed out of ``total``.

    ``passes`` says how far each running run's training is, for the runs that have reported a pass
    (local executor only: Dask runs report only their end). While runs train, a snapshot comes at
    least every ``PASSES_POLL_SECONDS``, from a second thread of this process.
    """

    phase: str  # "preparing", "training", "scoring", "writing", "done"
    total: int = 0
    done: int = 0
    running: int = 0
    failed: int = 0
    message: str = ""
    passes: dict[str, RunPasses] = field(default_factory=dict)


ProgressCallback = Callable[[ExperimentProgress], None]


@dataclass
class PlannedRun:
    spec: RunSpec
    status: str  # complete, failed, missing or unscored (trained, metrics missing)
    error: str = ""


@dataclass
class ExperimentResult:
    """What ``run_experiment`` did: the plan, how many runs were skipped, trained, failed, and the table."""

    path: Path
    config: ExperimentConfig
    plan: list[PlannedRun]
    dry_run: bool = False
    skipped: int = 0
    trained: int = 0
    failed: int = 0
    redone_failed: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    wall_seconds: float = 0.0
    #: the settings compared over seeds (None for a dry run or when nothing is scored)
    comparison: Comparison | None = None
    #: the best seed of the best setting
    best_run_id: str | None = None
    #: the study, for a file with ``[search]``
    search: SearchResult | None = None

    @property
    def runs(self) -> pd.DataFrame:
        """One row per run (``runs.csv``); for a dry run, the plan."""
        import pandas as pd

        if self.dry_run or not (self.path / "runs.csv").is_file():
            return pd.DataFrame(
                [
                    {
                        "run_id": p.spec.run_id,
                        "status": p.status,
                        **flat_params(p.spec.params),
                    }
                    for p in self.plan
                ]
            )
        return read_runs_table(self.path / "runs.csv")


# --- paths and locking ----------------------------------------------------------------------------


def experiment_dir(results: Path, name: str) -> Path:
    """``results/<name>``, refusing any name that would leave the results folder."""
    root = Path(results).resolve()
    target = (root / name).resolve()
    if target.parent != root or name in ("", ".", ".."):
        raise RunError(f"experiment name {name!r} would write outside {results}; use a plain folder name")
    return Path(results) / name


def _lock(directory: Path):
    from filelock import FileLock, Timeout

    lock = FileLock(directory / ".lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunError(
            f"another `topics run` is using {directory} (lock file {directory / '.lock'}); "
            "wait for it or remove the lock if no run is active"
        ) from None
    return lock


# --- planning -------------------------------------------------------------------------------------


def _prepared_fingerprint(corpus_dir: Path) -> str | None:

    if not corpus_dir.is_dir():
        return None
    try:
        return PreparedCorpus.load(corpus_dir).fingerprint
    except TopicsError:
        return None


def plan_runs(specs: list[RunSpec], root: Path, measures: list[str]) -> list[PlannedRun]:
    """The status of every run: complete (same config hash, scored), unscored, failed or missing."""

    fingerprints: dict[str, str | None] = {}
    plan = []
    for spec in specs:
        if spec.corpus_key not in fingerprints:
            fingerprints[spec.corpus_key] = _prepared_fingerprint(root / "corpora" / spec.corpus_key)
        manifest = read_json(root / "runs" / spec.run_id / "manifest.json")
        if manifest is None:
            plan.append(PlannedRun(spec, MISSING))
            continue
        if manifest.get("status") != COMPLETE:
            plan.append(PlannedRun(spec, FAILED, manifest.get("error", "")))
            continue
        fingerprint = fingerprints[spec.corpus_key]
        if fingerprint is not None and manifest.get("config_hash") != run_config_hash(fingerprint, spec.model, spec.seed):
            plan.append(PlannedRun(spec, MISSING))
            continue
        metrics = read_json(root / "runs" / spec.run_id / "metrics.json") or {}
        scored = all(m in metrics for m in measures)
        plan.append(PlannedRun(spec, COMPLETE if scored else UNSCORED))
    return plan


# --- running --------------------------------------------------------------------------------------


def run_experiment(
    experiment: str | Path | ExperimentConfig,
    results: str | Path = Path("results"),
    jobs: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> ExperimentResult:
    """Run (or resume) an experiment into ``results/<name>/``; see the module docstring.

    ``jobs`` runs train at once (default: the cores); ``executor`` is ``local`` (joblib) or ``dask``
    (``scheduler`` is a running scheduler's address; without one a LocalCluster is started).
    ``dry_run`` only plans; ``force`` redoes complete runs too.
    """
    started = time.perf_counter()
    report = progress or (lambda snapshot: None)
    source_text = None
    if isinstance(experiment, ExperimentConfig):
        config = experiment
        grid_axes(config, config.name)  # validates the grid before anything runs
    else:
        source_text = Path(experiment).read_text(encoding="utf-8")
        config = load_experiment_config(experiment)
    run_executor = get_executor(executor)
    if scheduler and executor != "dask":
        raise ConfigError("`scheduler` is the address of a Dask scheduler; it needs `executor` dask")
    jobs = max(1, jobs or os.cpu_count() or 1)
    root = experiment_dir(Path(results), config.name)
    if config.search is not None:
        # search.py builds on this module's helpers, hence the import here
        from topics.experiment.search import check_search, run_search

        origin = config.name if isinstance(experiment, ExperimentConfig) else str(experiment)
        check_search(config, origin)
        if force:
            raise ConfigError(f"{origin}: `force` does not apply to a [search]; to start a new study delete {root / 'search.db'}")
        return run_search(
            config,
            root,
            source_text=source_text,
            jobs=jobs,
            run_executor=run_executor,
            scheduler=scheduler,
            dry_run=dry_run,
            progress=report,
        )

    corpus = Corpus(config.corpus)
    specs = expand_grid(config, corpus.fingerprint())
    measures = scored_measures(config.evaluate)
    if dry_run:
        return ExperimentResult(root, config, plan_runs(specs, root, measures), dry_run=True)

    root.mkdir(parents=True, exist_ok=True)
    lock = _lock(root)
    try:
        _write_inputs(root, config, source_text)
        _clean_temporary(root / "runs")
        plan = plan_runs(specs, root, measures)
        if force:
            plan = [PlannedRun(p.spec, MISSING) for p in plan]
        result = ExperimentResult(root, config, plan)
        result.skipped = sum(p.status in (COMPLETE, UNSCORED) for p in plan)
        result.redone_failed = sum(p.status == FAILED for p in plan)
        to_train = [p.spec for p in plan if p.status in (MISSING, FAILED)]
        total = len(to_train)

        prepared = _prepare(corpus, to_train, root, jobs, report)
        snapshot = ExperimentProgress("training", total=total)
        report(snapshot)
        tasks = [_task(spec, prepared[spec.corpus_key], root) for spec in _by_cost(to_train)]
        outcomes = _train(run_executor, tasks, root / "runs", jobs, scheduler, snapshot, report)
        result.outcomes = outcomes
        result.trained = sum(o.status == COMPLETE for o in outcomes)
        result.failed = sum(o.status != COMPLETE for o in outcomes)

        # every run of ours is installed or cleaned up by now: what is left is a killed process's
        # (a worker may outlive its parent by up to half a second, past the first clean-up)
        _clean_temporary(root / "runs")
        report(ExperimentProgress("scoring", total=total, done=total, failed=result.failed))
        errors = {o.run_id: o.error for o in outcomes if o.status != COMPLETE}
        score_experiment(config, root, specs, measures, errors, force)
        report(ExperimentProgress("writing", total=total, done=total, failed=result.failed))
        compared = write_outputs(root, config, specs, errors)
        if compared is not None:
            result.comparison, result.best_run_id = compared
        result.plan = plan_runs(specs, root, measures)
        result.wall_seconds = time.perf_counter() - started
        report(ExperimentProgress("done", total=total, done=total, failed=result.failed))
        return result
    finally:
        lock.release()


def _write_inputs(root: Path, config: ExperimentConfig, source_text: str | None) -> None:

    if source_text is None:
        source_text = tomli_w.dumps(
            {k: v for k, v in config.model_dump(mode="json", exclude_defaults=True).items() if v is not None}
        )
    atomic_write(root / "experiment.toml", source_text)
    atomic_write(root / "experiment.resolved.toml", tomli_w.dumps(resolved_config(config)))


def _clean_temporary(runs_dir: Path) -> None:
    """Remove what killed runs left behind (their temporary folders); we hold the lock."""
    if not runs_dir.is_dir():
        return
    for path in runs_dir.iterdir():
        if path.name.startswith((".tmp-", ".old-")):
            shutil.rmtree(path, ignore_errors=True)


def _by_cost(specs: list[RunSpec]) -> list[RunSpec]:
    """Longest runs first, so parallel workers finish together (longest-processing-time scheduling)."""
    return sorted(
        specs,
        key=lambda s: -(s.model.num_topics + 5) * (s.model.passes or 30) * (s.model.iterations or 50),
    )


def _prepare(corpus, specs, root, jobs, report) -> dict[str, PreparedCorpus]:
    """Each distinct preprocessing once, into ``corpora/<key>/`` (an identical one there is reused)."""

    prepared: dict[str, PreparedCorpus] = {}
    settings = {spec.corpus_key: spec.preprocess for spec in specs}
    for number, (key, preprocess_config) in enumerate(settings.items(), start=1):
        out_dir = inside(root / "corpora" / key, root)
        report(
            ExperimentProgress(
                "preparing",
                total=len(settings),
                done=number - 1,
                message=f"corpus {number}/{len(settings)}",
            )
        )
        prepared[key] = preprocess(corpus, preprocess_config, out_dir, processes=jobs)
    return prepared


def _task(spec: RunSpec, prepared: PreparedCorpus, root: Path) -> TrainTask:
    run_dir = inside(root / "runs" / spec.run_id, root)
    corpus_dir = Path(prepared.path)
    return TrainTask(
        run_id=spec.run_id,
        model=spec.model.model_dump(mode="json"),
        seed=spec.seed,
        corpus_dir=str(corpus_dir.resolve()),
        corpus_ref=os.path.relpath(corpus_dir.resolve(), run_dir.resolve()),
        corpus_fingerprint=prepared.fingerprint,
    )


#: how often the running runs' passes are read while runs train (seconds)
PASSES_POLL_SECONDS = 1.0


def _train(run_executor, tasks, runs_dir, jobs, scheduler, snapshot, report) -> list[Outcome]:
    runs_dir.mkdir(parents=True, exist_ok=True)
    outcomes: list[Outcome] = []
    running: set[str] = set()
    lock = threading.Lock()  # the snapshot is shared with the thread that reads the passes
    try:
        with passes_read(runs_dir, running, snapshot, report, lock):
            for item in run_executor(tasks, runs_dir, jobs, scheduler):
                with lock:
                    if isinstance(item, str):
                        running.add(item)
                    else:
                        running.discard(item.run_id)
                        snapshot.passes = without_passes(snapshot.passes, {item.run_id})
                        outcomes.append(item)
                        snapshot.done += 1
                        snapshot.failed += item.status != COMPLETE
                        if item.status != COMPLETE:
                            log.warning("run %s failed: %s", item.run_id, item.error)
                    snapshot.running = len(running)
                    snapshot.message = item if isinstance(item, str) else item.run_id
                    report(snapshot)
    except TopicsError:
        raise
    except Exception as error:  # a crashed worker pool: the unfinished runs fail, the finished ones stay
        finished = {o.run_id for o in outcomes}
        for task in tasks:
            if task.run_id not in finished:
                outcomes.append(Outcome(task.run_id, FAILED, f"{type(error).__name__}: {error}"))
    snapshot.passes = without_passes(snapshot.passes, {task.run_id for task in tasks})
    return outcomes


def passes_read(
    runs_dir: Path, running: set[str], snapshot: ExperimentProgress, report, lock
) -> contextlib.AbstractContextManager[None]:
    """While the block runs, a thread reads the running runs' passes every ``PASSES_POLL_SECONDS``
    into ``snapshot.passes`` and reports the snapshot, so that a display moves between the ends of
    runs (and shows the time going on during a long pass)."""

    def read(stopped: threading.Event) -> bool:
        with lock:
            ids = list(running)
        passes = read_passes(runs_dir, ids)
        with lock:
            if stopped.is_set():
                return False
            mine = {run_id: passes[run_id] for run_id in passes if run_id in running}
            snapshot.passes = {**without_passes(snapshot.passes, set(ids)), **mine}
            try:
                report(snapshot)
            except Exception:  # a display that fails must not stop the runs
                log.debug("progress display failed", exc_info=True)
                return False
        return True

    return periodically(PASSES_POLL_SECONDS, read, "topics-run-passes")


def without_passes(passes: dict[str, RunPasses], run_ids: set[str]) -> dict[str, RunPasses]:
    """A new dict, never a change in place: trials trained at once may share one snapshot, whose
    passes a display may be reading; each ``_train`` replaces only its own runs'."""
    return {run_id: step for run_id, step in passes.items() if run_id not in run_ids}
