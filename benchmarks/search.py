"""Search against a grid of the same budget (issue 14): TPE, random sampling and a grid, each trial
the mean c_npmi over seeds, all through ``topics.experiment.run_experiment`` on generated files.

The space is K, alpha and eta (alpha and eta on a log scale). TPE and random search run
``--trials`` trials of ``--seeds-per-trial`` seeds, ``--repetitions`` times with sampler seeds
0, 1, ...; the grid spreads as many settings as fit in ``--trials`` over the same ranges (K evenly,
alpha and eta geometrically) and runs once (it has no seed). The script prints the best mean c_npmi
found against trials spent (mean and sd over repetitions), the wall time of each, and whether TPE
reaches the grid's best value within half the grid's settings (on average over the repetitions:
the mean of TPE's best-so-far at that point against the grid's best).

The data: the raw BBC stories (``bbc-articles.tar.gz`` in ``../shared/data`` or ``$TOPICS_DATA``),
unpacked into a temporary folder and read as article files; or ``--corpus sample:lee`` for a run
of minutes. The issue's target run (hours on 2 cores):

    .venv/bin/python benchmarks/search.py --jobs 2

and the small one reported in docs/search.md:

    .venv/bin/python benchmarks/search.py --corpus sample:lee --trials 12 --seeds-per-trial 2 --repetitions 2 --passes 2
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: the searched ranges: K, then the priors (log scale)
K_RANGE, ALPHA_RANGE, ETA_RANGE = (5, 40), (0.01, 1.0), (0.001, 0.5)
METRIC = "c_npmi"


def data_dir() -> Path:
    if os.environ.get("TOPICS_DATA"):
        return Path(os.environ["TOPICS_DATA"])
    beside = REPO.parent / "shared" / "data"
    return beside if beside.is_dir() else Path("/work/shared/data")


def corpus_section(corpus: str, workdir: Path) -> str:
    """The ``[corpus]`` section: ``sample:lee``, or the BBC stories unpacked into ``workdir``."""
    if corpus.startswith("sample:"):
        return f'[corpus]\nsource = "{corpus}"\n'
    if corpus != "bbc":
        raise SystemExit(f"--corpus must be bbc or sample:lee, got {corpus!r}")
    with tarfile.open(data_dir() / "bbc-articles.tar.gz") as tar:
        tar.extractall(workdir, filter="data")
    return f'[corpus]\nsource = "{workdir / "bbc-articles"}"\nformat = "articles"\n'


def grid_levels(budget: int, parameters: int = 3) -> tuple[int, ...]:
    """Levels per parameter whose product is the largest at most ``budget``, as even as possible (K first)."""
    best: tuple[int, ...] = (1,) * parameters
    for levels in itertools.product(range(1, budget + 1), repeat=parameters):
        size = math.prod(levels)
        if size > budget or list(levels) != sorted(levels, reverse=True):
            continue
        if (size, -max(levels)) > (math.prod(best), -max(best)):
            best = levels
    return best


def geometric(lo: float, hi: float, n: int) -> list[float]:
    return [lo] if n == 1 else [float(f"{lo * (hi / lo) ** (i / (n - 1)):.4g}") for i in range(n)]


def even(lo: int, hi: int, n: int) -> list[int]:
    return [lo] if n == 1 else sorted({round(lo + (hi - lo) * i / (n - 1)) for i in range(n)})


def common(name: str, corpus: str, extra: str = "") -> str:
    """The lines every file shares: name, corpus, preprocessing and evaluation."""
    return f"""name = "{name}"
metric = "{METRIC}"
{extra}
{corpus}
[preprocess]
no_below = 5
no_above = 0.5
lemmatize = false
phrases = "none"

[evaluate]
measures = ["{METRIC}"]
topn = 10
"""


def search_file(name: str, corpus: str, args: argparse.Namespace, sampler: str, seed: int) -> str:
    return (
        common(name, corpus)
        + f"""
[model]
passes = {args.passes}

[search]
trials = {args.trials}
sampler = "{sampler}"
seed = {seed}
objective = ["{METRIC}"]
seeds_per_trial = {args.seeds_per_trial}
pruner = "{args.pruner}"
startup_trials = {args.startup_trials}

[search.space]
num_topics = {{ int = [{K_RANGE[0]}, {K_RANGE[1]}] }}
alpha = {{ float = [{ALPHA_RANGE[0]}, {ALPHA_RANGE[1]}], log = true }}
eta = {{ float = [{ETA_RANGE[0]}, {ETA_RANGE[1]}], log = true }}
"""
    )


def grid_file(name: str, corpus: str, args: argparse.Namespace) -> tuple[str, int]:
    k_levels, alpha_levels, eta_levels = grid_levels(args.trials)
    ks = even(*K_RANGE, k_levels)
    alphas, etas = geometric(*ALPHA_RANGE, alpha_levels), geometric(*ETA_RANGE, eta_levels)
    text = common(name, corpus, f"seeds = {list(range(args.seeds_per_trial))}\n")
    text += f"\n[model]\npasses = {args.passes}\nnum_topics = {ks}\nalpha = {alphas}\neta = {etas}\n"
    return text, len(ks) * len(alphas) * len(etas)


def search_curve(root: Path, name: str, trials: int) -> list[float]:
    """Best mean c_npmi so far after each finished trial (pruned trials spend a trial, improve nothing)."""
    import optuna

    study = optuna.load_study(study_name=name, storage=f"sqlite:///{root / 'search.db'}")
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    curve, best = [], -math.inf
    for trial in study.get_trials(deepcopy=False, states=states):
        if trial.state == optuna.trial.TrialState.COMPLETE:
            best = max(best, trial.values[0])
        curve.append(best)
    return curve[:trials]


def grid_best(root: Path) -> float:
    import pandas as pd

    table = pd.read_csv(root / "runs.csv")
    done = table[table["status"] == "complete"]
    return float(done.groupby(["num_topics", "alpha", "eta"])[METRIC].mean().max())


def run(path: Path, text: str, results: Path, jobs: int) -> float:
    from topics.experiment.runner import run_experiment

    path.write_text(text, encoding="utf-8")
    start = time.perf_counter()
    result = run_experiment(path, results, jobs=jobs)
    if result.failed:
        raise SystemExit(f"{path}: {result.failed} runs failed")
    return time.perf_counter() - start


def mean_sd(values: list[float], digits: int = 4) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "-"
    sd = statistics.stdev(finite) if len(finite) > 1 else math.nan
    missing = f" ({len(values) - len(finite)} none yet)" if len(finite) < len(values) else ""
    spread = f" ± {sd:.{digits}f}" if math.isfinite(sd) else ""
    return f"{statistics.fmean(finite):.{digits}f}{spread}{missing}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="bbc", help="bbc (the raw articles) or sample:lee")
    parser.add_argument("--trials", type=int, default=40, help="trials of each search, and the grid's budget")
    parser.add_argument("--seeds-per-trial", type=int, default=3)
    parser.add_argument("--repetitions", type=int, default=3, help="searches per sampler, sampler seeds 0..n-1")
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--pruner", default="none", choices=["none", "median"])
    parser.add_argument("--startup-trials", type=int, default=5, help="TPE's random start-up trials")
    parser.add_argument(
        "--jobs", type=int, default=1, help="trials trained at once (1: every sampler sees the same order of results)"
    )
    parser.add_argument("--results", type=Path, help="keep the results here (default: a temporary folder)")
    args = parser.parse_args()

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="topics-search-bench-") as tmp:
        workdir = Path(tmp)
        results = args.results or workdir / "results"
        corpus = corpus_section(args.corpus, workdir)
        started = time.perf_counter()
        text, grid_size = grid_file("bench-grid", corpus, args)
        grid_seconds = run(workdir / "bench-grid.toml", text, results, args.jobs)
        grid_value = grid_best(results / "bench-grid")
        print(
            f"grid: {grid_size} settings x {args.seeds_per_trial} seeds, best {METRIC} {grid_value:.4f}, {grid_seconds:.0f} s",
            flush=True,
        )
        curves: dict[str, list[list[float]]] = {"tpe": [], "random": []}
        seconds: dict[str, list[float]] = {"tpe": [], "random": []}
        for repetition in range(args.repetitions):
            for sampler in curves:
                name = f"bench-{sampler}-{repetition}"
                elapsed = run(workdir / f"{name}.toml", search_file(name, corpus, args, sampler, repetition), results, args.jobs)
                curves[sampler].append(search_curve(results / name, name, args.trials))
                seconds[sampler].append(elapsed)
                print(f"{sampler} seed {repetition}: best {curves[sampler][-1][-1]:.4f}, {elapsed:.0f} s", flush=True)
        half = grid_size // 2
        marks = sorted({1, max(1, half // 2), half, max(1, (3 * args.trials) // 4), args.trials})
        print(f"\nbest mean {METRIC} over seeds found after t trials (mean ± sd over {args.repetitions} repetitions)\n")
        print(f"| trials | TPE | random | grid ({grid_size} settings) |")
        print("|---|---|---|---|")
        for t in marks:
            cells = [mean_sd([curve[t - 1] for curve in curves[s]]) for s in ("tpe", "random")]
            print(f"| {t} | {cells[0]} | {cells[1]} | {f'{grid_value:.4f}' if t >= grid_size else ''} |")
        print(
            f"\nwall time: grid {grid_seconds:.0f} s; TPE {mean_sd(seconds['tpe'], 0)} s; random {mean_sd(seconds['random'], 0)} s "
            f"(per search); total {time.perf_counter() - started:.0f} s"
        )
        reached = [next((i + 1 for i, v in enumerate(c) if v >= grid_value), None) for c in curves["tpe"]]
        at_half = statistics.fmean(c[half - 1] for c in curves["tpe"]) if half else -math.inf
        print(
            f"TPE reaches the grid's best ({grid_value:.4f}) after trials: {', '.join(str(r or 'never') for r in reached)}; "
            f"mean best after {half} trials (half the grid) {at_half:.4f}: "
            f"target {'met' if at_half >= grid_value else 'not met'}"
        )


if __name__ == "__main__":
    main()
