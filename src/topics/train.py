"""Training LDA: one function per engine, each returning the same TopicModel.

Engines (docs/engines.md): ``gensim`` (online variational Bayes, Hoffman, Blei and Bach 2010; the
default), ``sklearn`` (scikit-learn's batch variational Bayes, Blei, Ng and Jordan 2003) and
``tomotopy`` (collapsed Gibbs sampling, Griffiths and Steyvers 2004; the optional ``gibbs`` extra).
Each is exactly reproducible for a seed with one worker. gensim's ``LdaModel`` is, while
``LdaMulticore`` is not, even with one worker; parallelism therefore comes from training several
models at once (topics.experiment), and a model trained with ``workers > 1`` is marked as not
reproducible.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import TrainConfig
from .engines import normalise_rows, sklearn_lda, tomotopy_lda
from .errors import ConfigError, TopicsError
from .model import TopicModel

if TYPE_CHECKING:
    from .preprocess import PreparedCorpus

log = logging.getLogger(__name__)

#: the whole corpus is one chunk up to this many documents (a bound on memory, see docs/defaults.md)
MAX_DEFAULT_CHUNKSIZE = 100_000


@dataclass
class TrainedModel:
    """A fitted model: the engine-neutral ``TopicModel`` plus the engine's own object."""

    model: TopicModel
    engine: str
    native: Any
    reproducible: bool
    parameters: dict[str, Any]
    wall_seconds: float
    cpu_seconds: float

    def save_native(self, directory: Path) -> list[Path]:
        """Save the engine's own model into ``directory``; returns the files written."""
        return NATIVE_SAVERS[self.engine](self.native, directory)


def train_model(prepared: PreparedCorpus, config: TrainConfig, seed: int = 0) -> TrainedModel:
    """Fit ``config.engine`` on the training documents of ``prepared`` with ``seed``."""
    if config.num_topics > prepared.num_terms:
        raise ConfigError(
            f"num_topics must be at most the vocabulary size ({prepared.num_terms}), got {config.num_topics}"
        )
    try:
        trainer = ENGINES[config.engine]
    except KeyError:
        raise ConfigError(f"unknown engine {config.engine!r}; choose from {', '.join(ENGINES)}") from None
    wall, cpu = time.perf_counter(), time.process_time()
    native, topic_word, doc_topics, reproducible, parameters = trainer(prepared, config, seed)
    model = TopicModel(
        topic_word=normalise_rows(topic_word),  # gensim's float32 rows sum to 1 only within 1e-7
        doc_topics=np.asarray(doc_topics, dtype=np.float64),
        vocabulary=list(prepared.vocabulary),
        doc_ids=list(prepared.doc_ids()),
        term_frequency=np.asarray(prepared.term_frequency, dtype=np.int64),
    )
    return TrainedModel(
        model=model,
        engine=config.engine,
        native=native,
        reproducible=reproducible,
        parameters=parameters,
        wall_seconds=time.perf_counter() - wall,
        cpu_seconds=time.process_time() - cpu,
    )


# --- gensim -----------------------------------------------------------------------------------


def gensim_chunksize(config: TrainConfig, num_docs: int) -> int:
    """The chunk: as given, else the whole training corpus up to ``MAX_DEFAULT_CHUNKSIZE``."""
    return config.chunksize or max(1, min(num_docs, MAX_DEFAULT_CHUNKSIZE))


def _train_gensim(prepared: PreparedCorpus, config: TrainConfig, seed: int):
    from gensim.models import LdaModel, LdaMulticore

    train_bow = prepared.bow("train")
    num_train = sum(1 for _ in prepared.doc_ids("train"))
    if num_train == 0:
        raise TopicsError(f"{prepared.path}: no training documents; lower the held-out share")
    chunksize = gensim_chunksize(config, num_train)
    parameters = dict(
        num_topics=config.num_topics,
        passes=config.passes,
        iterations=config.resolved_iterations(),
        chunksize=chunksize,
        alpha=config.alpha,
        eta=config.eta,
        decay=config.decay,
        offset=config.offset,
        random_state=seed,
        eval_every=None,
    )
    if config.workers > 1:
        if config.alpha == "auto":
            raise ConfigError("alpha 'auto' is not available with workers > 1 (gensim LdaMulticore); use workers = 1")
        lda = LdaMulticore(corpus=train_bow, id2word=prepared.dictionary, workers=config.workers, **parameters)
    else:
        lda = LdaModel(corpus=train_bow, id2word=prepared.dictionary, **parameters)
    topic_word = lda.get_topics()
    doc_topics = gensim_doc_topics(lda, prepared.bow(), seed)
    return lda, topic_word, doc_topics, config.workers == 1, {**parameters, "workers": config.workers}


def gensim_doc_topics(lda, bow: Iterable[list[tuple[int, float]]], seed: int, batch: int = 4096) -> np.ndarray:
    """Topic distributions of ``bow`` documents (variational gamma, normalised).

    The E-step starts from random gammas; a fresh ``RandomState(seed)`` makes the result
    independent of whatever was drawn before (training, earlier inference).
    """
    lda.random_state = np.random.RandomState(seed)
    rows: list[np.ndarray] = []
    chunk: list = []
    for doc in bow:
        chunk.append(doc)
        if len(chunk) == batch:
            rows.append(lda.inference(chunk)[0])
            chunk = []
    if chunk:
        rows.append(lda.inference(chunk)[0])
    if not rows:
        return np.zeros((0, lda.num_topics))
    gamma = np.vstack(rows).astype(np.float64)
    return gamma / gamma.sum(axis=1, keepdims=True)


def _save_gensim(lda, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    before = set(directory.iterdir())
    lda.save(str(directory / "lda.gensim"))
    return sorted(set(directory.iterdir()) - before)


def _load_gensim(directory: Path):
    from gensim.models import LdaModel

    return LdaModel.load(str(directory / "lda.gensim"))


def infer_doc_topics(engine: str, native: Any, bow: Iterable[list[tuple[int, float]]], seed: int) -> np.ndarray:
    """Topic distributions of new bag-of-words documents under a trained engine model."""
    return INFERRERS[engine](native, bow, seed)


def gensim_heldout_bound(lda, bow: Iterable[list[tuple[int, float]]], seed: int, total_docs: int) -> tuple[float, str]:
    """gensim's per-word variational bound (natural log) on ``bow``, E-step seeded by ``seed``.

    The bound has a corpus-wide term (the topic-word Dirichlet) besides the documents' terms;
    ``total_docs`` (the training corpus size) scales the documents' part up to the corpus, as gensim
    does when it logs perplexity during training. Without it, on a small held-out set the corpus-wide
    term dominates and the "perplexity" exceeds that of a uniform model.
    """
    lda.random_state = np.random.RandomState(seed)
    bound = float(lda.log_perplexity(list(bow), total_docs=total_docs))
    return bound, "gensim LdaModel.log_perplexity(total_docs = training documents): variational bound per word"


# Tables, one row per engine: how to train, save, load, infer and score held-out documents.
ENGINES: dict[str, Callable] = {"gensim": _train_gensim, "sklearn": sklearn_lda.train, "tomotopy": tomotopy_lda.train}
NATIVE_SAVERS: dict[str, Callable[[Any, Path], list[Path]]] = {
    "gensim": _save_gensim,
    "sklearn": sklearn_lda.save,
    "tomotopy": tomotopy_lda.save,
}
NATIVE_LOADERS: dict[str, Callable[[Path], Any]] = {
    "gensim": _load_gensim,
    "sklearn": sklearn_lda.load,
    "tomotopy": tomotopy_lda.load,
}
INFERRERS: dict[str, Callable[[Any, Iterable, int], np.ndarray]] = {
    "gensim": gensim_doc_topics,
    "sklearn": sklearn_lda.doc_topics_of,
    "tomotopy": tomotopy_lda.doc_topics_of,
}
#: per-word held-out log-likelihood (natural log) and a note of how it was computed
HELDOUT_BOUNDS: dict[str, Callable[[Any, Iterable, int, int], tuple[float, str]]] = {
    "gensim": gensim_heldout_bound,
    "sklearn": sklearn_lda.heldout_bound,
    "tomotopy": tomotopy_lda.heldout_bound,
}
