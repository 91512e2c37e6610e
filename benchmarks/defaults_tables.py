"""The tables of docs/defaults.md, from the defaults-search experiments' results.

    .venv/bin/python benchmarks/defaults_tables.py results/defaults-bbc-passes [results/defaults-20ng-priors ...]

For each experiment folder (written by ``topics run experiments/defaults-*.toml``): one row per
setting of the grid, over its seeds: mean, standard deviation and range of c_npmi, mean
diversity, and the mean CPU seconds of a run (training plus writing the run folder, from each
run's manifest; CPU time, since wall time on a shared machine says more about the other jobs).
Rows are sorted by mean c_npmi; incomplete runs are counted, not averaged.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

FIXED = {"run_id", "status", "seed", "c_npmi", "diversity", "wall_seconds", "error", "num_topics"}


def table(folder: Path) -> str:
    runs = pd.read_csv(folder / "runs.csv")
    runs["cpu_seconds"] = [
        json.loads((folder / "runs" / run_id / "manifest.json").read_text()).get("cpu_seconds")
        if (folder / "runs" / run_id / "manifest.json").is_file()
        else None
        for run_id in runs["run_id"]
    ]
    axes = [column for column in runs.columns if column not in FIXED and column != "cpu_seconds"]
    if runs["num_topics"].nunique() > 1:
        axes = ["num_topics", *axes]
    complete = runs[runs["status"] == "complete"]
    rows = (
        complete.groupby(axes, dropna=False)
        .agg(
            seeds=("seed", "count"),
            mean=("c_npmi", "mean"),
            sd=("c_npmi", "std"),
            low=("c_npmi", "min"),
            high=("c_npmi", "max"),
            diversity=("diversity", "mean"),
            cpu=("cpu_seconds", "mean"),
        )
        .sort_values("mean", ascending=False)
        .reset_index()
    )
    header = [*axes, "seeds", "c_npmi mean", "sd", "min .. max", "diversity", "CPU s per run"]
    lines = [
        f"`{folder.name}`: {len(complete)} of {len(runs)} runs complete",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in rows.itertuples(index=False):
        settings = [str(getattr(row, axis)) for axis in axes]
        lines.append(
            "| "
            + " | ".join(
                [
                    *settings,
                    str(row.seeds),
                    f"{row.mean:.4f}",
                    f"{row.sd:.4f}",
                    f"{row.low:.3f} .. {row.high:.3f}",
                    f"{row.diversity:.3f}",
                    f"{row.cpu:.1f}",
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+", help="results/<experiment> folders")
    args = parser.parse_args()
    for folder in args.folders:
        print(table(folder))
        print()


if __name__ == "__main__":
    main()
