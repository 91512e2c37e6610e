"""scikit-learn's ``LatentDirichletAllocation``: batch (or online) variational Bayes.

Batch VB as in Blei, Ng and Jordan (2003), online as in Hoffman, Blei and Bach (2010).
``alpha`` is ``doc_topic_prior``, ``eta`` ``topic_word_prior``; ``symmetric`` is 1/K, as in
scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from topics.config import TrainConfig
from topics.training.engines._common import bow_matrix, normalise_rows, symmetric_prior

if TYPE_CHECKING:
    from topics.preprocessing.prepared import PreparedCorpus

MODEL_FILE = "lda.sklearn.joblib"


def parameters(config: TrainConfig, num_train: int, seed: int) -> dict[str, Any]:
    """The estimator's arguments resolved from ``config``."""
    result: dict[str, Any] = dict(
        n_components=config.num_topics,
        doc_topic_prior=symmetric_prior(config.alpha, config.num_topics),
        topic_word_prior=symmetric_prior(config.eta, config.num_topics),
        learning_method=config.learning_method,
        max_iter=config.resolved_iterations(),
        random_state=seed,
        n_jobs=config.workers,
        evaluate_every=-1,
    )
    if config.learning_method == "online":
        result.update(
            batch_size=config.chunksize or 128,
            learning_decay=config.decay,
            learning_offset=max(config.offset if config.offset is not None else 10.0, 1.0 + 1e-9),  # sklearn's own default
            total_samples=num_train,
        )
    return result


def train(
    prepared: PreparedCorpus,
    config: TrainConfig,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
):
    """Fit; ``progress`` hears only the start and the end (0 of 1, 1 of 1): ``fit`` has no hook."""
    from sklearn.decomposition import LatentDirichletAllocation

    if progress is not None:
        progress(0, 1)
    train_matrix = bow_matrix(prepared.bow("train"), prepared.num_terms)
    arguments = parameters(config, train_matrix.shape[0], seed)
    lda = LatentDirichletAllocation(**arguments)
    lda.fit(train_matrix)
    if progress is not None:
        progress(1, 1)
    topic_word = normalise_rows(lda.components_)
    doc_topics = doc_topics_of(lda, prepared.bow(), seed)
    return lda, topic_word, [doc_topics], config.workers == 1, arguments


def doc_topics_of(lda, bow: Iterable[Sequence[tuple[int, float]]], seed: int) -> np.ndarray:
    """Normalised variational document-topic distributions (``transform`` starts from fixed values, so ``seed`` is unused)."""
    matrix = bow_matrix(bow, lda.components_.shape[1])
    if matrix.shape[0] == 0:
        return np.zeros((0, lda.n_components))
    return normalise_rows(lda.transform(matrix))


def heldout_bound(lda, bow: Iterable[Sequence[tuple[int, float]]], seed: int, total_docs: int) -> tuple[float, str]:
    """Per-word log-likelihood bound (natural log) from scikit-learn's ``perplexity`` = exp(-bound)."""
    matrix = bow_matrix(bow, lda.components_.shape[1])
    perplexity = float(lda.perplexity(matrix))
    return (
        -float(np.log(perplexity)),
        "scikit-learn LatentDirichletAllocation.perplexity: exp(-variational bound per word)",
    )


def save(lda, directory: Path) -> list[Path]:
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / MODEL_FILE
    joblib.dump(lda, path)
    return [path]


def load(directory: Path):
    import joblib

    return joblib.load(directory / MODEL_FILE)


def import_library() -> Any:
    """The library this engine trains with (imported before training is timed)."""
    import sklearn.decomposition

    return sklearn.decomposition
