"""Rich rendering for the CLI: tables of topics and progress bars. Nothing else prints."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

if TYPE_CHECKING:
    from topics.experiment.runner import ExperimentProgress
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
    share = model.topic_shares()
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


#: seconds between two plain progress lines when standard error is not a terminal
PLAIN_INTERVAL = 10.0


@contextlib.contextmanager
def progress_display(
    description: str,
    unit: str,
    *,
    total: int | None = None,
    console: Console | None = None,
) -> Iterator[Callable[..., None]]:
    """Progress of one step on standard error; yields ``update(done, total=None)`` (``done`` so far).

    On a terminal: a rich bar with elapsed time and ETA, gone when the step ends. Otherwise (a log
    file, a pipe, ``nohup``): plain lines without control characters, one when the step starts, then
    at most one every ``PLAIN_INTERVAL`` seconds, and the last state when it ends, so that
    ``tail -f`` on the log tells a working step from a hung one.
    """
    console = console or Console(stderr=True)
    if console.is_terminal:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(description, total=total)

            def update(done: int, total: int | None = None) -> None:
                if total is None:
                    progress.update(task, completed=done)
                else:
                    progress.update(task, completed=done, total=total)

            yield update
        return
    lines = PlainProgress(description, unit, total, write=lambda line: _write_line(console, line))
    yield lines.update
    lines.close()


def _write_line(console: Console, line: str) -> None:
    console.file.write(line + "\n")
    console.file.flush()


class PlainProgress:
    """Progress as plain lines: ``update(done, total=None)`` writes one when ``interval`` seconds have
    passed since the last; ``close`` writes the last state if it was not written."""

    def __init__(
        self,
        description: str,
        unit: str,
        total: int | None,
        write: Callable[[str], None],
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.description, self.unit, self.total, self.write = description, unit, total, write
        self.interval = PLAIN_INTERVAL if interval is None else interval
        self.clock = clock
        self.started = self.last = clock()
        self.done = 0
        self.written: int | None = None
        self.write(f"{description}: started" + (f", {total} {unit}" if total is not None else ""))

    def update(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        if self.clock() - self.last >= self.interval:
            self._line()

    def close(self) -> None:
        if self.written != self.done:
            self._line()

    def _line(self) -> None:
        now = self.clock()
        elapsed = now - self.started
        count = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"
        line = f"{self.description}: {count} {self.unit}, {_duration(elapsed)} elapsed"
        if self.total and 0 < self.done < self.total:
            line += f", ETA {_duration(elapsed * (self.total - self.done) / self.done)}"
        self.write(line)
        self.last, self.written = now, self.done


class PlainExperimentProgress:
    """An experiment's progress (``ExperimentProgress`` snapshots) as plain lines, for a log file.

    The first snapshot of a phase is written at once (after the last unwritten state of the phase
    before, so a log shows how training ended); within a phase, or when a phase comes again (each
    trial of a search prepares, then trains), at most one line every ``interval`` seconds. While
    runs train, a line names each running run's pass (``k20-seed0 documents 4000/6000``), when its executor
    reports passes.
    """

    def __init__(
        self,
        write: Callable[[str], None],
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.write = write
        self.interval = PLAIN_INTERVAL if interval is None else interval
        self.clock = clock
        self.phase: str | None = None
        self.phase_started = self.last = clock()
        self.seen: set[str] = set()
        self.pending: str | None = None  # the latest line, when it was not written

    def update(self, snapshot: ExperimentProgress) -> None:
        now = self.clock()
        if snapshot.phase != self.phase:
            self.phase, self.phase_started = snapshot.phase, now
            if snapshot.phase not in self.seen:
                self.seen.add(snapshot.phase)
                self._flush()
                self._write(self.line(snapshot, 0.0), now)
                return
        line = self.line(snapshot, now - self.phase_started)
        if now - self.last >= self.interval:
            self._write(line, now)
        else:
            self.pending = line

    def close(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if self.pending is not None:
            self._write(self.pending, self.clock())

    def _write(self, line: str, now: float) -> None:
        if line:
            self.write(line)
        self.last, self.pending = now, None

    @staticmethod
    def line(snapshot: ExperimentProgress, elapsed: float) -> str:
        """One line for ``snapshot``, ``elapsed`` seconds into its phase ("" for the end)."""
        if snapshot.phase == "training":
            line = f"training {snapshot.done}/{snapshot.total} runs done"
            if snapshot.failed:
                line += f", {snapshot.failed} failed"
            if snapshot.running:
                passes = [f"{short_run_id(run_id)} {p.unit} {p.done}/{p.total}" for run_id, p in sorted(snapshot.passes.items())]
                line += f", running {snapshot.running}" + (": " + ", ".join(passes) if passes else "")
            line += f"; {_duration(elapsed)} elapsed"
            if 0 < snapshot.done < snapshot.total:
                line += f", ETA {_duration(elapsed * (snapshot.total - snapshot.done) / snapshot.done)}"
            return line
        if snapshot.phase == "preparing":
            return f"preparing {snapshot.message}".rstrip()
        if snapshot.phase == "scoring":
            return "scoring the runs"
        if snapshot.phase == "writing":
            return "writing runs.csv, plots and summary.md"
        return ""


def short_run_id(run_id: str) -> str:
    """A run id without its closing hash (``k20-seed0-3f9a2c1e`` -> ``k20-seed0``), for progress lines."""
    return re.sub(r"-[0-9a-f]{8}$", "", run_id)


def plural(unit: str) -> str:
    """``pass`` -> ``passes``, ``sweep`` -> ``sweeps``."""
    return unit + ("es" if unit.endswith("s") else "s")


def _duration(seconds: float) -> str:
    """h:mm:ss, as rich's time columns show it."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
