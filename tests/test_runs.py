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
