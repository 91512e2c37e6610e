"""Search: [search] validation, a study resumed without retraining, reproducible in a fresh process,
refused when the file's search changed, pruned trials recorded as pruned; parallel trials (threads,
two processes, Dask) with every run reproducible, and grid axes as choices of the search."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest
from typer.testing import CliRunner

from helpers import lee_experiment
from topics.cli import app
from topics.errors import ConfigError
from topics.experiment.runner import run_experiment

REPO = Path(__file__).resolve().parents[1]

# tiny: no lemmatisation or phrases, two passes, four trials of two seeds
SEARCH = """\
[search]
trials = {trials}
seed = 1
seeds_per_trial = 2
startup_trials = 1
{search}

[search.space]
num_topics = {{ int = [3, 8] }}
alpha = {{ float = [0.01, 1.0], log = true }}
{space}
"""


def search_file(
    folder: Path,
    name: str = "lee-search",
    trials: int = 4,
    model: str = "",
    search: str = "",
    space: str = "",
    preprocess: str = "",
    top: str = "",
) -> Path:
    path = folder / f"{name}.toml"
    rest = SEARCH.format(trials=trials, search=search, space=space)
    text = lee_experiment(name, f"passes = 2\n{model}", seeds=None, top=top, preprocess=preprocess, rest=rest)
    path.write_text(text, encoding="utf-8")
    return path


def trials_of(db: Path, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{db}").get_trials()


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    folder = tmp_path_factory.mktemp("search")
    file = search_file(folder)
    result = run_experiment(file, folder / "results", jobs=1)
    return file, folder / "results", result


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"space": "eta = { float = [0.5, 0.1] }"}, "search.space.eta is an empty range"),
        ({"space": "colour = { choice = ['red'] }"}, "[search.space] colour: unknown parameter"),
        ({"search": 'objective = ["c_v"]'}, "objective 'c_v' is not an evaluated measure"),
        ({"trials": 0}, "search.trials must be >= 1, got 0"),
        ({"model": "num_topics = [3, 5]"}, "[search.space] num_topics is also a grid axis in [model]"),
        ({"model": "alpha = [0.1, 0.5]"}, "[search.space] alpha is also a grid axis in [model]; give it in one place"),
        (
            {"preprocess": 'stopwords = [["said"], ["mr"]]'},
            "a list-valued option cannot be one; give [preprocess] stopwords one value",
        ),
        (
            {"top": "seeds = [0, 1]"},
            "seeds: a file with [search] trains seeds 0..n-1 of each trial; set [search] seeds_per_trial",
        ),
        ({"space": "iterations = { float = [1, 3] }"}, "[search.space] iterations takes whole numbers"),
    ],
)
def test_bad_search_is_one_message_exit_2_and_nothing_runs(tmp_path, changes, expected):
    file = search_file(tmp_path, **changes)
    result = CliRunner().invoke(app, ["run", str(file), "--results", str(tmp_path / "results")])
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "results").exists()


def test_nothing_to_search(tmp_path):
    file = search_file(tmp_path)
    text = file.read_text().replace("num_topics = { int = [3, 8] }", "num_topics = { int = [5, 5] }")
    file.write_text(text.replace("alpha = { float = [0.01, 1.0], log = true }", "alpha = { choice = [0.1] }"))
    with pytest.raises(ConfigError, match="nothing to search"):
        run_experiment(file, tmp_path / "results", jobs=1)


def test_search_writes_trials_runs_and_summary(searched):
    _, results, result = searched
    root = results / "lee-search"
    assert result.search is not None and result.search.trials == 4 and result.search.new == 4
    table = pd.read_csv(root / "runs.csv")
    assert {"trial", "trial_state", "num_topics", "alpha", "seed", "c_npmi"} <= set(table.columns)
    states = {t.number: t.state for t in trials_of(root / "search.db", "lee-search")}
    for run_id, trial in zip(table["run_id"], table["trial"]):
        manifest = json.loads((root / "runs" / run_id / "manifest.json").read_text())
        assert trial in manifest["search"]["trials"]
    complete = [n for n, s in states.items() if s == optuna.trial.TrialState.COMPLETE]
    assert all((table["trial"] == n).sum() == 2 for n in complete)
    summary = (root / "summary.md").read_text()
    assert f"## Best trial by c_npmi: trial {result.search.best_trial}" in summary
    assert "mean ± sd over 2 seeds" in summary


def test_pruned_trials_are_recorded_as_pruned(searched):
    _, results, result = searched
    root = results / "lee-search"
    pruned = [t for t in trials_of(root / "search.db", "lee-search") if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned and result.search.pruned == len(pruned) and result.search.failed == 0
    table = pd.read_csv(root / "runs.csv")
    for trial in pruned:
        rows = table[table["trial"] == trial.number]
        assert list(rows["trial_state"]) == ["pruned"] and list(rows["seed"]) == [0]


def test_rerun_resumes_without_retraining(searched):
    file, results, first = searched
    root = results / "lee-search"
    manifests = {path: path.stat().st_mtime_ns for path in (root / "runs").glob("*/manifest.json")}
    again = run_experiment(file, results, jobs=1)
    assert again.search.new == 0 and again.trained == 0 and again.search.trials == 4
    assert {path: path.stat().st_mtime_ns for path in (root / "runs").glob("*/manifest.json")} == manifests
    assert again.search.best_trial == first.search.best_trial


def test_same_file_gives_same_trials_in_a_fresh_process(searched, tmp_path):
    file, results, first = searched
    fresh = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "topics", "run", str(file), "--results", str(fresh), "--jobs", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr + done.stdout

    def trials(root: Path) -> list[tuple]:
        return [(t.number, t.state, t.params, t.values) for t in trials_of(root / "lee-search" / "search.db", "lee-search")]

    assert trials(fresh) == trials(results)
    assert f"best trial: {first.search.best_trial}" in " ".join(done.stdout.split())


def test_a_changed_search_is_refused(searched, tmp_path):
    _, results, _ = searched
    changed = search_file(tmp_path, space="eta = { float = [0.001, 0.5], log = true }")
    before = (results / "lee-search" / "search.db").read_bytes()
    result = CliRunner().invoke(app, ["run", str(changed), "--results", str(results)])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "holds a study of another search ([search] space differ" in message
    assert "delete" in message and "rename the experiment" in message
    assert (results / "lee-search" / "search.db").read_bytes() == before


# --- plots, importances, report, compare ----------------------------------------------------------


@pytest.fixture(scope="module")
def two_objectives(tmp_path_factory):
    """Six trials on c_npmi and diversity (a multi-objective study is never pruned): enough for fANOVA."""
    folder = tmp_path_factory.mktemp("pareto")
    file = search_file(folder, name="lee-pareto", trials=6, search='objective = ["c_npmi", "diversity"]')
    file.write_text(file.read_text().replace('measures = ["c_npmi"]', 'measures = ["c_npmi", "diversity"]'))
    result = run_experiment(file, folder / "results", jobs=1)
    return folder / "results" / "lee-pareto", result


def is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_history_plot_and_too_few_trials_for_importances(searched):
    _, results, result = searched
    root = results / "lee-search"
    assert is_png(root / "plots" / "search_history.png")
    assert not (root / "plots" / "search_importances.png").exists()
    assert not (root / "plots" / "search_pareto.png").exists()  # one objective
    summary = " ".join((root / "summary.md").read_text().split())
    assert f"fANOVA needs at least 5, the study has {result.search.complete}" in summary
    assert "## Trials (the optimisation history)" in summary and "| pruned |" in summary


def test_two_objectives_give_importances_and_a_pareto_front(two_objectives):
    from topics.experiment.search_plots import param_importances

    root, result = two_objectives
    assert result.search.complete == 6 and result.search.best_trial in result.search.pareto
    for name in ("search_history.png", "search_importances.png", "search_pareto.png"):
        assert is_png(root / "plots" / name), name
    summary = (root / "summary.md").read_text()
    assert f"- trial {result.search.best_trial} (chosen): c_npmi" in summary
    assert "## Parameter importances for c_npmi (fANOVA)" in summary
    study = optuna.load_study(study_name="lee-pareto", storage=f"sqlite:///{root / 'search.db'}")
    importances = param_importances(study, ["c_npmi", "diversity"], seed=1)
    assert set(importances.values) == {"num_topics", "alpha"}
    assert sum(importances.values.values()) == pytest.approx(1.0)
    for name, value in importances.values.items():
        assert f"- {name}: {value:.3f}" in summary
    assert param_importances(study, ["c_npmi", "diversity"], seed=1).values == importances.values  # seeded


def test_report_has_a_search_section(two_objectives):
    from topics.reading.experiment_report import write_report

    root, result = two_objectives
    page = write_report(root).read_text(encoding="utf-8")
    section = page[page.index('<h2 id="search">Search</h2>') : page.index('<h2 id="plots">')]
    assert f"Best trial by c_npmi: trial {result.search.best_trial}</h3>" in section
    assert "mean ± sd over 2 seeds" in section and "permutation test over seeds" in section
    assert "<h3>Pareto front</h3>" in section and f"{result.search.best_trial} (chosen)" in section
    assert "Parameter importances for c_npmi (fANOVA)" in section
    assert all(f'alt="{name}"' in section for name in ("search_history", "search_importances", "search_pareto"))


def test_compare_puts_a_search_beside_a_grid(searched, tmp_path):
    _, results, _ = searched
    text = search_file(tmp_path, name="lee-grid").read_text()
    text = text[: text.index("[search]")].replace("[model]", "[model]\nnum_topics = [3, 5]")
    grid = tmp_path / "lee-grid.toml"
    grid.write_text(text.replace('name = "lee-grid"', 'name = "lee-grid"\nseeds = [0, 1]'))
    assert not run_experiment(grid, tmp_path / "results", jobs=1).failed
    paths = [str(results / "lee-search"), str(tmp_path / "results" / "lee-grid")]
    csv = CliRunner().invoke(app, ["compare", *paths, "--format", "csv"])
    assert csv.exit_code == 0, csv.output
    table = pd.read_csv(io.StringIO(csv.output))
    assert set(table["experiment"]) == {"lee-search", "lee-grid"}
    complete = sorted(
        t.number for t in trials_of(results / "lee-search" / "search.db", "lee-search") if t.state.name == "COMPLETE"
    )
    assert sorted(table["trial"].dropna().astype(int)) == complete  # pruned trials are not settings
    assert sorted(table[table["experiment"] == "lee-grid"]["num_topics"]) == [3, 5]
    assert set(table["seeds"]) == {2}
    shown = CliRunner().invoke(app, ["compare", *paths])
    assert shown.exit_code == 0, shown.output
    assert "nan" not in shown.output and "<NA>" not in shown.output


# --- parallel trials, several processes, Dask; grid axes as choices --------------------------------


def finished_and_failed(db: Path, name: str) -> tuple[int, int]:
    states = [t.state for t in trials_of(db, name)]
    finished = states.count(optuna.trial.TrialState.COMPLETE) + states.count(optuna.trial.TrialState.PRUNED)
    return finished, states.count(optuna.trial.TrialState.FAIL)


def run_folders(root: Path) -> set[str]:
    """The run folders under ``runs/``, checking that no temporary folder (nor the running runs'
    progress folder) is left."""
    names = {path.name for path in (root / "runs").iterdir()}
    assert not {name for name in names if name.startswith(".")}
    return {name for name in names if not name.startswith(".")}


def trial_run_ids(root: Path, config_file: Path) -> set[str]:
    """The run folders the finished trials imply: their settings and seeds (a pruned trial's first seed)."""
    from topics.corpus.stream import Corpus
    from topics.experiment.grid import load_experiment_config
    from topics.experiment.study import trial_specs

    config = load_experiment_config(config_file)
    fingerprint = Corpus(config.corpus).fingerprint()
    ids = set()
    for trial in trials_of(root / "search.db", config.name):
        specs = trial_specs(config, fingerprint, trial.number, trial.params)
        trained = 1 if trial.state == optuna.trial.TrialState.PRUNED else len(specs)
        ids |= {spec.run_id for spec in specs[:trained]}
    return ids


def retrained_equal(root: Path, run_id: str, tmp_path: Path) -> bool:
    """Train the run again in a fresh folder from its own settings and seed: the same topics?"""
    import numpy as np

    from topics.preprocessing.prepared import PreparedCorpus
    from topics.runs.run import create_run, load_run

    run = load_run(root / "runs" / run_id)
    fresh = create_run(PreparedCorpus.load(run.prepared.path), run.config, run.seed, tmp_path / f"fresh-{run_id}")
    return bool(np.array_equal(run.model.topic_word, fresh.model.topic_word)) and run.topics.equals(fresh.topics)


def test_parallel_trials_give_the_runs_their_settings_imply(tmp_path):
    from topics.experiment.study import PARALLEL, RUNNING_AT_ASK

    file = search_file(tmp_path, name="lee-parallel", trials=3, search='pruner = "none"')
    result = run_experiment(file, tmp_path / "results", jobs=2)
    root = tmp_path / "results" / "lee-parallel"
    assert finished_and_failed(root / "search.db", "lee-parallel") == (3, 0)
    assert result.search.new == 3 and result.failed == 0 and result.trained == 6
    runs = run_folders(root)
    assert runs == trial_run_ids(root, file)  # no stray folder, no missing run
    study = optuna.load_study(study_name="lee-parallel", storage=f"sqlite:///{root / 'search.db'}")
    assert study.user_attrs[PARALLEL] is True
    assert any(t.user_attrs.get(RUNNING_AT_ASK) for t in study.trials)
    assert len({tuple(t.params.items()) for t in study.trials}) == len(study.trials)  # asked together, yet different
    table = pd.read_csv(root / "runs.csv")
    assert set(table["run_id"]) == runs
    run_id = sorted(table[table["seed"] == 1]["run_id"])[0]  # trained by the pool, in a worker process
    assert retrained_equal(root, run_id, tmp_path), run_id


def test_two_processes_add_trials_to_one_study(tmp_path):
    file = search_file(tmp_path, name="lee-two", trials=4)
    file.write_text(file.read_text().replace("seeds_per_trial = 2", "seeds_per_trial = 1"))
    command = [str(REPO / ".venv" / "bin" / "topics"), "run", str(file), "--results", str(tmp_path / "results"), "--jobs", "1"]
    processes = [
        subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)
    ]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    root = tmp_path / "results" / "lee-two"
    assert finished_and_failed(root / "search.db", "lee-two") == (4, 0)
    runs = run_folders(root)
    assert runs == trial_run_ids(root, file)
    from topics.runs.run import load_run

    for run_id in runs:
        load_run(root / "runs" / run_id).verify()  # every file as its manifest's hashes say
    again = run_experiment(file, tmp_path / "results", jobs=1)
    assert again.trained == 0 and again.search.new == 0 and again.search.trials == 4
    assert set(pd.read_csv(root / "runs.csv")["run_id"]) == runs


def test_grid_axes_beside_a_search_become_choices(tmp_path):
    file = search_file(
        tmp_path, name="lee-axes", trials=3, model="eta = [0.01, 0.5]", preprocess="keep_n = [100000]", search='pruner = "none"'
    )
    file.write_text(file.read_text().replace("seeds_per_trial = 2", "seeds_per_trial = 1"))
    result = run_experiment(file, tmp_path / "results", jobs=1)
    root = tmp_path / "results" / "lee-axes"
    trials = trials_of(root / "search.db", "lee-axes")
    assert result.search.complete == 3
    for trial in trials:
        assert trial.distributions["eta"] == optuna.distributions.CategoricalDistribution([0.01, 0.5])
        assert set(trial.params) == {"num_topics", "alpha", "eta", "keep_n"}
    table = pd.read_csv(root / "runs.csv")
    from topics.runs.run import load_run

    for run_id, eta in zip(table["run_id"], table["eta"]):
        assert load_run(root / "runs" / run_id).config.eta == eta
        assert f"eta_{eta:g}" in run_id


def test_dask_trains_the_trials_runs(tmp_path):
    from dask.distributed import LocalCluster

    file = search_file(tmp_path, name="lee-dask", trials=2, search='pruner = "none"')
    file.write_text(file.read_text().replace("seeds_per_trial = 2", "seeds_per_trial = 1"))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = run_experiment(file, tmp_path / "results", jobs=2, executor="dask", scheduler=cluster.scheduler_address)
    root = tmp_path / "results" / "lee-dask"
    assert finished_and_failed(root / "search.db", "lee-dask") == (2, 0) and result.trained == 2
    runs = run_folders(root)
    assert runs == trial_run_ids(root, file)
    assert all(retrained_equal(root, run_id, tmp_path) for run_id in runs)  # a Dask worker's run, trained again here


def test_a_damaged_database_is_refused_and_left_as_it_is(tmp_path):
    file = search_file(tmp_path, name="lee-damaged")
    db = tmp_path / "results" / "lee-damaged" / "search.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"not a database" * 100)
    result = CliRunner().invoke(app, ["run", str(file), "--results", str(tmp_path / "results")])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"{db}: cannot open the search database" in message and "move it aside" in message
    assert db.read_bytes() == b"not a database" * 100


def test_a_locked_database_is_refused_and_its_trials_kept(searched, tmp_path, monkeypatch):
    import shutil
    import sqlite3

    from topics.experiment import study

    _, results, _ = searched
    shutil.copytree(results / "lee-search", tmp_path / "results" / "lee-search")
    db = tmp_path / "results" / "lee-search" / "search.db"
    more = search_file(tmp_path, trials=6)  # the same search, two more trials wanted
    monkeypatch.setattr(study, "BUSY_SECONDS", 0.2)
    holder = sqlite3.connect(db)
    holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of a write
    try:
        result = CliRunner().invoke(app, ["run", str(more), "--results", str(tmp_path / "results"), "--jobs", "1"])
    finally:
        holder.rollback()
        holder.close()
    assert result.exit_code == 2, result.output
    assert "database is locked" in " ".join(result.output.split()) and "Traceback" not in result.output
    kept = [(t.number, t.state, t.params, t.values) for t in trials_of(db, "lee-search")]
    assert kept == [
        (t.number, t.state, t.params, t.values) for t in trials_of(results / "lee-search" / "search.db", "lee-search")
    ]


def test_only_a_search_alone_cleans_up_and_a_grid_waits_for_searches(searched, tmp_path):
    import fcntl
    import os
    import shutil

    from topics.errors import RunError

    file, results, _ = searched
    root = tmp_path / "results" / "lee-search"
    shutil.copytree(results / "lee-search", root)
    leftover = root / "runs" / ".tmp-k5-seed0-killed"
    leftover.mkdir()
    other = os.open(root / ".lock", os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_SH)  # another search process is running
    try:
        assert run_experiment(file, tmp_path / "results", jobs=1).trained == 0
        assert leftover.is_dir()  # it may be the other process's run in progress
        grid = search_file(tmp_path, name="lee-search").read_text()
        grid_file = tmp_path / "grid.toml"
        grid_file.write_text(grid[: grid.index("[search]")].replace("[model]", "[model]\nnum_topics = [3, 5]"))
        with pytest.raises(RunError, match="another `topics run` is using"):
            run_experiment(grid_file, tmp_path / "results", jobs=1)
    finally:
        os.close(other)
    assert run_experiment(file, tmp_path / "results", jobs=1).trained == 0
    assert not leftover.exists()  # alone: what a killed run left is cleaned up
