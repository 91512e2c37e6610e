"""The LDA engines, one module each, and the table of what each offers.

Each engine module has ``train(prepared, config, seed, progress=None)`` returning ``(native, topic_word,
doc_topic_blocks, reproducible, parameters)`` (the D x K document-topic rows of every document of the
corpus as consecutive blocks: gensim infers them block by block as they are read, so that training
can write them to a file without holding them; the others give one block), ``doc_topics_of(native, bow, seed)``, ``save(native,
directory)``, ``load(directory)`` and ``heldout_bound(native, bow, seed, total_docs)`` (the per-word
held-out log-likelihood that perplexity is computed from); ``progress(done, total)``, when given, hears
the documents visited after each chunk (gensim), Gibbs sweeps (tomotopy, dtm) or just start and end (scikit-learn) as they finish. ``ENGINES`` holds one row per engine,
as gensim's ``COHERENCE_MEASURES`` holds one row per measure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from topics.training.engines import dtm_lda, gensim_lda, sklearn_lda, tomotopy_lda


class Engine(NamedTuple):
    """How to train, save, load, infer with and score held-out documents under one engine."""

    train: Callable[..., tuple[Any, np.ndarray, Iterable[np.ndarray], bool, dict[str, Any]]]
    save: Callable[[Any, Path], list[Path]]
    load: Callable[[Path], Any]
    doc_topics_of: Callable[[Any, Iterable[Sequence[tuple[int, float]]], int], np.ndarray]
    heldout_bound: Callable[[Any, Iterable[Sequence[tuple[int, float]]], int, int], tuple[float, str]]
    #: imports the engine's library (a TopicsError saying how to install a missing one)
    import_library: Callable[[], Any]


ENGINES: dict[str, Engine] = {
    module.__name__.rsplit(".", 1)[1].removesuffix("_lda"): Engine(
        module.train,
        module.save,
        module.load,
        module.doc_topics_of,
        module.heldout_bound,
        module.import_library,
    )
    for module in (gensim_lda, sklearn_lda, tomotopy_lda, dtm_lda)
}

__all__ = ["ENGINES", "Engine"]
