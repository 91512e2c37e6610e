"""Comparing runs: settings aggregated over seeds, with their spread and a test of the best against the
runner-up; and two runs' topics matched one to one.

Seeds move coherence as much as K does (LDA on 20 Newsgroups at K=30 scores NPMI 0.083, 0.057 and
0.073 for three seeds), so every aggregate carries the mean, the standard deviation and a 95%
confidence interval (Student's t) over seeds, and the best setting is tested against the runner-up
with an exact permutation test over the seeds (Good 2005, *Permutation, Parametric and Bootstrap
Tests of Hypotheses*), instead of ranking means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args

import numpy as np

from topics.config import Measure
from topics.errors import ConfigError, RunError, unknown_name

if TYPE_CHECKING:
    import pandas as pd


#: metrics where lower is better; all others (coherence, diversity, stability, label agreement) higher
LOWER_IS_BETTER = {"perplexity"}
#: columns of runs.csv that are neither grid parameters nor metrics
BOOKKEEPING = {"run_id", "status", "seed", "wall_seconds", "error", "experiment"}
#: every measure an experiment can score, and the companions some record beside them
METRIC_NAMES = {*get_args(Measure), "per_word_bound", "stability_reappear"}
#: permutation tests enumerate every split up to this many, else sample this many at random
MAX_PERMUTATIONS = 20_000


def parameter_columns(table: pd.DataFrame) -> list[str]:
    """The grid parameters of a runs table (seed excluded)."""
    return [c for c in table.columns if c not in BOOKKEEPING and c not in METRIC_NAMES]


def metric_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c in METRIC_NAMES]


def confidence_interval(values: Sequence[float] | np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval for the mean of ``values`` (``scipy.stats.t.interval``); (nan, nan) for fewer than two values."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return math.nan, math.nan
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    low, high = stats.t.interval(level, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    return float(low), float(high)


def permutation_test(left: Sequence[float] | np.ndarray, right: Sequence[float] | np.ndarray, seed: int = 0) -> float:
    """Two-sided p-value that ``left`` and ``right`` (scores over seeds) share one mean
    (``scipy.stats.permutation_test`` on the absolute difference of means).

    Exact over every split of the pooled values when there are at most ``MAX_PERMUTATIONS``,
    otherwise estimated from that many random splits. With two seeds a side the smallest
    possible p-value is 1/3: few seeds cannot tell close settings apart, and the test says so.
    """
    from scipy import stats

    left, right = np.asarray(left, dtype=float), np.asarray(right, dtype=float)
    if len(left) == 0 or len(right) == 0:
        return math.nan
    result = stats.permutation_test(
        (left, right),
        lambda a, b, axis: np.abs(np.mean(a, axis=axis) - np.mean(b, axis=axis)),
        permutation_type="independent",
        vectorized=True,
        n_resamples=MAX_PERMUTATIONS,
        alternative="greater",
        rng=np.random.default_rng(seed),
    )
    return float(result.pvalue)


@dataclass
class Comparison:
    """Settings side by side: ``table`` (one row per setting, best first) and the best-vs-runner-up test."""

    table: pd.DataFrame
    metric: str
    by: list[str]
    best: dict[str, Any]
    runner_up: dict[str, Any] | None
    p_value: float
    distinguishable: bool

    def verdict(self) -> str:
        if self.runner_up is None:
            return f"only one setting has {self.metric} scores"
        # a parameter one of the experiments compared does not have (a search's trial beside a grid) is empty
        settings = ", ".join(f"{k}={v}" for k, v in self.best.items() if not (isinstance(v, float) and math.isnan(v)))
        if math.isnan(self.p_value):
            return f"best: {settings}; too few seeds to test it against the runner-up"
        if self.distinguishable:
            return f"best: {settings}; better than the runner-up (permutation test over seeds, p = {self.p_value:.3g})"
        return (
            f"best: {settings}; not distinguishable from the runner-up "
            f"(permutation test over seeds, p = {self.p_value:.3g}); more seeds may separate them"
        )


def aggregate(
    table: pd.DataFrame,
    metric: str,
    by: Sequence[str] | None = None,
    alpha: float = 0.05,
) -> Comparison:
    """Complete runs of ``table`` grouped by ``by`` (default: every grid parameter) over seeds.

    Each row: the settings, ``seeds``, ``<metric>_mean``, ``_std``, ``_ci_low``, ``_ci_high``, the mean
    of every other metric, and ``best`` ("*" on the best row); sorted best first.
    """
    import pandas as pd

    if metric not in table.columns:
        raise ConfigError(unknown_name("metric", metric, metric_columns(table) or ["(none recorded)"]))
    by = list(by) if by else parameter_columns(table)
    if "experiment" in table.columns and table["experiment"].nunique() > 1 and "experiment" not in by:
        by = ["experiment", *by]
    missing = [column for column in by if column not in table.columns]
    if missing:
        raise ConfigError(unknown_name("parameter", missing[0], parameter_columns(table)))
    done = table[(table["status"] == "complete") & table[metric].notna()] if "status" in table.columns else table
    if done.empty:
        raise RunError(f"no complete run has a {metric} score")
    ascending = metric in LOWER_IS_BETTER
    rows = []
    values_of: list[np.ndarray] = []
    groups = done.groupby(by, dropna=False, sort=False) if by else [((), done)]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        values = group[metric].to_numpy(dtype=float)
        low, high = confidence_interval(values)
        row: dict[str, Any] = dict(zip(by, key))
        row["seeds"] = len(values)
        row[f"{metric}_mean"] = float(values.mean())
        row[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = low, high
        for other in metric_columns(done):
            if other != metric:
                row[f"{other}_mean"] = float(group[other].astype(float).mean())
        rows.append(row)
        values_of.append(values)
    result = pd.DataFrame(rows)
    order = np.argsort(result[f"{metric}_mean"].to_numpy() * (1 if ascending else -1), kind="stable")
    result = result.iloc[order].reset_index(drop=True)
    values_of = [values_of[i] for i in order]
    result.insert(0, "best", [""] * len(result))
    result.loc[0, "best"] = "*"
    best = {column: _plain(result.loc[0, column]) for column in by}
    runner_up = None
    p_value = math.nan
    if len(result) > 1:
        runner_up = {column: _plain(result.loc[1, column]) for column in by}
        if len(values_of[0]) > 1 or len(values_of[1]) > 1:
            p_value = permutation_test(values_of[0], values_of[1])
    return Comparison(result, metric, by, best, runner_up, p_value, bool(p_value < alpha))


def best_run_id(table: pd.DataFrame, metric: str, by: Sequence[str] | None = None) -> tuple[str, Comparison]:
    """The best run of an experiment: the best seed of the best setting.

    The best setting is the one ``aggregate`` ranks first (best mean of ``metric`` over seeds,
    the one ``summary.md`` names); within it, the run with the best ``metric``. So the run a
    report or ``topics show`` details always belongs to the setting the summary calls best.
    """
    comparison = aggregate(table, metric, by)
    done = table[(table["status"] == "complete") & table[metric].notna()] if "status" in table.columns else table
    mask = np.ones(len(done), dtype=bool)
    for column, value in comparison.best.items():
        cells = done[column]
        mask &= (cells.isna() if value is None or (isinstance(value, float) and math.isnan(value)) else cells == value).to_numpy()
    members = done[mask]
    position = members[metric].idxmin() if metric in LOWER_IS_BETTER else members[metric].idxmax()
    return str(members.loc[position, "run_id"]), comparison


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def format_number(value: Any) -> str:
    import pandas as pd

    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None or value is pd.NA else str(value)


def to_markdown(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(format_number(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def compare_settings(table: pd.DataFrame, metric: str, axes: Sequence[str]) -> tuple[Comparison, str] | None:
    """The settings of an experiment compared over seeds, and its best run; None when nothing is scored."""
    try:
        run_id, comparison = best_run_id(table, metric, [a for a in axes if a in table.columns] or None)
    except (RunError, ConfigError):
        return None
    return comparison, run_id


def summary_markdown(
    table: pd.DataFrame,
    name: str,
    metric: str,
    axes: Sequence[str],
    description: str = "",
) -> str:
    """``summary.md``: run counts, the best setting by ``metric`` with its test, its best run, and the aggregated table."""
    counts = table["status"].value_counts().to_dict() if "status" in table.columns else {}
    lines = [f"# {name}", ""]
    if description:
        lines += [description, ""]
    lines += [
        ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) + " runs",
        "",
    ]
    try:
        run_id, comparison = best_run_id(table, metric, [a for a in axes if a in table.columns] or None)
    except (RunError, ConfigError) as error:
        return "\n".join([*lines, f"No best setting: {error}", ""])
    lines += [
        f"## Best by {metric}",
        "",
        comparison.verdict(),
        "",
        f"Best run: `{run_id}`, the best seed of the best setting.",
        "",
        to_markdown(comparison.table),
    ]
    failed = table[table["status"] != "complete"] if "status" in table.columns else table.iloc[:0]
    if len(failed):
        lines += ["## Failed runs", ""] + [f"- `{row.run_id}`: {row.error}" for row in failed.itertuples()] + [""]
    return "\n".join(lines)
