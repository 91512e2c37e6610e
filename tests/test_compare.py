"""Comparing runs: aggregates over seeds with their spread, the best-vs-runner-up test, topic matching."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from topics.cli import app
from topics.config import PreprocessConfig, TrainConfig
from topics.errors import ConfigError
from topics.experiment.statistics import (
    aggregate,
    best_run_id,
    confidence_interval,
    permutation_test,
    summary_markdown,
)
from topics.reading.compare import compare_experiments, compare_runs


def runs_table(scores: dict[int, list[float]], metric: str = "c_npmi") -> pd.DataFrame:
    rows = []
    for k, values in scores.items():
        for seed, value in enumerate(values):
            rows.append(
                {
                    "run_id": f"k{k}-seed{seed}",
                    "status": "complete",
                    "num_topics": k,
                    "seed": seed,
                    metric: value,
                    "wall_seconds": 1.0,
                    "error": "",
                }
            )
    return pd.DataFrame(rows)


def test_permutation_test_is_exact_for_few_seeds():
    # pooled 1,2,3,4: of the 6 splits two are as extreme as {1,2} vs {3,4}
    assert permutation_test([1, 2], [3, 4]) == pytest.approx(2 / 6)
    assert permutation_test([1, 2, 3], [1, 2, 3]) == 1.0
    assert permutation_test(np.arange(10), np.arange(10) + 100) < 0.001


def test_confidence_interval_is_students_t():
    values = np.array([0.083, 0.057, 0.073])
    low, high = confidence_interval(values)
    expected = stats.t.interval(0.95, 2, loc=values.mean(), scale=stats.sem(values))
    assert (low, high) == pytest.approx(expected)
    assert all(math.isnan(v) for v in confidence_interval(np.array([0.1])))


def test_aggregate_sorts_marks_best_and_tests_it_against_the_runner_up():
    table = runs_table({10: [0.05, 0.06, 0.055], 30: [0.083, 0.057, 0.073], 50: [0.01, 0.02, 0.015]})
    comparison = aggregate(table, "c_npmi")
    result = comparison.table
    assert list(result["num_topics"]) == [30, 10, 50]
    assert list(result["best"]) == ["*", "", ""]
    assert result.loc[0, "c_npmi_mean"] == pytest.approx(0.071)
    assert result.loc[0, "c_npmi_std"] == pytest.approx(np.std([0.083, 0.057, 0.073], ddof=1))
    assert result.loc[0, "seeds"] == 3
    assert comparison.best == {"num_topics": 30} and comparison.runner_up == {"num_topics": 10}
    assert comparison.p_value == pytest.approx(permutation_test([0.083, 0.057, 0.073], [0.05, 0.06, 0.055]))
    assert not comparison.distinguishable and "not distinguishable" in comparison.verdict()


def test_many_clear_seeds_are_distinguishable():
    rng = np.random.default_rng(0)
    table = runs_table({10: list(0.05 + 0.001 * rng.standard_normal(8)), 20: list(0.08 + 0.001 * rng.standard_normal(8))})
    comparison = aggregate(table, "c_npmi")
    assert comparison.best == {"num_topics": 20} and comparison.distinguishable and comparison.p_value < 0.01


def test_lower_perplexity_is_better_and_failed_runs_are_left_out():
    table = runs_table({5: [900.0, 910.0], 10: [800.0, 805.0]}, metric="perplexity")
    table.loc[len(table)] = {
        "run_id": "k20",
        "status": "failed",
        "num_topics": 20,
        "seed": 0,
        "perplexity": np.nan,
        "wall_seconds": 0,
        "error": "boom",
    }
    result = aggregate(table, "perplexity").table
    assert list(result["num_topics"]) == [10, 5]


def test_unknown_metric_or_parameter_lists_the_valid_ones():
    table = runs_table({5: [0.1]})
    with pytest.raises(ConfigError, match="unknown metric 'c_vv'; choose from c_npmi"):
        aggregate(table, "c_vv")
    with pytest.raises(ConfigError, match="unknown parameter 'alpha'"):
        aggregate(table, "c_npmi", by=["alpha"])


def test_summary_names_the_best_setting_and_failed_runs():
    table = runs_table({5: [0.1, 0.12], 10: [0.2, 0.21]})
    table.loc[len(table)] = {
        "run_id": "k99-seed0-x",
        "status": "failed",
        "num_topics": 99,
        "seed": 0,
        "c_npmi": np.nan,
        "wall_seconds": 0,
        "error": "too many topics",
    }
    text = summary_markdown(table, "demo", "c_npmi", ["num_topics"])
    assert "# demo" in text and "Best by c_npmi" in text and "best: num_topics=10" in text
    assert "`k99-seed0-x`: too many topics" in text


@pytest.fixture()
def two_experiments(tmp_path):
    for name, scores in (("a", {5: [0.1, 0.11], 10: [0.2, 0.19]}), ("b", {5: [0.3, 0.31]})):
        folder = tmp_path / name
        folder.mkdir()
        runs_table(scores).to_csv(folder / "runs.csv", index=False)
    return tmp_path / "a", tmp_path / "b"


def test_compare_works_across_experiments(two_experiments):
    comparison = compare_experiments(two_experiments, "c_npmi")
    assert list(comparison.table["experiment"]) == ["b", "a", "a"]
    assert comparison.best == {"experiment": "b", "num_topics": 5}


@pytest.mark.parametrize("output", ["table", "csv", "markdown"])
def test_cli_compare_formats(two_experiments, output):
    result = CliRunner().invoke(
        app, ["compare", *map(str, two_experiments), "--metric", "c_npmi", "--by", "num_topics", "--format", output]
    )
    assert result.exit_code == 0, result.output
    if output == "csv":
        frame = pd.read_csv(pd.io.common.StringIO(result.output))
        assert frame.loc[0, "best"] == "*" and frame.loc[0, "num_topics"] == 5 and frame.loc[0, "seeds"] == 2
        assert frame.loc[0, "experiment"] == "b"  # experiments are kept apart
    elif output == "markdown":
        assert result.output.startswith("| best | experiment | num_topics | seeds | c_npmi_mean |")
    else:
        assert "95% CI" in result.output and "permutation test" in result.output


def test_cli_compare_unknown_folder_is_an_error(tmp_path):
    result = CliRunner().invoke(app, ["compare", str(tmp_path)])
    assert result.exit_code == 2 and "not an experiment results folder" in result.output


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    from topics.corpus.stream import read_corpus
    from topics.preprocessing.prepare import preprocess
    from topics.runs.run import create_run

    folder = tmp_path_factory.mktemp("runs")
    prepared = preprocess(
        read_corpus("sample:lee"), PreprocessConfig(lemmatize=False, phrases="none", no_below=3), folder / "lee", processes=1
    )
    a = create_run(prepared, TrainConfig(num_topics=3, passes=2), 0, folder / "a")
    b = create_run(prepared, TrainConfig(num_topics=5, passes=2), 1, folder / "b")
    return a, b


def test_compare_runs_matches_topics_one_to_one(two_runs):
    a, b = two_runs
    match = compare_runs(a.path, b.path, topn=5)
    assert len(match.matched) == 3 and sorted(match.matched["topic_a"]) == [0, 1, 2]
    assert match.matched["topic_b"].is_unique
    assert list(match.matched["similarity"]) == sorted(match.matched["similarity"], reverse=True)
    assert len(match.unmatched_a) == 0 and len(match.unmatched_b) == 2
    assert len(match.matched["words_a"][0].split()) == 5
    same = compare_runs(a.path, a.path)
    assert np.allclose(same.matched["similarity"], 1.0)


def test_cli_compare_two_runs(two_runs):
    a, b = two_runs
    result = CliRunner().invoke(app, ["compare", str(a.path), str(b.path), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("topic_a,topic_b,similarity,words_a,words_b")
    assert "topic,words" in result.output  # b's two unmatched topics


def test_the_best_run_is_the_best_seed_of_the_best_setting():
    # K = 15 has the single best run (0.30) but the worse mean; the best run must come from K = 10
    table = runs_table({10: [0.10, 0.12, 0.11], 15: [0.30, -0.20, -0.20]})
    run_id, comparison = best_run_id(table, "c_npmi")
    assert comparison.best == {"num_topics": 10}
    assert run_id == "k10-seed1"
