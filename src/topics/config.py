"""Typed, strict configuration for every stage, loaded from TOML or CLI options.

Every model forbids unknown keys and declares its ranges, so a typo or an out-of-range value
is reported with its key before anything runs. The *resolved* config (defaults filled in) is
saved beside every output: it is the one input needed to rerun.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from topics._files import sha256_json
from topics.errors import ConfigError, lookup, unknown_name


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
    max_document_chars: int = Field(
        1_000_000,
        ge=1,
        description="longest document read, in characters; a longer one is skipped with its size in the report",
    )


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
    boilerplate_headers: bool | None = Field(
        None,
        description="drop an e-mail/Usenet header block at the start of a document, keeping the Subject's text "
        "(default: on for articles, text, jsonl, csv; off for lines, sample, octis)",
    )
    boilerplate_quotes: bool | None = Field(
        None,
        description="drop quoted lines (>, |>, :>) and the attribution lines before them (default as boilerplate_headers)",
    )
    boilerplate_signature: bool | None = Field(
        None,
        description="drop a signature: the lines after the last '--' line, when at most 15 follow (default as boilerplate_headers)",
    )
    boilerplate_repeated: bool | None = Field(
        None,
        description="drop lines repeated in at least repeated_min_share of the documents (default as boilerplate_headers)",
    )
    repeated_min_share: float = Field(
        0.01,
        gt=0,
        lt=1,
        description="boilerplate_repeated: the least share of documents a line is repeated in (and at least 5 documents)",
    )
    repeated_sample: int = Field(
        20000,
        ge=1,
        description="boilerplate_repeated: lines are counted on every k-th document, at most this many",
    )
    phrases: Literal["none", "bigrams", "trigrams"] = Field("none", description="collocations with gensim Phrases")
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


Engine = Literal["gensim", "sklearn", "tomotopy", "dtm"]

#: the default offset (tau_0) is SMALL_K_OFFSET up to SMALL_K topics and 1 above (docs/defaults.md)
SMALL_K, SMALL_K_OFFSET = 30, 16.0

#: the engine's own number of iterations when ``iterations`` is not given (see docs/engines.md)
DEFAULT_ITERATIONS = {"gensim": 10, "sklearn": 10, "tomotopy": 1000, "dtm": 300}


class TrainConfig(Strict):
    """LDA settings (topics.train), shared by the engines where they mean the same thing.

    ``alpha`` and ``eta`` take a number, or ``symmetric`` (1/K); gensim also takes its keywords
    ``asymmetric`` and ``auto``. Fields an engine does not use are ignored by it; the values each
    engine used are recorded in the run's ``[engine_parameters]``. Defaults: docs/defaults.md.
    """

    engine: Engine = Field(
        "gensim",
        description="LDA engine: gensim (online variational Bayes), sklearn (batch variational Bayes), tomotopy (collapsed Gibbs sampling), dtm (tomotopy's dynamic topic model)",
    )
    num_topics: int = Field(10, ge=1, description="number of topics K")
    passes: int | None = Field(
        None,
        ge=1,
        description="passes over the corpus (gensim); default: 300,000 document visits in all, between 1 and 30 passes",
    )
    iterations: int | None = Field(
        None,
        ge=1,
        description="E-step iterations per document (gensim, default 10); max_iter (sklearn, default 10); Gibbs sweeps (tomotopy, default 1000; dtm, default 300)",
    )
    chunksize: int | None = Field(
        None,
        ge=1,
        description="documents per update (gensim; sklearn online batch_size); default: equal chunks of at most 2000 documents and of at most chunk_budget / num_topics",
    )
    chunk_budget: int = Field(
        100_000,
        ge=1,
        description="gensim: documents x topics of one chunk at most (bounds the E-step's memory); used when chunksize is not given",
    )
    alpha: float | Literal["symmetric", "asymmetric", "auto"] = Field(0.1, description="document-topic prior (all engines)")
    eta: float | Literal["symmetric", "auto"] = Field(0.01, description="topic-word prior (all engines)")
    decay: float = Field(
        0.5,
        ge=0.5,
        le=1.0,
        description="gensim decay (kappa); sklearn online learning_decay",
    )
    offset: float | None = Field(
        None,
        ge=1.0,
        description="gensim offset (tau_0); sklearn online learning_offset; default 16 up to 30 topics, 1 above",
    )
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
        "default", description="tomotopy, dtm: parallel scheme when workers > 1"
    )
    period: Literal["month", "quarter", "year"] = Field(
        "year",
        description="dtm: the calendar period of a time slice; every period from the first dated document's to the last needs documents",
    )

    @model_serializer(mode="wrap")
    def _period_only_for_dtm(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Only the dtm engine reads ``period``; leaving it out of the other engines' dumps keeps their
        # run hashes (and so finished runs that an experiment skips) what they were before it existed.
        data = handler(self)
        if self.engine != "dtm":
            data.pop("period", None)
        return data

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

    def resolved_offset(self) -> float:
        """``offset``, or the default: 16 up to 30 topics, 1 above (docs/defaults.md)."""
        if self.offset is not None:
            return self.offset
        return SMALL_K_OFFSET if self.num_topics <= SMALL_K else 1.0


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


#: pydantic's error types -> our message templates; fields: key, item, bounds, value and the error's ctx
ERROR_MESSAGES = {
    "missing": "{key} is required",
    "extra_forbidden": "{key}: unknown key",
    "int_type": "{key} must be an integer{bounds}, got {value!r}",
    "int_parsing": "{key} must be an integer{bounds}, got {value!r}",
    "int_from_float": "{key} must be an integer{bounds}, got {value!r}",
    "float_type": "{key} must be a number{bounds}, got {value!r}",
    "float_parsing": "{key} must be a number{bounds}, got {value!r}",
    "bool_type": "{key} must be true or false, got {value!r}",
    "bool_parsing": "{key} must be true or false, got {value!r}",
    "string_type": "{key} must be a string, got {value!r}",
    "list_type": "{key} must be a list, got {value!r}",
    "dict_type": "{key} must be a table, got {value!r}",
    "model_type": "{key} must be a table, got {value!r}",
    "model_attributes_type": "{key} must be a table, got {value!r}",
    "too_short": "{key} must list at least {min_length} {item}, got {value!r}",
    "too_long": "{key} must list at most {max_length} {item}, got {value!r}",
    "greater_than_equal": "{key} must be >= {ge}, got {value!r}",
    "greater_than": "{key} must be > {gt}, got {value!r}",
    "less_than_equal": "{key} must be <= {le}, got {value!r}",
    "less_than": "{key} must be < {lt}, got {value!r}",
    "literal_error": "{key}: {unknown}",
    "value_error": "{key} {reason}, got {value!r}",
    "union": "{key} must be {choices}, got {value!r}",
}
_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


def _section_model(annotation: Any) -> tuple[Any, Any]:
    """``(model, None)`` for a nested section ``M`` or ``M | None``, ``(None, model)`` for a table of
    sections ``dict[str, M]``, else ``(None, None)``."""
    import typing

    def is_model(candidate: Any) -> bool:
        return isinstance(candidate, type) and issubclass(candidate, BaseModel)

    if is_model(annotation):
        return annotation, None
    arguments = typing.get_args(annotation)
    if typing.get_origin(annotation) is dict and arguments and is_model(arguments[-1]):
        return None, arguments[-1]
    return next((a for a in arguments if is_model(a)), None), None


def _field_of(model: type[BaseModel], location: tuple[int | str, ...]) -> tuple[list[str], Any, int | None]:
    """The key path of an error's location (union members and list indexes dropped), its field and
    the list index, if any, walking nested sections."""
    keys: list[str] = []
    field: Any = None
    index: int | None = None
    current: Any = model
    table: Any = None  # the model of the values of a table of sections ([search.space])
    for part in location:
        if isinstance(part, int):
            index = part
        elif table is not None:
            keys.append(str(part))
            current, table = table, None
        elif isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            keys.append(part)
            field = current.model_fields[part]
            current, table = _section_model(field.annotation)
        elif not keys or current is not None:
            keys.append(part)  # an unknown key
            break
    return keys, field, index


def _bounds(field: Any) -> str:
    found = [
        f"{symbol} {getattr(rule, name)}"
        for rule in (field.metadata if field is not None else [])
        for name, symbol in _BOUNDS
        if getattr(rule, name, None) is not None
    ]
    return f" {' and '.join(found)}" if found else ""


def _choices(problem: dict[str, Any]) -> list[str]:
    import re

    return re.findall(r"'([^']*)'", str(problem.get("ctx", {}).get("expected", "")))


def _message(model: type[BaseModel], problems: list[dict[str, Any]], key: str, keys: list[str], field: Any) -> str:
    """One message for all the problems of one field (a union's members fail one by one)."""
    problem = problems[0]
    name = keys[-1] if keys else key
    value = problem.get("input")
    kinds = {p["type"] for p in problems}
    if len(problems) > 1 and "literal_error" in kinds:  # float | Literal[...]: a number or a keyword
        names = [c for p in problems if p["type"] == "literal_error" for c in _choices(p)]
        number = "a number" if kinds & {"float_type", "float_parsing", "int_type", "int_parsing"} else "a value"
        choices = f"{number} or one of {', '.join(names)}"
        return ERROR_MESSAGES["union"].format(key=key, choices=choices, value=value)
    kind = problem["type"]
    template = ERROR_MESSAGES.get(kind)
    if template is None:  # a type this table does not know yet: keep pydantic's words, in our form
        reason = str(problem["msg"]).replace("Input should be", "must be").replace("Value error, ", "")
        return f"{key} {reason}, got {value!r}"
    if kind == "missing" and field is not None and isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
        return f"[{'.'.join(keys)}] is required"
    ctx = dict(problem.get("ctx") or {})
    min_length = ctx.pop("min_length", 1)
    item = name[:-1] if name.endswith("s") else f"{name} item"
    return template.format(
        key=key,
        value=value,
        bounds=_bounds(field),
        item=item if min_length == 1 else f"{item}s",
        min_length="one" if min_length == 1 else min_length,
        unknown=unknown_name(
            item if problem["loc"] and isinstance(problem["loc"][-1], int) else name, str(value), _choices(problem)
        ),
        reason=str(problem["msg"]).removeprefix("Value error, "),
        **ctx,
    )


def format_validation_error(origin: str, error: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> str:
    """One line per field in trouble: ``file: [section] key must ..., got ...`` (see ``ERROR_MESSAGES``)."""
    model = model or error_model(error)
    grouped: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    fields: dict[tuple[str, ...], tuple[list[str], Any]] = {}
    for problem in error.errors():
        keys, field, _ = _field_of(model, tuple(problem["loc"]))
        grouped.setdefault(tuple(keys), []).append(dict(problem))
        fields[tuple(keys)] = (keys, field)
    lines = []
    for path, problems in grouped.items():
        keys, field = fields[path]
        key = ".".join(keys) or "(top level)"
        if prefix:
            key = f"[{prefix}] {key}"
        lines.append(f"{origin}: {_message(model, problems, key, keys, field)}")
    return "\n".join(lines)


def error_model(error: ValidationError) -> type[BaseModel]:
    """The model a ValidationError is about (by its title), or BaseModel when unknown."""
    found = {m.__name__: m for m in (CorpusConfig, PreprocessConfig, TrainConfig, EvaluateConfig, ExperimentConfig)}
    return found.get(error.title, BaseModel)


def load_toml(path: Path) -> dict[str, Any]:
    """Read a UTF-8 TOML file (a byte-order mark is allowed); a missing or unreadable file, a folder,
    another encoding or a syntax error is a ConfigError naming the file."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; give a TOML file") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror}); give a readable TOML file") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 (byte {error.start}); save it as UTF-8") from None
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None


def validate(model: type[S], data: dict[str, Any], origin: str, section: str = "", lax: Collection[str] = ()) -> S:
    """Build ``model`` from ``data`` or raise a ConfigError naming ``origin`` and each bad key.

    Values are strict (a TOML integer is an integer: ``"10"`` or ``true`` is no number of topics),
    but for the keys in ``lax``, which come from command-line flags and may be parsed from text.
    """
    try:
        built = model.model_validate(data)
        strict_problems = [] if set(data) <= set(lax) else _strict_problems(model, data, lax)
    except ValidationError as error:
        raise ConfigError(format_validation_error(origin, error, section, model)) from None
    if strict_problems:
        raise ConfigError(format_validation_error(origin, strict_problems[0], section, model))
    return built


def _strict_problems(model: type[BaseModel], data: dict[str, Any], lax: Collection[str]) -> list[ValidationError]:
    """The strict-mode error of ``data`` restricted to the keys not in ``lax`` (empty when none)."""
    try:
        model.model_validate(data, strict=True)
    except ValidationError as error:
        problems = [p for p in error.errors() if not p["loc"] or p["loc"][0] not in lax]
        if problems:
            return [ValidationError.from_exception_data(error.title, problems)]  # type: ignore[arg-type]
    return []


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
    given = {key: value for key, value in (overrides or {}).items() if value is not None}
    data.update(given)
    return validate(model, data, origin, section, lax=given)


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
    the mean over ``seeds_per_trial`` training seeds. Checked against the experiment by
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
SECTIONS: dict[str, type[Strict]] = {
    "corpus": CorpusConfig,
    "preprocess": PreprocessConfig,
    "model": TrainConfig,
    "evaluate": EvaluateConfig,
}
#: top-level keys of an experiment file, allowed beside the sections when one file serves both
EXPERIMENT_KEYS = frozenset({"name", "description", "seeds", "metric", "search"})
