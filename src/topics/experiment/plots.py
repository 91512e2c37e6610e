"""Experiment plots (matplotlib, PNG): coherence, diversity and perplexity against K.

Each point is the mean over seeds with an error bar of one standard deviation; one panel per
measure, a line per setting of the other grid parameters when there are any.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from topics._files import atomic_write

if TYPE_CHECKING:
    import pandas as pd

COHERENCE = ("c_npmi", "c_v", "c_uci", "u_mass")


def _save(figure, path: Path) -> None:
    """Write the figure as a PNG, atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    atomic_write(path, buffer.getvalue())


def _lines(ax, table: pd.DataFrame, measures: Sequence[str], others: Sequence[str]) -> bool:
    drawn = False
    groups = table.groupby(list(others), dropna=False, sort=True) if others else [((), table)]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        setting = ", ".join(f"{k}={v}" for k, v in zip(others, key))
        for measure in measures:
            if measure not in group.columns or group[measure].isna().all():
                continue
            stats = group.groupby("num_topics")[measure].agg(["mean", "std", "count"]).sort_index()
            label = measure if not setting else f"{measure} ({setting})"
            ax.errorbar(
                stats.index,
                stats["mean"],
                yerr=stats["std"].fillna(0),
                marker="o",
                capsize=3,
                label=label,
            )
            drawn = True
    return drawn


def write_plots(table: pd.DataFrame, folder: Path, axes: Sequence[str], measures: Sequence[str]) -> list[Path]:
    """``coherence_vs_k.png``, ``diversity_vs_k.png`` and ``perplexity_vs_k.png`` (when measured) in ``folder``."""
    from matplotlib.figure import Figure

    done = table[table["status"] == "complete"] if "status" in table.columns else table
    if done.empty or "num_topics" not in done.columns:
        return []
    others = [a for a in axes if a not in ("num_topics", "seed") and a in done.columns and done[a].nunique() > 1]
    plots = {
        "coherence_vs_k.png": (
            [m for m in COHERENCE if m in measures and m in done.columns],
            "coherence",
        ),
        "diversity_vs_k.png": (["diversity"], "topic diversity (top 25 words)"),
        "perplexity_vs_k.png": (["perplexity"], "held-out perplexity"),
    }
    written = []
    for name, (plot_measures, ylabel) in plots.items():
        plot_measures = [m for m in plot_measures if m in done.columns and not done[m].isna().all()]
        if not plot_measures:
            continue
        # one panel per measure: their scales differ (u_mass is negative and wide, c_npmi near 0)
        figure = Figure(figsize=(6.4, 1.2 + 2.6 * len(plot_measures)))
        panels = figure.subplots(len(plot_measures), 1, sharex=True, squeeze=False)
        for ax, measure in zip(panels[:, 0], plot_measures):
            _lines(ax, done, [measure], others)
            ax.set_ylabel(measure if len(plot_measures) > 1 else ylabel)
            ax.grid(alpha=0.3)
            if others:
                ax.legend(fontsize="small")
        panels[-1, 0].set_xlabel("number of topics K")
        panels[0, 0].set_title(f"{ylabel} vs K (mean ± sd over seeds)")
        _save(figure, folder / name)
        written.append(folder / name)
    return written
