"""Rich rendering for the CLI: tables of topics and progress bars. Nothing else prints."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

if TYPE_CHECKING:
    from topics.training.model import TopicModel


def topics_table(
    model: TopicModel,
    *,
    words: int = 10,
    topic_metrics: dict[str, np.ndarray] | None = None,
    labels: dict[int, str] | None = None,
    title: str | None = None,
    weights: bool = False,
) -> Table:
    """One row per topic: id, top words (with their weights when ``weights``), share of the corpus,
    and per-topic scores."""
    table = Table(title=title, show_lines=False)
    table.add_column("topic", justify="right")
    if labels:
        table.add_column("label")
    table.add_column("top words")
    table.add_column("share", justify="right")
    metrics = topic_metrics or {}
    measures = list(metrics)
    for measure in measures:
        table.add_column(measure, justify="right")
    share = model.doc_topics.mean(axis=0) if len(model.doc_topics) else np.zeros(model.num_topics)
    for k, ids in enumerate(model.top_word_ids(words)):
        row = [str(k)]
        if labels:
            row.append(labels.get(k, ""))
        if weights:
            top = [f"{model.vocabulary[i]} [dim]{model.topic_word[k, i]:.3f}[/]" for i in ids]
        else:
            top = [model.vocabulary[i] for i in ids]
        row += [" ".join(top), f"{share[k]:.1%}"]
        row += [f"{metrics[m][k]:.3f}" for m in measures]
        table.add_row(*row)
    return table


@contextlib.contextmanager
def progress_bar(description: str, unit: str = "items") -> Iterator[Callable[[int], None]]:
    """A progress bar; yields ``advance(n)`` to report ``n`` more items done."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=None)
        yield lambda n: progress.advance(task, n)
