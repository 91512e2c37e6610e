"""Stage 6, experiments: a grid of runs from one file, trained in parallel, resumable, compared over seeds."""

from topics.experiment.executors import EXECUTORS
from topics.experiment.grid import expand_grid, load_experiment_config
from topics.experiment.results import Experiment, SearchResult, load_experiment
from topics.experiment.runner import (
    ExperimentProgress,
    ExperimentResult,
    run_experiment,
)
from topics.experiment.search import check_search
from topics.experiment.statistics import Comparison, aggregate

__all__ = [
    "EXECUTORS",
    "Comparison",
    "Experiment",
    "ExperimentProgress",
    "ExperimentResult",
    "SearchResult",
    "aggregate",
    "check_search",
    "expand_grid",
    "load_experiment",
    "load_experiment_config",
    "run_experiment",
]
