"""Comparing experiments' settings over seeds, and two runs' topics matched one to one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from topics.errors import RunError
from topics.evaluation.measures import match_topics
from topics.experiment.results import load_experiment
from topics.experiment.statistics import Comparison, aggregate, metric_columns
from topics.runs.run import Run, load_run

if TYPE_CHECKING:
    import pandas as pd

    from topics.runs.run import Run


def compare_experiments(
    paths: Sequence[str | Path],
    metric: str | None = None,
    by: Sequence[str] | None = None,
) -> Comparison:
    """Runs of one or more experiment results folders side by side (``experiment`` column added).

    A search's settings are its complete trials (``trial`` is one of the parameters, empty for a
    grid's runs); pruned and failed trials, which trained only their first seeds, are left out.

    Examples
    --------
    >>> comparison = topics.compare_experiments(["results/k-sweep"], metric="c_npmi", by=["num_topics"])  # doctest: +SKIP
    >>> comparison.verdict()  # doctest: +SKIP
    """
    import pandas as pd

    tables = []
    for path in paths:
        experiment = load_experiment(path)
        table = experiment.runs
        if "trial_state" in table.columns:
            table = table[table["trial_state"] == "complete"].drop(columns="trial_state")
        table.insert(0, "experiment", Path(path).name)
        tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    if "trial" in table.columns:
        table["trial"] = table["trial"].astype("Int64")  # whole numbers, empty for a grid's runs
    if metric is None:
        metric = next(iter(metric_columns(table)), None)
        if metric is None:
            raise RunError(f"{', '.join(map(str, paths))}: no metrics recorded yet")
    return aggregate(table, metric, by)


# --- two runs -------------------------------------------------------------------------------------


@dataclass
class TopicMatch:
    """Two runs' topics matched one to one (Hungarian assignment on 1 - Jensen-Shannon distance)."""

    matched: pd.DataFrame  # topic_a, topic_b, similarity, words_a, words_b; most similar first
    unmatched_a: pd.DataFrame  # topic, words
    unmatched_b: pd.DataFrame


def compare_runs(run_a: Run | str | Path, run_b: Run | str | Path, topn: int = 10) -> TopicMatch:
    """Match the topics of two runs one to one; the larger model's extra topics are left unmatched.

    Examples
    --------
    >>> topics.compare_runs("runs/a", "runs/b").matched.head()  # doctest: +SKIP
    """
    import pandas as pd

    a = run_a if isinstance(run_a, Run) else load_run(run_a)
    b = run_b if isinstance(run_b, Run) else load_run(run_b)
    rows, cols, similarity = match_topics(a.model, b.model)
    words_a, words_b = a.model.top_words(topn), b.model.top_words(topn)
    matched = (
        pd.DataFrame(
            {
                "topic_a": rows,
                "topic_b": cols,
                "similarity": similarity,
                "words_a": [" ".join(words_a[i]) for i in rows],
                "words_b": [" ".join(words_b[j]) for j in cols],
            }
        )
        .sort_values("similarity", ascending=False, kind="stable")
        .reset_index(drop=True)
    )

    def unmatched(words: list[list[str]], used: np.ndarray) -> pd.DataFrame:
        rest = [k for k in range(len(words)) if k not in set(used.tolist())]
        return pd.DataFrame({"topic": rest, "words": [" ".join(words[k]) for k in rest]})

    return TopicMatch(matched, unmatched(words_a, rows), unmatched(words_b, cols))
