"""topics: topic modelling for news collections.

The public API, loaded lazily so that ``import topics`` and ``topics --help`` stay fast::

    import topics
    corpus = topics.read_corpus("sample:lee")
    prepared = topics.preprocess(corpus, topics.PreprocessConfig(), "prepared/lee")
    run = topics.create_run(prepared, topics.TrainConfig(num_topics=10), seed=0, run_dir="runs/lee-k10")
    topics.evaluate(run)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "read_corpus": "corpus",
    "Corpus": "corpus",
    "Document": "corpus",
    "preprocess": "preprocess",
    "PreparedCorpus": "preprocess",
    "train_model": "train",
    "TopicModel": "model",
    "create_run": "runs",
    "load_run": "runs",
    "evaluate": "evaluate",
    "evaluate_runs": "evaluate",
    "run_experiment": "experiment",
    "load_experiment": "results",
    "CorpusConfig": "config",
    "PreprocessConfig": "config",
    "TrainConfig": "config",
    "EvaluateConfig": "config",
    "TopicsError": "errors",
}
_ALIASES = {"train_lda": ("train", "train_model")}

__all__ = sorted([*_EXPORTS, *_ALIASES])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    if name in _ALIASES:
        module, attribute = _ALIASES[name]
        return getattr(importlib.import_module(f".{module}", __name__), attribute)
    raise AttributeError(f"module 'topics' has no attribute {name!r}")
