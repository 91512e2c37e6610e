"""Engines: planted topics come back, each engine is exactly reproducible per seed, per-engine
settings are validated, and a missing tomotopy says how to install it."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from topics.config import PreprocessConfig, TrainConfig, validate
from topics.corpus.stream import read_corpus
from topics.errors import ConfigError, TopicsError
from topics.preprocessing.prepare import preprocess
from topics.runs.run import create_run, load_run
from topics.training.engines.gensim_lda import schedule
from topics.training.train import infer_doc_topics, train_lda

GROUPS = [[f"{name}{i}" for i in range(8)] for name in ("river", "planet", "violin")]
#: small settings per engine that recover the planted topics in well under a second or two
FAST = {
    "gensim": dict(passes=50),
    "sklearn": dict(iterations=30),
    "tomotopy": dict(iterations=200, optim_interval=0),
}
ALL_ENGINES = list(FAST)


def write_planted_corpus(folder: Path, docs_per_group: int = 30, length: int = 40, seed: int = 0, test_docs: int = 0) -> Path:
    """An OCTIS folder whose documents each draw their words from one of three disjoint groups."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for d in range(docs_per_group * len(GROUPS)):
        group = GROUPS[d % len(GROUPS)]
        words = rng.choice(group, size=length)
        split = "test" if d < test_docs else "train"
        lines.append(f"{' '.join(words)}\t{split}\tg{d % len(GROUPS)}")
    (folder / "corpus.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "vocabulary.txt").write_text("\n".join(w for g in GROUPS for w in g) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    source = write_planted_corpus(root / "octis", test_docs=6)
    return preprocess(read_corpus(source, format="octis"), PreprocessConfig(), root / "prepared", processes=1)


def config_for(engine: str, **extra) -> TrainConfig:
    return TrainConfig(engine=engine, num_topics=3, **{**FAST[engine], **extra})


def fingerprint(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.float64).tobytes()).hexdigest()


@pytest.mark.parametrize("engine", ALL_ENGINES)
def test_planted_topics_come_back(planted, engine):
    # Seed 2: variational Bayes finds a local optimum, and from seeds 0 and 1 (which give gensim and
    # scikit-learn the same initial topics, both drawing them from Gamma(100, 1/100)) two of these
    # groups merge and a topic dies; that is VB at K=3 on 90 documents, not an engine defect.
    trained = train_lda(planted, config_for(engine), seed=2)
    model = trained.model
    assert model.topic_word.shape == (3, 24)
    np.testing.assert_allclose(model.topic_word.sum(axis=1), 1.0)
    assert model.doc_topics.shape == (90, 3)  # held-out documents too
    np.testing.assert_allclose(model.doc_topics.sum(axis=1), 1.0)
    found = sorted(sorted(words) for words in model.top_words(8))
    assert found == sorted(sorted(group) for group in GROUPS)
    # each document's dominant topic is the one of its group
    labels = np.arange(90) % 3
    dominant = model.doc_topics.argmax(axis=1)
    for g in range(3):
        assert len(set(dominant[labels == g])) == 1
    assert trained.reproducible


@pytest.mark.parametrize("engine", ALL_ENGINES)
def test_same_seed_same_model_other_seed_other_model(planted, engine):
    first = train_lda(planted, config_for(engine), seed=3)
    again = train_lda(planted, config_for(engine), seed=3)
    other = train_lda(planted, config_for(engine), seed=4)
    np.testing.assert_array_equal(first.model.topic_word, again.model.topic_word)
    np.testing.assert_array_equal(first.model.doc_topics, again.model.doc_topics)
    assert not np.array_equal(first.model.topic_word, other.model.topic_word)


def test_gensim_same_model_in_a_fresh_process(planted):
    trained = train_lda(planted, config_for("gensim"), seed=5)
    script = (
        "import hashlib, numpy as np\n"
        "from topics.config import TrainConfig\n"
        "from topics.preprocessing import PreparedCorpus\n"
        "from topics.training import train_lda\n"
        f"p = PreparedCorpus.load({str(planted.path)!r})\n"
        f"m = train_lda(p, TrainConfig(engine='gensim', num_topics=3, passes=50), seed=5).model\n"
        "print(hashlib.sha256(np.ascontiguousarray(m.topic_word, dtype=np.float64).tobytes()).hexdigest())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == fingerprint(trained.model.topic_word)


@pytest.mark.parametrize("engine", ALL_ENGINES)
def test_run_folder_is_the_same_for_every_engine(planted, engine, tmp_path):
    run = create_run(planted, config_for(engine), 2, tmp_path / engine)
    for name in ("config.toml", "manifest.json", "topics.csv", "doc_topics.csv", "model/topic_word.npy", "model/doc_topics.npy"):
        assert (run.path / name).is_file(), name
    manifest = json.loads((run.path / "manifest.json").read_text())
    assert manifest["engine"] == engine and manifest["reproducible"] is True
    import tomllib

    config = tomllib.loads((run.path / "config.toml").read_text())
    assert config["model"]["engine"] == engine
    assert config["engine_parameters"]  # the resolved engine parameters are recorded
    loaded = load_run(run.path)
    native = loaded.native_model()
    bow = list(planted.bow("test"))
    inferred = infer_doc_topics(engine, native, bow, 0)
    assert inferred.shape == (len(bow), 3)
    np.testing.assert_allclose(inferred.sum(axis=1), 1.0)
    labels = np.array([int(doc_id) - 1 for doc_id in planted.doc_ids("test")]) % 3
    expected = run.model.topic_word[:, [planted.vocabulary.index(g[0]) for g in GROUPS]].argmax(axis=0)
    assert list(inferred.argmax(axis=1)) == [expected[g] for g in labels]


@pytest.mark.parametrize("engine", ALL_ENGINES)
def test_document_topics_written_to_a_file_are_those_held_in_memory(planted, engine, tmp_path):
    in_memory = train_lda(planted, config_for(engine), seed=4).model
    written = train_lda(planted, config_for(engine), seed=4, doc_topics_file=tmp_path / "doc_topics.npy").model
    assert type(in_memory.doc_topics) is np.ndarray and isinstance(written.doc_topics, np.memmap)
    assert not written.doc_topics.flags.writeable
    assert written.doc_topics.shape == (planted.num_docs, 3) and np.array_equal(written.doc_topics, in_memory.doc_topics)
    np.save(tmp_path / "in_memory.npy", in_memory.doc_topics)
    assert (tmp_path / "doc_topics.npy").read_bytes() == (tmp_path / "in_memory.npy").read_bytes()


def test_engine_parameters_are_resolved(planted):
    sklearn = train_lda(planted, TrainConfig(engine="sklearn", num_topics=4, alpha="symmetric"), seed=0)
    assert sklearn.parameters["doc_topic_prior"] == 0.25 and sklearn.parameters["max_iter"] == 10
    assert sklearn.parameters["learning_method"] == "batch"
    tomotopy = train_lda(planted, TrainConfig(engine="tomotopy", num_topics=3, iterations=20), seed=0)
    assert tomotopy.parameters["iterations"] == 20 and tomotopy.parameters["workers"] == 1
    gensim = train_lda(planted, TrainConfig(num_topics=3, passes=1), seed=0)
    assert gensim.parameters["iterations"] == 10 and gensim.parameters["chunksize"] == 84


@pytest.mark.parametrize(
    "num_docs, num_topics, expected",
    [
        (300, 20, (30, 300)),  # Lee: 30 passes at most up to 33 topics, the whole corpus one chunk
        (300, 50, (20, 300)),  # and at most 1000 / K passes above
        (300, 1_000, (1, 100)),  # (and chunks of chunk_budget / K)
        (2_225, 50, (20, 1_113)),  # BBC: two equal chunks of at most 2000
        (18_846, 20, (16, 1_885)),  # 20 Newsgroups: 300,000 visits, ten equal chunks
        (100_000, 50, (3, 2_000)),
        (1_000_000, 20, (1, 2_000)),
        (1_000_000, 200, (1, 500)),  # a chunk holds at most chunk_budget / K documents
    ],
)
def test_default_schedule(num_docs, num_topics, expected):
    assert schedule(TrainConfig(num_topics=num_topics), num_docs) == expected


def test_given_passes_and_chunksize_win_over_the_schedule():
    assert schedule(TrainConfig(num_topics=50, passes=7, chunksize=64), 300) == (7, 64)
    assert schedule(TrainConfig(num_topics=50, passes=7), 2_225) == (7, 1_113)


@pytest.mark.parametrize("num_topics, offset", [(5, 16.0), (20, 16.0), (30, 8.0), (40, 4.0), (50, 2.0), (60, 1.0), (500, 1.0)])
def test_default_offset_halves_with_every_ten_topics_above_twenty(num_topics, offset):
    assert TrainConfig(num_topics=num_topics).resolved_offset() == pytest.approx(offset)
    assert TrainConfig(num_topics=num_topics, offset=3.0).resolved_offset() == 3.0


def test_default_offset_falls_smoothly_with_the_number_of_topics():
    offsets = [TrainConfig(num_topics=k).resolved_offset() for k in range(1, 80)]
    assert all(a >= b for a, b in itertools.pairwise(offsets))
    assert max(a / b for a, b in itertools.pairwise(offsets)) < 1.1  # no step such as 16 to 1


def test_the_resolved_offset_reaches_gensim(planted):
    assert train_lda(planted, TrainConfig(num_topics=3, passes=1), seed=0).parameters["offset"] == 16.0
    assert train_lda(planted, TrainConfig(num_topics=3, passes=1, offset=4.0), seed=0).parameters["offset"] == 4.0


def test_tomotopy_with_several_workers_is_marked_not_reproducible(planted):
    trained = train_lda(planted, config_for("tomotopy", workers=2), seed=0)
    assert trained.reproducible is False


@pytest.mark.parametrize(
    "data, key",
    [
        ({"engine": "sklearn", "alpha": "auto"}, "alpha"),
        ({"engine": "sklearn", "alpha": "asymmetric"}, "alpha"),
        ({"engine": "tomotopy", "eta": "auto"}, "eta"),
        ({"engine": "tomotopy", "term_weight": "bm25"}, "term_weight"),
        ({"engine": "sklearn", "learning_method": "stochastic"}, "learning_method"),
        ({"engine": "lightlda"}, "engine"),
        ({"engine": "tomotopy", "iterations": 0}, "iterations"),
        ({"alpha": 0.0}, "alpha"),
    ],
)
def test_invalid_engine_settings_name_the_key(data, key):
    with pytest.raises(ConfigError, match=rf"experiments/x\.toml: \[model\] {key}"):
        validate(TrainConfig, data, "experiments/x.toml", "model")


def test_symmetric_priors_are_accepted_by_every_engine():
    for engine in ALL_ENGINES:
        assert validate(TrainConfig, {"engine": engine, "alpha": "symmetric", "eta": "symmetric"}, "x").engine == engine


def test_missing_tomotopy_says_how_to_install(planted, monkeypatch):
    monkeypatch.setitem(sys.modules, "tomotopy", None)  # import tomotopy now raises ImportError
    with pytest.raises(TopicsError, match=r"pip install -e '\.\[gibbs\]'"):
        train_lda(planted, config_for("tomotopy"), seed=0)


@pytest.mark.parametrize("engine", ALL_ENGINES)
def test_inference_of_new_documents_is_repeatable(planted, engine):
    trained = train_lda(planted, config_for(engine), seed=2)
    bow = list(planted.bow("test"))
    first = infer_doc_topics(engine, trained.native, bow, 2)
    np.testing.assert_array_equal(first, infer_doc_topics(engine, trained.native, bow, 2))


def documents_visited(n: int, passes: int, chunksize: int, n_all: int = 90) -> list[tuple[int, int]]:
    """gensim's reports: documents visited after each chunk and at each pass's end, then after the
    inference of all ``n_all`` documents' topics (one batch here), of passes x n + n_all."""
    ends = sorted({*range(chunksize, n + 1, chunksize), n})
    total = passes * n + n_all
    return [(p * n + end, total) for p in range(passes) for end in ends] + [(total, total)]


#: what each engine reports to ``progress`` for ``config_for(engine)`` (gensim: 84 training
#: documents of 90, one chunk a pass)
EXPECTED_PROGRESS = {
    "gensim": documents_visited(84, 50, 84),
    "tomotopy": [(i, 200) for i in range(1, 201)],  # once per Gibbs sweep
    "sklearn": [(0, 1), (1, 1)],  # start and end: fit has no hook
}


@pytest.mark.parametrize("engine", ALL_ENGINES)
def test_progress_is_reported_and_changes_nothing(planted, engine):
    calls: list[tuple[int, int]] = []
    reported = train_lda(planted, config_for(engine), seed=3, progress=lambda done, total: calls.append((done, total)))
    silent = train_lda(planted, config_for(engine), seed=3)
    assert calls == EXPECTED_PROGRESS[engine]
    assert fingerprint(reported.model.topic_word) == fingerprint(silent.model.topic_word)
    assert fingerprint(reported.model.doc_topics) == fingerprint(silent.model.doc_topics)
    if engine == "gensim":  # the reporter is not saved with the model
        assert reported.native.callbacks is None and not hasattr(reported.native, "metrics")


def test_gensim_reports_each_chunk_within_a_pass(planted):
    """One pass over many chunks (the default schedule on a large corpus) still moves the display."""
    calls: list[tuple[int, int]] = []
    config = config_for("gensim", passes=2, chunksize=20)
    reported = train_lda(planted, config, seed=3, progress=lambda done, total: calls.append((done, total)))
    assert calls == documents_visited(84, 2, 20)  # 20, 40, 60, 80, 84, then 104 ... 168, then 258
    assert fingerprint(reported.model.topic_word) == fingerprint(train_lda(planted, config, seed=3).model.topic_word)


def test_create_run_passes_progress_to_the_engine(planted, tmp_path):
    calls: list[tuple[int, int]] = []
    run = create_run(planted, config_for("gensim", passes=4), 1, tmp_path / "run", progress=lambda *args: calls.append(args))
    assert calls == documents_visited(84, 4, 84)
    assert run.native_model().callbacks is None
