"""The topic shares summed from a run's doc_topics.npy a block at a time (``TopicModel.topic_shares``)."""

from __future__ import annotations

import numpy as np
import pytest

from topics.config import PreprocessConfig, TrainConfig
from topics.corpus.stream import read_corpus
from topics.errors import RunError
from topics.preprocessing.prepare import preprocess
from topics.runs.run import create_run, load_run
from topics.training.model import TopicModel


@pytest.fixture(scope="module")
def lee_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("shares")
    prepared = preprocess(read_corpus("sample:lee"), PreprocessConfig(), root / "prepared", processes=1)
    return create_run(prepared, TrainConfig(num_topics=7, passes=2), 0, root / "run")


@pytest.mark.parametrize("rows", [1, 3, 100, 1 << 20])
def test_shares_from_the_file_are_numpys_mean_to_the_last_bit(lee_run, rows):
    model = load_run(lee_run.path).model
    assert isinstance(model.doc_topics, np.memmap)  # a loaded run maps its doc_topics: read from the file
    in_memory = np.load(lee_run.path / "model" / "doc_topics.npy")
    assert in_memory.shape == (300, 7)
    shares = model.topic_shares(rows)
    np.testing.assert_array_equal(shares, in_memory.mean(axis=0))
    assert shares.sum() == pytest.approx(1.0)
    # and a sum of the blocks' own sums would not be: the order of the additions matters
    block_sums = sum(block.sum(axis=0) for block in model.doc_topic_blocks(3))
    assert not np.array_equal(block_sums / 300, in_memory.mean(axis=0))


def test_shares_of_arrays_in_memory_of_slices_and_of_one_topic(lee_run, tmp_path):
    model = load_run(lee_run.path).model
    rows = model.doc_topics[100:]  # a slice of the map is not the whole file: summed as it is
    sliced = TopicModel(model.topic_word, rows, model.vocabulary, model.doc_ids[100:], model.term_frequency)
    np.testing.assert_array_equal(sliced.topic_shares(2), np.asarray(rows).mean(axis=0))
    single = np.random.default_rng(1).random((1000, 1))
    np.save(tmp_path / "single.npy", single)
    one_topic = TopicModel(np.ones((1, 3)) / 3, np.load(tmp_path / "single.npy", mmap_mode="r"), ["a", "b", "c"], [], np.ones(3))
    np.testing.assert_array_equal(one_topic.topic_shares(8), single.mean(axis=0))
    empty = TopicModel(np.ones((4, 3)) / 3, np.zeros((0, 4)), ["a", "b", "c"], [], np.ones(3))
    np.testing.assert_array_equal(empty.topic_shares(), np.zeros(4))


def test_a_doc_topics_file_cut_short_is_a_run_error(tmp_path):
    np.save(tmp_path / "doc_topics.npy", np.full((50, 4), 0.25))
    mapped = np.load(tmp_path / "doc_topics.npy", mmap_mode="r")
    model = TopicModel(np.ones((4, 3)) / 3, mapped, ["a", "b", "c"], [str(d) for d in range(50)], np.ones(3))
    size = (tmp_path / "doc_topics.npy").stat().st_size
    with (tmp_path / "doc_topics.npy").open("r+b") as handle:
        handle.truncate(size - 8 * 4 * 10)  # the map was made before: its header still says 50 rows
    with pytest.raises(RunError, match=r"doc_topics.npy: .*retrain the run"):
        model.topic_shares(5)
