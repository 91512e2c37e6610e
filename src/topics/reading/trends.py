"""Topics over time: the prevalence of each topic per period, and its plot.

The prevalence of topic k in a period is the mean share of topic k over the documents dated in
that period (θ_dk averaged over d), as in Griffiths and Steyvers (2004), "Finding scientific
topics", section on topic dynamics. Documents without a date are counted and left out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from topics.errors import RunError, unknown_name
from topics.reading.documents import document_metadata
from topics.reading.figures import figure_png, trends_figure
from topics.reading.labels import topic_labels
from topics.runs.folder import write_run_outputs

if TYPE_CHECKING:
    import pandas as pd

    from topics.runs.run import Run

log = logging.getLogger(__name__)


log = logging.getLogger(__name__)

Period = Literal["week", "month", "year"]
#: pandas period codes
PERIODS: dict[str, str] = {"week": "W-MON", "month": "M", "year": "Y"}
TRENDS_CSV = "trends.csv"
TRENDS_PNG = "trends.png"


@dataclass
class Trends:
    """Topic prevalence per period.

    ``prevalence`` has one row per period (index: the period's first day, ISO text), from the first
    dated document's period to the last, and one column ``topic_k`` per topic; periods without
    documents have empty (NaN) rows. ``documents`` counts the dated documents of each period and
    ``undated`` the documents left out for want of a date.
    """

    period: str
    prevalence: pd.DataFrame
    documents: pd.Series
    undated: int

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


def check_period(period: str) -> str:
    if period not in PERIODS:
        raise RunError(unknown_name("period", period, list(PERIODS)))
    return period


def topic_trends(run: Run, period: str = "month") -> Trends:
    """Mean topic share per ``period`` (week, month or year) of the run's dated documents.

    A RunError when no document of the run has a date (a corpus format without dates, such as
    plain text, or articles whose date lines are empty).
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
    undated = int((~dated).sum())
    if not dated.any():
        raise RunError(
            f"{run.path}: none of its {len(dates)} documents has a date, so there is no trend over time; "
            "trends need a corpus with dates (the articles format's date line, a date field in JSONL/CSV)"
        )
    if undated:
        log.info(
            "%s: %d documents without a date are left out of the trend",
            run.path,
            undated,
        )
    num_topics = run.model.num_topics
    columns = [f"topic_{k}" for k in range(num_topics)]
    shares = pd.DataFrame(run.model.doc_topics[dated], columns=columns)
    periods = dates[dated].dt.to_period(PERIODS[period]).to_numpy()
    shares["period"] = periods
    grouped = shares.groupby("period", sort=True)
    full = pd.period_range(min(periods), max(periods), freq=PERIODS[period])
    prevalence = grouped[columns].mean().reindex(full)
    counts = grouped.size().reindex(full, fill_value=0)
    labels = pd.Index([p.start_time.date().isoformat() for p in full], name="period")
    prevalence.index = labels
    counts.index = labels
    return Trends(period=period, prevalence=prevalence, documents=counts, undated=undated)


def write_trends(run: Run, period: str = "month") -> Trends:
    """Compute the run's trends and write ``trends.csv`` and ``trends.png`` into its folder."""

    trends = topic_trends(run, period)
    png = figure_png(trends_figure(trends, topic_labels(run.model, run.path)))
    write_run_outputs(run.path, {TRENDS_CSV: trends.to_csv(), TRENDS_PNG: png})
    return trends
