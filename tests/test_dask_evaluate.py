"""Coherence counted on a real Dask LocalCluster: identical (==) to the local path, and its bad input."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from topics.cli import app
from topics.config import EvaluateConfig, PreprocessConfig, TrainConfig
from topics.corpus.stream import read_corpus
from topics.errors import ConfigError, RunError
from topics.evaluation import scoring
from topics.evaluation.cluster import count_reference_dask
from topics.evaluation.coherence import MEASURES, score
from topics.evaluation.counting import ReferenceCorpus, count_reference
from topics.evaluation.scoring import evaluate_many, reference_corpus
from topics.preprocessing.prepare import preprocess
from topics.runs.run import create_run

ALL_COHERENCE = ["u_mass", "c_uci", "c_npmi", "c_v"]
BLOCK = 700  # tokens a block: the Lee corpus (about 20,000 tokens) is about 30 blocks

runner = CliRunner()


@pytest.fixture(scope="module")
def dask_cluster():
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local_cluster:
        yield local_cluster


@pytest.fixture(scope="module")
def client(dask_cluster):
    from dask.distributed import Client

    with Client(dask_cluster) as dask_client:
        yield dask_client


@pytest.fixture(scope="module")
def lee_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask-evaluate")
    prepared = preprocess(read_corpus("sample:lee"), PreprocessConfig(), folder / "prepared", processes=1)
    return create_run(prepared, TrainConfig(num_topics=6, passes=3), 0, folder / "run")


def topic_words(run) -> list[list[str]]:
    return run.model.top_words(10, "probability", 0.6)


@pytest.mark.parametrize("with_sets", [True, False])
def test_counts_are_identical_to_the_local_path(lee_run, client, with_sets):
    reference = reference_corpus(lee_run.prepared)
    topics = topic_words(lee_run)
    words = [w for topic in topics for w in topic]
    sets = topics if with_sets else None
    local = count_reference(reference, words, [10, 110], word_sets=sets, block_tokens=BLOCK)
    remote = count_reference_dask(reference, words, [10, 110], word_sets=sets, block_tokens=BLOCK, client=client)
    assert remote.words == local.words and remote.num_docs == local.num_docs
    np.testing.assert_array_equal(remote.doc_counts, local.doc_counts)
    for size in (10, 110):
        ours, theirs = remote.windows[size], local.windows[size]
        assert ours.num_windows == theirs.num_windows
        np.testing.assert_array_equal(ours.occurrences, theirs.occurrences)
        for topic in topics:
            rows = np.unique([local.index[w] for w in topic])
            np.testing.assert_array_equal(ours.cooccurrence_matrix(rows), theirs.cooccurrence_matrix(rows))
    for measure in MEASURES:
        np.testing.assert_array_equal(score(topics, remote, measure), score(topics, local, measure))


def test_evaluate_on_dask_gives_identical_values(lee_run, dask_cluster):
    config = EvaluateConfig(measures=ALL_COHERENCE)
    local = evaluate_many([lee_run], config, block_tokens=BLOCK)[0]
    remote = evaluate_many([lee_run], config, executor="dask", scheduler=dask_cluster.scheduler_address, block_tokens=BLOCK)[0]
    assert remote.metrics == local.metrics
    for measure in ALL_COHERENCE:
        np.testing.assert_array_equal(remote.topic_metrics[measure], local.topic_metrics[measure])
    # and the blocks changed nothing: one block of the whole corpus scores the same
    assert evaluate_many([lee_run], config)[0].metrics == local.metrics


def test_dask_counting_reports_the_documents_of_each_block_as_the_local_path_does(lee_run, dask_cluster):
    config = EvaluateConfig(measures=["c_npmi"])
    local: list[tuple[int, int | None]] = []
    remote: list[tuple[int, int | None]] = []
    evaluate_many([lee_run], config, block_tokens=BLOCK, progress=lambda *call: local.append(call))
    evaluate_many(
        [lee_run],
        config,
        executor="dask",
        scheduler=dask_cluster.scheduler_address,
        block_tokens=BLOCK,
        progress=lambda *call: remote.append(call),
    )
    assert remote == local
    assert len(local) > 1 and local[-1] == (lee_run.prepared.num_docs, lee_run.prepared.num_docs)


def test_a_block_that_fails_on_a_worker_fails_the_step_with_its_error(client):
    # token id 50 is outside a 3-word vocabulary: the worker's lookup raises IndexError
    reference = ReferenceCorpus([np.array([0, 1, 2]), np.array([0, 50])], ["a", "b", "c"])
    with pytest.raises(RunError, match="IndexError"):
        count_reference_dask(reference, ["a", "b"], [10], word_sets=[["a", "b"]], block_tokens=2, client=client)


def metrics_of(run_dir) -> dict[str, float]:
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    return {name: value for name, value in metrics.items() if name != "settings"}


def test_cli_with_dask_writes_the_same_metrics(lee_run, dask_cluster, tmp_path, monkeypatch):
    monkeypatch.setattr(scoring, "DEFAULT_BLOCK_TOKENS", BLOCK)
    local_dir, dask_dir = lee_run.path.parent / "run-local", lee_run.path.parent / "run-dask"
    shutil.copytree(lee_run.path, local_dir)
    shutil.copytree(lee_run.path, dask_dir)
    measures = [arg for m in ALL_COHERENCE for arg in ("-m", m)]
    result = runner.invoke(app, ["evaluate", str(local_dir), *measures])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, ["evaluate", str(dask_dir), *measures, "--executor", "dask", "--scheduler", dask_cluster.scheduler_address]
    )
    assert result.exit_code == 0, result.output
    assert metrics_of(dask_dir) == metrics_of(local_dir)
    assert set(metrics_of(dask_dir)) == set(ALL_COHERENCE)
    assert (dask_dir / "topic_metrics.csv").read_bytes() == (local_dir / "topic_metrics.csv").read_bytes()


def test_an_unreachable_scheduler_is_one_clear_error_and_writes_nothing(lee_run, monkeypatch):
    monkeypatch.setattr("topics._cluster.CONNECT_SECONDS", 1.0)
    run_dir = lee_run.path.parent / "run-unreachable"
    shutil.copytree(lee_run.path, run_dir)
    before = sorted(p.name for p in run_dir.iterdir())
    started = time.perf_counter()
    result = runner.invoke(app, ["evaluate", str(run_dir), "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "tcp://127.0.0.1:1" in result.output and "--scheduler" in result.output
    assert "Traceback" not in result.output
    assert time.perf_counter() - started < 15
    assert sorted(p.name for p in run_dir.iterdir()) == before  # no metrics.json, nothing half-written


def test_executor_options_are_checked(lee_run):
    with pytest.raises(ConfigError, match="unknown executor 'spark'; choose from dask, local"):
        evaluate_many([lee_run], EvaluateConfig(), executor="spark")
    result = runner.invoke(app, ["evaluate", str(lee_run.path), "--scheduler", "tcp://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "--scheduler is the address of a Dask scheduler; it needs --executor dask" in result.output
