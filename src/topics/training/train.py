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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from topics._files import NpyRowWriter
from topics.config import TrainConfig
from topics.errors import ConfigError, CorpusError, lookup
from topics.training.engines import ENGINES
from topics.training.engines._common import normalise_rows
from topics.training.model import TopicModel

if TYPE_CHECKING:
    from topics.preprocessing.prepared import PreparedCorpus

log = logging.getLogger(__name__)


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
        return ENGINES[self.engine].save(self.native, directory)


def train_lda(
    prepared: PreparedCorpus,
    config: TrainConfig,
    seed: int = 0,
    *,
    progress: Callable[[int, int], None] | None = None,
    doc_topics_file: Path | None = None,
) -> TrainedModel:
    """Fit ``config.engine`` on the training documents of ``prepared`` with ``seed``.

    Parameters
    ----------
    prepared : PreparedCorpus
        The prepared corpus; its held-out documents (if any) are left out of training.
    config : TrainConfig
        The engine and its settings.
    seed : int
        The seed; with one worker the same seed gives the same model.
    progress : callable, optional
        ``progress(done, total)`` after each chunk in documents visited, of passes x documents (gensim), each Gibbs sweep
        (tomotopy), or at the start and end (scikit-learn, ``(0, 1)`` and ``(1, 1)``). It does not
        change the model: the same seed gives the same topics with or without it.
    doc_topics_file : path, optional
        Where to write the D x K document-topic matrix as ``.npy``, a block of rows at a time as the
        engine infers them (gensim); the model's ``doc_topics`` is then a read-only memory map of
        that file, so training holds no D x K matrix in memory. Without it, ``doc_topics`` is an
        array in memory. The values are the same either way.

    Returns
    -------
    TrainedModel
        The engine-neutral ``TopicModel`` and the engine's own model.

    Examples
    --------
    >>> trained = topics.train_lda(prepared, topics.TrainConfig(num_topics=10), seed=0)  # doctest: +SKIP
    >>> trained.model.top_words(5)  # doctest: +SKIP
    """
    if config.num_topics > prepared.num_terms:
        raise ConfigError(
            f"[model] num_topics must be at most the vocabulary size ({prepared.num_terms}), got {config.num_topics}"
        )
    if not any(True for _ in prepared.doc_ids("train")):
        raise CorpusError(f"{prepared.path}: no training documents; lower the held-out share")
    engine = lookup(ENGINES, "engine", config.engine)
    # the clock starts after the library's import, as a script's timing of its own fit would
    engine.import_library()
    wall, cpu = time.perf_counter(), time.process_time()
    native, topic_word, doc_topic_blocks, reproducible, parameters = engine.train(prepared, config, seed, progress=progress)
    shape = (prepared.num_docs, config.num_topics)
    doc_topics: np.ndarray
    if doc_topics_file is None:
        doc_topics = np.empty(shape, dtype=np.float64)
        _write_rows(doc_topic_blocks, shape, doc_topics.__setitem__)
    else:
        with NpyRowWriter(doc_topics_file, shape, np.float64) as out:
            _write_rows(doc_topic_blocks, shape, lambda rows, block: out.write(block))
        doc_topics = np.load(doc_topics_file, mmap_mode="r", allow_pickle=False)
    model = TopicModel(
        topic_word=normalise_rows(topic_word),  # gensim's float32 rows sum to 1 only within 1e-7
        doc_topics=doc_topics,
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


def _write_rows(blocks: Iterable[np.ndarray], shape: tuple[int, int], write: Callable[[slice, np.ndarray], None]) -> None:
    """Hand each block of rows to ``write(rows, block)`` in order, checking that together they are ``shape``."""
    done = 0
    for block in blocks:
        block = np.asarray(block, dtype=np.float64)
        if block.ndim != 2 or block.shape[1] != shape[1] or done + len(block) > shape[0]:
            raise RuntimeError(f"the engine's document-topic rows {block.shape} do not fit {shape} after {done} rows")
        write(slice(done, done + len(block)), block)
        done += len(block)
    if done != shape[0]:
        raise RuntimeError(f"the engine gave {done} document-topic rows for {shape[0]} documents")


def infer_doc_topics(engine: str, native: Any, bow: Iterable[Sequence[tuple[int, float]]], seed: int) -> np.ndarray:
    """Topic distributions of new bag-of-words documents under a trained engine model."""
    return lookup(ENGINES, "engine", engine).doc_topics_of(native, bow, seed)


def load_native(engine: str, directory: Path) -> Any:
    """The engine's own model saved in ``directory`` (check its hashes first: pickles run code)."""
    return lookup(ENGINES, "engine", engine).load(directory)


def heldout_bound(
    engine: str,
    native: Any,
    bow: Iterable[Sequence[tuple[int, float]]],
    seed: int,
    total_docs: int,
) -> tuple[float, str]:
    """The per-word held-out log-likelihood (natural log) of ``bow`` and a note of how it was computed."""
    return lookup(ENGINES, "engine", engine).heldout_bound(native, bow, seed, total_docs)
