"""Search: [search] validation, a study resumed without retraining, reproducible in a fresh process,
refused when the file's search changed, pruned trials recorded as pruned."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest
from typer.testing import CliRunner

from topics.cli import app
from topics.errors import ConfigError
from topics.experiment.runner import run_experiment

REPO = Path(__file__).resolve().parents[1]

# tiny: no lemmatisation or phrases, two passes, four trials of two seeds
SEARCH = """\
name = "{name}"

[corpus]
source = "sample:lee"

[preprocess]
no_below = 3
no_above = 0.5
lemmatize = false
phrases = "none"

[model]
passes = 2
{model}

[evaluate]
measures = ["c_npmi"]

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
    folder: Path, name: str = "lee-search", trials: int = 4, model: str = "", search: str = "", space: str = ""
) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(SEARCH.format(name=name, trials=trials, model=model, search=search, space=space), encoding="utf-8")
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
        ({"model": "eta = [0.01, 0.1]"}, "[model] eta = [0.01, 0.1] is a grid axis; grids beside [search] are not supported"),
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
