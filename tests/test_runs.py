"""Run folders: complete or absent, reproducible, and tamper-evident."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from topics.config import PreprocessConfig, TrainConfig
from topics.corpus.stream import read_corpus
from topics.errors import RunError
from topics.preprocessing.prepare import preprocess
from topics.runs.run import create_run, load_run


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "lee"
    return preprocess(read_corpus("sample:lee"), PreprocessConfig(), out, processes=1)


CONFIG = TrainConfig(num_topics=4, passes=3)


def test_same_seed_same_topics_in_a_fresh_process(prepared, tmp_path):
    first = create_run(prepared, CONFIG, 3, tmp_path / "a")
    script = (
        "import sys; from topics.preprocessing import PreparedCorpus; from topics.runs import create_run; "
        "from topics.config import TrainConfig; "
        "create_run(PreparedCorpus.load(sys.argv[1]), TrainConfig(num_topics=4, passes=3), 3, sys.argv[2])"
    )
    subprocess.run([sys.executable, "-c", script, str(prepared.path), str(tmp_path / "b")], check=True, timeout=300)
    assert (tmp_path / "a" / "topics.csv").read_bytes() == (tmp_path / "b" / "topics.csv").read_bytes()
    assert (tmp_path / "a" / "doc_topics.csv").read_bytes() == (tmp_path / "b" / "doc_topics.csv").read_bytes()
    other = create_run(prepared, CONFIG, 4, tmp_path / "c")
    assert not np.allclose(first.model.topic_word, other.model.topic_word)


def test_run_records_what_it_needs(prepared, tmp_path):
    run = create_run(prepared, CONFIG, 0, tmp_path / "run")
    assert run.config == CONFIG and run.seed == 0
    assert run.prepared.fingerprint == prepared.fingerprint
    assert run.model.topic_word.shape == (4, prepared.num_terms)
    np.testing.assert_allclose(run.model.topic_word.sum(axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(run.model.doc_topics.sum(axis=1), 1, atol=1e-6)
    assert run.model.doc_ids == list(prepared.doc_ids())
    # the pickle-free record agrees with the engine's own model
    lda = run.native_model()
    np.testing.assert_allclose(lda.get_topics(), run.model.topic_word, rtol=1e-6)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config_hash"] and manifest["wall_seconds"] > 0 and manifest["peak_memory_mb"] > 0


def test_a_changed_model_file_is_not_loaded(prepared, tmp_path):
    create_run(prepared, CONFIG, 0, tmp_path / "run")
    state = tmp_path / "run" / "model" / "lda.gensim.state"
    state.write_bytes(state.read_bytes() + b"tampered")
    with pytest.raises(RunError, match="does not match the run's manifest"):
        load_run(tmp_path / "run").native_model()


def test_a_failed_training_leaves_nothing(prepared, tmp_path, monkeypatch):
    import topics.runs.run

    def explode(*args, **kwargs):
        raise MemoryError("simulated")

    monkeypatch.setattr(topics.runs.run, "write_trained", explode)
    with pytest.raises(MemoryError):
        create_run(prepared, CONFIG, 0, tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_existing_run_needs_force(prepared, tmp_path):
    create_run(prepared, CONFIG, 0, tmp_path / "run")
    with pytest.raises(RunError, match="`force`"):
        create_run(prepared, CONFIG, 0, tmp_path / "run")
    replaced = create_run(prepared, TrainConfig(num_topics=3, passes=2), 0, tmp_path / "run", force=True)
    assert replaced.model.num_topics == 3


def test_incomplete_run_folder(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "topics.csv").write_text("topic,rank,word,weight\n")
    with pytest.raises(RunError, match="not a complete run"):
        load_run(tmp_path / "run")


def test_force_keeps_the_old_run_when_the_swap_fails(prepared, tmp_path, monkeypatch):
    """Build beside, move the old run aside, rename, then delete: a crash between the two renames
    loses neither run (the old one is put back)."""
    import topics._files

    first = create_run(prepared, CONFIG, 0, tmp_path / "run")
    before = first.topics
    real_replace = topics._files.os.replace

    def replace(source, target):
        if ".tmp-" in str(source):  # the new run going into place
            raise OSError(28, "No space left on device")
        return real_replace(source, target)

    monkeypatch.setattr(topics._files.os, "replace", replace)
    with pytest.raises(OSError, match="No space"):
        create_run(prepared, CONFIG, 1, tmp_path / "run", force=True)
    monkeypatch.setattr(topics._files.os, "replace", real_replace)
    kept = load_run(tmp_path / "run")
    assert kept.seed == 0 and kept.topics.equals(before)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_force_never_replaces_a_folder_that_is_not_a_run(prepared, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(RunError, match="not a run folder"):
        create_run(prepared, CONFIG, 0, folder, force=True)
    assert (folder / "notes.txt").read_text() == "keep me"


def test_document_topics_written_in_blocks_are_the_ones_inferred_at_once(prepared, tmp_path, monkeypatch):
    """Blocks far smaller than the corpus everywhere (tokens read, topics inferred, rows written and
    read back for the CSV): the run's doc_topics.npy and doc_topics.csv are, bit for bit, those of one
    inference over every document at once, computed here from the saved model and a bag-of-words
    counted from the whole tokens.npy."""
    from collections import Counter
    from itertools import pairwise

    import topics.preprocessing.prepared as prepared_module
    import topics.training.engines.gensim_lda as gensim_lda
    import topics.training.model as model_module

    monkeypatch.setattr(prepared_module, "BOW_BLOCK_DOCS", 5)
    monkeypatch.setattr(prepared_module, "DOC_ID_BLOCK_ROWS", 13)
    monkeypatch.setattr(gensim_lda, "INFERENCE_BATCH_DOCS", 7)
    monkeypatch.setattr(model_module, "DOC_TOPIC_BLOCK_ROWS", 11)
    seed = 5
    run = create_run(prepared, CONFIG, seed, tmp_path / "run")

    tokens, offsets = np.load(prepared.path / "tokens.npy"), np.load(prepared.path / "offsets.npy")
    bow = [sorted(Counter(tokens[a:b].tolist()).items()) for a, b in pairwise(offsets)]
    lda = run.native_model()
    lda.random_state = np.random.RandomState(seed)
    gamma = lda.inference(bow)[0].astype(np.float64)
    expected = gamma / gamma.sum(axis=1, keepdims=True)

    assert isinstance(run.model.doc_topics, np.memmap)
    assert np.array_equal(run.model.doc_topics, expected)
    np.save(tmp_path / "expected.npy", expected)
    assert (run.path / "model" / "doc_topics.npy").read_bytes() == (tmp_path / "expected.npy").read_bytes()
    ids = prepared.documents["id"].tolist()
    assert run.model.doc_ids == ids
    lines = (run.path / "doc_topics.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "id," + ",".join(f"topic_{k}" for k in range(CONFIG.num_topics))
    assert lines[1:] == [",".join([doc_id, *(f"{value:.6g}" for value in row)]) for doc_id, row in zip(ids, expected)]
    np.testing.assert_allclose(run.model.topic_shares(), expected.mean(axis=0), rtol=1e-12)


def test_a_loaded_model_saves_the_same_files_elsewhere_and_in_place(prepared, tmp_path):
    from topics.training.model import TopicModel

    run = create_run(prepared, CONFIG, 1, tmp_path / "run")
    model = run.model  # doc_topics memory-mapped from the run folder
    model.save(tmp_path / "copy")
    for name in ("doc_topics.npy", "topic_word.npy", "doc_ids.json"):
        assert (tmp_path / "copy" / name).read_bytes() == (run.path / "model" / name).read_bytes(), name
    again = TopicModel.load(tmp_path / "copy")
    again.save(tmp_path / "copy")  # its own file: left as it is, the map still reads it
    assert (tmp_path / "copy" / "doc_topics.npy").read_bytes() == (run.path / "model" / "doc_topics.npy").read_bytes()
    assert np.array_equal(again.doc_topics, model.doc_topics)
    reversed_view = TopicModel(**{**again.__dict__, "doc_topics": again.doc_topics[::-1]})
    reversed_view.save(tmp_path / "copy")  # rows read from a view of the file's map while its successor is written
    assert np.array_equal(np.load(tmp_path / "copy" / "doc_topics.npy"), np.asarray(model.doc_topics)[::-1])
    assert not list((tmp_path / "copy").glob(".*"))
