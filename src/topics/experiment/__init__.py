"""Stage 6, experiments: a grid of runs from one file, trained in parallel, resumable, compared over seeds."""

from topics.experiment.executors import EXECUTORS
from topics.experiment.grid import expand_grid, load_experiment_config
from topics.experiment.results import Experiment, load_experiment
from topics.experiment.runner import (
    ExperimentProgress,
    ExperimentResult,
    run_experiment,
)
from topics.experiment.statistics import Comparison, aggregate

__all__ = [
    "EXECUTORS",
    "Comparison",
    "Experiment",
    "ExperimentProgress",
    "ExperimentResult",
    "aggregate",
    "expand_grid",
    "load_experiment",
    "load_experiment_config",
    "run_experiment",
]
