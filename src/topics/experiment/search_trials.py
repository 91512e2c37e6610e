"""The trials of a search: threads that ask, train, score and tell trials until the study has its
trials, the runs of all of them trained in one pool (this process, loky worker processes or a Dask
cluster), every run folder installed by a rename that keeps a complete run already there.

``run_trials`` with one job asks and runs the trials in the calling thread, one after another,
which is what makes a search reproducible; with N jobs, N threads share the pool (see
docs/search.md, "Parallel trials").
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from topics.config import ExperimentConfig, SearchRange
from topics.corpus.stream import Corpus
from topics.errors import RunError, TopicsError
from topics.experiment.executors import (
    DISK_ERRNOS,
    Outcome,
    TrainTask,
    _exit_with_parent,
    build_local,
    dask_client,
    folder_bytes,
    install_run,
    remove_progress_folder,
    train_remote,
    write_folder,
)
from topics.experiment.grid import RunSpec, scored_measures
from topics.experiment.results import COMPLETE, FAILED, MISSING, STUDY_FILE, read_json
from topics.experiment.runner import (
    ExperimentProgress,
    ExperimentResult,
    ProgressCallback,
    _prepare,
    _task,
    passes_read,
    plan_runs,
    without_passes,
)
from topics.experiment.scoring import score_experiment
from topics.experiment.study import (
    GRACE_SECONDS,
    PARALLEL,
    RUNNING_AT_ASK,
    Guard,
    database_errors,
    heartbeat,
    objectives,
    record_trial,
    sampler,
    suggest,
    trial_seed,
    trial_specs,
)

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

#: how often a process with nothing to ask checks the study again (seconds)
POLL_SECONDS = 1.0


class TrialPool:
    """Where the runs of trials train: this process (one job), a loky process pool shared by the
    trial threads, or a Dask cluster. ``train`` yields built runs, still to be installed."""

    def __init__(self, dask: bool, jobs: int, scheduler: str | None, runs_dir: Path) -> None:
        self.dask, self.jobs, self.scheduler, self.runs_dir = dask, jobs, scheduler, runs_dir
        self._stack = contextlib.ExitStack()
        self._scattered: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._client: Any = None
        self._processes: Any = None

    def __enter__(self) -> TrialPool:
        if self.dask:
            self._client = self._stack.enter_context(dask_client(self.scheduler, self.jobs))
        elif self.jobs > 1:
            from joblib.externals.loky.process_executor import ProcessPoolExecutor

            self._processes = ProcessPoolExecutor(self.jobs, initializer=_exit_with_parent, initargs=(os.getpid(),))
            self._stack.callback(self._processes.shutdown, wait=True, kill_workers=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()
        remove_progress_folder(self.runs_dir)

    def train(self, tasks: list[TrainTask]) -> Iterator[Outcome]:
        if self._client is not None:
            yield from self._train_dask(tasks)
        elif self._processes is not None:
            from concurrent.futures import as_completed

            futures = [self._processes.submit(build_local, task, str(self.runs_dir)) for task in tasks]
            for future in as_completed(futures):
                yield future.result()
        else:
            for task in tasks:
                yield build_local(task, str(self.runs_dir))

    def _train_dask(self, tasks: list[TrainTask]) -> Iterator[Outcome]:
        from dask.distributed import as_completed

        futures = {}
        for task in tasks:
            with self._lock:
                if task.corpus_dir not in self._scattered:
                    files = folder_bytes(Path(task.corpus_dir))
                    self._scattered[task.corpus_dir] = self._client.scatter(files, broadcast=True, hash=False)
            future = self._client.submit(
                train_remote,
                task,
                self._scattered[task.corpus_dir],
                key=f"train-{task.run_id}-{uuid.uuid4().hex[:8]}",
                pure=False,
            )
            futures[future] = task
        for future in as_completed(futures):
            task = futures[future]
            try:
                status, error, wall, files = future.result()
            except Exception as exc:
                yield Outcome(task.run_id, FAILED, f"{type(exc).__name__}: {exc}")
                continue
            workdir = Path(tempfile.mkdtemp(prefix=f".tmp-{task.run_id}-", dir=self.runs_dir))
            try:
                write_folder(workdir, files)
            except BaseException:
                shutil.rmtree(workdir, ignore_errors=True)
                raise
            yield Outcome(task.run_id, status, error, wall, str(workdir))


@dataclass
class TrialContext:
    config: ExperimentConfig
    root: Path
    corpus: Corpus
    corpus_fingerprint: str
    jobs: int
    space: dict[str, SearchRange]
    wanted: int
    report: ProgressCallback
    result: ExperimentResult
    snapshot: ExperimentProgress
    #: short sections over the study and the run folders (asks, installs, manifests, scores, outputs)
    guard: Guard
    #: preparing a corpus (long): two processes never write the same corpora/<key>/
    preparing: Guard
    pool: TrialPool | None = None
    asked: int = 0  # trials this process asked
    progress_lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def progress(self, **changes: int) -> None:
        with self.progress_lock:
            for name, change in changes.items():
                setattr(self.snapshot, name, getattr(self.snapshot, name) + change)
            self.report(self.snapshot)


def _install(ctx: TrialContext, built: Outcome) -> Outcome:
    """Rename a built run into place; a complete run already there (another process's or thread's,
    trained from the same settings and seed) is kept and the new one dropped."""
    runs_dir, workdir = ctx.root / "runs", Path(built.workdir)
    try:
        with ctx.guard():
            install_run(workdir, runs_dir / built.run_id, replace_complete=False)
    except BaseException as error:
        shutil.rmtree(workdir, ignore_errors=True)
        if isinstance(error, OSError) and error.errno in DISK_ERRNOS:
            raise RunError(
                f"{error.filename or runs_dir}: {error.strerror or error}; free some space, then rerun to resume"
            ) from None
        raise
    return Outcome(built.run_id, built.status, built.error, built.wall_seconds)


def _train_runs(ctx: TrialContext, tasks: list[TrainTask]) -> list[Outcome]:
    assert ctx.pool is not None
    outcomes: list[Outcome] = []
    running = {task.run_id for task in tasks}  # shared with the thread that reads their passes
    ctx.progress(running=len(tasks))
    try:
        with passes_read(ctx.root / "runs", running, ctx.snapshot, ctx.report, ctx.progress_lock):
            for built in ctx.pool.train(tasks):
                outcome = _install(ctx, built)
                outcomes.append(outcome)
                if outcome.status != COMPLETE:
                    log.warning("run %s failed: %s", outcome.run_id, outcome.error)
                with ctx.progress_lock:
                    running.discard(outcome.run_id)
                    ctx.snapshot.passes = without_passes(ctx.snapshot.passes, {outcome.run_id})
                ctx.progress(running=-1, done=1, failed=int(outcome.status != COMPLETE))
    except TopicsError:
        raise
    except Exception as error:  # a crashed worker: the unfinished runs fail, the finished ones stay
        finished = {o.run_id for o in outcomes}
        outcomes += [Outcome(t.run_id, FAILED, f"{type(error).__name__}: {error}") for t in tasks if t.run_id not in finished]
        ctx.progress(running=len(finished) - len(tasks))
    return outcomes


def _run_specs(ctx: TrialContext, specs: list[RunSpec]) -> dict[str, str]:
    """Train the missing runs of ``specs``, score them; returns the errors by run id."""
    measures = scored_measures(ctx.config.evaluate)
    plan = plan_runs(specs, ctx.root, measures)
    to_train = [p.spec for p in plan if p.status in (MISSING, FAILED)]
    errors: dict[str, str] = {}
    if to_train:
        with ctx.preparing():
            prepared = _prepare(ctx.corpus, to_train, ctx.root, ctx.jobs, lambda snapshot: None)
        outcomes = _train_runs(ctx, [_task(spec, prepared[spec.corpus_key], ctx.root) for spec in to_train])
        errors = {o.run_id: o.error for o in outcomes if o.status != COMPLETE}
        with ctx.progress_lock:
            ctx.result.outcomes += outcomes
            ctx.result.trained += sum(o.status == COMPLETE for o in outcomes)
            ctx.result.failed += len(errors)
    with ctx.progress_lock:
        ctx.result.skipped += len(specs) - len(to_train)
    with ctx.guard():
        score_experiment(ctx.config, ctx.root, specs, measures, errors, False)
    return errors


def _values(root: Path, specs: list[RunSpec], measures: list[str]) -> list[list[float]] | None:
    """Each objective's score per run, or None when a run has no score."""
    values = []
    for spec in specs:
        metrics = read_json(root / "runs" / spec.run_id / "metrics.json") or {}
        if not all(isinstance(metrics.get(m), (int, float)) for m in measures):
            return None
        values.append([float(metrics[m]) for m in measures])
    return values


def _ask(ctx: TrialContext, study: optuna.Study) -> tuple[optuna.Trial, list[RunSpec]] | bool:
    """A new trial and its runs; False when the study has its trials (or this process asked too many
    that failed), True when the missing trials are all running (wait for them: one may fail)."""
    import optuna
    from optuna.trial import TrialState

    search = ctx.config.search
    assert search is not None
    with ctx.guard():
        optuna.storages.fail_stale_trials(study)
        states = [t.state for t in study.get_trials(deepcopy=False)]
        finished = states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED)
        running = states.count(TrialState.RUNNING)
        if finished >= ctx.wanted or ctx.asked >= 2 * ctx.wanted:  # a setting failing every time ends the loop
            return False
        if finished + running >= ctx.wanted:
            return True
        ctx.asked += 1
        study.sampler = sampler(search, ctx.space, trial_seed(search.seed, finished, running))
        trial = study.ask()
        specs = trial_specs(ctx.config, ctx.corpus_fingerprint, trial.number, suggest(trial, ctx.space))
        trial.set_user_attr("run_ids", [spec.run_id for spec in specs])
        if running:
            trial.set_user_attr(RUNNING_AT_ASK, running)
            study.set_user_attr(PARALLEL, True)
    with ctx.progress_lock:
        ctx.snapshot.message = f"trial {trial.number} ({finished}/{ctx.wanted} finished)"
    return trial, specs


def _tell(study: optuna.Study, trial: optuna.Trial, values: list[float] | None = None, state: Any = None) -> None:
    import optuna

    try:
        study.tell(trial, values, state=state)
    except optuna.exceptions.UpdateFinishedTrialError:  # failed as stale by another process meanwhile
        log.warning("trial %s was marked failed by another process (no heartbeat for %s s)", trial.number, GRACE_SECONDS)


def _run_trial(ctx: TrialContext, study: optuna.Study, trial: optuna.Trial, specs: list[RunSpec]) -> None:
    from optuna.trial import TrialState

    search, measures = ctx.config.search, objectives(ctx.config)
    assert search is not None
    prune = search.pruner == "median" and len(measures) == 1 and len(specs) > 1
    batches = [specs[:1], specs[1:]] if prune else [specs]
    values: list[list[float]] = []
    for batch in batches:
        errors = _run_specs(ctx, batch)
        if ctx.stop.is_set():  # interrupted: the trial stays running, failed by the next start (or as stale)
            return
        scores = _values(ctx.root, batch, measures)
        if errors or scores is None:
            trial.set_user_attr("error", "; ".join(f"{k}: {v}" for k, v in errors.items()) or "a run has no score")
            _tell(study, trial, state=TrialState.FAIL)
            return
        with ctx.guard():
            for spec in batch:
                record_trial(ctx.root / "runs" / spec.run_id, ctx.config.name, trial.number)
        values += scores
        if len(measures) == 1:
            trial.report(sum(v[0] for v in values) / len(values), step=len(values) - 1)
        if prune and len(values) < len(specs) and trial.should_prune():
            _tell(study, trial, state=TrialState.PRUNED)
            return
    _tell(study, trial, [sum(v[i] for v in values) / len(values) for i in range(len(measures))])


def _trials(ctx: TrialContext, study: optuna.Study) -> None:
    """Ask, train and tell trials until the study has its trials (one thread of ``--jobs``)."""
    import optuna

    assert ctx.config.search is not None
    study.pruner = optuna.pruners.MedianPruner(n_startup_trials=ctx.config.search.startup_trials)
    while not ctx.stop.is_set():
        with database_errors(ctx.root / STUDY_FILE):
            asked = _ask(ctx, study)
            if asked is False:
                return
            if asked is True:
                ctx.stop.wait(POLL_SECONDS)
                continue
            trial, specs = asked
            with heartbeat(study._storage, trial._trial_id):
                _run_trial(ctx, study, trial, specs)


def run_trials(ctx: TrialContext, study: optuna.Study) -> None:
    """``ctx.jobs`` threads of trials, each on its own ``Study`` object (its own sampler); one job runs
    in this thread, so trials follow one another exactly as they always did."""
    import optuna

    if ctx.jobs == 1:
        _trials(ctx, study)
        return
    errors: list[BaseException] = []

    def work() -> None:
        try:
            _trials(ctx, optuna.load_study(study_name=study.study_name, storage=study._storage))
        except BaseException as error:
            errors.append(error)
            ctx.stop.set()

    threads = [threading.Thread(target=work, name=f"topics-trials-{n}", daemon=True) for n in range(ctx.jobs)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
    except BaseException:
        ctx.stop.set()  # Ctrl-C: the running trials stay running, failed by the next start (or as stale)
        raise
    if errors:
        raise errors[0]
