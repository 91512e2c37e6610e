"""Experiment files and their grid: validation, expansion into runs, readable run ids.

A list in ``[preprocess]`` or ``[model]`` is a grid axis (for a list-valued option such as
``stopwords``, a list of lists is); ``seeds`` is the seed axis. The grid is the cross product of the
axes, in file order with the seeds last. Every value of every axis is checked against
``PreprocessConfig`` / ``TrainConfig`` before anything runs.
"""

from __future__ import annotations

import itertools
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from topics._files import drop_none, sha256_json
from topics.config import (
    EvaluateConfig,
    ExperimentConfig,
    PreprocessConfig,
    Strict,
    TrainConfig,
    load_toml,
    validate,
)
from topics.config.sections import files_relative_to
from topics.corpus.stream import Corpus
from topics.errors import ConfigError
from topics.preprocessing.inputs import preprocess_identity, stopword_file_digests

#: short names of axes in run ids (others use their option name)
ID_NAMES = {"num_topics": "k"}
#: each value is cut to this many characters in a run id (the hash keeps ids unique)
ID_VALUE_CHARS = 24
SECTIONS: dict[str, type[Strict]] = {"preprocess": PreprocessConfig, "model": TrainConfig}


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid: its preprocessing, model settings and seed, and the axis values that name it."""

    run_id: str
    preprocess: PreprocessConfig
    model: TrainConfig
    seed: int
    #: the grid values of this run, ``{option: value}``, axes only (seed included)
    params: dict[str, Any] = field(hash=False)
    #: folder name of its prepared corpus under ``corpora/`` (input fingerprint and preprocessing)
    corpus_key: str = ""


def load_experiment_config(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment file, grid included; a ConfigError names the file and each bad key."""
    path = Path(path)
    config = validate(ExperimentConfig, files_relative_to(load_toml(path), path.parent), str(path))
    grid_axes(config, str(path))
    return config


def _is_list_field(model: type[Strict], name: str) -> bool:
    annotation = model.model_fields[name].annotation
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return any(typing.get_origin(candidate) is list or candidate is list for candidate in candidates)


def _is_axis(model: type[Strict], name: str, value: Any) -> bool:
    if not isinstance(value, list):
        return False
    if _is_list_field(model, name):
        return len(value) > 0 and all(isinstance(item, list) for item in value)
    return True


def grid_axes(config: ExperimentConfig, origin: str = "experiment") -> dict[str, list[tuple[str, Any]]]:
    """Split ``[preprocess]`` and ``[model]`` into fixed values and axes, checking every value.

    Returns ``{"preprocess": [...], "model": [...]}``, each a list of ``(option, values)`` for the axes.
    Raises one ConfigError listing every problem (unknown option, empty axis, bad value).
    """
    problems: list[str] = []
    axes: dict[str, list[tuple[str, Any]]] = {}
    for section, model in SECTIONS.items():
        data: dict[str, Any] = getattr(config, section)
        unknown = [key for key in data if key not in model.model_fields]
        for key in unknown:
            problems.append(f"{origin}: [{section}] {key}: unknown key; choose from {', '.join(model.model_fields)}")
        data = {key: value for key, value in data.items() if key not in unknown}
        fixed = {key: value for key, value in data.items() if not _is_axis(model, key, value)}
        section_axes = [(key, value) for key, value in data.items() if _is_axis(model, key, value)]
        axes[section] = section_axes
        try:
            validate(model, fixed, origin, section)
        except ConfigError as error:
            problems.append(str(error))
        for key, values in section_axes:
            if not values:
                problems.append(f"{origin}: [{section}] {key} is an empty list: a grid axis needs at least one value")
            for value in values:
                try:
                    validate(model, {**fixed, key: value}, origin, section)
                except ConfigError as error:
                    problems.append(str(error))
            if len({repr(value) for value in values}) != len(values):
                problems.append(f"{origin}: [{section}] {key} lists a value twice, got {values!r}")
    if not problems:
        metric = config.metric
        if metric is not None and metric not in scored_measures(config.evaluate):
            problems.append(
                f"{origin}: metric {metric!r} is not measured; choose from {', '.join(scored_measures(config.evaluate))}"
            )
        if "perplexity" in config.evaluate.measures:
            heldouts = [value for key, values in axes["preprocess"] if key == "heldout" for value in values]
            if not heldouts:
                heldouts = [config.preprocess.get("heldout", PreprocessConfig.model_fields["heldout"].default)]
            if 0 in heldouts:
                problems.append(
                    f"{origin}: [evaluate] measures include perplexity, which needs [preprocess] heldout > 0 (e.g. 0.1)"
                )
    if problems:
        # one line per problem, each once (a bad fixed value shows up with every axis value too)
        raise ConfigError("\n".join(dict.fromkeys(line for problem in problems for line in problem.splitlines())))
    return axes


def scored_measures(config: EvaluateConfig) -> list[str]:
    """The metrics an experiment records: the chosen measures plus diversity (cheap, and plotted)."""
    measures: list[str] = [m for m in config.measures if m != "stability"]
    if "diversity" not in measures:
        measures.append("diversity")
    if "stability" in config.measures:
        measures.append("stability")
    return measures


def chosen_metric(config: ExperimentConfig) -> str:
    return config.metric or scored_measures(config.evaluate)[0]


def preparation_key(corpus_fingerprint: str, preprocess: PreprocessConfig) -> str:
    """Folder name of a prepared corpus: its input's fingerprint and its preprocessing (files by content)."""
    return sha256_json({"corpus": corpus_fingerprint, "preprocess": _preprocess_key(preprocess)})[:16]


def _preprocess_key(preprocess: PreprocessConfig) -> dict[str, Any]:
    """The settings with phrase files by content, and stopword files' digests when there are any
    (so keys of settings without files are unchanged)."""
    identity = preprocess_identity(preprocess)
    digests = stopword_file_digests(preprocess)
    if digests:
        identity["stopword_files"] = digests
    return identity


def run_hash(corpus_fingerprint: str, preprocess: PreprocessConfig, model: TrainConfig, seed: int) -> str:
    """Hash of everything that determines a run's result (never where or how it runs)."""
    return sha256_json(
        {
            "corpus": corpus_fingerprint,
            "preprocess": _preprocess_key(preprocess),
            "model": model.model_dump(mode="json"),
            "seed": seed,
        }
    )


def _id_value(value: Any) -> str:
    if isinstance(value, bool):
        text = "on" if value else "off"
    elif isinstance(value, list):
        text = "+".join(_id_value(item) for item in value) or "none"
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    # only characters safe in a folder name; no separators, no "..": ids never leave runs/
    text = re.sub(r"[^A-Za-z0-9.+]+", "_", text).strip("._") or "x"
    return text.replace("..", "_")[:ID_VALUE_CHARS]


def run_id(params: dict[str, Any], digest: str) -> str:
    """``k20-alpha_auto-seed1-3f9a2c1e``: the grid values, then a short hash of the full run config."""
    parts = []
    for key, value in params.items():
        if key == "seed":
            continue
        name = ID_NAMES.get(key, key)
        parts.append(f"{name}{_id_value(value)}" if name == "k" else f"{name}_{_id_value(value)}")
    parts.append(f"seed{params['seed']}")
    parts.append(digest[:8])
    return "-".join(parts)


def expand_grid(config: ExperimentConfig, corpus_fingerprint: str | None = None) -> list[RunSpec]:
    """Every run of the experiment, in grid order (file order of the axes, seeds last).

    ``corpus_fingerprint`` (of the input corpus) enters the run ids; it is read from the corpus when not given.
    """
    axes = grid_axes(config, config.name)
    if corpus_fingerprint is None:
        corpus_fingerprint = Corpus(config.corpus).fingerprint()
    sections = [(section, key, values) for section in SECTIONS for key, values in axes[section]]
    specs = []
    for combination in itertools.product(*(values for _, _, values in sections), config.seeds):
        *values, seed = combination
        data: dict[str, dict[str, Any]] = {
            "preprocess": dict(config.preprocess),
            "model": dict(config.model),
        }
        params: dict[str, Any] = {}
        for (section, key, _), value in zip(sections, values):
            data[section][key] = value
            params[key] = value
        params["seed"] = seed
        preprocess = PreprocessConfig.model_validate(data["preprocess"])
        model = TrainConfig.model_validate(data["model"])
        digest = run_hash(corpus_fingerprint, preprocess, model, seed)
        specs.append(
            RunSpec(
                run_id=run_id(params, digest),
                preprocess=preprocess,
                model=model,
                seed=seed,
                params=params,
                corpus_key=preparation_key(corpus_fingerprint, preprocess),
            )
        )
    return specs


def resolved_config(config: ExperimentConfig) -> dict[str, Any]:
    """The experiment with every default filled in (grid axes stay lists), TOML-ready."""
    axes = grid_axes(config, config.name)
    data = config.model_dump(mode="json")
    for section, model in SECTIONS.items():
        base = model().model_dump(mode="json") if section == "model" else PreprocessConfig().model_dump(mode="json")
        base.update(getattr(config, section))
        for key, values in axes[section]:
            base[key] = values
        data[section] = base
    data["metric"] = chosen_metric(config)
    return drop_none(data)
