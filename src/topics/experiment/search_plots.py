"""A search's figures and parameter importances: the optimisation history, fANOVA importances and,
for two objectives, the Pareto front with the chosen trade-off marked.

Written by ``write_search_outputs`` into ``results/<name>/plots/`` (each PNG atomically), with the
matplotlib object API (``Figure``, no pyplot and no backend switch), as ``plots.py`` does for a grid.
Importances are fANOVA's (Hutter et al. 2014, *An Efficient Approach for Assessing Hyperparameter
Importance*) through ``optuna.importance.get_param_importances``, seeded with the search's seed, so
the same study gives the same importances.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from topics.experiment.plots import _save
from topics.experiment.statistics import LOWER_IS_BETTER

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

HISTORY_PNG, IMPORTANCES_PNG, PARETO_PNG = "search_history.png", "search_importances.png", "search_pareto.png"
#: fANOVA fits a random forest to the complete trials: with fewer it says nothing worth reading
MIN_IMPORTANCE_TRIALS = 5


@dataclass
class Importances:
    """fANOVA importances of the searched options for the first objective (summing to 1, largest
    first), or empty with ``note`` saying why there are none."""

    metric: str
    values: dict[str, float] = field(default_factory=dict)
    note: str = ""


def _complete(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def trial_value(trial: optuna.trial.FrozenTrial, index: int = 0) -> float | None:
    """A finished trial's value of objective ``index``: a complete trial's mean over seeds, a pruned
    trial's last reported mean (its first seeds); None otherwise."""
    if trial.state.name == "COMPLETE" and trial.values is not None:
        return float(trial.values[index])
    if trial.state.name == "PRUNED" and index == 0 and trial.intermediate_values:
        return float(trial.intermediate_values[max(trial.intermediate_values)])
    return None


def param_importances(study: optuna.Study, measures: Sequence[str], seed: int) -> Importances:
    """fANOVA importances (``FanovaImportanceEvaluator(seed=seed)``) for ``measures[0]`` over the
    complete trials; none, with a note, when there are fewer than ``MIN_IMPORTANCE_TRIALS``."""
    import optuna

    result = Importances(measures[0])
    complete = _complete(study)
    if len(complete) < MIN_IMPORTANCE_TRIALS:
        result.note = (
            f"too few complete trials for parameter importances: fANOVA needs at least {MIN_IMPORTANCE_TRIALS}, "
            f"the study has {len(complete)}"
        )
        return result
    try:
        values = optuna.importance.get_param_importances(
            study,
            evaluator=optuna.importance.FanovaImportanceEvaluator(seed=seed),
            target=(lambda t: t.values[0]) if len(measures) > 1 else None,
            normalize=True,
        )
    except (RuntimeError, ValueError) as error:  # e.g. every trial the same value
        log.warning("no parameter importances: %s", error)
        result.note = f"no parameter importances: {error}"
        return result
    result.values = {name: float(value) for name, value in values.items()}
    return result


def history_figure(trials: Sequence[optuna.trial.FrozenTrial], measures: Sequence[str]):
    """Each objective against the trial number: every complete trial's mean over seeds (dots), pruned
    trials' first seeds (crosses) and the best complete value so far (a step line)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    shown = measures[:2]
    figure = Figure(figsize=(6.4, 1.2 + 2.6 * len(shown)))
    panels = figure.subplots(len(shown), 1, sharex=True, squeeze=False)
    for index, (ax, metric) in enumerate(zip(panels[:, 0], shown)):
        better = min if metric in LOWER_IS_BETTER else max
        complete = [(t.number, trial_value(t, index)) for t in trials if t.state.name == "COMPLETE"]
        pruned = [(t.number, trial_value(t, index)) for t in trials if t.state.name == "PRUNED"]
        pruned = [(n, v) for n, v in pruned if v is not None]
        best: list[tuple[int, float]] = []
        for number, value in complete:
            assert value is not None
            best.append((number, value if not best else better(best[-1][1], value)))
        if complete:
            ax.plot(*zip(*complete), "o", color="tab:blue", label="trial (mean over seeds)")
        if pruned:
            ax.plot(*zip(*pruned), "x", color="tab:red", label="pruned (first seeds)")
        if best:
            numbers, values = zip(*best)
            last = max(t.number for t in trials)
            ax.step([*numbers, last], [*values, values[-1]], where="post", color="black", label="best so far")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    panels[-1, 0].set_xlabel("trial")
    panels[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    panels[0, 0].set_title("optimisation history")
    return figure


def importance_figure(importances: Importances):
    """A horizontal bar per searched option, the most important on top."""
    from matplotlib.figure import Figure

    names = list(importances.values)[::-1]
    figure = Figure(figsize=(6.4, 1.2 + 0.4 * len(names)))
    ax = figure.subplots()
    ax.barh(names, [importances.values[n] for n in names], color="tab:blue")
    ax.set_xlabel(f"importance for {importances.metric} (fANOVA, sums to 1)")
    ax.set_title("parameter importances")
    ax.grid(axis="x", alpha=0.3)
    return figure


def pareto_figure(study: optuna.Study, measures: Sequence[str], chosen: int | None):
    """The complete trials on the first two objectives, the Pareto front joined by a line and the
    chosen trade-off (``chosen``, a trial number) starred."""
    from matplotlib.figure import Figure

    complete = _complete(study)
    front = {t.number for t in study.best_trials}
    figure = Figure(figsize=(6.4, 4.8))
    ax = figure.subplots()
    others = [t.values[:2] for t in complete if t.number not in front]
    if others:
        ax.plot(*zip(*others), "o", color="lightgray", label="dominated trial")
    points = sorted(t.values[:2] for t in complete if t.number in front)
    if points:
        ax.plot(*zip(*points), "o-", color="tab:blue", label="Pareto front")
    for trial in complete:
        if trial.number == chosen:
            ax.plot(*trial.values[:2], "*", color="tab:red", markersize=16, label=f"chosen: trial {chosen}")
            ax.annotate(f"trial {chosen}", trial.values[:2], textcoords="offset points", xytext=(8, 8))
    ax.set_xlabel(measures[0])
    ax.set_ylabel(measures[1])
    ax.set_title("Pareto front (means over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return figure


def write_search_plots(
    study: optuna.Study, folder: Path, measures: Sequence[str], importances: Importances, chosen: int | None
) -> list[Path]:
    """``search_history.png`` (once a trial finished), ``search_importances.png`` (when there are
    importances) and ``search_pareto.png`` (two objectives) in ``folder``; returns those written."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    figures = {}
    if trials:
        figures[HISTORY_PNG] = history_figure(trials, measures)
    if importances.values:
        figures[IMPORTANCES_PNG] = importance_figure(importances)
    if len(measures) == 2 and _complete(study):
        figures[PARETO_PNG] = pareto_figure(study, measures, chosen)
    written = []
    for name, figure in figures.items():
        _save(figure, folder / name)
        written.append(folder / name)
    return written
