"""Reading a run: labels, trends over time, words and coherence per period, representative documents,
inference; the CLI commands `show`, `trends`, `infer` and `evaluate --by-period` with their errors. On
generated dated articles with planted topics, and with planted drift."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dated_articles import write_dated_articles
from helpers import invoke
from topics.config import PreprocessConfig, TrainConfig
from topics.corpus.stream import read_corpus
from topics.errors import ConfigError, RunError
from topics.preprocessing.prepare import preprocess
from topics.reading import evaluate_by_period, infer_texts, representative_documents, topic_trends, trend_words
from topics.reading.labels import automatic_labels, topic_labels
from topics.runs.run import create_run, load_run


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
    assert {"trends.csv", "trends.png"} <= set(run.manifest["outputs"])
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
    with pytest.raises(RunError, match="none of its 30 documents has a date, so there are no words per period"):
        trend_words(run)
    result = invoke("trends", run.path, "--words", 5)
    assert result.exit_code == 2 and "no words per period" in result.output and "Traceback" not in result.output
    assert not (run.path / "trend_words.csv").exists()
    result = invoke("evaluate", run.path, "--by-period", "month")
    assert result.exit_code == 2 and "there is no coherence over time" in result.output
    assert not (run.path / "metrics.json").exists()  # refused before scoring


def test_writing_trends_leaves_the_users_matplotlib_backend_alone(dated_run):
    import matplotlib

    matplotlib.use("svg")  # a notebook user's choice
    from topics.reading import write_trends

    write_trends(dated_run, "month")
    assert matplotlib.get_backend() == "svg"
    assert (dated_run.path / "trends.png").read_bytes().startswith(b"\x89PNG")


# --- words and coherence per period -------------------------------------------------------------

DRIFT = {  # group: (core words, words before SWITCH, words from SWITCH on)
    "energy": ("gas energy supply oil", "pipeline price barrel refinery tanker", "sanction embargo ban tariff penalty"),
    "sport": ("sport team player match", "football goal striker referee stadium", "tennis racket serve court wimbledon"),
}
LATE = "rocket orbit satellite astronaut launch mission planet telescope"  # only from LATE_START on
START, SWITCH, LATE_START = dt.date(2020, 1, 1), dt.date(2020, 10, 1), dt.date(2021, 1, 1)
GAP = (2020, 6)  # no article is dated in June 2020


def write_drift_articles(folder: Path, n: int = 180, seed: int = 0) -> Path:
    """Articles every three days from 2020-01-01 (18 months): energy and sport throughout, each 60 %
    core words and 40 % words of its era, whose vocabulary switches on 2020-10-01 (halfway); space
    only in the last six months; none in June 2020."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for i in range(n):
        day = START + dt.timedelta(days=3 * i)
        if (day.year, day.month) == GAP:
            continue
        group = rng.choice(["energy", "sport"] + (["space"] if day >= LATE_START else []))
        if group == "space":
            words = [rng.choice(LATE.split()) for _ in range(60)]
        else:
            core, early, late = (part.split() for part in DRIFT[group])
            era = early if day < SWITCH else late
            words = [rng.choice(core) if rng.random() < 0.6 else rng.choice(era) for _ in range(60)]
        (folder / f"{i:03d}_{group}.txt").write_text(
            f"# {group.title()} story {i}\n\n{day:%B} {day.day}, {day.year}\n\n{' '.join(words)}.\n\n"
            f"Original url:\n\n<https://example.org/{group}/{i}>\n",
            encoding="utf-8",
        )
    return folder


@pytest.fixture(scope="module")
def drift_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("drift")
    articles = write_drift_articles(root / "articles")
    prepared = preprocess(read_corpus(articles), PreprocessConfig(no_below=1, phrases="none"), root / "prepared", processes=1)
    return create_run(prepared, TrainConfig(num_topics=3, passes=10), seed=0, run_dir=root / "run")


def drift_topics(run) -> dict[str, int]:
    top = run.model.top_words(10)
    return {group: next(k for k, words in enumerate(top) if word in words) for group, word in DRIFT_MARKERS.items()}


DRIFT_MARKERS = {"energy": "gas", "sport": "sport", "space": "rocket"}


def test_trend_words_show_the_planted_vocabulary_switch(drift_run):
    topics = drift_topics(drift_run)
    assert len(set(topics.values())) == 3
    table = trend_words(drift_run, "quarter", words=10)
    assert list(table.columns) == ["period", "topic", "rank", "word", "weight", "documents", "sufficient", "min_docs", "source"]
    assert table["period"].unique().tolist() == [f"{y}-{m:02d}-01" for y in (2020, 2021) for m in (1, 4, 7, 10)][:6]
    for group in DRIFT:
        _, early, late = (set(part.split()) for part in DRIFT[group])
        rows = table[(table["topic"] == topics[group]) & table["sufficient"]]
        before = rows[rows["period"] < SWITCH.isoformat()]
        after = rows[rows["period"] >= SWITCH.isoformat()]
        assert before["period"].nunique() == 3 and after["period"].nunique() >= 1
        # the top 10: the core and the era's words (and maybe a stray word another topic lends)
        for period, words in before.groupby("period")["word"]:
            assert len(set(words) & early) >= 4 and not set(words) & late, (group, period, list(words))
        for period, words in after.groupby("period")["word"]:
            assert len(set(words) & late) >= 4 and not set(words) & early, (group, period, list(words))
        # ranked by relevance against the topic overall (λ 0.3), the era's words come first
        relevant = trend_words(drift_run, "quarter", words=3, ranking="relevance", relevance_lambda=0.3)
        relevant = relevant[(relevant["topic"] == topics[group]) & relevant["sufficient"]]
        for period, words in relevant.groupby("period")["word"]:
            assert set(words) <= (early if period < SWITCH.isoformat() else late), (group, period, list(words))


def test_a_topic_that_appears_late_has_near_zero_prevalence_and_no_words_before(drift_run):
    space = drift_topics(drift_run)["space"]
    prevalence = topic_trends(drift_run, "quarter").prevalence[f"topic_{space}"]
    assert (prevalence[prevalence.index < LATE_START.isoformat()] < 0.02).all()
    assert (prevalence[prevalence.index >= LATE_START.isoformat()] > 0.2).all()
    table = trend_words(drift_run, "quarter", words=5)
    rows = table[table["topic"] == space]
    early = rows[rows["period"] < LATE_START.isoformat()]
    assert (~early["sufficient"]).all() and (early["word"] == "").all() and early["rank"].isna().all()
    assert (early["documents"] < 1).all()
    late = rows[rows["period"] >= LATE_START.isoformat()]
    assert late["sufficient"].all() and set(late["word"]) <= set(LATE.split())


def test_insufficient_and_empty_periods_are_marked_not_filled(drift_run):
    table = trend_words(drift_run, "month", words=4, min_docs=5)
    num_topics = drift_run.model.num_topics
    pairs = table.drop_duplicates(["period", "topic"])
    assert len(table["period"].unique()) == 18 and len(pairs) == 18 * num_topics  # June 2020 kept
    june = table[table["period"] == "2020-06-01"]
    assert len(june) == num_topics and (june["documents"] == 0).all() and (~june["sufficient"]).all()
    assert (table["min_docs"] == 5).all()
    assert ((pairs["documents"] >= 5) == pairs["sufficient"]).all()
    short = table[~table["sufficient"]]
    assert len(short) > num_topics  # beyond June: the months where a topic has fewer than 5 documents
    assert short["weight"].isna().all() and (short["word"] == "").all()
    full = table[table["sufficient"]]
    assert (full.groupby(["period", "topic"]).size() == 4).all()
    assert (full.groupby(["period", "topic"])["weight"].apply(lambda w: w.is_monotonic_decreasing)).all()


def brute_force_words(run, period_code: str, n: int, lam: float | None, min_docs: float):
    """{(period, topic): [(word, weight), ...]} by loops over documents and tokens (lam None: by probability)."""
    metadata = run.prepared.documents.set_index("id")
    theta = run.model.doc_topics / run.model.doc_topics.sum(axis=1, keepdims=True)
    counts: dict = defaultdict(lambda: defaultdict(float))
    effective: dict = defaultdict(float)
    for d, (doc_id, tokens) in enumerate(zip(run.model.doc_ids, run.prepared.texts())):
        date = metadata.loc[doc_id, "date"]
        if not date:
            continue
        label = pd.Period(date, freq=period_code).start_time.date().isoformat()
        for k in range(run.model.num_topics):
            effective[label, k] += theta[d, k]
            for word in tokens:
                counts[label, k][word] += theta[d, k]
    pooled: dict = defaultdict(lambda: defaultdict(float))
    for (_, k), words in counts.items():
        for word, value in words.items():
            pooled[k][word] += value
    result = {}
    for (label, k), words in counts.items():
        if effective[label, k] < min_docs:
            result[label, k] = []
            continue
        mass = sum(words.values())
        p = {w: v / mass for w, v in words.items() if v > 0}
        if lam is None:
            score = {w: np.log(v) for w, v in p.items()}
        else:
            total = sum(pooled[k].values())
            score = {w: lam * np.log(v) + (1 - lam) * np.log(v / (pooled[k][w] / total)) for w, v in p.items()}
        best = sorted(p, key=lambda w: -score[w])[:n]
        result[label, k] = [(w, p[w], score[w], effective[label, k]) for w in best]
    return result


@pytest.mark.parametrize("ranking", ["probability", "relevance"])
def test_trend_words_agree_with_a_brute_force_loop(dated_run, ranking):
    lam = None if ranking == "probability" else 0.4
    expected = brute_force_words(dated_run, "M", 6, lam, min_docs=3)
    table = trend_words(dated_run, "month", words=6, ranking=ranking, relevance_lambda=0.4, min_docs=3)
    pairs = table.drop_duplicates(["period", "topic"])
    assert {(p, k) for p, k in zip(pairs["period"], pairs["topic"])} == set(expected)
    for (label, k), rows in table.groupby(["period", "topic"]):
        want = expected[label, k]
        assert bool(rows["sufficient"].iloc[0]) == bool(want)
        if not want:
            continue
        np.testing.assert_allclose(rows["documents"].iloc[0], want[0][3], rtol=1e-9)
        # compared by value, not word by word: exactly tied words may come in either order
        np.testing.assert_allclose(sorted(rows["weight"]), sorted(w[1] for w in want), rtol=1e-9)
        got = dict(zip(rows["word"], rows["weight"]))
        for word, weight, _, _ in want:
            if word in got:
                assert got[word] == pytest.approx(weight, rel=1e-9)
        assert list(rows["rank"]) == list(range(1, len(want) + 1))


def test_trends_command_writes_trend_words_and_evaluate_scores_each_period(run_copy):
    result = invoke("trends", run_copy.path, "--period", "quarter", "--words", 5, "--min-docs", 3)
    assert result.exit_code == 0, result.output
    output = result.output.replace("\n", "")  # rich wraps long paths
    assert "trend_words.csv" in output and "(period, topic) pairs" in output
    table = pd.read_csv(run_copy.path / "trend_words.csv", keep_default_na=False, na_values=[""])
    assert list(table.columns) == ["period", "topic", "rank", "word", "weight", "documents", "sufficient", "min_docs", "source"]
    assert table["period"].iloc[0] == "2020-01-01" and (table["min_docs"] == 3).all()
    assert len(pd.read_csv(run_copy.path / "trends.csv")) == table["period"].nunique()

    result = invoke("evaluate", run_copy.path, "--by-period", "quarter", "--measure", "c_npmi")
    assert result.exit_code == 0, result.output
    assert "period_metrics.csv" in result.output.replace("\n", "")
    metrics = pd.read_csv(run_copy.path / "period_metrics.csv", dtype={"topic": str})
    assert list(metrics.columns) == ["period", "topic", "documents", "sufficient", "c_npmi", "diversity"]
    topics = metrics[metrics["topic"] != "all"]
    summary = metrics[metrics["topic"] == "all"]
    assert len(summary) == metrics["period"].nunique() == table["period"].nunique()
    assert topics["sufficient"].any()
    assert np.isfinite(topics.loc[topics["sufficient"], "c_npmi"]).all()
    assert topics.loc[~topics["sufficient"], "c_npmi"].isna().all()
    assert summary["diversity"].between(0, 1).all()
    run = load_run(run_copy.path)
    run.verify()
    assert {"trend_words.csv", "period_metrics.csv", "metrics.json"} <= set(run.manifest.get("outputs", run.manifest["files"]))
    run.native_model()

    result = invoke("evaluate", run_copy.path, "--by-period", "day")
    assert result.exit_code == 2 and "unknown period 'day'" in result.output
    result = invoke("trends", run_copy.path, "--words", 3, "--ranking", "lift")
    assert result.exit_code == 2 and "unknown ranking 'lift'" in result.output


def test_coherence_per_period_counts_only_the_periods_documents(drift_run):
    table = evaluate_by_period(drift_run, "quarter", topn=5)
    topics = drift_topics(drift_run)
    energy = table[table["topic"] == str(topics["energy"])]
    assert energy["sufficient"].all() or energy["sufficient"].sum() >= 4
    assert np.isfinite(energy.loc[energy["sufficient"], "c_npmi"]).all()
    space = table[table["topic"] == str(topics["space"])]
    assert space.loc[space["period"] < LATE_START.isoformat(), "c_npmi"].isna().all()
    summary = table[table["topic"] == "all"].set_index("period")
    # before space appears two topics with disjoint words: every top word is unique
    assert (summary.loc[summary.index < LATE_START.isoformat(), "diversity"] == 1.0).all()
