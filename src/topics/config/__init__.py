"""Typed, strict configuration for every stage, loaded from TOML or given as options.

Every section forbids unknown keys and declares its ranges, so a typo or an out-of-range value is
reported with its key before anything runs; values from TOML files are strict (a TOML integer is
an integer), flags from the command line are parsed. The *resolved* config (defaults filled in) is
saved beside every output: it is the one input needed to rerun.
"""

from topics.config.experiment_file import EXPERIMENT_NAME_PATTERN, ExperimentConfig, SearchConfig, SearchRange
from topics.config.loading import EXPERIMENT_KEYS, SECTIONS, load_config, load_toml, validate
from topics.config.messages import ERROR_MESSAGES, error_model, format_validation_error
from topics.config.sections import (
    DEFAULT_ITERATIONS,
    FEW_TOPICS,
    FEW_TOPICS_OFFSET,
    OFFSET_HALVING_TOPICS,
    CorpusConfig,
    CorpusFormat,
    Engine,
    EvaluateConfig,
    Measure,
    PreprocessConfig,
    Strict,
    TrainConfig,
)

__all__ = [
    "DEFAULT_ITERATIONS",
    "ERROR_MESSAGES",
    "EXPERIMENT_KEYS",
    "EXPERIMENT_NAME_PATTERN",
    "SECTIONS",
    "FEW_TOPICS",
    "FEW_TOPICS_OFFSET",
    "OFFSET_HALVING_TOPICS",
    "CorpusConfig",
    "CorpusFormat",
    "Engine",
    "EvaluateConfig",
    "ExperimentConfig",
    "Measure",
    "PreprocessConfig",
    "SearchConfig",
    "SearchRange",
    "Strict",
    "TrainConfig",
    "error_model",
    "format_validation_error",
    "load_config",
    "load_toml",
    "validate",
]
