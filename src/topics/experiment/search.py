"""Search: Bayesian optimisation of an experiment's settings with Optuna, each trial the mean over seeds.

An experiment file with ``[search]`` (``SearchConfig``) runs a study instead of a grid. The study
lives in ``results/<name>/search.db`` (SQLite, Optuna's RDB storage), so a rerun resumes it: it
counts the finished trials (complete or pruned) and runs only the missing ones. Each trial samples
the options of ``[search.space]``, trains seeds ``0..seeds_per_trial-1`` as ordinary run folders
under ``runs/`` (the trial numbers recorded in each manifest's ``search`` entry), scores them with
``score_experiment`` (coherence counted once per call) and reports the mean of each objective.

Reproducibility: the sampler is rebuilt before every trial, seeded from ``(seed, finished trials)``,
so with one job the i-th finished trial's settings depend only on the file and on the trials before
it; a study resumed after a kill proposes what an uninterrupted one would have. ``--jobs N`` runs N
trials at once (threads sharing one pool of worker processes, or a Dask cluster), and other
processes may add trials to the same study: then the order in which the sampler sees results
depends on timing, while every run stays reproducible from its settings and seed. List-valued
``[preprocess]``/``[model]`` axes beside ``[search]`` are choices of the search. The study itself
(storage, heartbeats, locks, fingerprint, samplers, the runs of a trial) is
``topics.experiment.study``, the trials ``topics.experiment.search_trials``; this module checks
``[search]``, opens the study, has the trials run and writes the outputs.
"""

from __future__ import annotations

import logging
import math
import time
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from topics.config import ExperimentConfig, PreprocessConfig, TrainConfig, validate
from topics.corpus.stream import Corpus
from topics.errors import ConfigError
from topics.experiment.executors import EXECUTORS
from topics.experiment.grid import SECTIONS, _is_list_field, grid_axes, scored_measures
from topics.experiment.results import search_result, write_search_outputs
from topics.experiment.runner import (
    ExperimentProgress,
    ExperimentResult,
    ProgressCallback,
    _clean_temporary,
    _write_inputs,
    plan_runs,
)
from topics.experiment.scoring import score_experiment
from topics.experiment.search_trials import TrialContext, TrialPool, run_trials
from topics.experiment.study import (
    GUARD_SECONDS,
    Guard,
    finished_trials,
    grid_values,
    join_search,
    objectives,
    open_study,
    search_identity,
    search_space,
    section_of,
    study_specs,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


# --- validation -----------------------------------------------------------------------------------


def _accepts_float(section: str, name: str) -> bool:
    annotation = SECTIONS[section].model_fields[name].annotation
    return float in (typing.get_args(annotation) or (annotation,))


def check_search(config: ExperimentConfig, origin: str) -> None:
    """Check ``[search]`` against the rest of the file; one ConfigError, a line per problem."""
    search = config.search
    if search is None:
        return
    problems: list[str] = []
    if "seeds" in config.model_fields_set:
        problems.append(f"{origin}: seeds: a file with [search] trains seeds 0..n-1 of each trial; set [search] seeds_per_trial")
    axes = grid_axes(config, origin)
    for section, section_axes in axes.items():
        for key, values in section_axes:
            if key not in search.space and _is_list_field(SECTIONS[section], key):
                problems.append(
                    f"{origin}: [{section}] {key} = {values!r}: beside [search] a grid axis becomes a choice of the "
                    f"search, and a list-valued option cannot be one; give [{section}] {key} one value"
                )
    for name, space in search.space.items():
        owner = section_of(name)
        if owner is None:
            options = sorted({*TrainConfig.model_fields, *PreprocessConfig.model_fields})
            problems.append(
                f"{origin}: [search.space] {name}: unknown parameter; it must be a [model] or [preprocess] option: "
                f"choose from {', '.join(options)}"
            )
            continue
        fixed: dict[str, Any] = getattr(config, owner)
        if name in fixed:
            kind = "a grid axis" if any(key == name for key, _ in axes[owner]) else "set"
            problems.append(f"{origin}: [search.space] {name} is also {kind} in [{owner}]; give it in one place")
            continue
        if space.kind == "float" and not _accepts_float(owner, name):
            problems.append(f"{origin}: [search.space] {name} takes whole numbers; use {{int = [lo, hi]}}")
            continue
        values = space.values_of(space.kind) or []
        for value in values:
            others = {key: value for key, value in fixed.items() if not isinstance(value, list) or key == "stopwords"}
            try:
                validate(SECTIONS[owner], {**others, name: value}, origin, owner)
            except ConfigError as error:
                problems.append(str(error).replace(f"[{owner}] ", "[search.space] "))
        if search.sampler == "grid" and space.size() == math.inf:
            problems.append(f"{origin}: [search.space] {name}: sampler 'grid' needs int ranges or choices, got a float range")
    allowed = [m for m in scored_measures(config.evaluate) if m != "stability"]
    for measure in search.objective or []:
        if measure not in allowed:
            problems.append(
                f"{origin}: [search] objective {measure!r} is not an evaluated measure; choose from "
                f"{', '.join(allowed)} (or add it to [evaluate] measures)"
            )
    if search.objective and len(set(search.objective)) != len(search.objective):
        problems.append(f"{origin}: [search] objective lists a measure twice, got {search.objective!r}")
    if problems:
        raise ConfigError("\n".join(dict.fromkeys(problems)))
    searched = search_space(config)  # [search.space] and the grid axes, as choices
    if not searched:
        problems.append(f"{origin}: [search.space] is empty: nothing to search; add e.g. num_topics = {{ int = [5, 50] }}")
    elif all(rng.size() == 1 for rng in searched.values()):
        problems.append(f"{origin}: [search.space]: every range holds a single value: nothing to search")
    if problems:
        raise ConfigError("\n".join(dict.fromkeys(problems)))


# --- running --------------------------------------------------------------------------------------


def run_search(
    config: ExperimentConfig,
    root: Path,
    *,
    source_text: str | None,
    jobs: int,
    run_executor: Any,
    scheduler: str | None,
    dry_run: bool,
    progress: ProgressCallback,
) -> ExperimentResult:
    """Run (or resume) the study of ``config`` into ``root``; see the module docstring."""
    import optuna

    search = config.search
    assert search is not None
    started = time.perf_counter()
    corpus = Corpus(config.corpus)
    corpus_fingerprint = corpus.fingerprint()
    identity = search_identity(config, corpus_fingerprint)
    if dry_run:
        study = open_study(root, config, identity, create=False)
        specs = study_specs(config, corpus_fingerprint, study) if study is not None else []
        result = ExperimentResult(root, config, plan_runs(specs, root, scored_measures(config.evaluate)), dry_run=True)
        result.search = search_result(root, objectives(config), study, 0)
        return result
    root.mkdir(parents=True, exist_ok=True)
    guard = Guard(root / ".search.lock", timeout=GUARD_SECONDS)

    def when_alone() -> None:
        _clean_temporary(root / "runs")
        with guard():
            study = open_study(root, config, identity)
            assert study is not None
            for stale in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
                study.tell(stale.number, state=optuna.trial.TrialState.FAIL)  # killed: no other process runs

    with join_search(root, when_alone):  # nothing is written before: a grid may be using the folder
        with guard():
            _write_inputs(root, config, source_text)
            study = open_study(root, config, identity)
        assert study is not None
        (root / "runs").mkdir(exist_ok=True)
        space = search_space(config)
        wanted = search.trials
        if search.sampler == "grid":
            wanted = min(wanted, math.prod(len(grid_values(rng)) for rng in space.values()))
        before = len(finished_trials(study))
        result = ExperimentResult(root, config, [])
        snapshot = ExperimentProgress("training", total=max(0, wanted - before) * search.seeds_per_trial)
        ctx = TrialContext(
            config,
            root,
            corpus,
            corpus_fingerprint,
            jobs,
            space,
            wanted,
            progress,
            result,
            snapshot,
            guard,
            Guard(root / ".prepare.lock", timeout=-1),
        )
        if len(finished_trials(study)) < wanted:
            with TrialPool(run_executor is EXECUTORS["dask"], jobs, scheduler, root / "runs") as ctx.pool:
                run_trials(ctx, study)
        progress(ExperimentProgress("writing", total=snapshot.total, done=snapshot.done, failed=result.failed))
        specs = study_specs(config, corpus_fingerprint, study)
        measures = scored_measures(config.evaluate)
        with guard():  # whichever process ends writes the outputs, never two at once
            score_experiment(config, root, specs, measures, {}, False)
            compared = write_search_outputs(root, config, study, specs, objectives(config))
        if compared is not None:
            result.comparison, result.best_run_id = compared
        result.plan = plan_runs(specs, root, measures)
        result.search = search_result(root, objectives(config), study, len(finished_trials(study)) - before)
        result.wall_seconds = time.perf_counter() - started
        progress(ExperimentProgress("done", total=snapshot.total, done=snapshot.done, failed=result.failed))
        return result
