"""Typed, strict configuration for every stage, loaded from TOML or CLI options.

Every model forbids unknown keys and declares its ranges, so a typo or an out-of-range value
is reported with its key before anything runs. The *resolved* config (defaults filled in) is
saved beside every output: it is the one input needed to rerun.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from topics._files import sha256_json


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
    phrase_list: str | None = Field(
        None,
        min_length=1,
        description="file of the phrases to join instead of learning them: a phrases.json of a prepared corpus, or "
        "one phrase a line (relative to the TOML file that sets it; docs/preprocessing.md)",
    )
    phrase_blocklist: str | None = Field(
        None,
        min_length=1,
        description="file of phrases never joined, one a line: removed from the learnt phrases (relative as phrase_list)",
    )
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

    @field_validator("phrase_list")
    @classmethod
    def _list_or_learnt(cls, value: str | None, info: ValidationInfo) -> str | None:
        phrases = info.data.get("phrases", "none")
        if value is not None and phrases != "none":
            raise ValueError(f"gives the phrases to join, so none are learnt: set phrases = 'none' (not {phrases!r}) or drop it")
        return value

    @model_serializer(mode="wrap")
    def _phrase_files_when_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Left out of the dump when unset, so the fingerprints of configs without them (prepared
        # corpora, runs an experiment skips) are what they were before these settings existed.
        data = handler(self)
        for key in PHRASE_FILE_KEYS:
            if data.get(key) is None:
                data.pop(key, None)
        return data


#: the [preprocess] settings that name files: a relative path is relative to the TOML file that sets it
PHRASE_FILE_KEYS = ("phrase_list", "phrase_blocklist")


def files_relative_to(file_data: dict[str, Any], base: Path) -> dict[str, Any]:
    """A TOML file's tables with the relative paths of its ``[preprocess]`` file settings joined to
    ``base`` (the file's folder), also inside a grid axis, so that a file means the same wherever
    the command is run from."""
    section = file_data.get("preprocess")
    if not isinstance(section, dict):
        return file_data

    def joined(value: Any) -> Any:
        if isinstance(value, str) and value:
            return str(base / Path(value).expanduser())
        return [joined(item) for item in value] if isinstance(value, list) else value

    resolved = {key: joined(value) if key in PHRASE_FILE_KEYS else value for key, value in section.items()}
    return {**file_data, "preprocess": resolved}


Engine = Literal["gensim", "sklearn", "tomotopy", "dtm"]

#: the default offset (tau_0) is FEW_TOPICS_OFFSET up to FEW_TOPICS topics, halves with every
#: OFFSET_HALVING_TOPICS more and is 1 from 60 topics on (docs/defaults.md)
FEW_TOPICS, FEW_TOPICS_OFFSET, OFFSET_HALVING_TOPICS = 20, 16.0, 10

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
        description="passes over the corpus (gensim); default: 300,000 document visits in all, between 1 and min(30, 1000 / K) passes",
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
        description="gensim offset (tau_0); sklearn online learning_offset; default 16 up to 20 topics, halving with every 10 more (2 at 50), 1 from 60",
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
        """``offset``, or the default: 16 up to 20 topics, halving with every 10 more topics
        (8 at 30, 2 at 50) down to 1 from 60 (docs/defaults.md). A large offset damps the first
        updates: more coherent topics with few topics, topics that stay alike with many."""
        if self.offset is not None:
            return self.offset
        excess = max(0, self.num_topics - FEW_TOPICS)
        return max(1.0, FEW_TOPICS_OFFSET * 2.0 ** (-excess / OFFSET_HALVING_TOPICS))


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
