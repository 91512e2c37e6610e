"""Stage 4, evaluation: coherence counted once for many models, and the other measures, over ``TopicModel``s."""

from topics.evaluation.coherence import MEASURES, score, score_models
from topics.evaluation.counting import ReferenceCorpus, count_reference
from topics.evaluation.measures import match_topics, stability, topic_diversity
from topics.evaluation.scoring import (
    ALL_MEASURES,
    Evaluation,
    Scorable,
    check_measures,
    evaluate,
    evaluate_many,
)

__all__ = [
    "ALL_MEASURES",
    "MEASURES",
    "Evaluation",
    "ReferenceCorpus",
    "Scorable",
    "check_measures",
    "count_reference",
    "evaluate",
    "evaluate_many",
    "match_topics",
    "score",
    "score_models",
    "stability",
    "topic_diversity",
]
