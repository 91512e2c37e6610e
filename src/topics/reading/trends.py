"""Topics over time: the prevalence of each topic per period and its plot, and writing them (with the
words of each topic per period, ``topics.reading.words``) into a run folder.

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
from typing import TYPE_CHECKING

from topics.reading.documents import PERIODS, DocumentPeriods, Period, check_period, document_periods
from topics.reading.figures import figure_png, trends_figure
from topics.reading.labels import topic_labels
from topics.reading.words import MIN_DOCS, TREND_WORDS_CSV, check_words_options, trend_words_csv, words_table
from topics.runs.folder import write_run_outputs

if TYPE_CHECKING:
    import pandas as pd

    from topics.runs.run import Run

log = logging.getLogger(__name__)

#: re-exported: periods are the documents' (topics.reading.documents)
__all__ = ["PERIODS", "DocumentPeriods", "Period", "Trends", "check_period", "document_periods", "topic_trends", "write_trends"]

TRENDS_CSV = "trends.csv"
TRENDS_PNG = "trends.png"


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
