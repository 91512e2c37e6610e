"""Executors for the runs of an experiment: joblib processes on this machine, or a Dask cluster.

Either way a run is built in a temporary folder ``runs/.tmp-<run-id>-xxxx`` and renamed into place
when complete, so a run killed at any moment never looks complete. A run that raises is recorded
as a small ``runs/<run-id>/manifest.json`` with status ``failed`` and the error; the others go on.
A disk that is full or read-only stops the experiment instead (a RunError): every run would fail.

Only the process that runs the experiment, holding its lock, renames runs into place: a joblib
worker builds a run in its temporary folder and returns, and it exits as soon as its parent is gone
(a watchdog thread), so after a ``kill -9`` of ``topics run`` no orphan keeps training or writing.

A local run reports its training passes through a small file, ``runs/.tmp-progress/<run-id>.json``,
rewritten (by a rename) after each chunk or sweep and removed when the run ends; the experiment's process
reads those files (``read_passes``) to show how far each running run is. Dask runs have no such
channel: only their ends are seen.

Dask workers need no access to the results folder: they receive the prepared corpus's files as
bytes (once per worker), train in a private temporary folder, and return the run folder as
``{relative path: bytes}``; the client writes it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topics._cluster import dask_client
from topics._files import atomic_write, replace_folder
from topics.config import TrainConfig
from topics.errors import ConfigError, RunError, unknown_name
from topics.preprocessing.prepared import PreparedCorpus
from topics.runs.folder import manifest_header, run_config_hash
from topics.runs.run import build_run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainTask:
    """What a worker needs to train one run (picklable, small)."""

    run_id: str
    model: dict[str, Any]
    seed: int
    corpus_dir: str  # the prepared corpus folder (on the client's disk)
    corpus_ref: str  # how the run's config.toml names it, relative to the run folder
    corpus_fingerprint: str


@dataclass
class Outcome:
    """What became of one run: ``complete`` or ``failed`` (with the error), and its wall seconds."""

    run_id: str
    status: str
    error: str = ""
    wall_seconds: float = 0.0
    workdir: str = ""  # the built folder, still to be renamed into place by the experiment's process


# --- run folders ----------------------------------------------------------------------------------


def _manifest_status(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError):
        return None


def install_run(workdir: Path, run_dir: Path, *, replace_complete: bool = True) -> bool:
    """Rename the finished ``workdir`` to ``run_dir``; an existing folder there is moved aside first.

    With ``replace_complete=False`` a complete run already in place is kept and ``workdir`` dropped.
    Returns whether ``workdir`` went into place.
    """
    if run_dir.exists() and not replace_complete and _manifest_status(run_dir) == "complete":
        shutil.rmtree(workdir, ignore_errors=True)
        return False
    replace_folder(workdir, run_dir)
    return True


def failed_manifest(task: TrainTask, error: str, started: dt.datetime, wall: float) -> dict[str, Any]:

    config_hash = run_config_hash(task.corpus_fingerprint, TrainConfig.model_validate(task.model), task.seed)
    return {
        **manifest_header(task.run_id, config_hash, task.corpus_fingerprint, "failed", started, wall),
        "error": error,
    }


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


#: a disk that cannot take a run: not the run's failure but the experiment's (every run would fail)
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES})


def _disk_error(error: OSError, place: Path) -> RunError:
    return RunError(
        f"{error.filename or place}: {error.strerror or error}; free some space or choose a writable results "
        "folder, then rerun the same command to resume"
    )


# --- passes of running runs -----------------------------------------------------------------------

#: the folder, inside ``runs/``, of the running local runs' progress files (``.tmp-``: cleaned as
#: temporary folders are, after a killed experiment)
PROGRESS_FOLDER = ".tmp-progress"
#: what one step of ``train_lda``'s ``progress`` is, per engine
STEP_UNITS = {"gensim": "documents", "sklearn": "fit", "tomotopy": "sweep", "dtm": "sweep"}


@dataclass(frozen=True)
class RunPasses:
    """How far a running run's training is: ``done`` of ``total`` steps, each a ``unit`` (documents
    visited for gensim, Gibbs sweeps, fits)."""

    done: int
    total: int
    unit: str = "pass"


def _progress_file(runs_dir: Path, run_id: str) -> Path:
    return runs_dir / PROGRESS_FOLDER / f"{run_id}.json"


def _passes_writer(path: Path, engine: str) -> Callable[[int, int], None]:
    """``progress(done, total)`` for ``train_lda`` that rewrites ``path`` by a rename, so a reader
    never sees half a file. Progress is only shown: a file that cannot be written is skipped, and
    the run goes on."""
    unit = STEP_UNITS.get(engine, "step")

    def write(done: int, total: int) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        try:
            path.parent.mkdir(exist_ok=True)
            tmp.write_text(json.dumps({"done": done, "total": total, "unit": unit}), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as error:
            log.debug("progress of %s not written: %s", path.stem, error)

    return write


def read_passes(runs_dir: Path, run_ids: Iterable[str]) -> dict[str, RunPasses]:
    """The training progress of the local runs ``run_ids`` that have reported a pass (see the module
    docstring); runs without a file (not at their first pass yet, or on Dask) are left out."""
    passes = {}
    for run_id in run_ids:
        try:
            record = json.loads(_progress_file(runs_dir, run_id).read_text(encoding="utf-8"))
            passes[run_id] = RunPasses(int(record["done"]), int(record["total"]), str(record["unit"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return passes


def _build(task: TrainTask, prepared_dir: Path, workdir: Path, progress_file: Path | None = None) -> tuple[str, str]:
    """Train ``task`` into ``workdir``; on an error, leave a failed manifest (and the log) there instead.
    With ``progress_file``, each training pass is recorded there (removed at the end)."""

    started, wall = dt.datetime.now(dt.UTC), time.perf_counter()
    try:
        prepared = PreparedCorpus.load(prepared_dir)
        config = TrainConfig.model_validate(task.model)
        build_run(
            prepared,
            config,
            task.seed,
            workdir,
            run_id=task.run_id,
            corpus_ref=task.corpus_ref,
            progress=None if progress_file is None else _passes_writer(progress_file, config.engine),
        )
        return "complete", ""
    except OSError as error:
        if error.errno in DISK_ERRNOS:
            raise _disk_error(error, workdir) from None
        return _record_failure(task, error, workdir, started, wall)
    except Exception as error:
        return _record_failure(task, error, workdir, started, wall)
    finally:
        if progress_file is not None:
            progress_file.unlink(missing_ok=True)


def _record_failure(task: TrainTask, error: Exception, workdir: Path, started: dt.datetime, wall: float) -> tuple[str, str]:
    """Empty ``workdir`` but for the log and write a failed manifest there."""
    try:
        log.debug("run %s failed:\n%s", task.run_id, traceback.format_exc())
        error_text = _error_text(error)
        keep = {"log.txt"}
        for path in list(workdir.iterdir()):
            if path.name not in keep:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        manifest = failed_manifest(task, error_text, started, time.perf_counter() - wall)
        atomic_write(
            workdir / "manifest.json",
            json.dumps(manifest, indent=2, sort_keys=True) + "\n",
        )
        return "failed", error_text
    except OSError as disk:
        if disk.errno in DISK_ERRNOS:
            raise _disk_error(disk, workdir) from None
        raise


# --- local: joblib processes ----------------------------------------------------------------------

#: how often a worker checks that the process that started it is still there (seconds)
WATCHDOG_SECONDS = 0.5
_watched_parent: int | None = None


def _exit_with_parent(parent: int) -> None:
    """In a worker process: exit at once when ``parent`` (the experiment's process, which started
    it) is gone, after a kill -9 or a SIGTERM, so no orphan keeps training. ``parent`` is passed
    rather than read here: a worker still starting when the parent dies is already reparented.
    Started once per worker process, never in the experiment's own."""
    global _watched_parent
    if _watched_parent is not None:
        return
    _watched_parent = parent

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCHDOG_SECONDS)
        os._exit(1)  # nothing this worker builds would be installed

    threading.Thread(target=watch, name="topics-parent-watchdog", daemon=True).start()


def build_local(task: TrainTask, runs_dir: str) -> Outcome:
    """Build one run into ``runs_dir/.tmp-<id>-xxxx`` and return (in a joblib worker); the caller installs it."""
    wall = time.perf_counter()
    runs = Path(runs_dir)
    try:
        workdir = Path(tempfile.mkdtemp(prefix=f".tmp-{task.run_id}-", dir=runs))
    except OSError as cannot:
        if cannot.errno in DISK_ERRNOS:
            raise _disk_error(cannot, runs) from None
        raise
    try:
        status, error = _build(task, Path(task.corpus_dir), workdir, _progress_file(runs, task.run_id))
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return Outcome(task.run_id, status, error, time.perf_counter() - wall, str(workdir))


def _build_in_worker(task: TrainTask, runs_dir: str, parent: int) -> Outcome:
    _exit_with_parent(parent)
    return build_local(task, runs_dir)


def install_outcome(outcome: Outcome, runs_dir: Path) -> Outcome:
    """Rename a built run into place (in the experiment's process, which holds the lock)."""
    workdir = Path(outcome.workdir)
    try:
        # a failed record never replaces a complete run
        install_run(workdir, runs_dir / outcome.run_id, replace_complete=outcome.status == "complete")
    except BaseException as error:
        shutil.rmtree(workdir, ignore_errors=True)
        if isinstance(error, OSError) and error.errno in DISK_ERRNOS:
            raise _disk_error(error, runs_dir) from None
        raise
    return Outcome(outcome.run_id, outcome.status, outcome.error, outcome.wall_seconds)


def train_local(task: TrainTask, runs_dir: str) -> Outcome:
    """Build one run and rename it into place, in this process."""
    return install_outcome(build_local(task, runs_dir), Path(runs_dir))


def run_local(tasks: Sequence[TrainTask], runs_dir: Path, jobs: int, scheduler: str | None = None) -> Iterator[Outcome | str]:
    """Train ``tasks`` with ``jobs`` joblib (loky) processes; yields each run id as it is handed out,
    then each Outcome as it finishes (in any order). Runs are installed here, never in a worker."""
    try:
        yield from _run_local(tasks, runs_dir, jobs, scheduler)
    finally:
        remove_progress_folder(runs_dir)


def remove_progress_folder(runs_dir: Path) -> None:
    """The running runs' progress folder, once empty (not empty: other runs, a parallel trial's or
    another process's, still train)."""
    with contextlib.suppress(OSError):
        (runs_dir / PROGRESS_FOLDER).rmdir()


def _run_local(tasks: Sequence[TrainTask], runs_dir: Path, jobs: int, scheduler: str | None) -> Iterator[Outcome | str]:
    if scheduler:
        raise ConfigError("`scheduler` is the address of a Dask scheduler; it needs `executor` dask")
    if jobs <= 1:
        for task in tasks:
            yield task.run_id
            yield train_local(task, str(runs_dir))
        return
    from joblib import Parallel, delayed

    for task in tasks[:jobs]:
        yield task.run_id
    started = min(jobs, len(tasks))
    parallel = Parallel(
        n_jobs=jobs,
        backend="loky",
        return_as="generator_unordered",
        pre_dispatch="n_jobs",
        initializer=_exit_with_parent,  # in every worker from its start, busy or idle
        initargs=(os.getpid(),),
    )
    try:
        for built in parallel(delayed(_build_in_worker)(task, str(runs_dir), os.getpid()) for task in tasks):
            outcome = install_outcome(built, runs_dir)
            if started < len(tasks):
                yield tasks[started].run_id
                started += 1
            yield outcome
    except BaseException:
        # the pool is shut down (its workers killed mid-build): their temporary folders go too
        for path in runs_dir.glob(".tmp-*"):
            shutil.rmtree(path, ignore_errors=True)
        raise


# --- Dask -----------------------------------------------------------------------------------------

_WORKER_CORPORA: dict[str, Path] = {}


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file of ``folder`` as ``{relative posix path: bytes}``."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def write_folder(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        target = (folder / name).resolve()
        if not target.is_relative_to(folder.resolve()):
            raise ValueError(f"{name}: a returned file would leave its run folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _worker_corpus(fingerprint: str, files: dict[str, bytes]) -> Path:
    """The prepared corpus rebuilt once per worker process, in the worker's own local directory
    (which Dask removes when the worker closes, so no copy outlives the cluster)."""
    from dask.distributed import get_worker

    path = _WORKER_CORPORA.get(fingerprint)
    if path is None or not path.is_dir():
        path = Path(tempfile.mkdtemp(prefix=f"topics-corpus-{fingerprint[:12]}-", dir=get_worker().local_directory))
        write_folder(path, files)
        _WORKER_CORPORA[fingerprint] = path
    return path


def train_remote(task: TrainTask, corpus_files: dict[str, bytes]) -> tuple[str, str, float, dict[str, bytes]]:
    """Train on a Dask worker; returns ``(status, error, wall seconds, run folder as bytes)``."""
    wall = time.perf_counter()
    prepared_dir = _worker_corpus(task.corpus_fingerprint, corpus_files)
    workdir = Path(tempfile.mkdtemp(prefix=f"topics-run-{task.run_id}-", dir=prepared_dir.parent))
    try:
        status, error = _build(task, prepared_dir, workdir)
        files = folder_bytes(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return status, error, time.perf_counter() - wall, files


def run_dask(tasks: Sequence[TrainTask], runs_dir: Path, jobs: int, scheduler: str | None = None) -> Iterator[Outcome | str]:
    """Train ``tasks`` on Dask workers and write the returned run folders under ``runs_dir``."""
    from dask.distributed import as_completed

    if not tasks:
        return
    with dask_client(scheduler, jobs) as client:
        scattered: dict[str, Any] = {}
        futures = {}
        for task in tasks:
            if task.corpus_dir not in scattered:
                files = folder_bytes(Path(task.corpus_dir))
                scattered[task.corpus_dir] = client.scatter(files, broadcast=True, hash=False)
            future = client.submit(
                train_remote,
                task,
                scattered[task.corpus_dir],
                key=f"train-{task.run_id}",
                pure=False,
            )
            futures[future] = task
        for task in tasks[:jobs]:
            yield task.run_id
        handed_out = min(jobs, len(tasks))
        for future in as_completed(futures):
            task = futures[future]
            if handed_out < len(tasks):
                yield tasks[handed_out].run_id
                handed_out += 1
            try:
                status, error, wall, files = future.result()
            except Exception as exc:
                yield Outcome(task.run_id, "failed", _error_text(exc))
                continue
            workdir = Path(tempfile.mkdtemp(prefix=f".tmp-{task.run_id}-", dir=runs_dir))
            try:
                write_folder(workdir, files)
                install_run(
                    workdir,
                    runs_dir / task.run_id,
                    replace_complete=status == "complete",
                )
            except BaseException:
                shutil.rmtree(workdir, ignore_errors=True)
                raise
            yield Outcome(task.run_id, status, error, wall)


Executor = Callable[[Sequence[TrainTask], Path, int, "str | None"], Iterator["Outcome | str"]]
EXECUTORS: dict[str, Executor] = {"local": run_local, "dask": run_dask}


def get_executor(name: str) -> Executor:
    if name not in EXECUTORS:
        raise ConfigError(unknown_name("executor", name, list(EXECUTORS)))
    return EXECUTORS[name]
