"""Topics over time: the prevalence of each topic per period, the words of each topic per period,
and the prevalence plot.

The prevalence of topic k in a period is the mean share of topic k over the documents dated in
that period (θ_dk averaged over d), as in Griffiths and Steyvers (2004), "Finding scientific
topics", section on topic dynamics. Documents without a date are counted and left out.

The words of topic k in period t (``trend_words``, see docs/trends.md) are the expected counts
that the period's documents give the topic, n_tkw = Σ_{d ∈ t} θ_dk · c_dw, normalised to
p(w | k, t); N_tk = Σ_{d ∈ t} θ_dk is the topic's effective number of documents in the period, and
a pair (t, k) with N_tk below ``min_docs`` is marked insufficient instead of being given words.
Words are ranked by p(w | k, t) or by relevance against the topic's distribution over all dated
documents, λ·log p(w | k, t) + (1 - λ)·log(p(w | k, t) / p(w | k)) (after Sievert and Shirley 2014).
A dynamic topic model's run (engine ``dtm``) has its own topics per period, and those are its
words per period instead (``source`` "model" rather than "documents").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from topics.errors import ConfigError, RunError, unknown_name
from topics.reading.documents import document_metadata
from topics.reading.figures import figure_png, trends_figure
from topics.reading.labels import topic_labels
from topics.runs.folder import write_run_outputs
from topics.training.engines.dtm_lda import PERIODS_CSV, TOPIC_WORDS_BY_PERIOD, read_periods

if TYPE_CHECKING:
    import pandas as pd
    import scipy.sparse as sps

    from topics.runs.run import Run

log = logging.getLogger(__name__)

Period = Literal["week", "month", "quarter", "year"]
#: pandas period codes
PERIODS: dict[str, str] = {"week": "W-MON", "month": "M", "quarter": "Q", "year": "Y"}
RANKINGS = ("probability", "relevance")
#: N_tk below this marks (period, topic) insufficient
MIN_DOCS = 5.0
TRENDS_CSV = "trends.csv"
TRENDS_PNG = "trends.png"
TREND_WORDS_CSV = "trend_words.csv"
TREND_WORDS_COLUMNS = ["period", "topic", "rank", "word", "weight", "documents", "sufficient", "min_docs", "source"]
#: where a run's words per period come from: the model's own topics per period, or the documents
SOURCES = ("auto", "model", "documents")


@dataclass
class Trends:
    """Topic prevalence per period, and the words of each topic per period when asked for.

    ``prevalence`` has one row per period (index: the period's first day, ISO text), from the first
    dated document's period to the last, and one column ``topic_k`` per topic; periods without
    documents have empty (NaN) rows. ``documents`` counts the dated documents of each period and
    ``undated`` the documents left out for want of a date. ``words`` is ``trend_words``'s table
    (None when no words were asked for).
    """

    period: str
    prevalence: pd.DataFrame
    documents: pd.Series
    undated: int
    words: pd.DataFrame | None = None

    def table(self) -> pd.DataFrame:
        """One row per period: period, documents, topic_0, topic_1, ..."""
        table = self.prevalence.copy()
        table.insert(0, "documents", self.documents.astype(int))
        return table.reset_index()

    def to_csv(self) -> str:
        return self.table().to_csv(index=False, float_format="%.6g", lineterminator="\n")

    @property
    def note(self) -> str:
        """A sentence about the undated documents ('' when every document has a date)."""
        if not self.undated:
            return ""
        total = self.undated + int(self.documents.sum())
        return f"{self.undated} of {total} documents have no date and are left out of the trend"


@dataclass
class DocumentPeriods:
    """The calendar period of every document of a run.

    ``labels`` are the periods' first days (ISO text), from the first dated document's period to
    the last, empty periods included; ``of_doc`` (D,) is each document's index into ``labels``,
    in the order of ``run.model.doc_ids``, -1 for a document without a date.
    """

    period: str
    labels: list[str]
    of_doc: np.ndarray

    @property
    def undated(self) -> int:
        return int((self.of_doc < 0).sum())

    def members(self, t: int) -> np.ndarray:
        """Rows (documents) dated in period ``t``."""
        return np.flatnonzero(self.of_doc == t)


def check_period(period: str) -> str:
    if period not in PERIODS:
        raise RunError(unknown_name("period", period, list(PERIODS)))
    return period


def document_periods(run: Run, period: str = "month", needed_for: str = "there is no trend over time") -> DocumentPeriods:
    """Each document's ``period`` (week, month, quarter or year) from its date.

    A RunError when no document of the run has a date (a corpus format without dates, such as
    plain text, or articles whose date lines are empty); ``needed_for`` ends its first clause.
    """
    import pandas as pd

    check_period(period)
    metadata = document_metadata(run)
    dates = pd.to_datetime(
        metadata["date"].where(metadata["date"] != ""),
        errors="coerce",
        format="ISO8601",
    )
    dated = dates.notna().to_numpy()
    if not dated.any():
        raise RunError(
            f"{run.path}: none of its {len(dates)} documents has a date, so {needed_for}; "
            "trends need a corpus with dates (the articles format's date line, a date field in JSONL/CSV)"
        )
    undated = int((~dated).sum())
    if undated:
        log.info("%s: %d documents without a date are left out of the trend", run.path, undated)
    periods = dates[dated].dt.to_period(PERIODS[period])
    full = pd.period_range(periods.min(), periods.max(), freq=PERIODS[period])
    of_doc = np.full(len(dates), -1, dtype=np.int64)
    of_doc[dated] = full.get_indexer(pd.PeriodIndex(periods))
    labels = [p.start_time.date().isoformat() for p in full]
    return DocumentPeriods(period=period, labels=labels, of_doc=of_doc)


def topic_trends(run: Run, period: str = "month") -> Trends:
    """Mean topic share per ``period`` (week, month, quarter or year) of the run's dated documents.

    A RunError when no document of the run has a date.
    """
    import pandas as pd

    periods = document_periods(run, period)
    dated = periods.of_doc >= 0
    columns = [f"topic_{k}" for k in range(run.model.num_topics)]
    shares = pd.DataFrame(run.model.doc_topics[dated], columns=columns)
    shares["period"] = periods.of_doc[dated]
    grouped = shares.groupby("period", sort=True)
    full = range(len(periods.labels))
    prevalence = grouped[columns].mean().reindex(full)
    counts = grouped.size().reindex(full, fill_value=0)
    labels = pd.Index(periods.labels, name="period")
    prevalence.index = labels
    counts.index = labels
    return Trends(period=period, prevalence=prevalence, documents=counts, undated=periods.undated)


# --- words per period -------------------------------------------------------------------------


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


def write_trends(
    run: Run,
    period: str = "month",
    words: int | None = None,
    ranking: str = "probability",
    relevance_lambda: float = 0.6,
    min_docs: float = MIN_DOCS,
) -> Trends:
    """Compute the run's trends and write ``trends.csv`` and ``trends.png`` into its folder, and
    with ``words`` also ``trend_words.csv`` (``trend_words``'s table, also in the result's ``words``).

    Examples
    --------
    >>> trends = topics.write_trends(run, "month", words=10)  # doctest: +SKIP
    >>> trends.words.head()  # doctest: +SKIP
    """

    periods = None
    if words is not None:  # checked first, so that the error names what was asked for
        check_words_options(words, ranking, relevance_lambda, min_docs)
        periods = document_periods(run, period, needed_for="there are no words per period")
    trends = topic_trends(run, period)
    files: dict[str, str | bytes] = {TRENDS_CSV: trends.to_csv()}
    if words is not None and periods is not None:
        trends.words = words_table(run, periods, words, ranking, relevance_lambda, min_docs)
        files[TREND_WORDS_CSV] = trend_words_csv(trends.words)
    files[TRENDS_PNG] = figure_png(trends_figure(trends, topic_labels(run.model, run.path)))
    write_run_outputs(run.path, files)
    return trends
