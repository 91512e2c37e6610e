"""Stage 3, training: the LDA engines, each fitted model turned into one ``TopicModel``."""

from topics.training.engines import ENGINES, Engine
from topics.training.model import TopicModel
from topics.training.train import (
    TrainedModel,
    heldout_bound,
    infer_doc_topics,
    load_native,
    train_lda,
)

__all__ = [
    "ENGINES",
    "Engine",
    "TopicModel",
    "TrainedModel",
    "heldout_bound",
    "infer_doc_topics",
    "load_native",
    "train_lda",
]
