"""Scoring trained models: coherence, diversity, held-out perplexity and agreement with labels.

Every measure is a function over a ``TopicModel`` and a reference corpus; what a measure needs
beyond the model (the prepared corpus, the seed, the engine's own model for perplexity) comes
through ``Scorable``, a small protocol that a run folder satisfies, so this package knows nothing
of run folders. ``evaluate_many`` counts each reference corpus once for all models that share it.
Stability compares several runs of one setting and is scored by experiments
(``topics.experiment``), not here.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from topics._files import NpyRows
from topics.config import EvaluateConfig
from topics.errors import ConfigError, RunError, unknown_name
from topics.evaluation import coherence
from topics.evaluation.cluster import count_reference_dask, dask_client
from topics.evaluation.counting import DEFAULT_BLOCK_TOKENS, ReferenceCorpus, ReferenceCounts, count_reference
from topics.evaluation.measures import (
    DIVERSITY_TOPN,
    heldout_perplexity,
    inverted_rbo,
    label_agreement,
    topic_diversity,
)
from topics.training.model import TopicModel

if TYPE_CHECKING:
    from topics.preprocessing.prepared import PreparedCorpus

log = logging.getLogger(__name__)


COHERENCE_MEASURES = ("u_mass", "c_uci", "c_npmi", "c_v")
MODEL_MEASURES = ("diversity", "irbo", "perplexity", "nmi", "ari", "accuracy")
ALL_MEASURES = (*COHERENCE_MEASURES, *MODEL_MEASURES)
#: where coherence counts are made: in this process, or on the workers of a Dask cluster
EXECUTORS = ("local", "dask")


class Scorable(Protocol):
    """What scoring needs of a trained model: the model, its prepared corpus, seed and engine."""

    @property
    def model(self) -> TopicModel: ...

    @property
    def prepared(self) -> PreparedCorpus: ...

    @property
    def seed(self) -> int: ...

    @property
    def engine(self) -> str: ...

    def native_model(self) -> Any: ...


@dataclass
class Evaluation:
    """Scores of one model: a mean per measure, per-topic values where the measure has them, and settings."""

    metrics: dict[str, float] = field(default_factory=dict)
    topic_metrics: dict[str, np.ndarray] = field(default_factory=dict)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)


# --- the evaluation of runs -----------------------------------------------------------------------


class _TokenIdTexts:
    """Re-iterable token-id arrays of a prepared corpus, for the coherence engine.

    ``tokens.npy`` is read a block of whole documents at a time (at least ``block_tokens`` tokens,
    as ``count_reference`` counts them), so memory holds one block, never the corpus. Documents are
    slices of the block's plain array (slicing a memory map per document costs numpy's Python-level
    memmap bookkeeping: 0.6 s of a 2.2 s `topics evaluate` on 130,000 documents).
    """

    def __init__(self, prepared: PreparedCorpus, block_tokens: int = DEFAULT_BLOCK_TOKENS):
        self.prepared = prepared
        self.block_tokens = block_tokens

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._documents()

    def __len__(self) -> int:
        """The documents, known from the manifest: the total of counting's progress."""
        return self.prepared.num_docs

    def _documents(self) -> Iterator[np.ndarray]:
        for block, lengths in self.blocks(self.block_tokens):
            bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
            yield from (block[start:end] for start, end in pairwise(bounds))

    def blocks(self, block_tokens: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Blocks of whole documents of at least ``block_tokens`` tokens (the last fewer), each as
        ``(token ids end to end, document lengths)``, read from the file without splitting
        them into documents: what ``count_reference`` counts as one block, and a Dask worker is sent.

        Each block is read into its own array (a seek and a read), not sliced from a memory map:
        pages of a map stay in the process's resident memory once touched, so counting a whole
        reference through one would grow with the corpus."""
        path = self.prepared.path
        offsets = np.load(path / "offsets.npy", allow_pickle=False)
        num_docs = len(offsets) - 1
        with NpyRows(path / "tokens.npy") as tokens:
            if num_docs == 0:
                yield np.zeros(0, dtype=tokens.dtype), np.zeros(0, dtype=np.int64)
                return
            first = 0
            while first < num_docs:
                last = int(np.searchsorted(offsets, offsets[first] + block_tokens, side="left"))
                last = min(max(last, first + 1), num_docs)
                try:
                    block = tokens.read(int(offsets[first]), int(offsets[last]))
                except ValueError:
                    raise RunError(f"{path / 'tokens.npy'}: shorter than its offsets say; prepare the corpus again") from None
                yield block, np.diff(offsets[first : last + 1]).astype(np.int64)
                first = last


def reference_corpus(prepared: PreparedCorpus) -> ReferenceCorpus:
    return ReferenceCorpus(_TokenIdTexts(prepared), list(prepared.vocabulary))


def check_measures(measures: Sequence[str]) -> None:
    """Every name a measure this package scores for one model; stability is refused with where to find it."""
    for name in measures:
        if name == "stability":
            raise ConfigError(
                "[evaluate] measures: stability compares the runs of one setting over several seeds; "
                "it is scored by experiments (list it in an experiment file's [evaluate] measures), not for one run"
            )
        if name not in ALL_MEASURES:
            raise ConfigError(unknown_name("measure", name, ALL_MEASURES))


def check_executor(executor: str, scheduler: str | None) -> None:
    """``executor`` one of ``EXECUTORS``; a ``scheduler`` address only with the Dask one."""
    if executor not in EXECUTORS:
        raise ConfigError(unknown_name("executor", executor, EXECUTORS))
    if scheduler and executor != "dask":
        raise ConfigError("`scheduler` is the address of a Dask scheduler; it needs `executor` dask")


def evaluate_many(
    runs: Sequence[Scorable],
    config: EvaluateConfig,
    reference: PreparedCorpus | None = None,
    *,
    executor: str = "local",
    scheduler: str | None = None,
    block_tokens: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> list[Evaluation]:
    """Score ``runs``; coherence is counted once per reference corpus for all of them.

    ``executor`` says where the reference is counted: ``"local"``, in this process, or ``"dask"``,
    its blocks on the workers of the Dask scheduler at ``scheduler`` (default: a LocalCluster of one
    single-threaded worker per core), with identical values. ``block_tokens`` (default
    ``DEFAULT_BLOCK_TOKENS``) is the size of a block of the reference, and so of one Dask task.
    ``progress(documents counted, documents)`` hears the counting of each reference corpus in turn,
    once a block (local counting only).
    """
    check_measures(config.measures)
    check_executor(executor, scheduler)
    block_tokens = DEFAULT_BLOCK_TOKENS if block_tokens is None else block_tokens
    evaluations = [Evaluation() for _ in runs]
    coherence_measures: list[str] = [m for m in config.measures if m in COHERENCE_MEASURES]
    if coherence_measures:
        for run in runs:
            vocabulary_size = len(run.model.vocabulary)
            if config.topn > vocabulary_size:
                raise ConfigError(f"[evaluate] topn must be at most the vocabulary size ({vocabulary_size}), got {config.topn}")
    with contextlib.ExitStack() as stack:
        count: Callable[..., ReferenceCounts] = functools.partial(count_reference, progress=progress)
        if coherence_measures and executor == "dask":
            # connected before anything is counted: an unreachable scheduler fails first
            client = stack.enter_context(dask_client(scheduler))
            count = functools.partial(count_reference_dask, client=client, progress=progress)
        if coherence_measures:
            _score_coherence(runs, config, reference, coherence_measures, evaluations, count, block_tokens)
    for run, evaluation in zip(runs, evaluations):
        model = run.model
        if "diversity" in config.measures:
            evaluation.metrics["diversity"] = topic_diversity(model)
            evaluation.settings["diversity"] = {"topn": DIVERSITY_TOPN}
        if "irbo" in config.measures:
            evaluation.metrics["irbo"] = inverted_rbo(model, config.topn)
            evaluation.settings["irbo"] = {"topn": config.topn, "p": 0.9}
        if "perplexity" in config.measures:
            perplexity = heldout_perplexity(run)
            method = perplexity.pop("method")
            evaluation.metrics.update(perplexity)
            evaluation.settings["perplexity"] = {
                "documents": "test split of the prepared corpus",
                "engine": run.engine,
                "computed": f"exp(-per_word_bound); per_word_bound: {method}",
            }
        if {"nmi", "ari", "accuracy"} & set(config.measures):
            documents = run.prepared.documents.set_index("id")
            labels = documents["label"].reindex(model.doc_ids).fillna("").astype(str).tolist()
            agreement = label_agreement(model, labels, seed=run.seed)
            for name in ("nmi", "ari", "accuracy"):
                if name in config.measures:
                    evaluation.metrics[name] = agreement[name]
                    evaluation.settings[name] = {
                        "label": "documents.csv label",
                        "classifier": "logistic regression, stratified k-fold",
                    }
    return evaluations


def _score_coherence(
    runs: Sequence[Scorable],
    config: EvaluateConfig,
    reference: PreparedCorpus | None,
    coherence_measures: list[str],
    evaluations: list[Evaluation],
    count: Callable[..., ReferenceCounts],
    block_tokens: int,
) -> None:
    """Coherence of every run into ``evaluations``, each reference counted once by ``count``."""
    groups: dict[str, list[int]] = {}
    references: dict[str, PreparedCorpus] = {}
    for i, run in enumerate(runs):
        ref = reference or run.prepared
        groups.setdefault(ref.fingerprint, []).append(i)
        references[ref.fingerprint] = ref
    for fingerprint, members in groups.items():
        ref = references[fingerprint]
        topics_per_model = [runs[i].model.top_words(config.topn, config.ranking, config.relevance_lambda) for i in members]
        windows: dict[str, int] = {m: config.window or coherence.DEFAULT_WINDOWS[m] for m in coherence_measures if m != "u_mass"}
        scores = coherence.score_models(
            topics_per_model,
            reference_corpus(ref),
            coherence_measures,
            windows=windows,
            counting=config.counting,
            block_tokens=block_tokens,
            count=count,
        )
        for i, model_scores in zip(members, scores):
            for measure, values in model_scores.items():
                values = np.asarray(values, dtype=np.float64)
                evaluations[i].metrics[measure] = float(np.mean(values))
                evaluations[i].topic_metrics[measure] = values
                evaluations[i].settings[measure] = {
                    "topn": config.topn,
                    "window": windows.get(measure),
                    "counting": config.counting if measure != "u_mass" else "documents",
                    "ranking": config.ranking,
                    "relevance_lambda": config.relevance_lambda if config.ranking == "relevance" else None,
                    "reference": {
                        "path": str(Path(ref.path).resolve()),
                        "fingerprint": ref.fingerprint,
                    },
                }


def evaluate(
    run: Scorable,
    config: EvaluateConfig | None = None,
    reference: PreparedCorpus | None = None,
    *,
    executor: str = "local",
    scheduler: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Evaluation:
    """Score one trained model (a run folder, or anything ``Scorable``).

    Parameters
    ----------
    run : Scorable
        A run from ``topics.load_run`` or ``topics.create_run``.
    config : EvaluateConfig, optional
        Measures, top words, windows; default: c_npmi and u_mass over the top 10 words.
    reference : PreparedCorpus, optional
        The corpus coherence is counted on; default: the run's own prepared corpus.
    executor : str
        ``"local"`` (default) counts coherence in this process; ``"dask"`` counts the reference's
        blocks on Dask workers and merges the counts (identical values).
    scheduler : str, optional
        With ``executor="dask"``, the address of a running Dask scheduler; default a LocalCluster.
    progress : callable, optional
        ``progress(documents counted, documents)`` once per block of the reference while coherence
        is counted (on Dask, as each block's counts are merged), e.g. for a progress bar; the scores
        do not depend on it.

    Returns
    -------
    Evaluation
        ``metrics`` (a mean per measure), ``topic_metrics`` (per topic) and ``settings``.
        ``topics.write_evaluation(run, evaluation)`` records it in the run folder.

    Examples
    --------
    >>> evaluation = topics.evaluate(run, topics.EvaluateConfig(measures=["c_npmi", "c_v"]))  # doctest: +SKIP
    >>> evaluation.metrics["c_npmi"]  # doctest: +SKIP
    """
    return evaluate_many([run], config or EvaluateConfig(), reference, executor=executor, scheduler=scheduler, progress=progress)[
        0
    ]
