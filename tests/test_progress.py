"""Progress a person can follow: `topics run` names each running run's pass, `topics evaluate` counts
the reference's documents, and without a terminal both are plain lines at most one per interval."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pytest

from helpers import invoke, lee_experiment
from topics.cli import render
from topics.cli.render import PlainExperimentProgress
from topics.evaluation import coherence
from topics.evaluation.counting import count_reference
from topics.evaluation.scoring import reference_corpus
from topics.experiment import runner
from topics.experiment.executors import RunPasses, _passes_writer, read_passes
from topics.experiment.runner import ExperimentProgress
from topics.preprocessing import PreparedCorpus

EXPERIMENT = lee_experiment("progress", "num_topics = 5\npasses = 3")

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # anything but tab and newline


@pytest.fixture(scope="module")
def experiment(tmp_path_factory) -> tuple[Path, str]:
    """`topics run` of two runs on two processes, a line per snapshot (interval 0), passes read often."""
    folder = tmp_path_factory.mktemp("progress")
    (folder / "progress.toml").write_text(EXPERIMENT, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(render, "PLAIN_INTERVAL", 0.0)
        patch.setattr(runner, "PASSES_POLL_SECONDS", 0.05)
        result = invoke("run", folder / "progress.toml", "--results", folder / "results", "--jobs", 2)
    assert result.exit_code == 0, result.output
    return folder / "results" / "progress", result.stderr


def test_run_names_each_running_runs_pass_in_plain_lines(experiment):
    root, stderr = experiment
    assert not CONTROL.search(stderr)
    lines = stderr.splitlines()
    training = [line for line in lines if line.startswith("training ")]
    assert training[0] == "training 0/2 runs done; 0:00:00 elapsed"
    assert re.fullmatch(r"training 2/2 runs done; \d:\d\d:\d\d elapsed", training[-1])
    assert lines.index(training[-1]) < lines.index("scoring the runs") < lines.index("writing runs.csv, plots and summary.md")
    # each running run by its short id (the grid's values, without the hash) and its pass
    run_ids = sorted(path.name for path in (root / "runs").iterdir())
    assert [re.sub(r"-[0-9a-f]{8}$", "", run_id) for run_id in run_ids] == ["seed0", "seed1"]
    seen: dict[str, list[int]] = {"seed0": [], "seed1": []}
    n_train = 300  # Lee's documents (none held out)
    for line in training:
        match = re.fullmatch(r"training (\d)/2 runs done, running (\d): (.+); \d:\d\d:\d\d elapsed(, ETA .+)?", line)
        if match is None:
            continue
        running = match[3].split(", ")
        assert len(running) <= int(match[2]) == 2 - int(match[1])
        for item in running:
            name, done, total = re.fullmatch(r"(seed[01]) documents (\d+)/(\d+)", item).groups()
            assert int(total) == 4 * n_train  # 3 passes, then every document's topics
            seen[name].append(int(done))
    assert any(seen.values()), "no line named a running run's progress:\n" + stderr
    assert all(
        done == sorted(done) and min(done, default=1) > 0 and max(done, default=0) <= 4 * n_train for done in seen.values()
    )
    # the progress files went with their runs
    assert not (root / "runs" / ".tmp-progress").exists()
    assert sorted(p.name for p in (root / "runs").iterdir()) == run_ids


def test_plain_experiment_lines_are_at_most_one_per_interval():
    now = [0.0]
    written: list[tuple[float, str]] = []
    lines = PlainExperimentProgress(lambda line: written.append((now[0], line)), interval=10.0, clock=lambda: now[0])
    lines.update(ExperimentProgress("preparing", total=1, message="corpus 1/1"))
    now[0] = 3.0
    snapshot = ExperimentProgress("training", total=4, running=2)
    lines.update(snapshot)
    for tick in range(1, 83):  # a snapshot every half second for 41 s
        now[0] = 3.0 + tick / 2
        snapshot.passes = {
            "k20-seed0-3f9a2c1e": RunPasses(1 + tick // 20, 5),
            "k50-seed1-0b1d2e3f": RunPasses(tick % 7, 7, "sweep"),
        }
        snapshot.done = tick // 20
        lines.update(snapshot)
    now[0] = 50.0
    lines.update(ExperimentProgress("scoring", total=4, done=4))
    lines.close()

    assert written[0] == (0.0, "preparing corpus 1/1")
    assert written[1] == (3.0, "training 0/4 runs done, running 2; 0:00:00 elapsed")
    training = [(at, line) for at, line in written if line.startswith("training")]
    assert [at for at, _ in training] == [3.0, 13.0, 23.0, 33.0, 43.0, 50.0]  # 10 s apart, and the end
    assert (
        training[1][1]
        == "training 1/4 runs done, running 2: k20-seed0 pass 2/5, k50-seed1 sweep 6/7; 0:00:10 elapsed, ETA 0:00:30"
    )
    assert (
        training[2][1]
        == "training 2/4 runs done, running 2: k20-seed0 pass 3/5, k50-seed1 sweep 5/7; 0:00:20 elapsed, ETA 0:00:20"
    )
    # the state when training ended (at 44 s), written when scoring starts though not 10 s after the last line
    assert training[-1][1] == "training 4/4 runs done, running 2: k20-seed0 pass 5/5, k50-seed1 sweep 5/7; 0:00:41 elapsed"
    assert written[-1] == (50.0, "scoring the runs")
    assert len(written) == 1 + 6 + 1
    assert not any(CONTROL.search(line) for _, line in written)


def test_passes_files_are_read_back_and_broken_ones_skipped(tmp_path):
    write = _passes_writer(tmp_path / ".tmp-progress" / "k5-seed0-00000000.json", "tomotopy")
    write(40, 200)
    write(41, 200)
    (tmp_path / ".tmp-progress" / "k5-seed1-11111111.json").write_text('{"done": 1, "tot')  # never by the writer
    passes = read_passes(tmp_path, ["k5-seed0-00000000", "k5-seed1-11111111", "k5-seed2-22222222"])
    assert passes == {"k5-seed0-00000000": RunPasses(41, 200, "sweep")}
    assert sorted(p.name for p in (tmp_path / ".tmp-progress").iterdir()) == ["k5-seed0-00000000.json", "k5-seed1-11111111.json"]


def test_counting_reports_documents_once_a_block_and_counts_the_same(experiment):
    root, _ = experiment
    prepared = PreparedCorpus.load(next((root / "corpora").iterdir()))
    lengths = np.diff(np.load(prepared.path / "offsets.npy"))
    block_tokens = 3000
    expected, documents, tokens = [], 0, 0  # blocks close at the first document boundary at or past block_tokens
    for length in lengths:
        documents, tokens = documents + 1, tokens + int(length)
        if tokens >= block_tokens:
            expected.append(documents)
            tokens = 0
    if tokens:
        expected.append(documents)
    assert len(expected) > 5 and expected[-1] == prepared.num_docs == 300

    topics = [["said", "government", "police"], ["world", "game", "team", "australia"]]
    heard: list[tuple[int, int | None]] = []
    count = functools.partial(count_reference, progress=lambda done, total: heard.append((done, total)))
    measures = ["c_npmi", "u_mass", "c_v"]
    with_progress = coherence.score_models([topics], reference_corpus(prepared), measures, block_tokens=block_tokens, count=count)
    without = coherence.score_models([topics], reference_corpus(prepared), measures, block_tokens=block_tokens)
    assert heard == [(done, 300) for done in expected]
    for measure in measures:
        np.testing.assert_array_equal(with_progress[0][measure], without[0][measure])


def test_evaluate_prints_the_documents_counted(experiment, monkeypatch):
    root, _ = experiment
    run_dir = sorted((root / "runs").iterdir())[0]
    monkeypatch.setattr(render, "PLAIN_INTERVAL", 0.0)
    result = invoke("evaluate", run_dir, "--measure", "c_npmi")
    assert result.exit_code == 0, result.output
    assert not CONTROL.search(result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.startswith("counting the reference corpus: ")]
    assert lines[0] == "counting the reference corpus: started, 300 documents"
    assert re.fullmatch(r"counting the reference corpus: 300/300 documents, \d:\d\d:\d\d elapsed", lines[-1])
    # without a coherence measure nothing is counted, and no progress is shown
    result = invoke("evaluate", run_dir, "--measure", "diversity")
    assert result.exit_code == 0, result.output
    assert "counting the reference corpus" not in result.output


SEARCH = """\
name = "search-progress"

[corpus]
source = "sample:lee"

[preprocess]
no_below = 3
lemmatize = false

[model]
passes = 3

[evaluate]
measures = ["c_npmi"]

[search]
trials = 2
seed = 0
seeds_per_trial = 2
pruner = "none"

[search.space]
num_topics = { int = [3, 8] }
"""


def test_a_search_names_each_running_runs_pass(tmp_path, monkeypatch):
    """A search trains through its own pool: its running runs' passes show as a grid's do."""
    (tmp_path / "search.toml").write_text(SEARCH, encoding="utf-8")
    monkeypatch.setattr(render, "PLAIN_INTERVAL", 0.0)
    monkeypatch.setattr(runner, "PASSES_POLL_SECONDS", 0.05)
    result = invoke("run", tmp_path / "search.toml", "--results", tmp_path / "results", "--jobs", 2)
    assert result.exit_code == 0, result.output
    assert not CONTROL.search(result.stderr)
    named = re.findall(r"running \d: ([^;]+);", result.stderr)
    steps = [item for group in named for item in group.split(", ")]
    assert steps, "no line named a running run's pass:\n" + result.stderr
    assert all(re.fullmatch(r"k\d+-seed[01] documents \d+/1200", step) for step in steps), (
        steps
    )  # 3 passes of 300, then inference
    assert not (tmp_path / "results" / "search-progress" / "runs" / ".tmp-progress").exists()
