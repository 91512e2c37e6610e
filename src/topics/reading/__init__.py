"""Stage 7, reading: labels, representative documents, inference, trends, comparisons and the report."""

from topics.reading.compare import TopicMatch, compare_experiments, compare_runs
from topics.reading.documents import (
    infer_documents,
    infer_source,
    infer_texts,
    representative_documents,
)
from topics.reading.experiment_report import best_run, write_report
from topics.reading.labels import topic_labels
from topics.reading.ldavis import write_ldavis
from topics.reading.periods import evaluate_by_period, write_period_metrics
from topics.reading.trends import Trends, topic_trends, write_trends
from topics.reading.words import trend_words

__all__ = [
    "TopicMatch",
    "Trends",
    "best_run",
    "compare_experiments",
    "compare_runs",
    "evaluate_by_period",
    "infer_documents",
    "infer_source",
    "infer_texts",
    "representative_documents",
    "topic_labels",
    "topic_trends",
    "trend_words",
    "write_ldavis",
    "write_period_metrics",
    "write_report",
    "write_trends",
]
