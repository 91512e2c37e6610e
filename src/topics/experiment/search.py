"""Search: Bayesian optimisation of an experiment's settings with Optuna, each trial the mean over seeds.

An experiment file with ``[search]`` (``SearchConfig``) runs a study instead of a grid. The study
lives in ``results/<name>/search.db`` (SQLite, Optuna's RDB storage), so a rerun resumes it: it
counts the finished trials (complete or pruned) and runs only the missing ones. Each trial samples
the options of ``[search.space]``, trains seeds ``0..seeds_per_trial-1`` as ordinary run folders
under ``runs/`` (the trial numbers recorded in each manifest's ``search`` entry), scores them with
``score_experiment`` (coherence counted once per call) and reports the mean of each objective.

Reproducibility: the sampler is rebuilt before every trial, seeded from ``(seed, finished trials)``,
so the i-th finished trial's settings depend only on the file and on the trials before it; a study
resumed after a kill proposes what an uninterrupted one would have. Trials run one after another;
``--jobs`` trains a trial's seeds at once, which changes no result. The study itself (storage,
fingerprint, samplers, the runs of a trial) is ``topics.experiment.study``; this module checks
``[search]`` and runs the trials.
"""

from __future__ import annotations

import logging
import math
import time
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from topics.config import ExperimentConfig, PreprocessConfig, TrainConfig, validate
from topics.corpus.stream import Corpus
from topics.errors import ConfigError
from topics.experiment.grid import SECTIONS, RunSpec, grid_axes, scored_measures
from topics.experiment.results import COMPLETE, FAILED, MISSING, read_json, search_result, write_search_outputs
from topics.experiment.runner import (
    ExperimentProgress,
    ExperimentResult,
    ProgressCallback,
    _clean_temporary,
    _lock,
    _prepare,
    _task,
    _train,
    _write_inputs,
    plan_runs,
)
from topics.experiment.scoring import score_experiment
from topics.experiment.study import (
    finished_trials,
    grid_values,
    objectives,
    open_study,
    record_trial,
    sampler,
    search_identity,
    section_of,
    study_specs,
    suggest,
    trial_seed,
    trial_specs,
)

if TYPE_CHECKING:
    import optuna

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
            if key not in search.space:
                problems.append(
                    f"{origin}: [{section}] {key} = {values!r} is a grid axis; grids beside [search] are not supported yet: "
                    f"search it in [search.space] or give [{section}] {key} one value"
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
    if not search.space:
        problems.append(f"{origin}: [search.space] is empty: nothing to search; add e.g. num_topics = {{ int = [5, 50] }}")
    elif all(space.size() == 1 for space in search.space.values()):
        problems.append(f"{origin}: [search.space]: every range holds a single value: nothing to search")
    if problems:
        raise ConfigError("\n".join(dict.fromkeys(problems)))


# --- running --------------------------------------------------------------------------------------


@dataclass
class _Context:
    config: ExperimentConfig
    root: Path
    corpus: Corpus
    corpus_fingerprint: str
    jobs: int
    run_executor: Any
    scheduler: str | None
    report: ProgressCallback
    result: ExperimentResult


def _run_specs(ctx: _Context, specs: list[RunSpec], snapshot: ExperimentProgress) -> dict[str, str]:
    """Train the missing runs of ``specs``, score them; returns the errors by run id."""
    measures = scored_measures(ctx.config.evaluate)
    plan = plan_runs(specs, ctx.root, measures)
    to_train = [p.spec for p in plan if p.status in (MISSING, FAILED)]
    ctx.result.skipped += len(specs) - len(to_train)
    errors: dict[str, str] = {}
    if to_train:
        prepared = _prepare(ctx.corpus, to_train, ctx.root, ctx.jobs, ctx.report)
        tasks = [_task(spec, prepared[spec.corpus_key], ctx.root) for spec in to_train]
        outcomes = _train(ctx.run_executor, tasks, ctx.root / "runs", ctx.jobs, ctx.scheduler, snapshot, ctx.report)
        ctx.result.outcomes += outcomes
        ctx.result.trained += sum(o.status == COMPLETE for o in outcomes)
        ctx.result.failed += sum(o.status != COMPLETE for o in outcomes)
        errors = {o.run_id: o.error for o in outcomes if o.status != COMPLETE}
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


def _run_trial(ctx: _Context, study: optuna.Study, snapshot: ExperimentProgress) -> None:
    import optuna
    from optuna.trial import TrialState

    search, measures = ctx.config.search, objectives(ctx.config)
    assert search is not None
    study.sampler = sampler(search, trial_seed(search.seed, len(finished_trials(study))))
    study.pruner = optuna.pruners.MedianPruner(n_startup_trials=search.startup_trials)
    trial = study.ask()
    specs = trial_specs(ctx.config, ctx.corpus_fingerprint, trial.number, suggest(trial, search.space))
    trial.set_user_attr("run_ids", [spec.run_id for spec in specs])
    prune = search.pruner == "median" and len(measures) == 1 and len(specs) > 1
    batches = [specs[:1], specs[1:]] if prune else [specs]
    values: list[list[float]] = []
    for batch in batches:
        errors = _run_specs(ctx, batch, snapshot)
        scores = _values(ctx.root, batch, measures)
        if errors or scores is None:
            trial.set_user_attr("error", "; ".join(f"{k}: {v}" for k, v in errors.items()) or "a run has no score")
            study.tell(trial, state=TrialState.FAIL)
            return
        for spec in batch:
            record_trial(ctx.root / "runs" / spec.run_id, ctx.config.name, trial.number)
        values += scores
        if len(measures) == 1:
            trial.report(sum(v[0] for v in values) / len(values), step=len(values) - 1)
        if prune and len(values) < len(specs) and trial.should_prune():
            study.tell(trial, state=TrialState.PRUNED)
            return
    study.tell(trial, [sum(v[i] for v in values) / len(values) for i in range(len(measures))])


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
    lock = _lock(root)
    try:
        _write_inputs(root, config, source_text)
        _clean_temporary(root / "runs")
        study = open_study(root, config, identity)
        assert study is not None
        for stale in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            study.tell(stale.number, state=optuna.trial.TrialState.FAIL)  # killed; we hold the lock
        wanted = search.trials
        if search.sampler == "grid":
            wanted = min(wanted, math.prod(len(grid_values(space)) for space in search.space.values()))
        before = len(finished_trials(study))
        result = ExperimentResult(root, config, [])
        ctx = _Context(config, root, corpus, corpus_fingerprint, jobs, run_executor, scheduler, progress, result)
        snapshot = ExperimentProgress("training", total=max(0, wanted - before) * search.seeds_per_trial)
        attempts = 0
        while len(finished_trials(study)) < wanted and attempts < 2 * wanted:
            attempts += 1  # a trial that fails does not count; a setting failing every time ends the loop
            snapshot.message = f"trial {len(finished_trials(study)) + 1}/{wanted}"
            _run_trial(ctx, study, snapshot)
        progress(ExperimentProgress("writing", total=snapshot.total, done=snapshot.done, failed=result.failed))
        specs = study_specs(config, corpus_fingerprint, study)
        measures = scored_measures(config.evaluate)
        score_experiment(config, root, specs, measures, {}, False)
        compared = write_search_outputs(root, config, study, specs, objectives(config))
        if compared is not None:
            result.comparison, result.best_run_id = compared
        result.plan = plan_runs(specs, root, measures)
        result.search = search_result(root, objectives(config), study, len(finished_trials(study)) - before)
        result.wall_seconds = time.perf_counter() - started
        progress(ExperimentProgress("done", total=snapshot.total, done=snapshot.done, failed=result.failed))
        return result
    finally:
        lock.release()
