"""An experiment file: the corpus, a grid of preprocessing and model settings (or a search over them), seeds and evaluation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from topics.config.sections import CorpusConfig, EvaluateConfig, Strict

# --- search -------------------------------------------------------------------------------------


class SearchRange(Strict):
    """One searched option: ``{int = [lo, hi]}``, ``{float = [lo, hi]}`` (both ends included, on a
    log scale with ``log = true``) or ``{choice = [...]}`` (numbers, strings or booleans)."""

    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)

    int_range: list[int] | None = Field(None, alias="int", min_length=2, max_length=2, description="[lo, hi]")
    float_range: list[float] | None = Field(None, alias="float", min_length=2, max_length=2, description="[lo, hi]")
    choice: list[bool | int | float | str] | None = Field(None, description="the values")
    log: bool = Field(False, description="sample a range on a log scale (lo > 0)")

    @model_validator(mode="after")
    def _one_range(self) -> SearchRange:
        given = [kind for kind in ("int", "float", "choice") if self.values_of(kind) is not None]
        if len(given) != 1:
            raise ValueError("must be one of {int = [lo, hi]}, {float = [lo, hi]} or {choice = [...]}")
        bounds = self.int_range or self.float_range
        if bounds is not None and bounds[0] > bounds[1]:
            raise ValueError("is an empty range: lo > hi")
        if bounds is not None and self.log and bounds[0] <= 0:
            raise ValueError("takes log = true only with lo > 0")
        if self.choice is not None:
            if self.log:
                raise ValueError("log applies to int and float ranges, not to a choice")
            if not self.choice:
                raise ValueError("has an empty choice: list at least one value")
            if len({repr(item) for item in self.choice}) != len(self.choice):
                raise ValueError("lists a choice twice")
        return self

    @property
    def kind(self) -> str:
        """``int``, ``float`` or ``choice``."""
        return "int" if self.int_range is not None else "float" if self.float_range is not None else "choice"

    def values_of(self, kind: str) -> list[Any] | None:
        return {"int": self.int_range, "float": self.float_range, "choice": self.choice}[kind]

    def size(self) -> float:
        """How many values the range admits (inf for a float range wider than a point)."""
        if self.int_range is not None:
            return self.int_range[1] - self.int_range[0] + 1
        if self.float_range is not None:
            return 1 if self.float_range[0] == self.float_range[1] else float("inf")
        return len(self.choice or [])


class SearchConfig(Strict):
    """``[search]``: Bayesian optimisation (Optuna) over model and preprocessing options, each trial
    the mean over ``seeds_per_trial`` training seeds. List-valued ``[preprocess]``/``[model]`` options
    beside it are choices of the search. Checked against the experiment by
    ``topics.experiment.search.check_search``."""

    trials: int = Field(ge=1, description="trials the study should hold; a rerun adds the missing ones")
    sampler: Literal["tpe", "random", "grid", "nsga2"] = Field("tpe", description="Optuna sampler")
    seed: int = Field(0, ge=0, description="the sampler's seed: same file, same trials, same order")
    objective: list[str] | None = Field(
        None,
        min_length=1,
        description="evaluated measures to optimise (two or more: a Pareto front); default: the experiment's metric",
    )
    seeds_per_trial: int = Field(3, ge=1, description="training seeds 0..n-1 of every trial; the objective is their mean")
    pruner: Literal["median", "none"] = Field("median", description="stop a trial whose first seed is below the median")
    startup_trials: int = Field(5, ge=1, description="trials before pruning starts (and TPE's random start-up trials)")
    space: dict[str, SearchRange] = Field(default_factory=dict, description="option -> range searched")


# --- experiments ----------------------------------------------------------------------------------

#: experiment names become a folder under the results folder: no separators, no leading dot
EXPERIMENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$"


class ExperimentConfig(Strict):
    """One experiment file: a corpus, preprocessing and model settings, evaluation and the grid.

    In ``preprocess`` and ``model`` any option may be a list of values, which makes it a grid axis
    (a list-valued option such as ``stopwords`` takes a list of lists); ``seeds`` is the seed axis.
    The grid is the cross product of the axes; beside ``[search]`` each axis is a choice of the
    search instead. The two sections are checked key by key against ``PreprocessConfig`` and
    ``TrainConfig`` by ``topics.experiment.expand_grid``.
    """

    name: str = Field(description="experiment name: the folder under the results folder")
    description: str = Field("", description="free text, copied into summary.md")
    seeds: list[Annotated[int, Field(ge=0)]] = Field(default_factory=lambda: [0], min_length=1, description="the seed axis")
    metric: str | None = Field(
        None,
        description="metric that picks the best setting; default: the first of [evaluate] measures",
    )
    corpus: CorpusConfig
    preprocess: dict[str, Any] = Field(
        default_factory=dict,
        description="PreprocessConfig options; a list is a grid axis",
    )
    model: dict[str, Any] = Field(default_factory=dict, description="TrainConfig options; a list is a grid axis")
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig, description="measures, top-n, reference corpus")
    search: SearchConfig | None = Field(None, description="Bayesian optimisation instead of a grid (docs/search.md)")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        import re

        if not re.match(EXPERIMENT_NAME_PATTERN, value):
            raise ValueError("must be a plain folder name (letters, digits, '.', '_', '-'; no '/', no leading '.')")
        return value

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("must list distinct seeds")
        return value


#: the sections a TOML file may hold for single commands, and their models
