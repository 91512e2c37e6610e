"""Diversity, rank-biased overlap, stability, held-out perplexity and label agreement, on real text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from topics.config import CorpusConfig, EvaluateConfig, PreprocessConfig, TrainConfig
from topics.corpus.stream import Corpus, read_corpus
from topics.errors import ConfigError
from topics.evaluation.measures import (
    inverted_rbo,
    match_topics,
    rank_biased_overlap,
    stability,
    topic_diversity,
)
from topics.evaluation.scoring import evaluate
from topics.preprocessing.prepare import preprocess
from topics.runs.run import create_run
from topics.training.model import TopicModel


def model_from_rows(rows: list[list[float]], vocabulary: list[str] | None = None) -> TopicModel:
    topic_word = np.asarray(rows, dtype=float)
    topic_word /= topic_word.sum(axis=1, keepdims=True)
    vocabulary = vocabulary or [f"w{i}" for i in range(topic_word.shape[1])]
    return TopicModel(topic_word, np.full((1, len(rows)), 1 / len(rows)), vocabulary, ["d"], np.ones(len(vocabulary), int))


def test_diversity_counts_unique_top_words():
    # two topics over 4 words, top 2 of each: {w0, w1} and {w1, w2} -> 3 unique of 4
    model = model_from_rows([[4, 3, 1, 0.5], [0.5, 3, 4, 1]])
    assert topic_diversity(model, topn=2) == pytest.approx(0.75)
    assert topic_diversity(model_from_rows([[4, 3, 1, 0.5], [0.5, 1, 4, 3]]), topn=2) == 1.0


def test_rank_biased_overlap_bounds():
    assert rank_biased_overlap(list("abcdefghij"), list("abcdefghij")) == pytest.approx(1.0)
    assert rank_biased_overlap(list("abcde"), list("vwxyz")) == 0.0
    partial = rank_biased_overlap(list("abcde"), list("abxyz"))
    assert 0 < partial < 1
    # agreement at the top weighs more than agreement at the bottom
    assert partial > rank_biased_overlap(list("abcde"), list("xyzab"))
    identical = model_from_rows([[4, 3, 1, 0.5], [4, 3, 1, 0.5]])
    assert inverted_rbo(identical, topn=3) == pytest.approx(0.0)


def test_matching_undoes_a_permutation_of_topics():
    model = model_from_rows([[5, 1, 1, 1], [1, 5, 1, 1], [1, 1, 5, 1]])
    permuted = TopicModel(model.topic_word[[2, 0, 1]], model.doc_topics, model.vocabulary, model.doc_ids, model.term_frequency)
    rows, cols, similarity = match_topics(model, permuted)
    assert list(cols[np.argsort(rows)]) == [1, 2, 0]
    np.testing.assert_allclose(similarity, 1.0)
    assert stability([model, permuted]) == {"stability": pytest.approx(1.0), "stability_reappear": 1.0}
    with pytest.raises(ConfigError):
        stability([model])


@pytest.fixture(scope="module")
def lee_heldout(tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "lee-heldout"
    return preprocess(read_corpus("sample:lee"), PreprocessConfig(heldout=0.2, split_seed=1), out, processes=1)


def test_heldout_perplexity_is_gensims_bound(lee_heldout, tmp_path):
    documents = lee_heldout.documents
    assert (documents.split == "test").sum() == 60
    run = create_run(lee_heldout, TrainConfig(num_topics=5, passes=5), 0, tmp_path / "run")
    result = evaluate(run, EvaluateConfig(measures=["perplexity"]))
    lda = run.native_model()
    lda.random_state = np.random.RandomState(0)
    bound = lda.log_perplexity(list(lee_heldout.bow("test")), total_docs=240)
    assert result.metrics["per_word_bound"] == pytest.approx(bound)
    assert result.metrics["perplexity"] == pytest.approx(np.exp(-bound))
    # scaled to the training corpus, the corpus-wide term no longer swamps the held-out documents
    assert bound > lda.log_perplexity(list(lee_heldout.bow("test")))
    # the same run scored again gives the same number
    assert evaluate(run, EvaluateConfig(measures=["perplexity"])).metrics["perplexity"] == result.metrics["perplexity"]


def test_relevance_ranking_is_scored_and_recorded(lee_heldout, tmp_path):
    """λ-relevance (Sievert and Shirley 2014) promotes words specific to a topic over words frequent
    everywhere; λ = 1 is ranking by probability. Every score says which ranking it used."""
    from typer.testing import CliRunner

    from topics.cli import app

    run = create_run(lee_heldout, TrainConfig(num_topics=5, passes=5), 0, tmp_path / "run")
    model = run.model
    by_probability = model.top_words(10)
    assert model.top_words(10, "relevance", 1.0) == by_probability
    by_relevance = model.top_words(10, "relevance", 0.3)
    assert by_relevance != by_probability
    share = model.term_frequency / model.term_frequency.sum()
    index = {word: i for i, word in enumerate(model.vocabulary)}
    mean_share = lambda topics: np.mean([share[index[w]] for words in topics for w in words])
    assert mean_share(by_relevance) < mean_share(by_probability)  # rarer, more topic-specific words

    result = CliRunner().invoke(
        app, ["evaluate", str(run.path), "-m", "c_npmi", "--ranking", "relevance", "--relevance-lambda", "0.3"]
    )
    assert result.exit_code == 0, result.output
    written = json.loads((run.path / "metrics.json").read_text())["settings"]["c_npmi"]
    assert (written["ranking"], written["relevance_lambda"]) == ("relevance", 0.3)
    relevance_score = evaluate(run, EvaluateConfig(measures=["c_npmi"], ranking="relevance", relevance_lambda=0.3))
    probability_score = evaluate(run, EvaluateConfig(measures=["c_npmi"]))
    assert relevance_score.settings["c_npmi"]["ranking"] == "relevance"
    assert relevance_score.settings["c_npmi"]["relevance_lambda"] == 0.3
    assert probability_score.settings["c_npmi"]["relevance_lambda"] is None
    assert relevance_score.metrics["c_npmi"] != probability_score.metrics["c_npmi"]


def test_perplexity_without_heldout_is_a_clear_error(tmp_path):
    prepared = preprocess(read_corpus("sample:lee"), PreprocessConfig(), tmp_path / "p", processes=1)
    run = create_run(prepared, TrainConfig(num_topics=3, passes=1), 0, tmp_path / "run")
    with pytest.raises(ConfigError, match="heldout"):
        evaluate(run, EvaluateConfig(measures=["perplexity"]))


def test_topics_agree_with_bbc_categories(shared_data, tmp_path):
    corpus = Corpus(CorpusConfig(source=str(shared_data / "bbc-news-preprocessed"), format="octis"))
    prepared = preprocess(corpus, PreprocessConfig(), tmp_path / "bbc", processes=1)
    run = create_run(prepared, TrainConfig(num_topics=5, passes=10), 0, tmp_path / "run")
    scores = evaluate(run, EvaluateConfig(measures=["nmi", "ari", "accuracy"])).metrics
    # five news categories: topics should track them far better than chance (NMI 0, accuracy ~0.23)
    assert scores["nmi"] > 0.3
    assert scores["ari"] > 0.15
    assert scores["accuracy"] > 0.7


def test_scoring_and_the_topic_table_leave_the_document_ids_unread(lee_heldout, tmp_path):
    """A million ids are 70 MB of Python strings: a loaded run reads doc_ids.json only when asked."""
    from topics.cli.render import topics_table
    from topics.runs.run import load_run

    create_run(lee_heldout, TrainConfig(num_topics=4, passes=1), 0, tmp_path / "run")
    run = load_run(tmp_path / "run")
    evaluation = evaluate(run, EvaluateConfig(measures=["c_npmi", "u_mass", "diversity"]))
    topics_table(run.model, topic_metrics=evaluation.topic_metrics)
    assert "_ids" not in vars(run.model.doc_ids)  # the cached list was never made
    ids = list(lee_heldout.doc_ids())
    assert len(run.model.doc_ids) == 300 and run.model.doc_ids == ids and run.model.doc_ids[5] == ids[5]
