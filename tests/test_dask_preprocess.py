"""Preprocessing on a real Dask LocalCluster: byte-identical to the local path, and its bad input."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers import invoke
from topics.config import PreprocessConfig
from topics.corpus.documents import CorpusReport, Document
from topics.corpus.stream import read_corpus
from topics.errors import ConfigError, RunError
from topics.preprocessing import passes
from topics.preprocessing.cluster import DaskWorkers
from topics.preprocessing.prepare import preprocess

DATA_FILES = [
    "tokens.npy",
    "offsets.npy",
    "vocabulary.txt",
    "term_frequency.npy",
    "document_frequency.npy",
    "is_test.npy",
    "documents.csv",
    "phrases.json",
]
COUNTS = [
    "documents_read",
    "num_docs",
    "num_test_docs",
    "num_tokens",
    "num_tokens_before_filtering",
    "num_nnz",
    "vocabulary_size",
    "vocabulary_size_before_filtering",
    "empty_documents",
    "phrases",
    "boilerplate",
    "skipped",
    "warnings",
]


@pytest.fixture(scope="module")
def dask_cluster():
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local_cluster:
        yield local_cluster


@pytest.fixture(scope="module")
def posts_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every 25th raw 20 Newsgroups post in archive order (754 posts, 6 chunks), one file each."""
    target = tmp_path_factory.mktemp("posts")
    with tarfile.open(shared_data / "20news-bydate.tar.gz") as archive:
        for index, member in enumerate(m for m in archive if m.isfile()):
            if index % 25 == 0:
                data = archive.extractfile(member)
                assert data is not None
                (target / f"{member.name.replace('/', '_')}.txt").write_bytes(data.read())
    return target


def assert_same_prepared(ours: Path, theirs: Path) -> None:
    for name in DATA_FILES:
        assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name
    report, expected = (json.loads((folder / "report.json").read_text(encoding="utf-8")) for folder in (ours, theirs))
    assert {key: report[key] for key in COUNTS} == {key: expected[key] for key in COUNTS}


@pytest.mark.parametrize("workers", [2, 1])
def test_lee_on_dask_is_byte_identical_to_the_local_path(dask_cluster, tmp_path, workers):
    config = PreprocessConfig(phrases="trigrams", phrase_min_count=3, heldout=0.1)  # two phrase layers
    local = preprocess(read_corpus("sample:lee"), config, tmp_path / "local", processes=1)
    remote = preprocess(
        read_corpus("sample:lee"),
        config,
        tmp_path / "dask",
        executor="dask",
        scheduler=dask_cluster.scheduler_address,
        processes=workers,
    )
    assert_same_prepared(remote.path, local.path)
    assert remote.report["executor"] == "dask" and remote.report["processes"] == workers
    assert local.report["executor"] == "local"
    assert min(remote.report["phrases"]) > 100 and remote.report["num_test_docs"] == 30  # the paths compared were exercised
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dask", "local"]  # no scratch left beside


def test_newsgroups_with_boilerplate_rules_and_bigrams(dask_cluster, posts_dir, tmp_path, monkeypatch):
    """Raw posts with every boilerplate rule on (the repeated-lines rule drops lines on the shards)
    and bigrams; the outputs fetched from the shards in pieces of a few chunks."""
    monkeypatch.setattr(passes, "PIECE_BYTES", 60_000)  # two chunks of these posts (26 kB each) a piece
    pieces: list[tuple[int, int, int]] = []
    send = DaskWorkers.send

    def spied_send(self, index, method, *args):
        if method == "read_outputs":
            pieces.append((index, *args))
        return send(self, index, method, *args)

    monkeypatch.setattr(DaskWorkers, "send", spied_send)
    config = PreprocessConfig(phrases="bigrams", boilerplate_headers=True, boilerplate_repeated=True)
    local = preprocess(read_corpus(posts_dir, format="text"), config, tmp_path / "local", processes=1)
    remote = preprocess(
        read_corpus(posts_dir, format="text"),
        config,
        tmp_path / "dask",
        executor="dask",
        scheduler=dask_cluster.scheduler_address,
    )
    assert_same_prepared(remote.path, local.path)
    removed = remote.report["boilerplate"]["removed"]
    assert removed["repeated"]["lines"] > 10 and removed["headers"]["documents"] > 700
    assert remote.num_docs == 754 and remote.report["phrases"][0] > 50
    assert sorted(pieces) == [(0, 0, 2), (0, 2, 3), (1, 0, 2), (1, 2, 3)]  # 6 chunks, 3 a shard


def test_cli_on_dask_writes_the_same_folder(dask_cluster, tmp_path):
    local = invoke("preprocess", "sample:lee", "--out", tmp_path / "local", "--phrases", "bigrams")
    assert local.exit_code == 0, local.output
    remote = invoke(
        "preprocess", "sample:lee", "--out", tmp_path / "dask", "--phrases", "bigrams",
        "--executor", "dask", "--scheduler", dask_cluster.scheduler_address,
    )  # fmt: skip
    assert remote.exit_code == 0, remote.output
    assert "prepared 300 documents" in remote.output
    assert_same_prepared(tmp_path / "dask", tmp_path / "local")


def test_an_unreachable_scheduler_is_one_clear_error_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("topics._cluster.CONNECT_SECONDS", 1.0)
    started = time.perf_counter()
    result = invoke(
        "preprocess", "sample:lee", "--out", tmp_path / "out", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1"
    )
    assert result.exit_code == 2
    assert "tcp://127.0.0.1:1" in result.output and "--scheduler" in result.output
    assert "Traceback" not in result.output
    assert time.perf_counter() - started < 15
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its work folder


def test_executor_options_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="unknown executor 'spark'; choose from dask, local"):
        preprocess(read_corpus("sample:lee"), PreprocessConfig(), tmp_path / "out", executor="spark")
    result = invoke("preprocess", "sample:lee", "--out", tmp_path / "out", "--scheduler", "tcp://127.0.0.1:1")
    assert result.exit_code == 2
    assert "--scheduler is the address of a Dask scheduler; it needs --executor dask" in result.output
    assert list(tmp_path.iterdir()) == []


class Posts:
    """Documents with the duck type ``preprocess`` reads: re-iterable, .report, .fingerprint(), .format."""

    format = "text"

    def __init__(self, documents: list[Document]):
        self.documents = documents
        self.report = CorpusReport()

    def __iter__(self):
        self.report = CorpusReport()
        for doc in self.documents:
            self.report.documents_read += 1
            yield doc

    def fingerprint(self) -> str:
        return hashlib.sha256(repr([(d.id, d.text, d.tokens) for d in self.documents]).encode()).hexdigest()


class ExitOnArrival(tuple):
    """Tokens that end the process that unpickles them: the worker of the shard they are sent to."""

    def __reduce__(self):
        return os._exit, (3,)


def lee_documents() -> list[Document]:
    return list(read_corpus("sample:lee"))


def test_a_shard_runs_its_calls_in_the_order_they_were_numbered(tmp_path, monkeypatch):
    """Two calls in flight to one actor may reach its worker in either order; the shard must see
    them in the order sent (its chunk sizes are those of the chunks, in order)."""
    import asyncio

    import distributed

    from topics.preprocessing.cluster import ShardActor
    from topics.preprocessing.tokenize import Pipeline

    monkeypatch.setattr(distributed, "get_worker", lambda: SimpleNamespace(local_directory=str(tmp_path)))
    actor = ShardActor(0, 1, Pipeline(PreprocessConfig()))
    chunks = [[(f"words of document {i}", None) for i in range(size)] for size in (3, 5, 2)]

    async def deliver() -> list:
        calls = [actor.call(0, "begin", ("dictionary",))]
        calls += [actor.call(number, "tokenize", (chunk,)) for number, chunk in enumerate(chunks, start=1)]
        return await asyncio.gather(*reversed(calls))  # the last numbered is delivered first

    assert asyncio.run(deliver()) == [2, 5, 3, None]
    assert actor.shard.chunk_sizes == [3, 5, 2]
    assert [p.name.startswith("topics-shard-0-") for p in tmp_path.iterdir()] == [True]
    actor.close()
    assert list(tmp_path.iterdir()) == []


def test_a_worker_that_dies_mid_step_fails_cleanly_and_writes_nothing(tmp_path):
    # the document 200 is in chunk 1, so shard 1's worker dies after both shards have started
    docs = lee_documents()
    docs[200] = Document(id="fatal", text="", tokens=ExitOnArrival(("never", "read")))
    out = tmp_path / "out"
    with pytest.raises(RunError, match=r"preprocessing shard 1 on the Dask worker tcp://\S+ failed: .*left the cluster"):
        preprocess(Posts(docs), PreprocessConfig(), out, executor="dask", processes=2)
    assert list(tmp_path.iterdir()) == []


def test_an_error_on_a_worker_fails_the_step_with_that_error(dask_cluster, tmp_path):
    docs = lee_documents()
    docs[10] = Document(id="ints", text="", tokens=(1, 2))  # type: ignore[arg-type]  # a worker cannot join them
    with pytest.raises(
        RunError, match=r"preprocessing shard 0 on the Dask worker \S+ failed: TypeError: document 10: token 0 is 1, not a string"
    ):
        preprocess(Posts(docs), PreprocessConfig(), tmp_path / "out", executor="dask", scheduler=dask_cluster.scheduler_address)
    assert list(tmp_path.iterdir()) == []


def test_workers_with_different_hash_seeds_are_refused(tmp_path):
    """A worker started without the nanny keeps the hash seed of its environment; the nannies'
    workers share another: preprocessing refuses to merge their counts."""
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as local_cluster:
        address = local_cluster.scheduler_address
        options = ["--no-nanny", "--nthreads", "1", "--no-dashboard"]
        command = [sys.executable, "-m", "distributed.cli.dask_worker", address, *options]
        worker = subprocess.Popen(command, env={**os.environ, "PYTHONHASHSEED": "1"}, stderr=subprocess.DEVNULL)
        try:
            with Client(address) as client:
                client.wait_for_workers(2, timeout=60)
            with pytest.raises(ConfigError, match="hash strings with different seeds .* same PYTHONHASHSEED"):
                preprocess(read_corpus("sample:lee"), PreprocessConfig(), tmp_path / "out", executor="dask", scheduler=address)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert list(tmp_path.iterdir()) == []
