"""The dynamic topic model engine (``--engine dtm``, tomotopy's DTModel, issue 15): per-period topics
that follow a planted vocabulary switch, refusals before tomotopy can crash, reproducibility, and
the run working with evaluate, show, trends and the report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dated_articles import write_dated_articles
from helpers import invoke
from test_trends import DRIFT, LATE_START, SWITCH, write_drift_articles
from topics.config import PreprocessConfig, TrainConfig
from topics.corpus.stream import read_corpus
from topics.errors import CorpusError, RunError
from topics.preprocessing.prepare import preprocess
from topics.reading import topic_trends, trend_words, write_report
from topics.runs.run import create_run, load_run
from topics.training.train import infer_doc_topics, train_lda

pytest.importorskip("tomotopy")

#: 300 sweeps on 180 short documents: well under a second
DTM = dict(engine="dtm", num_topics=3, period="quarter", iterations=300)


def prepare(articles: Path, out: Path):
    return preprocess(read_corpus(articles), PreprocessConfig(no_below=1, phrases="none"), out, processes=1)


@pytest.fixture(scope="module")
def drift(tmp_path_factory):
    """The drift articles of test_trends (energy and sport switch vocabulary on 2020-10-01, space from
    2021 on, nothing in June 2020), prepared, with a dtm run per quarter.

    Seed 1: from seed 0's start the chain that holds football in 2020 is taken over by space in
    2021 while a chain idle until then takes tennis; a topic's identity over time is not guaranteed
    (docs/dynamic.md). Seeds 1-3 keep one chain per group."""
    root = tmp_path_factory.mktemp("dtm")
    prepared = prepare(write_drift_articles(root / "articles"), root / "prepared")
    run = create_run(prepared, TrainConfig(**DTM), seed=1, run_dir=root / "run")
    return prepared, run


@pytest.fixture
def run_copy(drift, tmp_path):
    root = drift[1].path.parent
    shutil.copytree(root / "prepared", tmp_path / "prepared")
    shutil.copytree(root / "run", tmp_path / "run")
    return load_run(tmp_path / "run")


def test_the_run_holds_topics_per_period_and_their_mean(drift):
    _, run = drift
    by_period = np.load(run.path / "model" / "topic_words_by_period.npy")
    assert by_period.shape == (6, 3, len(run.model.vocabulary))
    assert np.allclose(by_period.sum(axis=2), 1)
    assert np.allclose(run.model.topic_word, by_period.mean(axis=0))
    periods = pd.read_csv(run.path / "model" / "periods.csv")
    assert list(periods.columns) == ["timepoint", "period", "start", "documents"]
    assert periods["period"].tolist() == ["2020Q1", "2020Q2", "2020Q3", "2020Q4", "2021Q1", "2021Q2"]
    assert periods["start"].tolist()[:2] == ["2020-01-01", "2020-04-01"] and periods["documents"].sum() == 170
    assert run.manifest["engine"] == "dtm" and run.manifest["reproducible"]
    assert run.run_config["model"]["period"] == "quarter" and run.run_config["engine_parameters"]["t"] == 6
    run.verify()


def test_the_models_own_topics_per_period_show_the_vocabulary_switch(drift):
    _, run = drift
    table = trend_words(run, words=8)  # the run's own period: quarter
    assert (table["source"] == "model").all() and table.attrs["period"] == "quarter"
    assert table["period"].nunique() == 6
    for group, marker in (("energy", "gas"), ("sport", "sport")):
        _, early, late = (set(part.split()) for part in DRIFT[group])
        holders = table[table["word"] == marker]
        assert holders["topic"].nunique() == 1 and len(holders) == 6, holders  # one chain, every quarter
        rows = table[table["topic"] == holders["topic"].iloc[0]]
        assert rows["sufficient"].all()
        for period, words in rows.groupby("period")["word"]:
            listed = set(words)
            if period < SWITCH.isoformat():
                assert len(listed & early) >= 3 and not listed & late, (group, period, listed)
            elif period < LATE_START.isoformat():  # the quarter of the switch: the topic drifts, not jumps
                assert len(listed & late) >= 2, (group, period, listed)
            else:
                assert len(listed & late) >= 3 and not listed & early, (group, period, listed)
    # relevance ranks against the topic's mean over the quarters (the run's topic_word)
    relevant = trend_words(run, words=3, ranking="relevance", relevance_lambda=0.3)
    assert (relevant["source"] == "model").all() and relevant["sufficient"].sum() == len(relevant[relevant["rank"] == 1]) * 3


def test_a_late_topic_has_near_zero_prevalence_before_it_appears(drift):
    _, run = drift
    table = trend_words(run, words=5)
    late = table[table["word"] == "rocket"]["topic"].unique()
    assert len(late) == 1
    prevalence = topic_trends(run, "quarter").prevalence[f"topic_{late[0]}"]
    assert (prevalence[prevalence.index < LATE_START.isoformat()] < 0.05).all()


def test_another_period_is_refused_unless_the_documents_are_asked(drift):
    _, run = drift
    with pytest.raises(RunError, match="topics are per quarter .* not per month; ask for period quarter"):
        trend_words(run, "month")
    documents = trend_words(run, "month", words=3, source="documents")
    assert (documents["source"] == "documents").all() and documents["period"].nunique() == 18


def test_same_seed_same_model_and_the_saved_model_infers(drift, tmp_path):
    prepared, run = drift
    first = train_lda(prepared, TrainConfig(**DTM), seed=3)
    second = train_lda(prepared, TrainConfig(**DTM), seed=3)
    assert np.array_equal(first.model.topic_word, second.model.topic_word)
    assert np.array_equal(first.model.doc_topics, second.model.doc_topics)
    other = train_lda(prepared, TrainConfig(**DTM), seed=4)
    assert not np.array_equal(first.model.topic_word, other.model.topic_word)
    native = run.native_model()
    assert native.names[0] == "2020Q1" and native.topic_words.shape[0] == 6
    gas = run.model.vocabulary.index("gas")
    shares = infer_doc_topics("dtm", native, [[(gas, 5.0)], []], seed=0)
    assert shares.shape == (2, 3) and np.allclose(shares.sum(axis=1), 1) and np.allclose(shares[1], 1 / 3)


def test_undated_documents_are_refused_with_a_count(tmp_path):
    prepared = prepare(write_dated_articles(tmp_path / "articles"), tmp_path / "prepared")  # every 10th undated
    with pytest.raises(CorpusError, match=r"12 of 120 documents have no date \(first: .*\); engine 'dtm'"):
        train_lda(prepared, TrainConfig(**DTM), seed=0)
    result = invoke("train", tmp_path / "prepared", "--out", tmp_path / "run", "--engine", "dtm")
    assert result.exit_code == 2 and "12 of 120 documents have no date" in result.output
    assert not (tmp_path / "run").exists()


def test_an_empty_period_is_refused_before_tomotopy_sees_it(drift, tmp_path):
    prepared, _ = drift
    with pytest.raises(CorpusError, match=r"no training document with words is dated in 2020-06 .*choose a coarser period"):
        train_lda(prepared, TrainConfig(**{**DTM, "period": "month"}), seed=0)
    # more time slices than documents: three documents over three years
    articles = tmp_path / "few"
    articles.mkdir()
    for i, (year, text) in enumerate(((2018, "gas oil price"), (2019, "sport team match"), (2021, "rocket orbit moon"))):
        (articles / f"{i}.txt").write_text(f"# Story {i}\n\nMay 1, {year}\n\n{text}.\n", encoding="utf-8")
    few = prepare(articles, tmp_path / "few-prepared")
    with pytest.raises(CorpusError, match=r"37 time slices \(months from 2018-05 to 2021-05\) but only 3"):
        train_lda(few, TrainConfig(**{**DTM, "period": "month"}), seed=0)
    result = invoke("train", tmp_path / "few-prepared", "--out", tmp_path / "run", "--engine", "dtm", "-k", 3, "--period", "year")
    assert result.exit_code == 2 and "4 time slices (years from 2018 to 2021) but only 3" in result.output


def test_train_evaluate_show_and_trends_commands_on_a_dtm_run(drift, tmp_path):
    prepared, _ = drift
    out = tmp_path / "cli-run"
    result = invoke("train", prepared.path, "--out", out, "--engine", "dtm", "-k", 3, "--period", "quarter", "--iterations", 100)
    assert result.exit_code == 0, result.output
    assert (out / "model" / "topic_words_by_period.npy").is_file()
    result = invoke("evaluate", out)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert np.isfinite(metrics["c_npmi"])
    result = invoke("show", out, "--words", 5)
    assert result.exit_code == 0, result.output
    result = invoke("trends", out, "--period", "quarter", "--words", 5)
    assert result.exit_code == 0, result.output
    words = pd.read_csv(out / "trend_words.csv")
    assert (words["source"] == "model").all()
    load_run(out).verify()


def test_the_report_has_a_words_timeline_per_topic_for_dynamic_and_static_runs(run_copy, tmp_path):
    page = write_report(run_copy.path).read_text(encoding="utf-8")
    assert page.count('<table class="timeline">') == 3
    assert "top 5 words per quarter (the model&#x27;s own topic per period" in page
    assert "<th>2020 Q1</th>" in page and "<th>2021 Q2</th>" in page
    # a static run of the same corpus: words from the documents; 18 months become 6 quarters
    static = create_run(run_copy.prepared, TrainConfig(num_topics=3, passes=10), seed=0, run_dir=tmp_path / "static")
    page = write_report(static.path).read_text(encoding="utf-8")
    assert page.count('<table class="timeline">') == 3
    assert "top 5 words per quarter (from the documents&#x27; topic shares" in page
    assert "<b>" in page  # words new since the period before


def test_period_is_part_of_a_dtm_config_only():
    """Other engines ignore ``period``: their dumps (and so their run hashes) leave it out, as before it existed."""
    assert "period" not in TrainConfig(engine="tomotopy", period="month").model_dump(mode="json")
    assert TrainConfig(engine="dtm", period="month").model_dump(mode="json")["period"] == "month"
    assert TrainConfig(engine="dtm").period == "year"
    assert TrainConfig(period="month").fingerprint() == TrainConfig().fingerprint()


def test_experiment_report_puts_a_static_and_a_dynamic_run_side_by_side(drift, tmp_path):
    articles = drift[0].path.parent / "articles"
    experiment = tmp_path / "both.toml"
    experiment.write_text(
        f"""name = "both"
seeds = [1]

[corpus]
source = "{articles}"

[preprocess]
no_below = 1

[model]
engine = ["gensim", "dtm"]
num_topics = 3
period = "quarter"
passes = 20
iterations = 300

[evaluate]
measures = ["c_npmi"]
""",
        encoding="utf-8",
    )
    result = invoke("run", experiment, "--results", tmp_path / "results", "--jobs", 1)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "results" / "both"
    assert invoke("report", folder).exit_code == 0
    page = (folder / "report.html").read_text(encoding="utf-8")
    runs = pd.read_csv(folder / "runs.csv")
    assert set(runs["engine"]) == {"gensim", "dtm"}
    assert "Static and dynamic runs side by side" in page
    for run_id in runs["run_id"]:  # both runs in detail, each once
        assert page.count(f'<h2 id="run">Run {run_id}:') == 1
