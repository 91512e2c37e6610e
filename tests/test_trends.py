"""Reading a run: labels, trends over time, representative documents, inference; the CLI commands
`show`, `trends` and `infer` with their errors. On generated dated articles with planted topics."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dated_articles import write_dated_articles
from topics.cli import app
from topics.config import PreprocessConfig, TrainConfig
from topics.corpus.stream import read_corpus
from topics.errors import ConfigError, RunError
from topics.preprocessing.prepare import preprocess
from topics.reading import infer_texts, representative_documents, topic_trends
from topics.reading.labels import automatic_labels, topic_labels
from topics.runs.run import create_run, load_run

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def dated_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dated")
    articles = write_dated_articles(root / "articles")
    prepared = preprocess(read_corpus(articles), PreprocessConfig(no_below=1, phrases="none"), root / "prepared", processes=1)
    # seed 1: from seed 0's start, variational Bayes settles in a local optimum that splits sport in two
    # and merges economy into them (seeds 1-3 recover all three planted groups)
    return create_run(prepared, TrainConfig(num_topics=3, passes=10), seed=1, run_dir=root / "run")


@pytest.fixture
def run_copy(dated_run, tmp_path):
    """A private copy of the run and its prepared corpus (the run names it by a relative path)."""
    root = dated_run.path.parent
    shutil.copytree(root / "prepared", tmp_path / "prepared")
    shutil.copytree(root / "run", tmp_path / "run")
    return load_run(tmp_path / "run")


def planted(run) -> dict[str, int]:
    """Which topic holds each planted word group (the topic with the group's word among its top words)."""
    top = run.model.top_words(10)
    return {
        group: next(k for k, words in enumerate(top) if word in words)
        for group, word in (("economy", "bank"), ("sport", "goal"), ("space", "rocket"))
    }


def test_automatic_labels_name_the_planted_topics(dated_run):
    labels = automatic_labels(dated_run.model)
    assert len(set(labels.values())) == 3
    topics = planted(dated_run)
    from dated_articles import GROUPS

    for group, k in topics.items():
        assert all(word in GROUPS[group].split() for word in labels[k].split(" / "))


def test_user_labels_override_and_are_checked(run_copy):
    (run_copy.path / "labels.toml").write_text('[labels]\n0 = "Money"\n')
    labels = topic_labels(run_copy.model, run_copy.path)
    assert labels[0] == "Money" and labels[1] != "Money"
    (run_copy.path / "labels.toml").write_text('2 = "Ball games"\n')  # the [labels] header may be left out
    assert topic_labels(run_copy.model, run_copy.path)[2] == "Ball games"
    (run_copy.path / "labels.toml").write_text('[labels]\n7 = "Nothing"\n')
    with pytest.raises(ConfigError, match="topic 7 is not in this run; it has topics 0-2"):
        topic_labels(run_copy.model, run_copy.path)
    result = invoke("show", run_copy.path)
    assert result.exit_code == 2 and "topic 7 is not in this run" in result.output


def test_trends_follow_the_planted_rise_and_fall(dated_run):
    trends = topic_trends(dated_run, "month")
    topics = planted(dated_run)
    prevalence = trends.prevalence
    assert trends.undated == 12 and int(trends.documents.sum()) == 108
    assert list(prevalence.index[:2]) == ["2020-01-01", "2020-02-01"]
    np.testing.assert_allclose(prevalence.sum(axis=1), 1.0, atol=1e-6)
    first, last = prevalence.iloc[:3].mean(), prevalence.iloc[-3:].mean()
    assert first[f"topic_{topics['economy']}"] > last[f"topic_{topics['economy']}"] + 0.2
    assert last[f"topic_{topics['space']}"] > first[f"topic_{topics['space']}"] + 0.2
    assert len(topic_trends(dated_run, "year").prevalence) == 1
    assert len(topic_trends(dated_run, "week").prevalence) > 40


def test_trends_command_writes_csv_and_png_and_keeps_the_manifest_valid(run_copy):
    result = invoke("trends", run_copy.path, "--period", "month")
    assert result.exit_code == 0, result.output
    assert "12 of 120 documents have no date" in result.output
    table = pd.read_csv(run_copy.path / "trends.csv")
    assert list(table.columns) == ["period", "documents", "topic_0", "topic_1", "topic_2"]
    assert (run_copy.path / "trends.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = load_run(run_copy.path)
    run.verify()
    assert {"trends.csv", "trends.png"} <= set(run.manifest["files"])
    run.native_model()  # the model is still trusted


def test_representative_documents(dated_run):
    topics = planted(dated_run)
    documents = representative_documents(dated_run, topics["space"], 4)
    assert list(documents.columns) == ["id", "title", "date", "url", "weight"]
    assert len(documents) == 4 and documents["weight"].is_monotonic_decreasing
    assert documents["title"].str.startswith("Space story").all()
    assert documents["url"].str.startswith("https://example.org/space/").all()


def test_show_lists_topics_and_one_topic_with_documents(dated_run):
    result = invoke("show", dated_run.path, "--words", 5)
    assert result.exit_code == 0, result.output
    assert "label" in result.output and "share" in result.output
    space = planted(dated_run)["space"]
    result = invoke("show", dated_run.path, "--topic", space, "--docs", 3)
    assert result.exit_code == 0, result.output
    assert "Space story" in result.output and "most representative documents" in result.output


def test_infer_uses_the_run_preprocessing_and_notes_unknown_documents(dated_run, tmp_path):
    topics = planted(dated_run)
    shares = infer_texts(dated_run, ["The astronauts' rockets launched to the Moon", "zzz qqq", "Banks and investors"])
    assert shares.loc[0, f"topic_{topics['space']}"] > 0.6  # lemmas: astronauts -> astronaut, rockets -> rocket
    assert shares.loc[1, "note"].startswith("no known words") and shares.loc[1, ["topic_0", "topic_1", "topic_2"]].isna().all()
    assert shares.loc[2, f"topic_{topics['economy']}"] > 0.5
    source = tmp_path / "new.jsonl"
    source.write_text(
        json.dumps({"id": "a", "text": "football match goal"}) + "\n" + json.dumps({"id": "b", "text": "nothing here"}) + "\n"
    )
    out = tmp_path / "out.csv"
    result = invoke("infer", dated_run.path, source, "--out", out)
    assert result.exit_code == 0, result.output
    assert "b: no known words" in result.output.replace("\n", " ")
    table = pd.read_csv(out, dtype={"id": str})
    assert list(table["id"]) == ["a", "b"] and table.loc[0, f"topic_{topics['sport']}"] > 0.5


def test_bad_input_is_one_message_and_exit_code_2(dated_run, tmp_path, monkeypatch):
    result = invoke("show", dated_run.path, "--topic", 9)
    assert result.exit_code == 2 and "topic 9 is out of range; this run has topics 0-2" in result.output
    result = invoke("trends", dated_run.path, "--period", "day")
    assert result.exit_code == 2 and "unknown period 'day'" in result.output
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    for command in ("show", "trends", "report"):
        result = invoke(command, incomplete)
        assert result.exit_code == 2, command
        assert "error:" in result.output and "Traceback" not in result.output
    # a run whose documents have no dates
    undated_root = tmp_path / "undated"
    articles = write_dated_articles(undated_root / "articles", n=30, undated_every=1)
    prepared = preprocess(
        read_corpus(articles), PreprocessConfig(no_below=1, phrases="none"), undated_root / "prepared", processes=1
    )
    run = create_run(prepared, TrainConfig(num_topics=2, passes=2), seed=0, run_dir=undated_root / "run")
    with pytest.raises(RunError, match="none of its 30 documents has a date"):
        topic_trends(run)
    result = invoke("trends", run.path)
    assert result.exit_code == 2 and "has a date" in result.output


def test_writing_trends_leaves_the_users_matplotlib_backend_alone(dated_run):
    import matplotlib

    matplotlib.use("svg")  # a notebook user's choice
    from topics.reading import write_trends

    write_trends(dated_run, "month")
    assert matplotlib.get_backend() == "svg"
    assert (dated_run.path / "trends.png").read_bytes().startswith(b"\x89PNG")
