"""The CLI end to end through Typer's runner: preprocess -> train -> evaluate, and every error a user can cause."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import invoke
from topics.preprocessing.prepared import PreparedCorpus


@pytest.fixture(scope="module")
def lee_prepared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "lee"
    result = invoke("preprocess", "sample:lee", "--out", out, "--processes", "1")
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def lee_run(lee_prepared, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "lee-k5"
    result = invoke("train", lee_prepared, "--out", run_dir, "-k", 5, "--seed", 1, "--passes", 5)
    assert result.exit_code == 0, result.output
    return run_dir


def test_preprocess_writes_a_prepared_corpus_and_reuses_it(lee_prepared):
    documents = pd.read_csv(lee_prepared / "documents.csv")
    assert len(documents) == 300
    report = json.loads((lee_prepared / "report.json").read_text())
    assert report["documents_read"] == 300
    again = invoke("preprocess", "sample:lee", "--out", lee_prepared, "--processes", "1")
    assert again.exit_code == 0
    assert "reused" in again.output


def test_train_writes_a_complete_run(lee_run):
    for name in ("config.toml", "manifest.json", "topics.csv", "doc_topics.csv", "log.txt", "model/topic_word.npy"):
        assert (lee_run / name).exists(), name
    topics = pd.read_csv(lee_run / "topics.csv")
    assert list(topics.columns) == ["topic", "rank", "word", "weight"]
    assert sorted(topics.topic.unique()) == [0, 1, 2, 3, 4]
    assert (topics.groupby("topic").size() == 20).all()
    doc_topics = pd.read_csv(lee_run / "doc_topics.csv")
    assert doc_topics.shape == (300, 6)
    manifest = json.loads((lee_run / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["reproducible"] is True
    assert {"python", "gensim", "scikit-learn", "numpy"} <= set(manifest["versions"])
    assert "model/lda.gensim" in manifest["files"]


def test_evaluate_writes_metrics(lee_run):
    result = invoke("evaluate", lee_run)
    assert result.exit_code == 0, result.output
    metrics = json.loads((lee_run / "metrics.json").read_text())
    assert set(metrics) >= {"c_npmi", "u_mass"}
    assert -1 <= metrics["c_npmi"] <= 1 and metrics["u_mass"] < 0
    table = pd.read_csv(lee_run / "topic_metrics.csv")
    assert list(table.columns) == ["topic", "c_npmi", "u_mass"]
    assert len(table) == 5
    assert table.c_npmi.mean() == pytest.approx(metrics["c_npmi"])
    # a second call with another measure keeps the first ones
    assert invoke("evaluate", lee_run, "--measure", "diversity").exit_code == 0
    metrics = json.loads((lee_run / "metrics.json").read_text())
    assert {"c_npmi", "u_mass", "diversity"} <= set(metrics)


def assert_clean_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


def test_missing_path(tmp_path):
    assert_clean_error(invoke("preprocess", tmp_path / "nowhere", "--out", tmp_path / "p"), "nowhere")
    assert not (tmp_path / "p").exists()


def test_unknown_format(tmp_path):
    assert_clean_error(invoke("preprocess", "sample:lee", "--format", "docx", "--out", tmp_path / "p"), "format")


def test_num_topics_below_one(lee_prepared, tmp_path):
    assert_clean_error(
        invoke("train", lee_prepared, "--out", tmp_path / "r", "-k", 0),
        "[model] num_topics must be >= 1, got 0",
    )
    assert not (tmp_path / "r").exists()


def test_unknown_measure(lee_run):
    assert_clean_error(invoke("evaluate", lee_run, "--measure", "cv"), "unknown measure 'cv'", "c_v")


def test_empty_corpus_after_filtering(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.txt").write_text(f"unique{i}word appears once here only{i}", encoding="utf-8")
    result = invoke("preprocess", folder, "--out", tmp_path / "p", "--no-below", 2, "--processes", "1")
    assert_clean_error(result, "no_below")
    assert not (tmp_path / "p").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output(lee_prepared, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    assert_clean_error(invoke("train", lee_prepared, "--out", locked / "run", "-k", 3), str(locked))


def test_output_under_a_file_is_an_error(lee_prepared, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert_clean_error(invoke("train", lee_prepared, "--out", blocker / "run", "-k", 3, "--passes", 1), str(blocker))


def test_incompatible_prepared_corpus(lee_prepared, tmp_path):
    copy = tmp_path / "old"
    shutil.copytree(lee_prepared, copy)
    meta = json.loads((copy / "prepared.json").read_text())
    meta["format_version"] = 0
    (copy / "prepared.json").write_text(json.dumps(meta))
    assert_clean_error(invoke("train", copy, "--out", tmp_path / "r", "-k", 3), str(copy), "topics preprocess")


def test_not_a_run_folder(tmp_path):
    assert_clean_error(invoke("evaluate", tmp_path), str(tmp_path))


def test_python_dash_m_works():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "topics", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "preprocess" in out.stdout


def test_evaluate_against_another_reference_maps_words_not_ids(lee_run, tmp_path):
    """A reference prepared with other settings has other ids; scores must equal gensim's on its texts."""
    from gensim.corpora import Dictionary
    from gensim.models import CoherenceModel

    from topics.preprocessing.prepared import PreparedCorpus

    reference_dir = tmp_path / "reference"
    assert (
        invoke(
            "preprocess", "sample:lee", "--out", reference_dir, "--no-below", 1, "--no-above", 1.0, "--processes", "1"
        ).exit_code
        == 0
    )
    result = invoke("evaluate", lee_run, "--reference", reference_dir, "--measure", "c_npmi")
    assert result.exit_code == 0, result.output
    metrics = json.loads((lee_run / "metrics.json").read_text())
    reference = PreparedCorpus.load(reference_dir)
    assert metrics["settings"]["c_npmi"]["reference"]["fingerprint"] == reference.fingerprint
    texts = list(reference.texts())
    topics = pd.read_csv(lee_run / "topics.csv").query("rank <= 10").groupby("topic")["word"].apply(list).tolist()
    expected = CoherenceModel(topics=topics, texts=texts, dictionary=Dictionary(texts), coherence="c_npmi", topn=10, processes=1)
    per_topic = pd.read_csv(lee_run / "topic_metrics.csv")["c_npmi"].to_numpy()
    assert per_topic == pytest.approx(expected.get_coherence_per_topic(), abs=1e-6)


def test_evaluate_errors(lee_run, lee_prepared, tmp_path):
    assert_clean_error(invoke("evaluate", lee_run, "--topn", 100000), "topn", "vocabulary")
    # a reference that shares no word with the topics
    folder = tmp_path / "other"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.txt").write_text("zyxwv qwerty asdfgh " * 5, encoding="utf-8")
    other = tmp_path / "other-prepared"
    assert invoke("preprocess", folder, "--out", other, "--no-below", 1, "--no-above", 1.0, "--processes", "1").exit_code == 0
    assert_clean_error(invoke("evaluate", lee_run, "--reference", other), "no words")


def test_run_with_a_foreign_prepared_corpus_is_refused(lee_run, lee_prepared, tmp_path):
    import tomllib

    import tomli_w

    copy = tmp_path / "run"
    shutil.copytree(lee_run, copy)
    other = tmp_path / "other"
    assert invoke("preprocess", "sample:lee", "--out", other, "--no-below", 2, "--processes", "1").exit_code == 0
    data = tomllib.loads((copy / "config.toml").read_text())
    data["corpus"]["path"] = str(other)
    (copy / "config.toml").write_text(tomli_w.dumps(data))
    assert_clean_error(invoke("evaluate", copy), "do not belong together")


def test_evaluate_stability_is_refused_with_where_it_is_computed(lee_run):
    # stability compares the seeds of a setting; for one run it would compute nothing
    assert_clean_error(invoke("evaluate", lee_run, "--measure", "stability"), "stability", "experiment")


def test_library_messages_name_settings_and_the_cli_names_flags(lee_prepared, lee_run):
    from topics.config import TrainConfig
    from topics.errors import RunError
    from topics.preprocessing import PreparedCorpus
    from topics.runs import create_run

    with pytest.raises(RunError, match="set `force` to replace it") as raised:
        create_run(PreparedCorpus.load(lee_prepared), TrainConfig(num_topics=5, passes=1), 0, lee_run)
    assert "--" not in str(raised.value)
    result = invoke("train", lee_prepared, "--out", lee_run, "-k", 5)
    assert_clean_error(result, "--force to replace it")


def test_train_progress_to_a_log_is_plain_lines(lee_prepared, tmp_path, monkeypatch):
    from topics.cli import render

    monkeypatch.setattr(render, "PLAIN_INTERVAL", 0.0)  # a line per chunk; 10 s apart by default
    args = ("--passes", 3, "--chunksize", 100)
    result = invoke("train", lee_prepared, "--out", tmp_path / "run", "-k", 3, "--seed", 1, *args)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\r" not in result.output  # no control characters
    lines = [line for line in result.stderr.splitlines() if line.startswith("training gensim LDA, K=3, seed 1: ")]
    assert lines[0].endswith(": started")
    n = PreparedCorpus.load(lee_prepared).num_docs - int(np.load(Path(lee_prepared) / "is_test.npy").sum())
    ends = sorted({*range(100, n + 1, 100), n})
    total = 3 * n + PreparedCorpus.load(lee_prepared).num_docs  # the passes, then every document's topics
    expected = [f"{p * n + end}/{total} documents visited" for p in range(3) for end in ends] + [
        f"{total}/{total} documents visited"
    ]
    assert [line.split(": ")[1].split(",")[0] for line in lines[1:]] == expected
    assert "ETA" in lines[1] and "ETA" not in lines[-1]


def test_plain_progress_lines_are_at_most_one_per_interval():
    from topics.cli.render import PlainProgress

    now = [0.0]
    lines: list[str] = []
    progress = PlainProgress("tokenising", "documents", None, lines.append, interval=10.0, clock=lambda: now[0])
    for done in range(1, 100):
        now[0] = done * 0.5  # an update every half second
        progress.update(done * 100)
    progress.close()
    assert lines[0] == "tokenising: started"
    assert lines[1] == "tokenising: 2000 documents, 0:00:10 elapsed"  # the first update 10 s after the start
    assert len(lines) == 1 + 4 + 1  # started, one every 10 s of 49.5 s, and the last state at the end
    assert lines[-1] == "tokenising: 9900 documents, 0:00:50 elapsed"
