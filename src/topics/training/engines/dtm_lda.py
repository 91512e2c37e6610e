"""tomotopy's ``DTModel``: the dynamic topic model (Blei and Lafferty 2006), an optional extra.

Each topic is a chain of word distributions, one per time slice, that drifts from slice to slice;
tomotopy samples it by Gibbs sampling with stochastic gradient Langevin dynamics (Bhadury, Chen, Zhu
and Liu 2016). A document's time slice is the calendar period (``TrainConfig.period``: month,
quarter or year) of its date in the prepared corpus; the slices run from the first dated
document's period to the last. Every document needs a date, and every slice documents with words
(tomotopy ends the whole process on an empty slice, so it is checked here first).

The engine's model (``DynamicModel``) keeps, beside tomotopy's, the topics of every slice over our
vocabulary (T x K x V, saved as ``topic_words_by_period.npy``) and the slices (``periods.csv``:
timepoint, period, start, documents). The run's topic-word matrix is their mean over the slices, so
every reader of a static run reads a dtm run too. With one worker a seed gives the same model.

DTModel has no Dirichlet ``alpha`` or ``eta``: documents' topic shares are logistic normal around a
drifting mean. Its variances and SGLD step sizes are fixed below; with tomotopy's default step size
``lr_a`` = 0.01 one topic absorbed most words of every category (benchmarks/dynamic.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from topics.config import TrainConfig
from topics.errors import CorpusError, TopicsError
from topics.training.engines._common import normalise_rows
from topics.training.engines.tomotopy_lda import INSTALL, _reporting, _scheme, _words

if TYPE_CHECKING:
    from topics.preprocessing.prepared import PreparedCorpus

MODEL_FILE = "dtm.tomotopy.bin"
TOPIC_WORDS_BY_PERIOD = "topic_words_by_period.npy"
PERIODS_CSV = "periods.csv"
PERIODS_COLUMNS = ["timepoint", "period", "start", "documents"]
#: pandas period codes of the calendar periods a time slice can be
PERIOD_CODES = {"month": "M", "quarter": "Q", "year": "Y"}
COARSER = {"month": "quarter or year", "quarter": "year"}
#: DTModel's settings: transition variance of the topics (phi) and of the documents' mean topic
#: shares (alpha), variance of a document's shares around that mean (eta), and the SGLD step size
#: e_i = a (b + i)^-c. tomotopy's defaults but lr_a 0.1 instead of 0.01 (see above); phi_var 0.01
#: (tomotopy's example) smooths an abrupt change of vocabulary over the neighbouring periods.
SETTINGS = dict(alpha_var=0.1, eta_var=1.0, phi_var=0.01, lr_a=0.1, lr_b=0.1, lr_c=0.55)
#: Gibbs sweeps over a new document when inferring its topics
INFER_ITERATIONS = 100


def import_tomotopy():
    """tomotopy, or a TopicsError saying how to install the extra."""
    try:
        import tomotopy
    except ImportError:
        raise TopicsError(
            f"engine 'dtm' needs the optional tomotopy package, which is not installed; "
            f"install it with: {INSTALL}   (or: pip install 'topics[gibbs]')"
        ) from None
    return tomotopy


@dataclass
class TimeSlices:
    """The time slice of every document of a prepared corpus.

    ``names`` are the periods as pandas writes them (``2020-06``, ``2020Q2``, ``2020``), ``starts``
    their first days (ISO, as ``topics trends`` labels periods); ``of_doc`` is each document's slice,
    in the prepared corpus's order.
    """

    period: str
    names: list[str]
    starts: list[str]
    of_doc: np.ndarray


@dataclass
class DynamicModel:
    """A trained ``DTModel`` with its slices and the topics of every slice over our vocabulary.

    ``topic_words`` is T x K x V, each row a distribution over the prepared corpus's vocabulary;
    ``documents`` counts the training documents of each slice.
    """

    dtm: Any
    names: list[str]
    starts: list[str]
    documents: list[int]
    topic_words: np.ndarray


def time_slices(prepared: PreparedCorpus, period: str) -> TimeSlices:
    """Each document's calendar ``period`` from its date; a CorpusError when a document has none."""
    import pandas as pd

    documents = prepared.documents
    raw = documents["date"].astype(str) if "date" in documents else pd.Series([""] * len(documents))
    dates = pd.to_datetime(raw.where(raw != ""), errors="coerce", format="ISO8601")
    undated = np.flatnonzero(dates.isna().to_numpy())
    if undated.size:
        ids = documents["id"].astype(str).to_numpy()[undated[:3]]
        raise CorpusError(
            f"{prepared.path}: {undated.size} of {len(dates)} documents have no date (first: {', '.join(ids)}); "
            "engine 'dtm' puts every document in a time slice by its date; give them dates, leave them out "
            "of the corpus, or choose another engine"
        )
    periods = dates.dt.to_period(PERIOD_CODES[period])
    full = pd.period_range(periods.min(), periods.max(), freq=PERIOD_CODES[period])
    return TimeSlices(
        period=period,
        names=[str(p) for p in full],
        starts=[p.start_time.date().isoformat() for p in full],
        of_doc=full.get_indexer(pd.PeriodIndex(periods)).astype(np.int64),
    )


def check_slices(prepared: PreparedCorpus, slices: TimeSlices, counts: np.ndarray) -> None:
    """A CorpusError when a slice has no training document with words (tomotopy would crash on it)."""
    coarser = COARSER.get(slices.period)
    advice = f"choose a coarser period ({coarser})" if coarser else "choose another engine"
    span = f"from {slices.names[0]} to {slices.names[-1]}"
    if len(slices.names) > counts.sum():
        raise CorpusError(
            f"{prepared.path}: {len(slices.names)} time slices ({slices.period}s {span}) but only {int(counts.sum())} "
            f"training documents with words; engine 'dtm' needs documents in every {slices.period}; {advice}"
        )
    empty = [slices.names[t] for t in np.flatnonzero(counts == 0)]
    if empty:
        more = f" and {len(empty) - 3} more" if len(empty) > 3 else ""
        raise CorpusError(
            f"{prepared.path}: no training document with words is dated in {', '.join(empty[:3])}{more} "
            f"({slices.period}s {span}); engine 'dtm' needs documents in every {slices.period}; {advice}"
        )


def parameters(config: TrainConfig, seed: int, slices: TimeSlices) -> dict[str, Any]:
    return dict(
        k=config.num_topics,
        t=len(slices.names),
        period=slices.period,
        first_period=slices.names[0],
        last_period=slices.names[-1],
        **SETTINGS,
        iterations=config.resolved_iterations(),
        seed=seed,
        workers=config.workers,
        parallel=config.parallel,
        infer_iterations=INFER_ITERATIONS,
    )


def train(
    prepared: PreparedCorpus,
    config: TrainConfig,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
):
    tp = import_tomotopy()
    slices = time_slices(prepared, config.period)
    num_slices = len(slices.names)
    is_test = np.asarray(prepared.is_test, dtype=bool)
    documents = [np.asarray(ids) for ids in prepared.token_ids()]
    trained = [i for i, ids in enumerate(documents) if not is_test[i] and len(ids)]
    counts = np.bincount(slices.of_doc[trained], minlength=num_slices)
    check_slices(prepared, slices, counts)
    arguments = parameters(config, seed, slices)
    dtm = tp.DTModel(k=config.num_topics, t=num_slices, seed=seed, **SETTINGS)
    for i in trained:
        dtm.add_doc([str(int(term)) for term in documents[i]], timepoint=int(slices.of_doc[i]))
    dtm.train(
        arguments["iterations"],
        workers=config.workers,
        parallel=_scheme(tp, config.parallel),
        show_progress=False,
        **_reporting(progress),
    )

    native = DynamicModel(dtm, slices.names, slices.starts, counts.tolist(), _topic_words(dtm, prepared.num_terms))

    # Training documents keep their final sampled state (iterate: tomotopy's docs do not index
    # past 0); held-out and empty documents are inferred in their own slice.
    doc_topics = np.zeros((len(documents), config.num_topics))
    doc_topics[trained] = [np.asarray(doc.get_topic_dist(), dtype=np.float64) for doc in dtm.docs]
    others = sorted(set(range(len(documents))) - set(trained))
    if others:
        bow = [_bag(documents[i]) for i in others]
        doc_topics[others] = _infer(native, bow, slices.of_doc[others])[0]
    return (
        native,
        native.topic_words.mean(axis=0),
        [normalise_rows(doc_topics)],
        config.workers == 1,
        {**arguments, "tomotopy": tp.__version__},
    )


def _topic_words(dtm, num_terms: int) -> np.ndarray:
    """T x K x V: topic k in slice t is softmax(φ_tk) over the words tomotopy saw (Blei and Lafferty
    2006, π(β_t,k)), computed here in float64. tomotopy's ``get_topic_word_dist`` instead mixes in the
    topic's word counts (its rows sum to 0.5 where a topic has no words) and differs from run to run
    of the same seed in the last float32 bit; φ itself is exactly reproducible."""
    columns = np.array([int(word) for word in dtm.used_vocabs], dtype=np.int64)
    topic_words = np.zeros((dtm.num_timepoints, dtm.k, num_terms))
    for t in range(dtm.num_timepoints):
        phi = np.array([dtm.get_phi(t, k) for k in range(dtm.k)], dtype=np.float64)
        weights = np.exp(phi - phi.max(axis=1, keepdims=True))
        topic_words[t][:, columns] = weights / weights.sum(axis=1, keepdims=True)
    return topic_words


def _bag(ids: np.ndarray) -> list[tuple[int, float]]:
    terms, counts = np.unique(ids, return_counts=True)
    return list(zip(terms.tolist(), counts.astype(float).tolist()))


def _infer(
    native: DynamicModel, bow: Iterable[Sequence[tuple[int, float]]], timepoints: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Topic distributions, log-likelihoods and word counts of ``bow`` documents in their slices
    (default: the last slice), with one worker."""
    dtm = native.dtm
    last = len(native.names) - 1
    vocabulary = list(dtm.used_vocabs)
    known = set(vocabulary)
    docs, lengths, empty = [], [], []
    for i, doc in enumerate(bow):
        words = [w for w in _words(doc) if w in known]
        empty.append(not words)
        lengths.append(len(words))
        t = last if timepoints is None else min(max(int(timepoints[i]), 0), last)  # tomotopy crashes outside [0, T)
        docs.append(dtm.make_doc(words or vocabulary[:1], timepoint=t))  # a placeholder, replaced by uniform below
    if not docs:
        return np.zeros((0, dtm.k)), np.zeros(0), np.zeros(0)
    dists, log_likelihoods = dtm.infer(docs, iterations=INFER_ITERATIONS, workers=1)
    dists = np.asarray(dists, dtype=np.float64)
    dists[np.asarray(empty)] = 1.0 / dtm.k
    return dists, np.asarray(log_likelihoods, dtype=np.float64), np.asarray(lengths, dtype=np.float64)


def doc_topics_of(native: DynamicModel, bow: Iterable[Sequence[tuple[int, float]]], seed: int) -> np.ndarray:
    """Topic distributions of new documents, taken to be from the last slice (a bag of words has no
    date), by Gibbs sampling with the topics fixed (seeded by the model's seed; ``seed`` is unused)."""
    return normalise_rows(_infer(native, bow)[0])


def heldout_bound(
    native: DynamicModel, bow: Iterable[Sequence[tuple[int, float]]], seed: int, total_docs: int
) -> tuple[float, str]:
    """Per-word log-likelihood (natural log) of held-out documents from tomotopy's ``infer``."""
    _, log_likelihoods, lengths = _infer(native, list(bow))
    keep = lengths > 0
    bound = float(log_likelihoods[keep].sum() / max(lengths[keep].sum(), 1))
    return bound, (
        f"tomotopy DTModel.infer log-likelihood per word ({INFER_ITERATIONS} Gibbs sweeps per document, "
        "each document placed in the last time slice; words unknown to the model left out)"
    )


def periods_table(native: DynamicModel) -> str:
    """CSV text: timepoint, period (``2020Q2``), start (its first day, ISO), training documents."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PERIODS_COLUMNS)
    writer.writerows(zip(range(len(native.names)), native.names, native.starts, native.documents))
    return out.getvalue()


def read_periods(path: Path) -> tuple[list[str], list[str], list[int]]:
    """Names, first days and training documents of the slices in a ``periods.csv``."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["period"] for r in rows], [r["start"] for r in rows], [int(r["documents"]) for r in rows]


def save(native: DynamicModel, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    model_path, words_path, periods_path = (directory / name for name in (MODEL_FILE, TOPIC_WORDS_BY_PERIOD, PERIODS_CSV))
    native.dtm.save(str(model_path), full=True)
    np.save(words_path, np.ascontiguousarray(native.topic_words, dtype=np.float64), allow_pickle=False)
    periods_path.write_text(periods_table(native), encoding="utf-8")
    return [model_path, words_path, periods_path]


def load(directory: Path) -> DynamicModel:
    tp = import_tomotopy()
    names, starts, documents = read_periods(directory / PERIODS_CSV)
    return DynamicModel(
        dtm=tp.DTModel.load(str(directory / MODEL_FILE)),
        names=names,
        starts=starts,
        documents=documents,
        topic_words=np.load(directory / TOPIC_WORDS_BY_PERIOD, allow_pickle=False),
    )


def import_library() -> Any:
    """tomotopy (imported before training is timed), or a TopicsError saying how to install it."""
    return import_tomotopy()
