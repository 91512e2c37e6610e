"""The words of each topic per period (``trend_words``, docs/trends.md).

The words of topic k in period t are the expected counts that the period's documents give the
topic, n_tkw = Σ_{d ∈ t} θ_dk · c_dw, normalised to p(w | k, t); N_tk = Σ_{d ∈ t} θ_dk is the
topic's effective number of documents in the period, and a pair (t, k) with N_tk below
``min_docs`` is marked insufficient instead of being given words. Words are ranked by p(w | k, t)
or by relevance against the topic's distribution over all dated documents,
λ·log p(w | k, t) + (1 - λ)·log(p(w | k, t) / p(w | k)) (after Sievert and Shirley 2014). A dynamic
topic model's run (engine ``dtm``) has its own topics per period, and those are its words per
period instead (``source`` "model" rather than "documents").
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from topics.errors import ConfigError, RunError, unknown_name
from topics.reading.documents import DocumentPeriods, document_periods
from topics.training.engines.dtm_lda import PERIODS_CSV, TOPIC_WORDS_BY_PERIOD, read_periods

if TYPE_CHECKING:
    import pandas as pd
    import scipy.sparse as sps

    from topics.runs.run import Run

log = logging.getLogger(__name__)

RANKINGS = ("probability", "relevance")
#: N_tk below this marks (period, topic) insufficient
MIN_DOCS = 5.0
TREND_WORDS_CSV = "trend_words.csv"
TREND_WORDS_COLUMNS = ["period", "topic", "rank", "word", "weight", "documents", "sufficient", "min_docs", "source"]
#: where a run's words per period come from: the model's own topics per period, or the documents
SOURCES = ("auto", "model", "documents")


def document_tokens(run: Run) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The token ids of the run's prepared corpus: ``tokens``, ``offsets`` and ``rows``, where
    document d of ``run.model.doc_ids`` is ``tokens[offsets[rows[d]]:offsets[rows[d] + 1]]``.

    Read whole, as ``topics.evaluation`` reads them (slicing the memory map per document is slow).
    A RunError when the model's documents or vocabulary are not the prepared corpus's.
    """
    prepared = run.prepared
    model = run.model
    if list(prepared.vocabulary) != list(model.vocabulary):
        raise RunError(f"{run.path}: the model's vocabulary is not its prepared corpus's ({prepared.path}); retrain the run")
    ids = prepared.documents["id"].astype(str).tolist()
    if ids == list(model.doc_ids):
        rows = np.arange(len(ids), dtype=np.int64)
    else:
        position = {doc_id: i for i, doc_id in enumerate(ids)}
        missing = [doc_id for doc_id in model.doc_ids if doc_id not in position]
        if missing:
            raise RunError(
                f"{run.path}: {len(missing)} of the model's documents (first {missing[0]!r}) are not in its "
                f"prepared corpus {prepared.path}; retrain the run"
            )
        rows = np.asarray([position[doc_id] for doc_id in model.doc_ids], dtype=np.int64)
    tokens = np.load(prepared.path / "tokens.npy", allow_pickle=False)
    offsets = np.load(prepared.path / "offsets.npy", allow_pickle=False).astype(np.int64)
    return tokens, offsets, rows


def doc_word_matrix(run: Run) -> sps.csr_matrix:
    """Word counts c_dw, D x V (scipy CSR), rows in the order of ``run.model.doc_ids``."""
    import scipy.sparse as sps

    tokens, offsets, rows = document_tokens(run)
    num_words = len(run.model.vocabulary)
    counts = sps.csr_matrix(
        (np.ones(len(tokens), dtype=np.float64), tokens.astype(np.int64), offsets),
        shape=(len(offsets) - 1, num_words),
    )
    counts.sum_duplicates()
    return counts[rows]


def _rank(p: np.ndarray, reference: np.ndarray | None, n: int, relevance_lambda: float) -> np.ndarray:
    """Ids of the top ``n`` words of the distribution ``p``, best first; words with p = 0 never.

    By p when ``reference`` is None, else by λ·log p + (1 - λ)·log(p / reference). Ties keep
    word-id order (as a stable sort of the whole vocabulary would), without sorting it all.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.log(p)
        if reference is not None and relevance_lambda < 1.0:  # at λ = 1, 0 * inf would be NaN
            score = relevance_lambda * score + (1.0 - relevance_lambda) * (score - np.log(reference))
    score[~(p > 0)] = -np.inf
    finite = int(np.isfinite(score).sum())
    n = min(n, finite)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    threshold = np.partition(score, len(score) - n)[len(score) - n]
    candidates = np.flatnonzero(score >= threshold)  # in word-id order
    return candidates[np.argsort(-score[candidates], kind="stable")][:n]


def check_words_options(words: int, ranking: str, relevance_lambda: float, min_docs: float) -> None:
    if words < 1:
        raise ConfigError(f"words per period must be an integer >= 1, got {words}")
    if ranking not in RANKINGS:
        raise ConfigError(unknown_name("ranking", ranking, RANKINGS))
    if not 0.0 <= relevance_lambda <= 1.0:
        raise ConfigError(f"relevance_lambda must lie in [0, 1], got {relevance_lambda}")
    if not min_docs >= 0:
        raise ConfigError(f"min_docs must be a number >= 0, got {min_docs}")


def model_topic_words(run: Run) -> tuple[str, list[str], np.ndarray] | None:
    """The period, the periods' first days and the T x K x V topic-word matrices of a run whose model
    has topics of its own per period (engine ``dtm``); None for a static model."""
    folder = run.path / "model"
    if not (folder / TOPIC_WORDS_BY_PERIOD).is_file():
        return None
    run.verify([f"model/{TOPIC_WORDS_BY_PERIOD}", f"model/{PERIODS_CSV}"])
    _, starts, _ = read_periods(folder / PERIODS_CSV)
    return run.config.period, starts, np.load(folder / TOPIC_WORDS_BY_PERIOD, allow_pickle=False)


def _own_words(run: Run, periods: DocumentPeriods, source: str) -> np.ndarray | None:
    """The model's topics per period when ``source`` asks for them (``auto``: when it has them)."""
    if source not in SOURCES:
        raise ConfigError(unknown_name("source", source, SOURCES))
    own = None if source == "documents" else model_topic_words(run)
    if own is None:
        if source == "model":
            raise RunError(f"{run.path}: its model (engine {run.engine}) has no topics per period; only a dtm run has")
        return None
    trained, starts, topic_words = own
    if periods.period != trained:
        raise RunError(
            f"{run.path}: this dtm run's topics are per {trained} (trained with period = {trained}), not per "
            f"{periods.period}; ask for period {trained}, or for source 'documents' to read the words per "
            f"{periods.period} from the documents' topic shares"
        )
    if starts != periods.labels:
        raise RunError(
            f"{run.path}: the model's periods ({starts[0]} to {starts[-1]}) are not its documents' "
            f"({periods.labels[0]} to {periods.labels[-1]}); retrain the run"
        )
    return topic_words


def words_table(
    run: Run,
    periods: DocumentPeriods,
    words: int = 10,
    ranking: str = "probability",
    relevance_lambda: float = 0.6,
    min_docs: float = MIN_DOCS,
    source: str = "auto",
) -> pd.DataFrame:
    """``trend_words`` for periods already assigned (see there)."""
    import pandas as pd

    check_words_options(words, ranking, relevance_lambda, min_docs)
    own = _own_words(run, periods, source)
    model = run.model
    theta = np.asarray(model.doc_topics, dtype=np.float64)
    totals = theta.sum(axis=1, keepdims=True)
    theta = np.divide(theta, totals, out=np.zeros_like(theta), where=totals > 0)
    counts = doc_word_matrix(run) if own is None else None
    vocabulary = model.vocabulary
    overall = None
    if ranking == "relevance" and own is not None:
        overall = np.asarray(model.topic_word, dtype=np.float64)  # the mean of the model's topics over the periods
    elif ranking == "relevance" and counts is not None:
        # p(w | k) from the same estimator pooled over all dated documents
        dated = np.flatnonzero(periods.of_doc >= 0)
        pooled = np.asarray(counts[dated].T @ theta[dated]).T
        mass = pooled.sum(axis=1, keepdims=True)
        overall = np.divide(pooled, mass, out=np.zeros_like(pooled), where=mass > 0)

    label_of_source = "documents" if own is None else "model"
    records: list[tuple] = []
    for t, label in enumerate(periods.labels):
        members = periods.members(t)
        effective = theta[members].sum(axis=0)
        if own is not None:
            table = own[t]  # K x V
        elif members.size and counts is not None:
            table = np.asarray(counts[members].T @ theta[members]).T
        else:
            table = None
        for k in range(model.num_topics):
            mass = float(table[k].sum()) if table is not None else 0.0
            n_docs = float(effective[k])
            if n_docs < min_docs or mass <= 0:
                records.append((label, k, None, "", np.nan, n_docs, False, min_docs, label_of_source))
                continue
            assert table is not None
            p = table[k] / mass
            top = _rank(p, None if overall is None else overall[k], words, relevance_lambda)
            records.extend(
                (label, k, rank, vocabulary[w], float(p[w]), n_docs, True, min_docs, label_of_source)
                for rank, w in enumerate(top, start=1)
            )
    frame = pd.DataFrame.from_records(records, columns=TREND_WORDS_COLUMNS)
    frame["rank"] = frame["rank"].astype("Int64")
    frame["sufficient"] = frame["sufficient"].astype(bool)
    frame.attrs.update(
        period=periods.period,
        ranking=ranking,
        relevance_lambda=relevance_lambda,
        undated=periods.undated,
        source=label_of_source,
    )
    return frame


def trend_words(
    run: Run,
    period: str | None = None,
    words: int = 10,
    ranking: str = "probability",
    relevance_lambda: float = 0.6,
    min_docs: float = MIN_DOCS,
    source: str = "auto",
) -> pd.DataFrame:
    """The top ``words`` of every topic in every ``period`` (week, month, quarter or year).

    For topic k and period t, p(w | k, t) ∝ Σ_{d ∈ t} θ_dk · c_dw over the documents dated in t
    (θ: the run's document-topic shares, c: the word counts of its prepared corpus). Ranked by
    ``ranking``: ``probability``, or ``relevance`` λ·log p(w | k, t) + (1 - λ)·log(p(w | k, t) / p(w | k))
    against the topic's distribution over all dated documents (Sievert and Shirley 2014, with the
    topic in place of the corpus), so that what is new for the topic in a period stands out.

    Returns one row per (period, topic, rank): period (first day, ISO), topic, rank, word, weight
    (p(w | k, t)), documents (N_tk = Σ_{d ∈ t} θ_dk, the topic's effective number of documents),
    sufficient, min_docs, source. A pair with N_tk < ``min_docs`` (or an empty period) is one row
    with ``sufficient`` False and no word, so that every period from the first dated document's to
    the last appears. Undated documents are left out; a RunError when no document has a date.

    A dynamic topic model (engine ``dtm``) has topics of its own per period: for its run the words
    are those of the model's topic k in period t (p(w | k, t) = φ_tkw; relevance against the mean of
    the topic over the periods), ``source`` "model"; for any other run ``source`` is "documents".
    A dtm run's own topics exist only per the period it was trained with (a RunError for another
    period; ``source="documents"`` reads any period from the documents' topic shares instead).

    Parameters
    ----------
    run : Run
        A run whose documents have dates; its prepared corpus must be where the run names it.
    period : str, optional
        week, month, quarter or year; default: a dtm run's own period, else month.
    words : int
        Top words per (period, topic).
    ranking : str
        probability or relevance.
    relevance_lambda : float
        λ of relevance ranking, in [0, 1]; 1 is ranking by probability.
    min_docs : float
        N_tk below this marks a (period, topic) insufficient.
    source : str
        auto (the model's own topics per period when it has them, else the documents'), model or
        documents.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> words = topics.trend_words(run, "quarter", words=5, ranking="relevance")  # doctest: +SKIP
    >>> words[words["topic"] == 3].groupby("period")["word"].apply(" ".join)  # doctest: +SKIP
    """
    check_words_options(words, ranking, relevance_lambda, min_docs)
    if period is None:
        own = None if source == "documents" else model_topic_words(run)
        period = "month" if own is None else own[0]
    periods = document_periods(run, period, needed_for="there are no words per period")
    return words_table(run, periods, words, ranking, relevance_lambda, min_docs, source)


def trend_words_csv(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, float_format="%.6g", lineterminator="\n")
