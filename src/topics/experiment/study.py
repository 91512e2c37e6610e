"""The Optuna study of a search: stored in ``results/<name>/search.db`` and fingerprinted by what its
trials depend on, its seeded samplers, and the runs each trial stands for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from topics._files import atomic_write, sha256_json
from topics.config import ExperimentConfig, PreprocessConfig, SearchConfig, SearchRange, TrainConfig
from topics.errors import ConfigError, RunError
from topics.experiment.grid import SECTIONS, RunSpec, chosen_metric, preparation_key, run_hash, run_id
from topics.experiment.results import STUDY_FILE
from topics.experiment.statistics import LOWER_IS_BETTER
from topics.runs.folder import MANIFEST, read_manifest

if TYPE_CHECKING:
    import optuna

#: user attributes of the study: the fingerprint of the search and what it covers
FINGERPRINT, IDENTITY = "topics_fingerprint", "topics_search"


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


def sampler(search: SearchConfig, seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    if search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if search.sampler == "grid":
        grid = {name: grid_values(space) for name, space in search.space.items()}
        return optuna.samplers.GridSampler(grid, seed=seed)
    if search.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=search.startup_trials)


def grid_values(space: SearchRange) -> list[Any]:
    if space.int_range is not None:
        return list(range(space.int_range[0], space.int_range[1] + 1))
    if space.float_range is not None:
        return [space.float_range[0]]
    return list(space.choice or [])


def trial_seed(seed: int, finished: int) -> int:
    """The sampler's seed for the trial after ``finished`` finished trials."""
    import numpy as np

    return int(np.random.SeedSequence([seed, finished]).generate_state(1)[0])


def open_study(root: Path, config: ExperimentConfig, identity: dict[str, Any], create: bool = True) -> optuna.Study | None:
    """The study in ``root/search.db``, created when missing (None when missing and not ``create``);
    a study of another search is refused."""
    import optuna

    path = root / STUDY_FILE
    if not create and not path.is_file():
        return None
    fingerprint = sha256_json(identity)
    directions: list[Literal["minimize", "maximize"]] = [
        "minimize" if m in LOWER_IS_BETTER else "maximize" for m in objectives(config)
    ]
    try:
        storage = optuna.storages.RDBStorage(f"sqlite:///{path.resolve()}")
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
    specs = []
    for trial in finished_trials(study):
        trained = len(trial.intermediate_values) or len(trial.user_attrs.get("run_ids", []))
        specs += trial_specs(config, corpus_fingerprint, trial.number, trial.params)[:trained]
    return specs
