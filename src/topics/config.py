"""Typed, strict configuration for every stage, loaded from TOML or CLI options.

Every model forbids unknown keys and declares its ranges, so a typo or an out-of-range value
is reported with its key before anything runs. The *resolved* config (defaults filled in) is
saved beside every output: it is the one input needed to rerun.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from topics._files import sha256_json
from topics.errors import ConfigError, lookup


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of this config."""
        return sha256_json(self.model_dump(mode="json"))


CorpusFormat = Literal["articles", "text", "lines", "jsonl", "csv", "octis", "sample"]


S = TypeVar("S", bound=Strict)


class CorpusConfig(Strict):
    """Where documents come from and how their fields are named."""

    source: str = Field(description="path to a folder or file, or sample:lee")
    format: CorpusFormat | None = Field(None, description="corpus format; detected when omitted")
    text_field: str = Field("text", description="JSONL/CSV field holding the text")
    id_field: str = Field("id", description="JSONL/CSV field holding the document id")
    title_field: str = Field("title", description="JSONL/CSV field holding the title")
    date_field: str = Field("date", description="JSONL/CSV field holding the date")
    label_field: str = Field("label", description="JSONL/CSV field holding a label")


class PreprocessConfig(Strict):
    """Cleaning, tokenising and vocabulary filtering (topics.preprocess)."""

    unicode_normalization: Literal["NFKC", "NFC", "none"] = Field("NFKC", description="Unicode normal form")
    lowercase: bool = Field(True, description="lower-case tokens")
    remove_urls: bool = Field(True, description="drop URLs")
    remove_emails: bool = Field(True, description="drop e-mail addresses")
    remove_numbers: bool = Field(True, description="drop tokens that are numbers")
    remove_punctuation: bool = Field(True, description="drop punctuation tokens")
    min_token_length: int = Field(3, ge=1, description="shortest token kept, in characters")
    max_token_length: int = Field(40, ge=1, description="longest token kept, in characters")
    stopwords: list[str] = Field(
        default_factory=lambda: ["english"],
        description="stopword lists: 'english' (gensim + scikit-learn), 'russian', or paths to files with one word a line",
    )
    lemmatize: bool = Field(True, description="lemmatise tokens with simplemma")
    language: str = Field("en", description="simplemma language code(s), e.g. 'en' or 'en,ru'")
    phrases: Literal["none", "bigrams", "trigrams"] = Field("bigrams", description="collocations with gensim Phrases")
    phrase_min_count: int = Field(5, ge=1, description="Phrases min_count")
    phrase_threshold: float = Field(10.0, gt=0, description="Phrases threshold")
    no_below: int | None = Field(
        None,
        ge=1,
        description="keep words in at least this many documents (default 5; 1 for octis)",
    )
    no_above: float | None = Field(
        None,
        gt=0,
        le=1,
        description="keep words in at most this share of documents (default 0.5; 1.0 for octis)",
    )
    keep_n: int | None = Field(
        None,
        ge=1,
        description="keep at most this many words (default 100000; all for octis)",
    )
    heldout: float = Field(0.0, ge=0, lt=1, description="share of documents held out for perplexity")
    split_seed: int = Field(0, ge=0, description="seed of the held-out split")

    @field_validator("no_above")
    @classmethod
    def _no_above_range(cls, value: float | None) -> float | None:
        if value is not None and not 0 < value <= 1:
            raise ValueError("must be in (0, 1]")
        return value


Engine = Literal["gensim", "sklearn", "tomotopy"]

#: the engine's own number of iterations when ``iterations`` is not given (see docs/engines.md)
DEFAULT_ITERATIONS = {"gensim": 10, "sklearn": 10, "tomotopy": 1000}


class TrainConfig(Strict):
    """LDA settings (topics.train), shared by the engines where they mean the same thing.

    ``alpha`` and ``eta`` take a number, or ``symmetric`` (1/K); gensim also takes its keywords
    ``asymmetric`` and ``auto``. Fields an engine does not use are ignored by it; the values each
    engine used are recorded in the run's ``[engine_parameters]``. Defaults: docs/defaults.md.
    """

    engine: Engine = Field(
        "gensim",
        description="LDA engine: gensim (online variational Bayes), sklearn (batch variational Bayes), tomotopy (collapsed Gibbs sampling)",
    )
    num_topics: int = Field(10, ge=1, description="number of topics K")
    passes: int = Field(50, ge=1, description="passes over the corpus (gensim)")
    iterations: int | None = Field(
        None,
        ge=1,
        description="E-step iterations per document (gensim, default 10); max_iter (sklearn, default 10); Gibbs sweeps (tomotopy, default 1000)",
    )
    chunksize: int | None = Field(
        None,
        ge=1,
        description="documents per update (gensim; sklearn online batch_size); default: the whole corpus up to 100000",
    )
    alpha: float | Literal["symmetric", "asymmetric", "auto"] = Field(0.1, description="document-topic prior (all engines)")
    eta: float | Literal["symmetric", "auto"] = Field(0.01, description="topic-word prior (all engines)")
    decay: float = Field(
        0.5,
        ge=0.5,
        le=1.0,
        description="gensim decay (kappa); sklearn online learning_decay",
    )
    offset: float = Field(1.0, ge=1.0, description="gensim offset (tau_0); sklearn online learning_offset")
    workers: int = Field(
        1,
        ge=1,
        description="worker processes (threads for tomotopy) for one model; >1 is not reproducible",
    )
    learning_method: Literal["batch", "online"] = Field("batch", description="sklearn: batch or online variational Bayes")
    burn_in: int = Field(
        0,
        ge=0,
        description="tomotopy: Gibbs sweeps before the document-topic prior is first optimised",
    )
    optim_interval: int = Field(
        10,
        ge=0,
        description="tomotopy: optimise the document-topic prior every this many sweeps; 0 keeps alpha fixed",
    )
    term_weight: Literal["one", "idf", "pmi"] = Field("one", description="tomotopy: term weighting (one = plain LDA)")
    parallel: Literal["default", "none", "copy_merge", "partition"] = Field(
        "default", description="tomotopy: parallel scheme when workers > 1"
    )

    @field_validator("alpha", "eta")
    @classmethod
    def _positive_prior(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, float) and value <= 0:
            raise ValueError("must be > 0")
        engine = info.data.get("engine", "gensim")
        if isinstance(value, str) and value != "symmetric" and engine != "gensim":
            raise ValueError(f"must be a number or 'symmetric' with engine {engine} ({value!r} is gensim's only)")
        return value

    def resolved_iterations(self) -> int:
        """``iterations``, or the engine's own default."""
        return self.iterations or DEFAULT_ITERATIONS[self.engine]


Measure = Literal[
    "u_mass",
    "c_uci",
    "c_npmi",
    "c_v",
    "diversity",
    "irbo",
    "perplexity",
    "stability",
    "nmi",
    "ari",
    "accuracy",
]


def _default_measures() -> list[Measure]:
    return ["c_npmi", "u_mass"]


class EvaluateConfig(Strict):
    """Which scores, over which top words and reference corpus (topics.evaluate)."""

    measures: list[Measure] = Field(default_factory=_default_measures, description="measures to compute")
    topn: int = Field(10, ge=2, description="top words per topic for coherence")
    window: int | None = Field(
        None,
        ge=1,
        description="sliding window size; default per measure (10, or 110 for c_v)",
    )
    counting: Literal["gensim", "boolean"] = Field(
        "gensim",
        description="sliding-window counting: gensim's or the textbook boolean",
    )
    ranking: Literal["probability", "relevance"] = Field("probability", description="top-word ranking")
    relevance_lambda: float = Field(0.6, ge=0, le=1, description="λ of relevance ranking")
    reference: str | None = Field(None, description="prepared corpus to score against; default: the run's own")


def format_validation_error(origin: str, error: ValidationError, prefix: str = "") -> str:
    """One line per problem: ``file: [section] key must ..., got ...``."""
    lines = []
    for problem in error.errors():
        location = [str(part) for part in problem["loc"]]
        key = ".".join(location) or "(top level)"
        if prefix:
            key = f"[{prefix}] {key}"
        if problem["type"] == "extra_forbidden":
            lines.append(f"{origin}: {key}: unknown key")
            continue
        got = problem.get("input")
        message = problem["msg"].replace("Input should be", "must be").replace("Value error, ", "")
        lines.append(f"{origin}: {key} {message}, got {got!r}")
    return "\n".join(lines)


def load_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file; a missing file or a syntax error is a ConfigError naming the file."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None


def validate(model: type[S], data: dict[str, Any], origin: str, section: str = "") -> S:
    """Build ``model`` from ``data`` or raise a ConfigError naming ``origin`` and each bad key."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(origin, error, section)) from None


def load_config(path: str | Path | None, section: str, overrides: dict[str, Any] | None = None) -> Any:
    """One section of a TOML file (``corpus``, ``preprocess``, ``model`` or ``evaluate``) with
    ``overrides`` (say, options given on the command line) applied over the file's values.

    Parameters
    ----------
    path : path or None
        A TOML file; None for defaults and overrides only.
    section : str
        The section to read; its model is ``SECTIONS[section]``.
    overrides : dict, optional
        Values that replace the file's; None values are ignored (not given).

    Returns
    -------
    CorpusConfig, PreprocessConfig, TrainConfig or EvaluateConfig

    Examples
    --------
    >>> topics.load_config(None, "model", {"num_topics": 20}).num_topics
    20
    """
    model = lookup(SECTIONS, "section", section)
    origin = str(path) if path is not None else "command line"
    data: dict[str, Any] = {}
    if path is not None:
        file_data = load_toml(Path(path))
        unknown = sorted(set(file_data) - set(SECTIONS) - EXPERIMENT_KEYS)
        if unknown:
            raise ConfigError(f"{origin}: unknown section(s) {', '.join(unknown)}; use {', '.join(f'[{s}]' for s in SECTIONS)}")
        section_data = file_data.get(section, {})
        if not isinstance(section_data, dict):
            raise ConfigError(f"{origin}: [{section}] must be a table, got {section_data!r}")
        data.update(section_data)
    data.update({key: value for key, value in (overrides or {}).items() if value is not None})
    return validate(model, data, origin, section)


# --- experiments ----------------------------------------------------------------------------------

#: experiment names become a folder under the results folder: no separators, no leading dot
EXPERIMENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$"


class ExperimentConfig(Strict):
    """One experiment file: a corpus, preprocessing and model settings, evaluation and the grid.

    In ``preprocess`` and ``model`` any option may be a list of values, which makes it a grid axis
    (a list-valued option such as ``stopwords`` takes a list of lists); ``seeds`` is the seed axis.
    The grid is the cross product of the axes. The two sections are checked key by key against
    ``PreprocessConfig`` and ``TrainConfig`` by ``topics.experiment.expand_grid``.
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
SECTIONS: dict[str, type[Strict]] = {
    "corpus": CorpusConfig,
    "preprocess": PreprocessConfig,
    "model": TrainConfig,
    "evaluate": EvaluateConfig,
}
#: top-level keys of an experiment file, allowed beside the sections when one file serves both
EXPERIMENT_KEYS = frozenset({"name", "description", "seeds", "metric"})
