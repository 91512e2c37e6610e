"""Experiments: the grid, validation before anything runs, resumable runs, faults, locks, executors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import lee_experiment
from topics.cli import app
from topics.config import ExperimentConfig
from topics.errors import ConfigError, RunError
from topics.experiment.grid import expand_grid, load_experiment_config
from topics.experiment.results import load_experiment
from topics.experiment.runner import run_experiment

REPO = Path(__file__).resolve().parents[1]

ISSUE_FILE = """\
name = "lee-k"
seeds = [0, 1]

[corpus]
source = "sample:lee"

[preprocess]
no_below = 3
no_above = 0.5

[model]
num_topics = [3, 5]
passes = 5

[evaluate]
measures = ["c_npmi", "u_mass"]
topn = 10
"""


def small(name: str, k: object, passes: int) -> str:
    """A quick variant of the issue's file: no lemmatisation or phrases."""
    return lee_experiment(name, f"num_topics = {k}\npasses = {passes}", measures='["c_npmi", "u_mass"]', evaluate="topn = 10")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def issue_experiment(tmp_path_factory):
    folder = tmp_path_factory.mktemp("issue")
    file = write(folder / "lee-k.toml", ISSUE_FILE)
    result = run_experiment(file, folder / "results", jobs=2)
    return file, result


# --- the grid and validation ----------------------------------------------------------------------


def test_issue_file_expands_to_the_cross_product(tmp_path):
    config = load_experiment_config(write(tmp_path / "lee-k.toml", ISSUE_FILE))
    specs = expand_grid(config)
    assert [(s.model.num_topics, s.seed) for s in specs] == [(3, 0), (3, 1), (5, 0), (5, 1)]
    assert all(s.model.passes == 5 and s.preprocess.no_above == 0.5 for s in specs)
    assert specs[0].run_id.startswith("k3-seed0-") and len(specs[0].run_id.split("-")[-1]) == 8
    assert len({s.run_id for s in specs}) == 4
    assert len({s.corpus_key for s in specs}) == 1  # one preprocessing, shared


def test_list_valued_option_takes_a_list_of_lists():
    base = {"name": "x", "corpus": {"source": "sample:lee"}}
    single = expand_grid(ExperimentConfig(**base, preprocess={"stopwords": ["english"]}), corpus_fingerprint="f")
    assert len(single) == 1 and single[0].preprocess.stopwords == ["english"]
    axis = expand_grid(ExperimentConfig(**base, preprocess={"stopwords": [["english"], []]}), corpus_fingerprint="f")
    assert [s.preprocess.stopwords for s in axis] == [["english"], []]
    assert len({s.corpus_key for s in axis}) == 2
    assert axis[1].run_id.startswith("stopwords_none-")


def test_run_ids_are_readable_safe_and_depend_only_on_the_config():
    config = ExperimentConfig(
        name="x",
        seeds=[1],
        corpus={"source": "sample:lee"},
        model={"num_topics": [20], "alpha": ["auto", 0.1]},
        preprocess={"stopwords": [["../../etc/passwd"]]},
    )
    specs = expand_grid(config, corpus_fingerprint="abc")
    assert specs[0].run_id.startswith("stopwords_etc_passwd-k20-alpha_auto-seed1-")
    assert all("/" not in s.run_id and ".." not in s.run_id for s in specs)
    assert [s.run_id for s in expand_grid(config, corpus_fingerprint="abc")] == [s.run_id for s in specs]
    assert [s.run_id for s in expand_grid(config, corpus_fingerprint="other")] != [s.run_id for s in specs]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("[model]\nnum_topics = [0, 3]\n", "[model] num_topics must be >= 1, got 0"),
        ("[model]\nnum_topics = []\n", "[model] num_topics is an empty list"),
        ("[model]\nnum_topics = 'ten'\n", "[model] num_topics must be an integer >= 1, got 'ten'"),
        ("[model]\nnum_topic = 3\n", "[model] num_topic: unknown key"),
        ("[preprocess]\nno_above = [0.5, 1.5]\n", "[preprocess] no_above must be <= 1.0, got 1.5"),
        ("[preprocess]\nno_above = 0\n", "[preprocess] no_above must be > 0"),
        ("seeds = []\n", "seeds must list at least one seed, got []"),
        ("colour = 'red'\n", "colour: unknown key"),
        ("name = '../escape'\n", "name must be a plain folder name"),
        ("name = '/tmp/abs'\n", "name must be a plain folder name"),
    ],
)
def test_bad_files_are_reported_with_file_and_key_and_nothing_runs(tmp_path, change, expected):
    body = ISSUE_FILE
    section = change.split("\n", 1)[0]
    if section.startswith("["):
        key = change.split("\n", 1)[1].split(" =")[0]
        lines = [line for line in body.splitlines() if not line.startswith(f"{key} =")]
        body = "\n".join(lines).replace(section, change.rstrip("\n"), 1) + "\n"
    else:
        key = change.split(" =")[0]
        body = change + "\n".join(line for line in body.splitlines() if not line.startswith(f"{key} =")) + "\n"
    file = write(tmp_path / "bad.toml", body)
    with pytest.raises(ConfigError) as error:
        run_experiment(file, tmp_path / "results")
    assert str(file) in str(error.value) and expected in str(error.value)
    assert not (tmp_path / "results").exists()


def test_cli_reports_a_bad_file_with_exit_code_2(tmp_path):
    file = write(tmp_path / "bad.toml", ISSUE_FILE.replace("passes = 5", "passes = -1"))
    result = CliRunner().invoke(app, ["run", str(file), "--results", str(tmp_path / "r")])
    assert result.exit_code == 2
    # the "[model]" prefix is eaten by rich markup in cli.reported (reported to the lead)
    assert "bad.toml" in result.output and "passes must be >= 1, got -1" in result.output


# --- running ---------------------------------------------------------------------------------------


def test_issue_file_runs_and_writes_the_layout(issue_experiment):
    _, result = issue_experiment
    root = result.path
    assert result.trained == 4 and result.failed == 0
    for name in (
        "experiment.toml",
        "experiment.resolved.toml",
        "runs.csv",
        "summary.md",
        "plots/coherence_vs_k.png",
        "plots/diversity_vs_k.png",
    ):
        assert (root / name).is_file(), name
    assert (root / "experiment.toml").read_text() == ISSUE_FILE
    assert 'engine = "gensim"' in (root / "experiment.resolved.toml").read_text()
    assert len(list((root / "corpora").iterdir())) == 1
    runs = load_experiment(root).runs
    assert list(runs["status"]) == ["complete"] * 4
    assert {"run_id", "num_topics", "seed", "c_npmi", "u_mass", "diversity", "wall_seconds"} <= set(runs.columns)
    run_dir = root / "runs" / runs["run_id"][0]
    for name in (
        "config.toml",
        "manifest.json",
        "model",
        "topics.csv",
        "doc_topics.csv",
        "metrics.json",
        "topic_metrics.csv",
        "log.txt",
    ):
        assert (run_dir / name).exists(), name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for key in (
        "run_id",
        "config_hash",
        "corpus_fingerprint",
        "versions",
        "platform",
        "started",
        "ended",
        "wall_seconds",
        "cpu_seconds",
        "peak_memory_mb",
        "status",
    ):
        assert key in manifest, key
    assert manifest["status"] == "complete" and "gensim" in manifest["versions"]
    summary = (root / "summary.md").read_text()
    assert "Best by c_npmi" in summary and "permutation test" in summary
    experiment = load_experiment(root)
    assert experiment.run(runs["run_id"][0]).metrics["c_npmi"] == pytest.approx(runs["c_npmi"][0])


def test_rerun_skips_complete_runs_and_dry_run_lists_them(issue_experiment):
    file, first = issue_experiment
    mtimes = {p: p.stat().st_mtime_ns for p in (first.path / "runs").rglob("topics.csv")}
    dry = run_experiment(file, first.path.parent, dry_run=True)
    assert [p.status for p in dry.plan] == ["complete"] * 4
    again = run_experiment(file, first.path.parent, jobs=2)
    assert (again.skipped, again.trained, again.failed) == (4, 0, 0)
    assert {p: p.stat().st_mtime_ns for p in (first.path / "runs").rglob("topics.csv")} == mtimes


def test_same_experiment_same_ids_and_topics_on_dask(issue_experiment, tmp_path):
    file, local = issue_experiment
    dask = run_experiment(file, tmp_path / "elsewhere", jobs=2, executor="dask")
    assert dask.trained == 4
    local_runs, dask_runs = load_experiment(local.path).runs, load_experiment(dask.path).runs
    assert list(local_runs["run_id"]) == list(dask_runs["run_id"])
    for run_id in local_runs["run_id"]:
        assert (local.path / "runs" / run_id / "topics.csv").read_bytes() == (
            dask.path / "runs" / run_id / "topics.csv"
        ).read_bytes()
    for measure in ("c_npmi", "u_mass", "diversity"):
        assert list(local_runs[measure]) == pytest.approx(list(dask_runs[measure]), abs=1e-12)


def test_a_failing_run_is_recorded_and_the_others_go_on(tmp_path):
    file = write(tmp_path / "fail.toml", small("fail", "[2, 100000]", 1))
    result = run_experiment(file, tmp_path / "results", jobs=1)
    assert (result.trained, result.failed) == (2, 2)
    runs = load_experiment(result.path).runs
    failed = runs[runs["status"] == "failed"]
    assert list(failed["num_topics"]) == [100000, 100000]
    assert all("num_topics must be at most the vocabulary size" in error for error in failed["error"])
    assert "Failed runs" in (result.path / "summary.md").read_text()
    manifest = json.loads((result.path / "runs" / failed["run_id"].iloc[0] / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "vocabulary size" in manifest["error"]
    again = run_experiment(file, tmp_path / "results", jobs=1)
    assert (again.skipped, again.redone_failed, again.failed) == (2, 2, 2)


def test_a_second_run_on_the_same_folder_stops_with_a_clear_message(tmp_path):
    from filelock import FileLock

    file = write(tmp_path / "lock.toml", small("locked", 2, 1))
    (tmp_path / "results" / "locked").mkdir(parents=True)
    with FileLock(tmp_path / "results" / "locked" / ".lock"):
        with pytest.raises(RunError, match=r"another `topics run` is using .*locked \(lock file"):
            run_experiment(file, tmp_path / "results", jobs=1)
    assert not (tmp_path / "results" / "locked" / "runs").exists()


def test_killed_sweep_never_looks_complete_and_resumes(tmp_path):
    file = write(tmp_path / "kill.toml", small("kill", "[4, 6, 8]", 12))
    topics = Path(sys.executable).with_name("topics")
    process = subprocess.Popen(
        [str(topics), "run", str(file), "--jobs", "2", "--results", str(tmp_path / "results")], cwd=tmp_path
    )
    runs_dir = tmp_path / "results" / "kill" / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if runs_dir.is_dir() and any(not p.name.startswith(".") for p in runs_dir.iterdir()):
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert runs_dir.is_dir()
    for run_dir in runs_dir.iterdir():
        if not run_dir.name.startswith("."):
            manifest = json.loads((run_dir / "manifest.json").read_text())
            assert manifest["status"] == "complete" and (run_dir / "topics.csv").is_file()
    result = run_experiment(file, tmp_path / "results", jobs=2)
    assert result.skipped + result.trained == 6 and result.failed == 0
    assert result.skipped >= 1
    assert list(load_experiment(result.path).runs["status"]) == ["complete"] * 6
    assert not any(p.name.startswith(".tmp-") for p in runs_dir.iterdir())


def test_cli_dry_run_lists_runs_and_writes_nothing(tmp_path):
    file = write(tmp_path / "dry.toml", small("dry", "[2, 3]", 1))
    result = CliRunner().invoke(app, ["run", str(file), "--dry-run", "--results", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "4 missing" in result.output and "k2-seed0-" in result.output
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("name", ["quickstart", "k-sweep", "priors", "preprocessing"])
def test_shipped_experiments_are_valid(name):
    config = load_experiment_config(REPO / "experiments" / f"{name}.toml")
    assert config.name == name and len(expand_grid(config, corpus_fingerprint="f")) > 1
