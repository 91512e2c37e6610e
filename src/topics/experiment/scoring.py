"""Scoring an experiment's runs: every measure counted once per reference corpus for all runs, and
stability across the seeds of each setting (Greene, O'Callaghan and Cunningham 2014)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from topics._files import sha256_json
from topics.config import EvaluateConfig, ExperimentConfig
from topics.errors import RunError, TopicsError
from topics.evaluation import Evaluation, evaluate_many, stability
from topics.experiment.grid import RunSpec
from topics.preprocessing import PreparedCorpus
from topics.runs import Run, load_run, write_evaluation


def stability_of(runs: Sequence[Run]) -> dict[str, float]:
    """Stability over runs that must differ only by seed."""
    configs = {(run.manifest["corpus_fingerprint"], run.config.model_dump_json()) for run in runs}
    if len(configs) > 1:
        raise RunError("stability compares runs that differ only by seed; these runs differ in corpus or settings")
    return stability([run.model for run in runs])


def score_experiment(
    config: ExperimentConfig,
    root: Path,
    specs: list[RunSpec],
    measures: list[str],
    errors: dict[str, str],
    force: bool,
) -> None:
    """Score every trained run lacking a measure with one ``evaluate_many`` call (count once, score many);
    runs that cannot be scored get their error in ``errors``."""

    runs: list[Run] = []
    for spec in specs:
        if spec.run_id in errors:
            continue
        try:
            run = load_run(root / "runs" / spec.run_id)
        except TopicsError:
            continue
        if force or not all(m in run.metrics for m in measures if m != "stability"):
            runs.append(run)
    base_measures = [m for m in measures if m != "stability"]
    evaluate_config = EvaluateConfig.model_validate({**config.evaluate.model_dump(), "measures": base_measures})
    reference = _reference(config)
    if runs:
        evaluations: Sequence[Evaluation | None]
        try:
            evaluations = evaluate_many(runs, evaluate_config, reference)
        except TopicsError:
            evaluations = []
            for run in runs:  # find the runs that cannot be scored, score the others
                try:
                    evaluations.extend(evaluate_many([run], evaluate_config, reference))
                except TopicsError as error:
                    errors[run.id] = f"evaluation: {error}"
                    evaluations.append(None)
        for run, evaluation in zip(runs, evaluations):
            if evaluation is not None:
                write_evaluation(run, evaluation)
    if "stability" in measures:
        _score_stability(root, specs, errors)


def _score_stability(root: Path, specs: list[RunSpec], errors: dict[str, str]) -> None:
    """Stability across the seeds of each setting, recorded in each of its runs."""

    groups: dict[str, list[RunSpec]] = {}
    for spec in specs:
        if spec.run_id not in errors:
            key = sha256_json({k: v for k, v in spec.params.items() if k != "seed"})
            groups.setdefault(key, []).append(spec)
    for members in groups.values():
        runs = []
        for spec in members:
            with contextlib.suppress(TopicsError):
                runs.append(load_run(root / "runs" / spec.run_id))
        if len(runs) < 2 or all("stability" in run.metrics for run in runs):
            continue
        scores = stability_of(runs)
        for run in runs:
            write_evaluation(
                run,
                Evaluation(
                    metrics=scores,
                    settings={"stability": {"runs": [r.id for r in runs]}},
                ),
            )


def _reference(config: ExperimentConfig) -> PreparedCorpus | None:
    if not config.evaluate.reference:
        return None
    return PreparedCorpus.load(Path(config.evaluate.reference))
