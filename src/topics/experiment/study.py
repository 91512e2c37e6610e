"""The Optuna study of a search: stored in ``results/<name>/search.db`` and fingerprinted by what its
trials depend on, its seeded samplers, the runs each trial stands for, and what lets several
processes add trials to it at once (heartbeats, the shared lock on the experiment, short locks).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from topics._files import atomic_write, sha256_json
from topics.config import ExperimentConfig, PreprocessConfig, SearchConfig, SearchRange, TrainConfig
from topics.errors import ConfigError, RunError
from topics.experiment.background import periodically
from topics.experiment.grid import SECTIONS, RunSpec, chosen_metric, grid_axes, preparation_key, run_hash, run_id
from topics.experiment.results import STUDY_FILE
from topics.experiment.statistics import LOWER_IS_BETTER
from topics.runs.folder import MANIFEST, read_manifest

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

#: user attributes of the study: the fingerprint of the search and what it covers
FINGERPRINT, IDENTITY = "topics_fingerprint", "topics_search"
#: user attribute of the study, true once a trial was asked while others were running; of a trial,
#: how many others were running when it was asked (absent when none)
PARALLEL, RUNNING_AT_ASK = "topics_parallel_trials", "running_at_ask"
#: a running trial records a heartbeat this often (seconds); one silent for the grace period is failed
#: (its process was killed) by the next process that asks a trial
HEARTBEAT_SECONDS, GRACE_SECONDS = 10, 60
#: how long a process waits for another's short section (an ask, an install, scoring a trial's runs,
#: writing the outputs) before giving up (seconds)
GUARD_SECONDS = 120
#: how long a write to ``search.db`` waits for another process's (SQLite's busy timeout, seconds)
BUSY_SECONDS = 60


def objectives(config: ExperimentConfig) -> list[str]:
    """The measures a search optimises: ``[search] objective``, default the experiment's metric."""
    assert config.search is not None
    return list(config.search.objective or [chosen_metric(config)])


def section_of(name: str) -> str | None:
    return next((section for section, model in SECTIONS.items() if name in model.model_fields), None)


def search_identity(config: ExperimentConfig, corpus_fingerprint: str) -> dict[str, Any]:
    """What a study's trials depend on (everything but the number of trials); fingerprinted in the study."""
    assert config.search is not None
    search = config.search.model_dump(mode="json", exclude_none=True, exclude={"trials"})
    search["objective"] = objectives(config)
    return {
        "corpus": corpus_fingerprint,
        "preprocess": config.preprocess,
        "model": config.model,
        "evaluate": config.evaluate.model_dump(mode="json"),
        "search": search,
    }


def search_space(config: ExperimentConfig) -> dict[str, SearchRange]:
    """``[search.space]`` and, after it, every list-valued ``[preprocess]``/``[model]`` axis as a choice
    over its values (``check_search`` has refused an option given in both, and list-of-lists axes)."""
    assert config.search is not None
    space = dict(config.search.space)
    for section_axes in grid_axes(config, config.name).values():
        for name, values in section_axes:
            space.setdefault(name, SearchRange(choice=list(values)))
    return space


def sampler(search: SearchConfig, space: dict[str, SearchRange], seed: int) -> optuna.samplers.BaseSampler:
    """The seeded sampler; TPE with ``constant_liar`` (Optuna's way for parallel asks: a running trial
    counts as a poor result, so two trials asked together differ; with none running it changes nothing)."""
    import optuna

    if search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if search.sampler == "grid":
        grid = {name: grid_values(rng) for name, rng in space.items()}
        return optuna.samplers.GridSampler(grid, seed=seed)
    if search.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=search.startup_trials, constant_liar=True)


def grid_values(space: SearchRange) -> list[Any]:
    if space.int_range is not None:
        return list(range(space.int_range[0], space.int_range[1] + 1))
    if space.float_range is not None:
        return [space.float_range[0]]
    return list(space.choice or [])


def trial_seed(seed: int, finished: int, running: int = 0) -> int:
    """The sampler's seed for a trial asked after ``finished`` finished trials while ``running`` others
    run (0 when trials run one after another, so the seed is what it always was)."""
    import numpy as np

    entropy = [seed, finished, running] if running else [seed, finished]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def open_study(root: Path, config: ExperimentConfig, identity: dict[str, Any], create: bool = True) -> optuna.Study | None:
    """The study in ``root/search.db``, created when missing (None when missing and not ``create``);
    a study of another search is refused."""
    import optuna

    path = root / STUDY_FILE
    if not create and not path.is_file():
        return None
    # heartbeats are kept here by hand (``heartbeat``), as ask-and-tell needs; Optuna warns about that
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used", category=UserWarning)
    warnings.filterwarnings(
        "ignore", message=".*(heartbeat_interval|grace_period|fail_stale_trials)", category=optuna.exceptions.ExperimentalWarning
    )
    fingerprint = sha256_json(identity)
    directions: list[Literal["minimize", "maximize"]] = [
        "minimize" if m in LOWER_IS_BETTER else "maximize" for m in objectives(config)
    ]
    try:
        storage = optuna.storages.RDBStorage(
            f"sqlite:///{path.resolve()}",
            engine_kwargs={"connect_args": {"timeout": BUSY_SECONDS}},
            heartbeat_interval=HEARTBEAT_SECONDS,
            grace_period=GRACE_SECONDS,
        )
        try:
            study = optuna.load_study(study_name=config.name, storage=storage)
        except KeyError:
            study = optuna.create_study(storage=storage, study_name=config.name, directions=directions)
            study.set_user_attr(FINGERPRINT, fingerprint)
            study.set_user_attr(IDENTITY, identity)
    except Exception as error:  # sqlalchemy's errors: a locked, corrupt or foreign file
        raise RunError(
            f"{path}: cannot open the search database ({type(error).__name__}: {error}); it is left as it is: "
            "wait for another process using it, or move it aside to start a new study"
        ) from None
    if study.user_attrs.get(FINGERPRINT) != fingerprint:
        stored = study.user_attrs.get(IDENTITY) or {}
        changed = sorted(
            {f"[{key}]" for key in identity if key != "search" and stored.get(key) != identity[key]}
            | {f"[search] {key}" for key in identity["search"] if stored.get("search", {}).get(key) != identity["search"][key]}
        )
        raise ConfigError(
            f"{path}: holds a study of another search ({', '.join(changed) or 'settings'} differ from the file); "
            f"to start a new study delete {path} or rename the experiment (name = ...)"
        )
    return study


def finished_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def trial_specs(config: ExperimentConfig, corpus_fingerprint: str, number: int, params: dict[str, Any]) -> list[RunSpec]:
    """The runs of trial ``number``: one per seed; run ids from the settings (not the trial), so a
    repeated setting reuses its runs."""
    assert config.search is not None
    data: dict[str, dict[str, Any]] = {"preprocess": dict(config.preprocess), "model": dict(config.model)}
    for name, value in params.items():
        data[section_of(name) or "model"][name] = value
    preprocess = PreprocessConfig.model_validate(data["preprocess"])
    model = TrainConfig.model_validate(data["model"])
    specs = []
    for seed in range(config.search.seeds_per_trial):
        digest = run_hash(corpus_fingerprint, preprocess, model, seed)
        specs.append(
            RunSpec(
                run_id=run_id({**params, "seed": seed}, digest),
                preprocess=preprocess,
                model=model,
                seed=seed,
                params={"trial": number, **params, "seed": seed},
                corpus_key=preparation_key(corpus_fingerprint, preprocess),
            )
        )
    return specs


def suggest(trial: optuna.Trial, space: dict[str, SearchRange]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, rng in space.items():
        if rng.int_range is not None:
            params[name] = trial.suggest_int(name, rng.int_range[0], rng.int_range[1], log=rng.log)
        elif rng.float_range is not None:
            params[name] = trial.suggest_float(name, rng.float_range[0], rng.float_range[1], log=rng.log)
        else:
            params[name] = trial.suggest_categorical(name, rng.choice or [])
    return params


def record_trial(run_dir: Path, study: str, number: int) -> None:
    """Add the trial number to the run's manifest (``search``: study and trials); the file hashes
    recorded at creation are kept as they are."""
    manifest = read_manifest(run_dir)
    entry = manifest.get("search") or {"study": study, "trials": []}
    if number in entry["trials"]:
        return
    manifest["search"] = {"study": study, "trials": sorted({*entry["trials"], number})}
    atomic_write(run_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def study_specs(config: ExperimentConfig, corpus_fingerprint: str, study: optuna.Study) -> list[RunSpec]:
    """The runs of the finished trials (a pruned trial's first seeds only), in trial order."""
    from optuna.trial import TrialState

    specs = []
    for trial in finished_trials(study):
        trained = len(trial.user_attrs.get("run_ids", []))
        if trial.state == TrialState.PRUNED:  # each step reports the mean over the seeds so far
            trained = max(trial.intermediate_values, default=trained - 1) + 1
        specs += trial_specs(config, corpus_fingerprint, trial.number, trial.params)[:trained]
    return specs


# --- several processes on one study -----------------------------------------------------------------


@contextlib.contextmanager
def database_errors(path: Path) -> Iterator[None]:
    """An error of ``search.db`` while trials run (still locked after the busy timeout, a damaged
    file) as one message; what the study holds stays: finished trials are never rewritten."""
    import sqlalchemy.exc

    try:
        yield
    except sqlalchemy.exc.SQLAlchemyError as error:
        reason = getattr(error, "orig", None) or error
        raise RunError(
            f"{path}: the search database failed ({type(reason).__name__}: {reason}); its finished trials are kept: "
            "wait for other processes using it, then rerun to resume"
        ) from None


def heartbeat(storage: Any, trial_id: int) -> contextlib.AbstractContextManager[None]:
    """Record the trial's heartbeat now and every ``HEARTBEAT_SECONDS`` while the block runs, so a
    trial whose process dies is found stale (``optuna.storages.fail_stale_trials``) instead of
    running for ever."""

    def beat(_stopped: threading.Event) -> None:
        try:
            storage.record_heartbeat(trial_id)
        except Exception as error:  # a busy database: the next beat will do
            log.debug("heartbeat of trial id %s: %s", trial_id, error)

    storage.record_heartbeat(trial_id)
    return periodically(HEARTBEAT_SECONDS, beat, f"topics-heartbeat-{trial_id}")


class Guard:
    """A short critical section shared by this process's threads and, through the lock file ``path``,
    by other processes on the same experiment; waits up to ``timeout`` seconds (-1: for ever)."""

    def __init__(self, path: Path, timeout: float) -> None:
        from filelock import FileLock

        self.path = path
        self._thread = threading.RLock()
        self._file = FileLock(path, timeout=timeout, thread_local=False)

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        from filelock import Timeout

        with self._thread:
            try:
                self._file.acquire()
            except Timeout:
                raise RunError(
                    f"{self.path}: another `topics run` of this search held the lock for {self._file.timeout:g} s; "
                    "rerun to resume, or remove the lock file if no run is active"
                ) from None
            try:
                yield
            finally:
                self._file.release()


@contextlib.contextmanager
def join_search(directory: Path, when_alone: Callable[[], None]) -> Iterator[None]:
    """Hold a shared lock on ``directory/.lock`` while a search runs (a grid holds it exclusively, so
    the two never mix). A process that gets it exclusively first is alone: it calls ``when_alone``
    (fail every running trial, delete temporary folders: no one else is using them) before sharing."""
    try:
        import fcntl
    except ImportError:  # no flock: one process at a time, as for a grid
        from topics.experiment.runner import _lock

        lock = _lock(directory)
        try:
            when_alone()
            yield
        finally:
            lock.release()
        return
    handle = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            when_alone()
        deadline = time.monotonic() + 30  # another search holds it exclusively only while it starts
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RunError(
                        f"another `topics run` is using {directory} (lock file {directory / '.lock'}); "
                        "wait for it or remove the lock if no run is active"
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        os.close(handle)  # releases the lock
