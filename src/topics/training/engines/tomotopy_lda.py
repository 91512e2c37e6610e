"""tomotopy's ``LDAModel``: collapsed Gibbs sampling (Griffiths and Steyvers 2004), an optional extra.

Words are handed to tomotopy as the decimal strings of our term ids, so a bag of words maps to a
tomotopy document without the vocabulary and tomotopy's own word order never matters. With one
worker, training and inference are exactly reproducible for a seed (any parallel scheme).
``optim_interval`` > 0 re-estimates an asymmetric ``alpha`` every that many sweeps after
``burn_in`` (Minka's fixed point, tomotopy's default); ``alpha`` is then its starting value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from topics.config import TrainConfig
from topics.errors import TopicsError
from topics.training.engines._common import normalise_rows, symmetric_prior

if TYPE_CHECKING:
    from topics.preprocessing.prepared import PreparedCorpus

MODEL_FILE = "lda.tomotopy.bin"
INSTALL = "pip install -e '.[gibbs]'"
#: Gibbs sweeps over a new document when inferring its topics
INFER_ITERATIONS = 100


def import_tomotopy():
    """tomotopy, or a TopicsError saying how to install the extra."""
    try:
        import tomotopy
    except ImportError:
        raise TopicsError(
            f"engine 'tomotopy' needs the optional tomotopy package, which is not installed; "
            f"install it with: {INSTALL}   (or: pip install 'topics[gibbs]')"
        ) from None
    return tomotopy


def parameters(config: TrainConfig, seed: int) -> dict[str, Any]:
    return dict(
        k=config.num_topics,
        alpha=symmetric_prior(config.alpha, config.num_topics),
        eta=symmetric_prior(config.eta, config.num_topics),
        tw=config.term_weight,
        iterations=config.resolved_iterations(),
        burn_in=config.burn_in,
        optim_interval=config.optim_interval,
        seed=seed,
        workers=config.workers,
        parallel=config.parallel,
        infer_iterations=INFER_ITERATIONS,
    )


def _words(doc: Iterable[tuple[int, float]]) -> list[str]:
    words: list[str] = []
    for term, count in doc:
        words.extend([str(int(term))] * round(count))
    return words


def train(
    prepared: PreparedCorpus,
    config: TrainConfig,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
):
    tp = import_tomotopy()
    arguments = parameters(config, seed)
    lda = tp.LDAModel(
        tw=getattr(tp.TermWeight, config.term_weight.upper()),
        k=config.num_topics,
        alpha=arguments["alpha"],
        eta=arguments["eta"],
        seed=seed,
    )
    lda.burn_in = config.burn_in
    lda.optim_interval = config.optim_interval
    train_ids = []
    for doc_id, ids in zip(prepared.doc_ids("train"), prepared.token_ids("train")):
        if len(ids):  # an empty document is inferred below (and gets the uniform distribution)
            lda.add_doc([str(int(i)) for i in ids])
            train_ids.append(doc_id)
    if not train_ids:
        raise TopicsError(f"{prepared.path}: no training documents; lower the held-out share")
    lda.train(
        arguments["iterations"],
        workers=config.workers,
        parallel=_scheme(tp, config.parallel),
        show_progress=False,
        **_reporting(progress),
    )

    topic_word = np.zeros((config.num_topics, prepared.num_terms))
    columns = np.array([int(word) for word in lda.used_vocabs], dtype=np.int64)
    for k in range(config.num_topics):
        topic_word[k, columns] = lda.get_topic_word_dist(k)
    topic_word = normalise_rows(topic_word)

    # Training documents keep their final sampled state; the others (held out) are inferred.
    rows = {doc_id: np.asarray(doc.get_topic_dist(), dtype=np.float64) for doc_id, doc in zip(train_ids, lda.docs)}
    all_ids = list(prepared.doc_ids())
    others = [i for i, doc_id in enumerate(all_ids) if doc_id not in rows]
    doc_topics = np.zeros((len(all_ids), config.num_topics))
    for i, doc_id in enumerate(all_ids):
        if doc_id in rows:
            doc_topics[i] = rows[doc_id]
    if others:
        wanted = set(others)
        bow = [doc for i, doc in enumerate(prepared.bow()) if i in wanted]
        doc_topics[others] = doc_topics_of(lda, bow, seed)
    reproducible = config.workers == 1
    return (
        lda,
        topic_word,
        [normalise_rows(doc_topics)],
        reproducible,
        {**arguments, "tomotopy": tp.__version__},
    )


def _reporting(progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    """``train`` arguments that call ``progress(sweeps done, sweeps)`` after every Gibbs sweep."""
    if progress is None:
        return {}

    def report(model, done: int, total: int) -> None:
        if done > 0:  # tomotopy also calls back before the first sweep
            progress(done, total)

    return dict(callback_interval=1, callback=report)


def _scheme(tp, name: str):
    return getattr(tp.ParallelScheme, name.upper())


def _infer(lda, bow: Iterable[Sequence[tuple[int, float]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Topic distributions, log-likelihoods and word counts of ``bow`` documents (one worker)."""
    vocabulary = list(lda.used_vocabs)
    known = set(vocabulary)
    docs, lengths, empty = [], [], []
    for doc in bow:
        words = [w for w in _words(doc) if w in known]
        empty.append(not words)
        lengths.append(len(words))
        docs.append(lda.make_doc(words or vocabulary[:1]))  # a placeholder, replaced by uniform below
    if not docs:
        return np.zeros((0, lda.k)), np.zeros(0), np.zeros(0)
    dists, log_likelihoods = lda.infer(docs, iterations=INFER_ITERATIONS, workers=1)
    dists = np.asarray(dists, dtype=np.float64)
    dists[np.asarray(empty)] = 1.0 / lda.k
    return (
        dists,
        np.asarray(log_likelihoods, dtype=np.float64),
        np.asarray(lengths, dtype=np.float64),
    )


def doc_topics_of(lda, bow: Iterable[Sequence[tuple[int, float]]], seed: int) -> np.ndarray:
    """Topic distributions of new documents by Gibbs sampling with the topics fixed (tomotopy's
    ``infer``, seeded by the model's own seed; ``seed`` is unused). Words unknown to the model are
    left out; a document without known words gets the uniform distribution."""
    return normalise_rows(_infer(lda, bow)[0])


def heldout_bound(lda, bow: Iterable[Sequence[tuple[int, float]]], seed: int, total_docs: int) -> tuple[float, str]:
    """Per-word log-likelihood (natural log) of held-out documents from tomotopy's ``infer``."""
    bow = list(bow)
    _, log_likelihoods, lengths = _infer(lda, bow)
    keep = lengths > 0
    bound = float(log_likelihoods[keep].sum() / max(lengths[keep].sum(), 1))
    return bound, (
        f"tomotopy LDAModel.infer log-likelihood per word ({INFER_ITERATIONS} Gibbs sweeps per document, "
        "documents inferred independently; words unknown to the model left out)"
    )


def save(lda, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / MODEL_FILE
    lda.save(str(path), full=True)
    return [path]


def load(directory: Path):
    tp = import_tomotopy()
    return tp.LDAModel.load(str(directory / MODEL_FILE))


def import_library() -> Any:
    """tomotopy (imported before training is timed), or a TopicsError saying how to install it."""
    return import_tomotopy()
