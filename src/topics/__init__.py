"""topics: topic modelling for news collections.

The public API: every command of the ``topics`` command line has a function here. Names load
lazily, so ``import topics`` and ``topics --help`` stay fast, and once loaded they are kept: no
public name is also the name of a sub-package (packages are nouns, functions verbs)::

    import topics
    corpus = topics.read_corpus("sample:lee")
    prepared = topics.preprocess(corpus, topics.PreprocessConfig(), "prepared/lee")
    run = topics.create_run(prepared, topics.TrainConfig(num_topics=10), seed=0, run_dir="runs/lee-k10")
    evaluation = topics.evaluate(run)
    topics.write_evaluation(run, evaluation)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    # configuration and errors
    "CorpusConfig": "topics.config",
    "PreprocessConfig": "topics.config",
    "TrainConfig": "topics.config",
    "EvaluateConfig": "topics.config",
    "ExperimentConfig": "topics.config",
    "load_config": "topics.config",
    "TopicsError": "topics.errors",
    # 1 corpus
    "read_corpus": "topics.corpus",
    "Corpus": "topics.corpus",
    "Document": "topics.corpus",
    # 2 preprocessing
    "preprocess": "topics.preprocessing",
    "PreparedCorpus": "topics.preprocessing",
    "export_prepared": "topics.preprocessing",
    # 3 training
    "train_lda": "topics.training",
    "TrainedModel": "topics.training",
    "TopicModel": "topics.training",
    # 4 evaluation
    "evaluate": "topics.evaluation",
    "evaluate_many": "topics.evaluation",
    "Evaluation": "topics.evaluation",
    # 5 runs
    "create_run": "topics.runs",
    "load_run": "topics.runs",
    "Run": "topics.runs",
    "write_evaluation": "topics.runs",
    # 6 experiments
    "run_experiment": "topics.experiment",
    "load_experiment": "topics.experiment",
    "Experiment": "topics.experiment",
    "ExperimentResult": "topics.experiment",
    # 7 reading
    "topic_labels": "topics.reading",
    "representative_documents": "topics.reading",
    "infer_texts": "topics.reading",
    "infer_source": "topics.reading",
    "topic_trends": "topics.reading",
    "write_trends": "topics.reading",
    "trend_words": "topics.reading",
    "evaluate_by_period": "topics.reading",
    "write_period_metrics": "topics.reading",
    "best_run": "topics.reading",
    "compare_experiments": "topics.reading",
    "compare_runs": "topics.reading",
    "write_report": "topics.reading",
    "write_ldavis": "topics.reading",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'topics' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # kept: later lookups never reach __getattr__ (or a sub-package)
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
