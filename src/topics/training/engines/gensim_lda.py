"""gensim's online variational Bayes LDA (Hoffman, Blei and Bach 2010): the default engine.

``LdaModel`` is exactly reproducible for a seed; ``LdaMulticore`` is not, even with one worker, so
a model trained with ``workers > 1`` is marked as not reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from topics._files import batched
from topics.config import TrainConfig
from topics.errors import ConfigError

if TYPE_CHECKING:
    from topics.preprocessing.prepared import PreparedCorpus


#: the default schedule visits about this many documents in all (passes x training documents) ...
DOCUMENT_VISITS = 300_000
#: ... in at least 1 and at most this many passes, and at most TOPIC_PASSES / K: 30 up to 33
#: topics, 20 at 50, 10 at 100. A pass costs in proportion to K, so a small corpus's training
#: stays within about twice the tutorial's CPU at every K (30 passes cost Lee 2.1 times the
#: tutorial at K = 50) while keeping the coherence 30 passes give at K = 20 (docs/defaults.md)
MAX_DEFAULT_PASSES, TOPIC_PASSES = 30, 1000
#: and updates the model after chunks of at most this many documents
MAX_CHUNK_DOCS = 2000
#: documents whose topics are inferred at once after training
INFERENCE_BATCH_DOCS = 4096


def schedule(config: TrainConfig, num_docs: int) -> tuple[int, int]:
    """``(passes, chunksize)``: as given, else the default schedule (docs/defaults.md).

    Linear in the corpus and bounded in memory: the number of passes falls as the corpus grows,
    so that the documents visited in all stay about ``DOCUMENT_VISITS`` (a corpus of 1,000,000
    documents gets one pass: online variational Bayes converges in one or two passes over a large
    corpus, Hoffman, Blei and Bach 2010), and a chunk holds at most ``MAX_CHUNK_DOCS`` documents
    and at most ``chunk_budget / num_topics`` (the E-step holds a chunk x K matrix). Chunks are
    equal in size, so no small last chunk gets a whole update's weight.
    """
    num_docs = max(num_docs, 1)
    most = max(1, min(MAX_DEFAULT_PASSES, TOPIC_PASSES // config.num_topics))
    passes = config.passes or min(most, max(1, round(DOCUMENT_VISITS / num_docs)))
    if config.chunksize:
        return passes, config.chunksize
    largest = max(1, min(MAX_CHUNK_DOCS, config.chunk_budget // config.num_topics))
    chunks = math.ceil(num_docs / largest)
    return passes, math.ceil(num_docs / chunks)


def train(
    prepared: PreparedCorpus,
    config: TrainConfig,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
):
    from gensim.models import LdaModel, LdaMulticore

    train_bow = prepared.bow("train")
    num_train = len(train_bow)
    passes, chunksize = schedule(config, num_train)
    parameters = dict(
        num_topics=config.num_topics,
        passes=passes,
        iterations=config.resolved_iterations(),
        chunksize=chunksize,
        alpha=config.alpha,
        eta=config.eta,
        decay=config.decay,
        offset=config.resolved_offset(),
        random_state=seed,
        eval_every=None,
    )
    every_bow = prepared.bow()
    # progress counts the training passes and then the inference of every document's topics
    visits = passes * num_train + len(every_bow)
    corpus = train_bow if progress is None else DocumentsVisited(train_bow, passes, chunksize, visits, progress)
    if config.workers > 1:
        if config.alpha == "auto":
            raise ConfigError("alpha 'auto' is not available with workers > 1 (gensim LdaMulticore); use workers = 1")
        lda = LdaMulticore(
            corpus=corpus,
            id2word=prepared.dictionary,
            workers=config.workers,
            **parameters,
        )
    else:
        lda = LdaModel(corpus=corpus, id2word=prepared.dictionary, **parameters)
    topic_word = lda.get_topics()
    inferred = None if progress is None else (lambda done: progress(passes * num_train + done, visits))
    return (
        lda,
        topic_word,
        doc_topic_blocks(lda, every_bow, seed, INFERENCE_BATCH_DOCS, progress=inferred),
        config.workers == 1,
        {**parameters, "workers": config.workers},
    )


class DocumentsVisited:
    """The training corpus as gensim reads it, reporting ``progress(documents visited, total)``
    after each chunk and at the end of each pass (``total``: the passes' documents and the
    inference after them): with one pass over a large corpus (the default schedule), a per-pass
    report would say nothing until the model is done.

    It only counts what gensim reads, so the model is the one trained without it (tested)."""

    def __init__(self, bow, passes: int, chunksize: int, total: int, progress: Callable[[int, int], None]) -> None:
        self.bow, self.progress, self.chunksize = bow, progress, chunksize
        self.size = len(bow)
        self.total, self.done = total, 0

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        in_pass = 0
        for document in self.bow:
            yield document
            in_pass += 1
            if in_pass % self.chunksize == 0 or in_pass == self.size:
                self.progress(self.done + in_pass, self.total)
        self.done += in_pass


def doc_topic_blocks(
    lda,
    bow: Iterable[Sequence[tuple[int, float]]],
    seed: int,
    batch: int = INFERENCE_BATCH_DOCS,
    progress: Callable[[int], None] | None = None,
) -> Iterator[np.ndarray]:
    """Topic distributions of ``bow`` documents (variational gamma, normalised), ``batch`` documents
    at a time, inferred as they are read; ``progress(documents done)`` after each batch.

    The E-step starts from random gammas; a fresh ``RandomState(seed)`` makes the result
    independent of whatever was drawn before (training, earlier inference).
    """
    lda.random_state = np.random.RandomState(seed)
    done = 0
    for chunk in batched(bow, batch):
        gamma = lda.inference(chunk)[0].astype(np.float64)
        yield gamma / gamma.sum(axis=1, keepdims=True)
        done += len(gamma)
        if progress is not None:
            progress(done)


def doc_topics_of(lda, bow: Iterable[Sequence[tuple[int, float]]], seed: int, batch: int = INFERENCE_BATCH_DOCS) -> np.ndarray:
    """The D x K topic distributions of ``bow`` documents (``doc_topic_blocks`` written into one
    array: no per-batch copies to stack, at a million documents each would be hundreds of MB)."""
    documents = bow if isinstance(bow, Sized) else list(bow)
    theta = np.empty((len(documents), lda.num_topics), dtype=np.float64)
    done = 0
    for block in doc_topic_blocks(lda, documents, seed, batch):
        theta[done : done + len(block)] = block
        done += len(block)
    return theta


def save(lda, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    before = set(directory.iterdir())
    lda.save(str(directory / "lda.gensim"))
    return sorted(set(directory.iterdir()) - before)


def load(directory: Path):
    from gensim.models import LdaModel

    return LdaModel.load(str(directory / "lda.gensim"))


def heldout_bound(lda, bow: Iterable[Sequence[tuple[int, float]]], seed: int, total_docs: int) -> tuple[float, str]:
    """gensim's per-word variational bound (natural log) on ``bow``, E-step seeded by ``seed``.

    The bound has a corpus-wide term (the topic-word Dirichlet) besides the documents' terms;
    ``total_docs`` (the training corpus size) scales the documents' part up to the corpus, as gensim
    does when it logs perplexity during training. Without it, on a small held-out set the corpus-wide
    term dominates and the "perplexity" exceeds that of a uniform model.
    """
    lda.random_state = np.random.RandomState(seed)
    bound = float(lda.log_perplexity(list(bow), total_docs=total_docs))
    return (
        bound,
        "gensim LdaModel.log_perplexity(total_docs = training documents): variational bound per word",
    )


def import_library() -> Any:
    """The library this engine trains with (imported before training is timed)."""
    import gensim.models

    return gensim.models
