"""Coherence: agreement with gensim 4.4's CoherenceModel, topic by topic, and window counts
against brute-force definitions (textbook boolean windows; gensim's incremental window)."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest
from gensim.corpora import Dictionary
from gensim.models import CoherenceModel, LdaModel
from gensim.parsing.preprocessing import STOPWORDS
from gensim.test.utils import datapath
from gensim.topic_coherence import text_analysis
from gensim.utils import simple_preprocess
from hypothesis import given, settings
from hypothesis import strategies as st

from topics.errors import ConfigError
from topics.evaluation.coherence import MEASURES, score, score_models
from topics.evaluation.counting import DEFAULT_WINDOWS, ReferenceCorpus, count_reference

ALL_MEASURES = ["u_mass", "c_uci", "c_npmi", "c_v"]
TOLERANCE = 1e-6


def _gensim_per_topic(topics, texts, dictionary, measure, window=None):
    logging.getLogger("gensim").setLevel(logging.WARNING)
    model = CoherenceModel(
        topics=topics,
        texts=texts,
        dictionary=dictionary,
        coherence=measure,
        window_size=window,
        topn=max(len(t) for t in topics),
        processes=1,
    )
    return np.asarray(model.get_coherence_per_topic(), dtype=float)


def _lda_topics(texts, dictionary, num_topics, topn=10, passes=2):
    corpus = [dictionary.doc2bow(t) for t in texts]
    lda = LdaModel(corpus, id2word=dictionary, num_topics=num_topics, random_state=1, passes=passes, iterations=50)
    return [[w for w, _ in lda.show_topic(k, topn=topn)] for k in range(num_topics)]


def _rare_words(texts, count):
    """Words found in exactly one document each, from different documents: they never co-occur."""
    seen: dict[str, set[int]] = {}
    for d, text in enumerate(texts):
        for w in text:
            seen.setdefault(w, set()).add(d)
    words, docs = [], set()
    for w, ds in seen.items():
        if len(ds) == 1 and not ds & docs:
            words.append(w)
            docs |= ds
        if len(words) == count:
            break
    return words


def _with_awkward_topics(topics, texts):
    """Add the cases gensim handles specially: absent words (dropped) and words that never co-occur."""
    topics = [list(t) for t in topics]
    topics[0][2] = "zzz-absent-word"
    topics[-1] = ["zzz-absent-word"] + topics[-1][1:-1] + ["qqq-also-absent"]
    return [*topics, _rare_words(texts, 5)]


def _check_against_gensim(texts, topics, measures=ALL_MEASURES):
    dictionary = Dictionary(texts)
    reference = ReferenceCorpus.from_token_lists(texts)
    windows = {m: DEFAULT_WINDOWS[m] for m in measures if m in DEFAULT_WINDOWS}
    counts = count_reference(reference, itertools.chain.from_iterable(topics), windows.values())
    for measure in measures:
        expected = _gensim_per_topic(topics, texts, dictionary, measure)
        ours = score(topics, counts, measure)
        assert ours.shape == expected.shape
        assert np.all(np.isfinite(ours)), measure
        np.testing.assert_allclose(ours, expected, rtol=0, atol=TOLERANCE, err_msg=measure)


# --- reference agreement with gensim ---------------------------------------------------------


@pytest.fixture(scope="module")
def lee_texts():
    with open(datapath("lee_background.cor"), encoding="utf-8") as lines:
        return [[t for t in simple_preprocess(line) if t not in STOPWORDS] for line in lines]


@pytest.fixture(scope="module")
def newsgroups_texts(shared_data):
    path = shared_data / "20newsgroups-preprocessed" / "corpus.tsv"
    if not path.is_file():
        pytest.skip(f"{path}: not found")
    with path.open(encoding="utf-8") as lines:
        texts = [line.split("\t")[0].split() for _, line in zip(range(2500), lines)]
    return [*texts, []]  # and an empty document: it still counts as one window


@pytest.mark.parametrize("num_topics", [5, 10])
def test_lee_agrees_with_gensim(lee_texts, num_topics):
    topics = _lda_topics(lee_texts, Dictionary(lee_texts), num_topics)
    _check_against_gensim(lee_texts, _with_awkward_topics(topics, lee_texts))


@pytest.mark.parametrize("num_topics", [8, 20])
def test_newsgroups_agrees_with_gensim(newsgroups_texts, num_topics):
    assert any(0 < len(t) < DEFAULT_WINDOWS["c_uci"] for t in newsgroups_texts)
    topics = _lda_topics(newsgroups_texts, Dictionary(newsgroups_texts), num_topics, passes=1)
    _check_against_gensim(newsgroups_texts, _with_awkward_topics(topics, newsgroups_texts))


def test_other_windows_and_topn_agree_with_gensim(lee_texts):
    dictionary = Dictionary(lee_texts)
    topics = _lda_topics(lee_texts, dictionary, 5, topn=15)
    reference = ReferenceCorpus.from_token_lists(lee_texts)
    counts = count_reference(reference, itertools.chain.from_iterable(topics), [3, 40])
    for measure, window in [("c_npmi", 3), ("c_uci", 40), ("c_v", 40)]:
        expected = _gensim_per_topic(topics, lee_texts, dictionary, measure, window)
        np.testing.assert_allclose(score(topics, counts, measure, window), expected, rtol=0, atol=TOLERANCE)


def test_repeated_topic_word_agrees_with_gensim(lee_texts):
    topics = [["said", "police", "said", "people", "government"], ["year", "new", "years", "world", "year"]]
    _check_against_gensim(lee_texts, topics)


# --- counting against brute force ------------------------------------------------------------

texts_strategy = st.lists(st.lists(st.integers(0, 4), max_size=14), min_size=1, max_size=6)


def _windows_of(text, window):
    """gensim's iter_windows(ignore_below_size=False): a short (or empty) text is one window."""
    if len(text) <= window:
        return [text]
    return [text[t : t + window] for t in range(len(text) - window + 1)]


def _brute_boolean(texts, window, vocab_size):
    occ = np.zeros((vocab_size, vocab_size), dtype=np.int64)
    total = 0
    for text in texts:
        for win in _windows_of(text, window):
            total += 1
            present = sorted(set(win))
            for a in present:
                for b in present:
                    occ[a, b] += 1
    return total, occ


def _brute_gensim(texts, window, vocab_size):
    """Plain-Python emulation of WordOccurrenceAccumulator._slide_window."""
    occ = np.zeros((vocab_size, vocab_size), dtype=np.int64)
    total = 0
    for text in texts:
        present: set[int] = set()
        for t, win in enumerate(_windows_of(text, window)):
            total += 1
            if t == 0:
                present = set(win)
            else:
                present.discard(text[t - 1])  # the copy at the edge left: gensim drops the word
                present.add(win[-1])
            for a in present:
                for b in present:
                    occ[a, b] += 1
    return total, occ


def _ours(texts, window, counting):
    reference = ReferenceCorpus([np.asarray(t, dtype=np.int64) for t in texts], [str(i) for i in range(5)])
    counts = count_reference(reference, [str(i) for i in range(5)], [window], counting=counting)
    window_counts = counts.windows[window]
    rows = np.asarray([counts.index[str(i)] for i in range(5)])
    matrix = window_counts.cooccurrence_matrix(rows)
    assert np.array_equal(np.diagonal(matrix), window_counts.occurrences[rows])
    return window_counts.num_windows, matrix


@pytest.mark.parametrize(
    "counting, brute_force",
    [("boolean", _brute_boolean), ("gensim", _brute_gensim)],  # textbook count; gensim's incremental window
)
@settings(max_examples=150, deadline=None)
@given(texts=texts_strategy, window=st.integers(1, 8))
def test_window_counting_matches_brute_force(counting, brute_force, texts, window):
    total, occ = _ours(texts, window, counting)
    expected_total, expected = brute_force(texts, window, 5)
    assert total == expected_total
    assert np.array_equal(occ, expected)


@settings(max_examples=40, deadline=None)
@given(texts=texts_strategy, window=st.integers(1, 8))
def test_gensim_counting_matches_gensims_accumulator(texts, window):
    tokens = [[str(i) for i in t] for t in texts]
    dictionary = Dictionary([[str(i) for i in range(5)]])
    accumulator = text_analysis.WordOccurrenceAccumulator(set(range(5)), dictionary).accumulate(tokens, window)
    total, occ = _ours(texts, window, "gensim")
    assert total == accumulator.num_docs
    assert all(dictionary.token2id[str(i)] == i for i in range(5))
    for a, b in itertools.product(range(5), repeat=2):
        assert occ[a, b] == accumulator[a, b]  # the diagonal holds the occurrence counts


def test_gensim_counting_drops_a_word_whose_copy_leaves():
    # Window 3 over a b a c: windows {a,b}, {b,a,c}; gensim drops 'a' in the 2nd window.
    total, occ = _ours([[0, 1, 0, 2]], 3, "gensim")
    assert total == 2 and occ[0, 0] == 1 and occ[1, 1] == 2
    total, occ = _ours([[0, 1, 0, 2]], 3, "boolean")
    assert occ[0, 0] == 2


def test_large_topics_use_blocks():
    rng = np.random.default_rng(0)
    texts = [rng.integers(0, 80, size=rng.integers(0, 60)) for _ in range(40)]
    vocabulary = [f"w{i}" for i in range(80)]
    counts = count_reference(ReferenceCorpus(texts, vocabulary), vocabulary, [7], counting="boolean")
    _, expected = _brute_boolean([list(t) for t in texts], 7, 80)
    rows = np.asarray([counts.index[w] for w in vocabulary])
    assert np.array_equal(counts.windows[7].cooccurrence_matrix(rows), expected)


# --- API --------------------------------------------------------------------------------------


def test_score_models_counts_once_and_matches_score(lee_texts):
    dictionary = Dictionary(lee_texts)
    models = [_lda_topics(lee_texts, dictionary, k, passes=1) for k in (3, 4)]
    reference = ReferenceCorpus.from_token_lists(lee_texts)
    results = score_models(models, reference, ALL_MEASURES, windows={"c_npmi": 5})
    counts = count_reference(reference, itertools.chain.from_iterable(itertools.chain(*models)), [5, 10, 110])
    for topics, result in zip(models, results):
        assert set(result) == set(ALL_MEASURES)
        assert np.array_equal(result["c_npmi"], score(topics, counts, "c_npmi", 5))
        assert np.array_equal(result["c_v"], score(topics, counts, "c_v"))
        assert len(result["u_mass"]) == len(topics)


def test_measures_table_and_defaults():
    assert set(MEASURES) == set(ALL_MEASURES)
    assert DEFAULT_WINDOWS == {"c_v": 110, "c_uci": 10, "c_npmi": 10}
    assert all(MEASURES[m].window == w for m, w in DEFAULT_WINDOWS.items())


def test_unknown_measure_lists_the_valid_ones():
    counts = count_reference(ReferenceCorpus.from_token_lists([["a", "b"]]), ["a", "b"])
    with pytest.raises(ConfigError, match="unknown measure 'cv'; choose from c_npmi, c_uci, c_v, u_mass"):
        score([["a", "b"]], counts, "cv")


def test_reference_sharing_no_words_is_an_error():
    with pytest.raises(ConfigError, match="shares no words"):
        count_reference(ReferenceCorpus.from_token_lists([["a", "b"]]), ["x", "y"])


def test_uncounted_window_is_an_error():
    counts = count_reference(ReferenceCorpus.from_token_lists([["a", "b"]]), ["a", "b"], [10])
    with pytest.raises(ConfigError, match="window 110"):
        score([["a", "b"]], counts, "c_v")


def test_one_shot_iterator_is_refused():
    with pytest.raises(ConfigError, match="re-iterable"):
        ReferenceCorpus(iter([np.array([0, 1])]), ["a", "b"])


# --- counting in blocks of documents ----------------------------------------------------------

WHOLE_CORPUS = 10**9


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.lists(st.integers(0, 9), max_size=25), min_size=1, max_size=12),
    topics=st.lists(st.lists(st.integers(0, 11), min_size=1, max_size=6), min_size=1, max_size=4),
    windows=st.fixed_dictionaries({"c_uci": st.integers(1, 6), "c_npmi": st.integers(1, 6), "c_v": st.integers(1, 30)}),
    counting=st.sampled_from(["gensim", "boolean"]),
)
def test_blocks_of_documents_give_the_same_scores(texts, topics, windows, counting):
    # words 10 and 11 are outside the vocabulary: they are dropped from the topics, as gensim drops them
    vocabulary = [f"w{i}" for i in range(10)]
    reference = ReferenceCorpus([np.asarray(t, dtype=np.int32) for t in texts], vocabulary)
    word_topics = [[f"w{i}" for i in topic] for topic in topics]
    if not {w for t in word_topics for w in t} & set(vocabulary):
        return
    results = {
        block: score_models([word_topics], reference, ALL_MEASURES, windows=windows, counting=counting, block_tokens=block)[0]
        for block in (1, 7, WHOLE_CORPUS)
    }
    for block in (1, 7):
        for measure in ALL_MEASURES:
            np.testing.assert_allclose(results[block][measure], results[WHOLE_CORPUS][measure], rtol=0, atol=1e-12)
    # the intervals kept without word sets give the same pair counts in blocks as whole
    words = [f"w{i}" for i in range(10)]
    whole = count_reference(reference, words, windows.values(), counting, block_tokens=WHOLE_CORPUS)
    rows = np.arange(len(whole.words))
    for block in (1, 7):
        blocked = count_reference(reference, words, windows.values(), counting, block_tokens=block)
        assert blocked.words == whole.words and blocked.num_docs == whole.num_docs
        assert np.array_equal(blocked.doc_counts, whole.doc_counts)
        for size, counts in whole.windows.items():
            assert blocked.windows[size].num_windows == counts.num_windows
            assert np.array_equal(blocked.windows[size].cooccurrence_matrix(rows), counts.cooccurrence_matrix(rows))


def test_blocks_agree_with_gensim(lee_texts):
    dictionary = Dictionary(lee_texts)
    topics = _with_awkward_topics(_lda_topics(lee_texts, dictionary, 5), lee_texts)
    reference = ReferenceCorpus.from_token_lists(lee_texts)
    windows = {"c_npmi": 10, "c_uci": 10, "c_v": 110}
    [blocked] = score_models([topics], reference, ALL_MEASURES, block_tokens=500)
    for measure in ALL_MEASURES:
        expected = _gensim_per_topic(topics, lee_texts, dictionary, measure, windows.get(measure))
        np.testing.assert_allclose(blocked[measure], expected, rtol=0, atol=TOLERANCE, err_msg=measure)


def test_counts_for_word_sets_refuse_other_sets():
    reference = ReferenceCorpus.from_token_lists([["a", "b", "c"], ["b", "c"]])
    counts = count_reference(reference, ["a", "b", "c"], [2], word_sets=[["a", "b"]])
    assert counts.windows[2].cooccurrence_matrix(np.array([0, 1])).tolist() == [[1, 1], [1, 3]]
    with pytest.raises(ConfigError, match="word_sets"):
        counts.windows[2].cooccurrence_matrix(np.array([1, 2]))
    with pytest.raises(ConfigError, match="block_tokens"):
        count_reference(reference, ["a"], block_tokens=0)
