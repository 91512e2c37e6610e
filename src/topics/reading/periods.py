"""Coherence over time: each period's topics scored against that period's documents only.

A topic's words in a period are its top words there (``trend_words``, by probability); its NPMI
coherence (c_npmi, Röder, Both and Hinneburg 2015, counted as ``topics.evaluation`` counts it) is
estimated from the sliding windows of the period's documents, and the period's topic diversity
(Dieng, Ruiz and Blei 2020) is the share of unique words among the top words of its sufficient
topics. So a user can see whether a model is coherent throughout or only on average.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from topics.errors import ConfigError
from topics.evaluation import ReferenceCorpus, count_reference, score
from topics.evaluation.counting import DEFAULT_WINDOWS
from topics.reading.documents import document_periods
from topics.reading.words import MIN_DOCS, document_tokens, words_table
from topics.runs.folder import write_run_outputs

if TYPE_CHECKING:
    import pandas as pd

    from topics.runs.run import Run

log = logging.getLogger(__name__)

PERIOD_METRICS_CSV = "period_metrics.csv"
PERIOD_METRICS_COLUMNS = ["period", "topic", "documents", "sufficient", "c_npmi", "diversity"]
#: the ``topic`` of each period's summary row (mean c_npmi over its sufficient topics, diversity)
ALL_TOPICS = "all"


def evaluate_by_period(
    run: Run,
    period: str = "month",
    topn: int = 10,
    min_docs: float = MIN_DOCS,
    window: int | None = None,
    counting: str = "gensim",
) -> pd.DataFrame:
    """c_npmi of each topic in each ``period``, against the period's documents, and each period's diversity.

    Returns per period one row per topic (period, topic, documents = N_tk, sufficient, c_npmi) and
    a row with topic ``"all"`` (documents: the period's dated documents; c_npmi: the mean over its
    sufficient topics; diversity over their top ``topn`` words). Topics with N_tk < ``min_docs`` in
    a period, and empty periods, are not scored (NaN). ``window``: c_npmi's sliding window
    (default 10, as gensim). A RunError when no document has a date.

    Returns
    -------
    pandas.DataFrame
        period, topic, documents, sufficient, c_npmi, diversity.

    Examples
    --------
    >>> table = topics.evaluate_by_period(run, "quarter")  # doctest: +SKIP
    >>> table[table["topic"] == "all"]  # doctest: +SKIP
    """
    import pandas as pd

    if topn < 1:
        raise ConfigError(f"topn must be an integer >= 1, got {topn}")
    window = DEFAULT_WINDOWS["c_npmi"] if window is None else int(window)
    periods = document_periods(run, period, needed_for="there is no coherence over time")
    words = words_table(run, periods, words=topn, min_docs=min_docs)
    tokens, offsets, rows = document_tokens(run)
    vocabulary = list(run.model.vocabulary)
    num_topics = run.model.num_topics

    records: list[dict] = []
    for t, label in enumerate(periods.labels):
        members = periods.members(t)
        in_period = words[words["period"] == label]
        effective = in_period.groupby("topic")["documents"].first().reindex(range(num_topics), fill_value=0.0)
        scored = in_period[in_period["sufficient"]]
        top = {int(k): group.sort_values("rank")["word"].tolist() for k, group in scored.groupby("topic")}
        values = np.full(num_topics, np.nan)
        if top:
            texts = [tokens[offsets[r] : offsets[r + 1]] for r in rows[members]]
            counts = count_reference(
                ReferenceCorpus(texts, vocabulary), (w for ws in top.values() for w in ws), [window], counting=counting
            )
            values[list(top)] = score(list(top.values()), counts, "c_npmi", window)
        for k in range(num_topics):
            records.append(
                {
                    "period": label,
                    "topic": str(k),
                    "documents": float(effective[k]),
                    "sufficient": k in top,
                    "c_npmi": values[k],
                    "diversity": np.nan,
                }
            )
        listed = [w for ws in top.values() for w in ws]
        records.append(
            {
                "period": label,
                "topic": ALL_TOPICS,
                "documents": float(members.size),
                "sufficient": bool(top),
                "c_npmi": float(np.nanmean(values)) if top else np.nan,
                "diversity": len(set(listed)) / len(listed) if listed else np.nan,
            }
        )
    table = pd.DataFrame.from_records(records, columns=PERIOD_METRICS_COLUMNS)
    table.attrs.update(period=period, topn=topn, min_docs=min_docs, window=window, undated=periods.undated)
    return table


def write_period_metrics(
    run: Run,
    period: str = "month",
    topn: int = 10,
    min_docs: float = MIN_DOCS,
    window: int | None = None,
    counting: str = "gensim",
) -> pd.DataFrame:
    """``evaluate_by_period``, written to ``period_metrics.csv`` in the run folder."""
    table = evaluate_by_period(run, period, topn=topn, min_docs=min_docs, window=window, counting=counting)
    text = table.to_csv(index=False, float_format="%.6g", lineterminator="\n")
    write_run_outputs(run.path, {PERIOD_METRICS_CSV: text})
    return table
