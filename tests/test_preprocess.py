"""topics.preprocess and topics.tokenize on real text: gensim's Lee corpus, the seed article, BBC (OCTIS)."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections import Counter
from itertools import chain
from pathlib import Path

import numpy as np
import pytest
from gensim.corpora import Dictionary, MmCorpus
from gensim.models.phrases import Phrases
from gensim.test.utils import datapath
from hypothesis import given, settings
from hypothesis import strategies as st

from topics.config import PreprocessConfig
from topics.corpus import read_corpus
from topics.corpus.documents import CorpusReport, Document
from topics.errors import ConfigError, CorpusError
from topics.preprocessing import export_prepared, tallies, tokenize
from topics.preprocessing.phrases import PhraseJoiner, phrase_layer, phrase_scores
from topics.preprocessing.prepare import (
    learn_phrase_layer,
    preprocess,
    tokenize_documents,
)
from topics.preprocessing.prepared import PreparedCorpus
from topics.preprocessing.shards import Shard
from topics.preprocessing.tallies import add_sorted_counts
from topics.preprocessing.tokenize import TOKEN_RE, Pipeline, load_stopwords
from topics.preprocessing.workers import Workers

LEE = Path(datapath("lee_background.cor"))


class DocumentsCorpus:
    """The duck type preprocess relies on: re-iterable Documents, .report, .fingerprint(), .format."""

    def __init__(self, documents: list[Document], format: str = "lines", fail_after: int | None = None):
        self.documents = documents
        self.format = format
        self.fail_after = fail_after
        self.report = CorpusReport()

    def __iter__(self):
        self.report = CorpusReport()
        for index, doc in enumerate(self.documents):
            if self.fail_after is not None and index == self.fail_after:
                raise OSError("disk vanished (simulated)")
            self.report.documents_read += 1
            yield doc

    def fingerprint(self) -> str:
        return hashlib.sha256(repr([(d.id, d.text, d.tokens, d.split) for d in self.documents]).encode()).hexdigest()


def lee_corpus(**kwargs) -> DocumentsCorpus:
    lines = LEE.read_text(encoding="utf-8").splitlines()
    docs = [Document(id=f"lee-{i}", text=line, source=f"{LEE}:{i + 1}", title=f"Lee {i}") for i, line in enumerate(lines)]
    return DocumentsCorpus(docs, **kwargs)


@pytest.fixture(scope="module")
def lee_prepared(tmp_path_factory) -> PreparedCorpus:
    # bigrams set explicitly (the default is none): the phrase tests below check them against gensim
    return preprocess(lee_corpus(), PreprocessConfig(phrases="bigrams"), tmp_path_factory.mktemp("lee") / "prepared", processes=1)


# --- the tokeniser ---------------------------------------------------------------------------


def test_pipeline_keeps_words_and_drops_noise(seed_article):
    pipeline = Pipeline(PreprocessConfig())
    tokens = pipeline(
        "Putin's well-known visit: see https://example.com/news?id=3 or mail press@kremlin.ru. "
        "In 2009, 3.5% of the countries were exporting natural gas; it's the best deal."
    )
    assert "well-known" in tokens
    assert "putin" in tokens and "putin's" not in tokens
    assert "country" in tokens and "countries" not in tokens  # lemmas
    assert "export" in tokens
    for gone in (
        "https://example.com/news?id=3",
        "example",
        "press@kremlin.ru",
        "kremlin.ru",
        "2009",
        "3.5",
        "the",
        "of",
        "it",
        "in",
    ):
        assert gone not in tokens
    seed = pipeline(seed_article.read_text(encoding="utf-8"))
    assert {"putin", "china", "russia", "vladimir", "natural", "gas"} <= set(seed)
    assert not {"the", "and", "with", "2014", "2009"} & set(seed)


def test_pipeline_caches_keep_frequent_parts_when_full(monkeypatch):
    # Lee's lines through a pipeline whose caches hold 50 entries a generation: the tokens are
    # those of unbounded caches, and a part in every line ("the") is tokenised once, not once
    # each time a cache fills.
    texts = LEE.read_text(encoding="utf-8").splitlines()[:40]
    expected = [Pipeline(PreprocessConfig())(text) for text in texts]
    monkeypatch.setattr(tokenize, "CACHE_LIMIT", 50)
    pipeline = Pipeline(PreprocessConfig())
    tokenised: Counter[str] = Counter()
    tokens_of = pipeline._tokens_of
    monkeypatch.setattr(pipeline, "_tokens_of", lambda part: tokenised.update([part]) or tokens_of(part))
    assert [pipeline(text) for text in texts] == expected
    assert sum(" the " in text for text in texts) > 30 and tokenised["the"] == 1
    assert len(pipeline._words.current) + len(pipeline._words.old) < 2 * max(map(len, map(str.split, texts))) + 2 * 50


def test_token_ids_are_the_pipelines_tokens(monkeypatch):
    # The ids a worker keeps (Pipeline.token_ids) spell the tokens of Pipeline.__call__, numbered in
    # first-seen order, also while small caches turn over; another vocabulary starts afresh.
    texts = LEE.read_text(encoding="utf-8").splitlines()
    expected = [Pipeline(PreprocessConfig())(text) for text in texts]
    monkeypatch.setattr(tokenize, "CACHE_LIMIT", 50)
    pipeline = Pipeline(PreprocessConfig())
    vocabulary: dict[str, int] = {}
    words: list[str] = []
    ids = [pipeline.token_ids(text, vocabulary, words) for text in texts]
    assert [[words[i] for i in doc] for doc in ids] == expected
    assert words == list(dict.fromkeys(chain.from_iterable(expected))) and vocabulary == {w: i for i, w in enumerate(words)}
    other: list[str] = []
    again = pipeline.token_ids(texts[5], {}, other)
    assert [other[i] for i in again] == expected[5] and other == list(dict.fromkeys(expected[5]))


def test_dictionary_tally_of_ids_is_gensims_dictionary():
    # Lee's documents (and empty ones) in chunks, as ids of a vocabulary numbered in reverse
    # alphabetical order: the words come out in gensim's id order, with gensim's frequencies.
    pipeline = Pipeline(PreprocessConfig())
    texts = [pipeline(line) for line in LEE.read_text(encoding="utf-8").splitlines()] + [[]]
    texts.insert(10, [])
    vocabulary = sorted(set(chain.from_iterable(texts)), reverse=True)
    id_of = {word: index for index, word in enumerate(vocabulary)}
    tally = tallies.DictionaryTally()
    for start in range(0, len(texts), 128):
        chunk = texts[start : start + 128]
        lengths = np.array([len(tokens) for tokens in chunk], dtype=np.int32)
        tally.add(lengths, np.array([id_of[t] for t in chain.from_iterable(chunk)], dtype=np.int32), vocabulary)
    counts = tally.counts()
    reference = Dictionary(texts)
    assert counts.words == sorted(reference.token2id, key=reference.token2id.__getitem__)
    assert counts.cfs.tolist() == [reference.cfs[i] for i in range(len(reference))]
    assert counts.dfs.tolist() == [reference.dfs[i] for i in range(len(reference))]
    assert counts.num_docs == len(texts) and sum(counts.new_words_per_chunk) == len(reference)


def test_capitalised_names_are_not_mangled_by_lemmas():
    tokens = Pipeline(PreprocessConfig())("Wales and the United States hunted bin Laden in 2001")
    assert {"wales", "united", "states", "laden"} <= set(tokens)


def test_shipped_english_stopwords_are_gensims_and_sklearns_lists():
    """The shipped list (no gensim or scikit-learn import at run time) is exactly the union of the
    installed packages' lists; if a new release changes either, this fails and the file is regenerated."""
    from gensim.parsing.preprocessing import STOPWORDS
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from topics.preprocessing.tokenize import _EN_CONTRACTIONS, english_stopwords

    assert english_stopwords() == frozenset(STOPWORDS) | frozenset(ENGLISH_STOP_WORDS) | frozenset(_EN_CONTRACTIONS)


def test_stopword_lists(tmp_path):
    english = load_stopwords(["english"])
    assert {"the", "and", "whereas", "don't", "amoungst"} <= english  # gensim + scikit-learn + contractions
    assert {"и", "не", "что"} <= load_stopwords(["russian"])
    words = tmp_path / "words.txt"
    words.write_text("# comment\nPutin\n\ngas\n", encoding="utf-8")
    assert load_stopwords([str(words)]) == {"putin", "gas"}
    with pytest.raises(ConfigError, match="choose from"):
        load_stopwords(["klingon"])


def test_unknown_language_is_a_config_error():
    with pytest.raises(ConfigError, match="simplemma"):
        Pipeline(PreprocessConfig(language="xx"))


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300), shortest=st.integers(1, 5), extra=st.integers(0, 20), lemmatize=st.booleans())
def test_tokenizer_properties(text, shortest, extra, lemmatize):
    config = PreprocessConfig(min_token_length=shortest, max_token_length=shortest + extra, lemmatize=lemmatize)
    for token in Pipeline(config)(text):
        assert token == token.lower()
        assert shortest <= len(token) <= shortest + extra
        assert not any(char.isspace() for char in token)


# --- collocations ----------------------------------------------------------------------------


def test_phrase_layer_is_gensims(lee_prepared):
    """The bigrams learnt from hash-keyed counts are gensim's Phrases on the same tokens, scores
    bit for bit, and join the tokens as gensim does."""
    pipeline = Pipeline(lee_prepared.config)
    texts = [pipeline(line) for line in LEE.read_text(encoding="utf-8").splitlines()]
    theirs = Phrases(texts, min_count=5, threshold=10.0).freeze()
    (layer,) = json.loads((lee_prepared.path / "phrases.json").read_text())["layers"]
    assert layer["phrasegrams"] == theirs.phrasegrams
    assert len(theirs.phrasegrams) > 50
    joiner = PhraseJoiner(layer)
    assert [joiner(t) for t in texts] == [theirs[t] for t in texts]


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 10**6), st.integers(1, 10**6)), max_size=50),
    vocab_size=st.integers(1, 10**7),
    min_count=st.integers(1, 50),
)
def test_phrase_scores_are_gensims_original_scorer(rows, vocab_size, min_count):
    import numpy as np
    from gensim.models.phrases import original_scorer

    counts, first, last = (np.array(column, dtype=np.int64) for column in zip(*rows)) if rows else (np.zeros(0, np.int64),) * 3
    expected = [
        original_scorer(
            worda_count=a, wordb_count=b, bigram_count=c, len_vocab=vocab_size, min_count=min_count, corpus_word_count=0
        )
        for c, a, b in rows
    ]
    assert phrase_scores(counts, first, last, vocab_size, min_count).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(old=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=40), new=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=40))
def test_add_sorted_counts_is_a_counter_union(old, new):
    """Folding counts into sorted arrays (tallies.PhraseTally): counts add up, first places stay first."""
    import collections

    import numpy as np

    def arrays(keys, offset):
        unique, first, counts = np.unique(np.array(keys, dtype=np.int64), return_index=True, return_counts=True)
        return unique, counts.astype(np.int64), first.astype(np.int64) + offset

    keys, counts, firsts = add_sorted_counts(*arrays(old, 0), *arrays(new, len(old)))
    expected = collections.Counter(old) + collections.Counter(new)
    assert keys.tolist() == sorted(expected) and counts.tolist() == [expected[key] for key in sorted(expected)]
    assert firsts.tolist() == [(old + new).index(key) for key in sorted(expected)]


def test_lee_bigrams(lee_prepared):
    vocabulary = set(lee_prepared.vocabulary)
    assert {"bin_laden", "yasser_arafat", "prime_minister", "new_york", "united_states", "ricky_ponting"} <= vocabulary
    assert lee_prepared.report["phrases"][0] > 100


def test_trigrams_learn_a_second_layer(tmp_path):
    prepared = preprocess(lee_corpus(), PreprocessConfig(phrases="trigrams", phrase_min_count=3), tmp_path / "tri", processes=1)
    layers = json.loads((tmp_path / "tri" / "phrases.json").read_text())["layers"]
    assert len(layers) == 2
    assert any(word.count("_") >= 2 for word in prepared.vocabulary)  # e.g. osama_bin_laden


def test_phrase_counts_merged_across_processes_match_gensim(tmp_path, monkeypatch):
    """Three workers count phrase keys by hash, fold them into sorted arrays (every few chunks
    here) and merge them by hash (preprocess.learn_phrase_layer): both layers must be gensim's own
    Phrases on the same tokens, where the second layer's keys collide ("a_b" + "c" and "a" +
    "b_c" are one key), and the outputs those of one process, also with a worker that has no chunk."""
    monkeypatch.setattr(tallies, "PENDING_KEYS", 5000)
    config = PreprocessConfig(phrases="trigrams", phrase_min_count=3)
    one = preprocess(lee_corpus(), config, tmp_path / "one", processes=1)
    three = preprocess(lee_corpus(), config, tmp_path / "three", processes=3)
    four = preprocess(lee_corpus(), config, tmp_path / "four", processes=4)  # 3 chunks: one worker has none
    layers = json.loads((three.path / "phrases.json").read_text())["layers"]
    for other in (three, four):
        for name in ("phrases.json", "tokens.npy", "vocabulary.txt", "offsets.npy"):
            assert (other.path / name).read_bytes() == (one.path / name).read_bytes(), name
    pipeline = Pipeline(config)
    texts = [pipeline(line) for line in LEE.read_text(encoding="utf-8").splitlines()]
    first = Phrases(texts, min_count=3, threshold=config.phrase_threshold).freeze()
    second = Phrases([first[t] for t in texts], min_count=3, threshold=config.phrase_threshold).freeze()
    assert layers[0]["phrasegrams"] == first.phrasegrams
    assert layers[1]["phrasegrams"] == second.phrasegrams and len(second.phrasegrams) > 10


@pytest.mark.parametrize("phrases", ["none", "bigrams", "trigrams"])
def test_phrases_json_is_written_as_json_dumps_would(tmp_path, phrases):
    """phrases.json is assembled from the layers' files line by line (preprocess.write_phrases)."""
    prepared = preprocess(lee_corpus(), PreprocessConfig(phrases=phrases, phrase_min_count=3), tmp_path / phrases, processes=1)
    text = (prepared.path / "phrases.json").read_text(encoding="utf-8")
    content = json.loads(text)
    assert len(content["layers"]) == {"none": 0, "bigrams": 1, "trigrams": 2}[phrases]
    assert text == json.dumps(content, indent=2, ensure_ascii=False) + "\n"


def test_spawned_workers_share_a_hash_seed(tmp_path):
    """Where processes are spawned, not forked, each would hash strings with its own seed; Workers
    gives them one. The phrase layer must be that of one process."""
    config = PreprocessConfig(phrase_min_count=3)
    layers = {}
    for count, method in ((1, None), (2, "spawn")):
        (tmp_path / method_dir(method)).mkdir()
        shards_ = [Shard(index, count, tmp_path / method_dir(method), Pipeline(config)) for index in range(count)]
        with Workers(shards_, start_method=method) as workers:
            tokenize_documents(lee_corpus(), workers, tmp_path / f"{method_dir(method)}.csv", tally="phrases")
            layers[method] = learn_phrase_layer(workers, 3, config.phrase_threshold)
    assert layers["spawn"] == layers[None] and len(layers[None]["phrasegrams"]) > 100


def method_dir(method: str | None) -> str:
    return method or "in-process"


# --- outputs ---------------------------------------------------------------------------------


def test_filter_extremes_is_respected(tmp_path, lee_prepared):
    df = lee_prepared.document_frequency
    assert df.min() >= 5 and df.max() <= 0.5 * lee_prepared.num_docs
    small = preprocess(
        lee_corpus(), PreprocessConfig(phrases="bigrams", no_below=2, no_above=0.3, keep_n=200), tmp_path / "small", processes=1
    )
    assert small.num_terms == 200
    assert small.document_frequency.min() >= 2 and small.document_frequency.max() <= 0.3 * small.num_docs
    assert small.config.keep_n == 200
    # the filter on arrays (preprocess.dictionary_from_counts) is gensim's filter_extremes on the
    # whole vocabulary, ties at the keep_n cut included
    pipeline, (layer,) = Pipeline(small.config), json.loads((small.path / "phrases.json").read_text())["layers"]
    joiner = PhraseJoiner(layer)
    whole = Dictionary(joiner(pipeline(line)) for line in LEE.read_text(encoding="utf-8").splitlines())
    assert (
        whole.num_pos == small.report["num_tokens_before_filtering"]
        and len(whole) == small.report["vocabulary_size_before_filtering"]
    )
    whole.filter_extremes(no_below=2, no_above=0.3, keep_n=200)
    saved = small.dictionary
    assert whole.token2id == saved.token2id and list(whole.token2id) == list(saved.token2id) == small.vocabulary
    assert whole.cfs == saved.cfs and whole.dfs == saved.dfs
    # gensim keeps num_pos from before filtering (checked above against the report); the prepared
    # corpus's dictionary counts the tokens it holds
    assert (whole.num_docs, whole.num_nnz) == (saved.num_docs, saved.num_nnz)


def test_outputs_are_present_and_consistent(lee_prepared, tmp_path):
    path = lee_prepared.path
    for name in (
        "vocabulary.txt",
        "tokens.npy",
        "offsets.npy",
        "documents.csv",
        "phrases.json",
        "report.json",
        "prepared.json",
        "term_frequency.npy",
        "document_frequency.npy",
    ):
        assert (path / name).is_file(), name
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp folders left
    exported = export_prepared(lee_prepared, tmp_path / "gensim", "gensim")  # gensim's own writers
    saved = Dictionary.load(str(exported / "dictionary.gensim"))
    assert [saved[i] for i in range(len(saved))] == lee_prepared.vocabulary
    assert lee_prepared.dictionary.token2id == saved.token2id

    texts = list(lee_prepared.texts())
    bows = list(lee_prepared.bow())
    assert len(texts) == len(bows) == lee_prepared.num_docs == 300
    assert bows == [saved.doc2bow(text) for text in texts]
    assert [[(i, int(c)) for i, c in doc] for doc in MmCorpus(str(exported / "corpus.mm"))] == bows
    assert sum(map(len, texts)) == lee_prepared.num_tokens == int(lee_prepared.term_frequency.sum())

    documents = lee_prepared.documents
    assert list(documents.columns) == ["id", "title", "date", "url", "source", "n_tokens", "label", "split"]
    assert len(documents) == 300 and documents["id"].tolist() == [f"lee-{i}" for i in range(300)]
    assert documents["n_tokens"].tolist() == [len(t) for t in texts]
    assert list(lee_prepared.doc_ids())[:2] == ["lee-0", "lee-1"]

    manifest = json.loads((path / "prepared.json").read_text())
    assert manifest["preprocess"]["no_below"] == 5 and manifest["preprocess"]["keep_n"] == 100000
    assert manifest["fingerprint"] == lee_prepared.fingerprint
    assert {"gensim", "simplemma", "topics"} <= set(manifest["versions"])
    report = lee_prepared.report
    assert report["documents_read"] == 300 and report["vocabulary_size"] == lee_prepared.num_terms
    assert report["seconds"] > 0


def test_empty_documents_are_kept_and_reported(tmp_path):
    docs = lee_corpus().documents[:60] + [Document(id="blank", text="the and of 2009 https://x.org", source="blank.txt")]
    prepared = preprocess(DocumentsCorpus(docs), PreprocessConfig(no_below=2), tmp_path / "out", processes=1)
    assert prepared.num_docs == 61
    assert list(prepared.bow())[-1] == []
    assert prepared.report["empty_documents"] == 1
    assert prepared.report["empty_documents_listed"][0]["source"] == "blank.txt"


# --- reuse, force, atomicity, errors --------------------------------------------------------


def test_reuse_conflict_and_force(tmp_path):
    out = tmp_path / "prepared"
    first = preprocess(lee_corpus(), PreprocessConfig(phrases="bigrams"), out, processes=1)
    assert not first.reused
    again = preprocess(lee_corpus(), PreprocessConfig(phrases="bigrams"), out, processes=1)
    assert again.reused and again.fingerprint == first.fingerprint
    other = PreprocessConfig(phrases="none")
    with pytest.raises(CorpusError, match=r"prepared.*different prepared corpus.*`force`"):
        preprocess(lee_corpus(), other, out, processes=1)
    replaced = preprocess(lee_corpus(), other, out, processes=1, force=True)
    assert not replaced.reused and replaced.fingerprint != first.fingerprint
    assert not any("_" in word for word in replaced.vocabulary)
    assert [p.name for p in tmp_path.iterdir()] == ["prepared"]


def test_failure_midway_leaves_no_folder(tmp_path):
    out = tmp_path / "prepared"
    with pytest.raises(OSError, match="simulated"):
        preprocess(lee_corpus(fail_after=150), PreprocessConfig(), out, processes=2)
    assert list(tmp_path.iterdir()) == []


def test_token_pass_is_one_pass_and_preprocess_needs_a_reiterable(tmp_path):
    docs = lee_corpus().documents
    pipeline = Pipeline(PreprocessConfig())
    with Workers([Shard(index, 2, tmp_path, pipeline) for index in range(2)]) as workers:
        n_docs, tallies = tokenize_documents(iter(docs), workers, tmp_path / "meta.csv", tally="dictionary")
    assert n_docs == 300 and [tally.num_docs for tally in tallies] == [128 + 44, 128]  # chunks alternate
    with pytest.raises(CorpusError, match="re-iterable"):
        preprocess(iter(docs), PreprocessConfig(), tmp_path / "out")


def test_processes_give_identical_outputs(tmp_path, lee_prepared):
    progress: list[int] = []
    two = preprocess(lee_corpus(), PreprocessConfig(phrases="bigrams"), tmp_path / "two", processes=2, progress=progress.append)
    assert progress[-1] == 300 and progress == sorted(progress)
    for name in (
        "tokens.npy",
        "offsets.npy",
        "vocabulary.txt",
        "documents.csv",
        "phrases.json",
        "term_frequency.npy",
        "document_frequency.npy",
    ):
        assert (two.path / name).read_bytes() == (lee_prepared.path / name).read_bytes(), name
    assert two.fingerprint == lee_prepared.fingerprint


def test_empty_corpus_and_empty_vocabulary_are_errors(tmp_path):
    with pytest.raises(CorpusError, match="no documents"):
        preprocess(DocumentsCorpus([]), PreprocessConfig(), tmp_path / "a", processes=1)
    with pytest.raises(CorpusError, match="no_below"):
        preprocess(lee_corpus(), PreprocessConfig(no_below=1000), tmp_path / "b", processes=1)
    with pytest.raises(CorpusError, match="stopwords"):
        preprocess(lee_corpus(), PreprocessConfig(min_token_length=39, max_token_length=40), tmp_path / "c", processes=1)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(CorpusError, match="a-file"):
        preprocess(lee_corpus(), PreprocessConfig(), blocker / "prepared", processes=1)


def test_load_rejects_other_folders(tmp_path, lee_prepared):
    with pytest.raises(CorpusError, match="topics preprocess"):
        PreparedCorpus.load(tmp_path)
    (tmp_path / "prepared.json").write_text(json.dumps({"format_version": 999}))
    with pytest.raises(CorpusError, match="format version 999.*topics preprocess"):
        PreparedCorpus.load(tmp_path)
    loaded = PreparedCorpus.load(lee_prepared.path)
    assert loaded.num_terms == lee_prepared.num_terms and not loaded.reused


# --- held-out split, OCTIS input, new text ----------------------------------------------------


def test_heldout_split_is_seeded(tmp_path):
    config = PreprocessConfig(heldout=0.2, split_seed=3)
    a = preprocess(lee_corpus(), config, tmp_path / "a", processes=1)
    b = preprocess(lee_corpus(), config, tmp_path / "b", processes=2)
    c = preprocess(lee_corpus(), config.model_copy(update={"split_seed": 4}), tmp_path / "c", processes=1)
    assert a.documents["split"].tolist() == b.documents["split"].tolist()
    assert a.documents["split"].tolist() != c.documents["split"].tolist()
    test_ids = list(a.doc_ids("test"))
    assert len(test_ids) == 60 and len(list(a.bow("train"))) == 240 == len(a.bow("train"))
    # one dictionary for all documents
    assert a.vocabulary == c.vocabulary


@pytest.mark.parametrize("block", [1, 7, 4096])
def test_blocks_of_a_split_read_the_documents_memory_mapping_gives(block, tmp_path, monkeypatch):
    """Token ids, bag-of-words and ids streamed a block at a time (train and test documents
    interleaved, so a train block's span holds test documents to leave out) against the whole
    files read at once and split by document with plain numpy, pandas and collections.Counter."""
    import numpy as np

    import topics.preprocessing.prepared as prepared_module

    monkeypatch.setattr(prepared_module, "BOW_BLOCK_DOCS", block)
    monkeypatch.setattr(prepared_module, "DOC_ID_BLOCK_ROWS", block)
    prepared = preprocess(lee_corpus(), PreprocessConfig(heldout=0.3, split_seed=1), tmp_path / "p", processes=1)
    tokens = np.load(prepared.path / "tokens.npy")
    offsets = np.load(prepared.path / "offsets.npy")
    split = prepared.documents["split"].tolist()
    ids = prepared.documents["id"].tolist()
    assert 0 < split.count("test") < len(split)
    for name in (None, "train", "test"):
        chosen = [d for d in range(prepared.num_docs) if name is None or split[d] == name]
        expected = [tokens[offsets[d] : offsets[d + 1]] for d in chosen]
        streamed = list(prepared.token_ids(name))
        assert len(streamed) == len(expected) == len(prepared.bow(name))
        assert all(a.dtype == np.int32 and np.array_equal(a, b) for a, b in zip(streamed, expected))
        assert list(prepared.bow(name)) == [sorted(Counter(doc.tolist()).items()) for doc in expected]
        assert list(prepared.doc_ids(name)) == [ids[d] for d in chosen]
    with pytest.raises(CorpusError, match="split must be"):
        list(prepared.doc_ids("dev"))


def test_octis_tokens_pass_through(shared_data, tmp_path):
    lines = (shared_data / "bbc-news-preprocessed" / "corpus.tsv").read_text(encoding="utf-8").splitlines()[:40]
    docs = []
    for i, line in enumerate(lines):
        text, split, label = line.split("\t")
        docs.append(
            Document(id=str(i), text=text, tokens=tuple(text.split()), split=split, label=label, source=f"corpus.tsv:{i + 1}")
        )
    prepared = preprocess(DocumentsCorpus(docs, format="octis"), PreprocessConfig(heldout=0.3), tmp_path / "octis", processes=2)
    assert list(prepared.texts()) == [list(d.tokens) for d in docs]  # unchanged: no stopwords, lemmas, phrases, filtering
    assert prepared.documents["split"].tolist() == [d.split for d in docs]
    assert prepared.documents["label"].tolist() == [d.label for d in docs]
    assert (prepared.config.no_below, prepared.config.no_above, prepared.config.keep_n) == (1, 1.0, None)
    assert prepared.config.phrases == "none"
    assert any("heldout ignored" in w for w in prepared.report["warnings"])


def test_prepare_texts_matches_training_tokens(lee_prepared):
    lines = LEE.read_text(encoding="utf-8").splitlines()
    texts = list(lee_prepared.texts())
    for index in (0, 17, 299):
        assert next(lee_prepared.prepare_texts([lines[index]])) == texts[index]
    new = next(lee_prepared.prepare_texts(["Police sought bin Laden; the Prime Minister met in New York, 2001."]))
    assert {"bin_laden", "prime_minister", "new_york"} <= set(new)


# --- token ids in gensim's order ----------------------------------------------------------------


def gensim_dictionary(prepared: PreparedCorpus) -> Dictionary:
    """What a researcher builds from our texts with gensim alone, filtered as we filtered."""
    dictionary = Dictionary(prepared.texts())
    config = prepared.config
    dictionary.filter_extremes(no_below=config.no_below, no_above=config.no_above, keep_n=config.keep_n)
    return dictionary


def test_token_ids_follow_gensim_dictionary_order(lee_prepared):
    assert gensim_dictionary(lee_prepared).token2id == lee_prepared.dictionary.token2id
    assert lee_prepared.vocabulary != sorted(lee_prepared.vocabulary)


def test_token_ids_follow_gensim_order_for_octis_input(shared_data, tmp_path):
    lines = (shared_data / "20newsgroups-preprocessed" / "corpus.tsv").read_text(encoding="utf-8").splitlines()[:700]
    docs = []
    for i, line in enumerate(lines):
        text, split, label = line.split("\t")
        docs.append(
            Document(id=str(i), text=text, tokens=tuple(text.split()), split=split, label=label, source=f"corpus.tsv:{i + 1}")
        )
    one = preprocess(DocumentsCorpus(docs, format="octis"), PreprocessConfig(), tmp_path / "one", processes=1)
    three = preprocess(DocumentsCorpus(docs, format="octis"), PreprocessConfig(), tmp_path / "three", processes=3)
    assert Dictionary([list(d.tokens) for d in docs]).token2id == one.dictionary.token2id == three.dictionary.token2id
    assert gensim_dictionary(three).token2id == three.dictionary.token2id


def test_exports_carry_the_same_documents_and_vocabulary(lee_prepared, tmp_path):
    from gensim.corpora import MalletCorpus

    bows = [[(i, int(c)) for i, c in doc] for doc in lee_prepared.bow()]
    mallet = export_prepared(lee_prepared, tmp_path / "mallet", "mallet")
    dictionary = lee_prepared.dictionary
    read_back = MalletCorpus(str(mallet / "corpus.mallet"), id2word=dictionary)
    assert [sorted((i, int(c)) for i, c in doc) for doc in read_back] == [sorted(doc) for doc in bows]
    octis = export_prepared(lee_prepared, tmp_path / "octis", "octis")
    again = preprocess(read_corpus(octis, format="octis"), PreprocessConfig(), tmp_path / "again", processes=1)
    assert list(again.texts()) == list(lee_prepared.texts()) and again.vocabulary == lee_prepared.vocabulary
    with pytest.raises(ConfigError, match="unknown export format 'csv'"):
        export_prepared(lee_prepared, tmp_path / "x", "csv")  # type: ignore[arg-type]
    with pytest.raises(CorpusError, match="not empty"):
        export_prepared(lee_prepared, tmp_path / "octis", "octis")


def test_phrase_joiner_matches_gensim_frozen_phrases():
    import random

    pipeline = Pipeline(PreprocessConfig())
    texts = [pipeline(line) for line in LEE.read_text(encoding="utf-8").splitlines()]
    frozen = Phrases(texts, min_count=3, threshold=5.0).freeze()
    joiner = PhraseJoiner(phrase_layer(sorted(frozen.phrasegrams.items()), 5.0, 3))
    assert [joiner(t) for t in texts] == [frozen[t] for t in texts]
    words = sorted({word for phrase in frozen.phrasegrams for word in phrase.split("_")})[:20]
    rng = random.Random(0)
    for _ in range(2000):  # overlapping candidates: "a b c" with both "a_b" and "b_c" phrases
        tokens = [rng.choice(words) for _ in range(rng.randint(0, 10))]
        assert joiner(tokens) == frozen[tokens]


def test_pipeline_splits_like_the_whole_text():
    pipeline, fresh = Pipeline(PreprocessConfig()), Pipeline(PreprocessConfig())
    text = LEE.read_text(encoding="utf-8") + " 3.5%\tU.S.-led 10/12x e-mail:a@b.co www.x.org/a. Putin's\u00a0bin-Laden's"
    expected = []
    for raw in TOKEN_RE.findall(unicodedata.normalize("NFKC", text)):
        token = fresh.token(raw)
        if token is not None:
            expected.append(token)
    assert pipeline(text) == expected


def test_cli_export_writes_gensims_files(lee_prepared, tmp_path):
    from typer.testing import CliRunner

    from topics.cli import app

    result = CliRunner().invoke(app, ["export", str(lee_prepared.path), "--out", str(tmp_path / "g"), "--format", "gensim"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["corpus.mm", "corpus.mm.index", "dictionary.gensim"]
    result = CliRunner().invoke(app, ["export", str(lee_prepared.path), "--out", str(tmp_path / "h"), "--format", "csv"])
    assert result.exit_code == 2 and "unknown export format 'csv'" in result.output
