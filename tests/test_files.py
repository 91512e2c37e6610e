""".npy files in blocks: written byte for byte as np.save writes them, read back row for row, and a
memory map read from its file without leaving it resident."""

from __future__ import annotations

import numpy as np
import pytest

from topics._files import NpyRows, NpyRowWriter, mapped_npy_file, row_blocks

ARRAYS = {
    "doc-topic rows": np.random.default_rng(0).random((1000, 7)),
    "token ids": np.random.default_rng(1).integers(0, 50_000, 12_345).astype(np.int32),
    "no rows": np.zeros((0, 5)),
    "three axes": np.arange(2 * 3 * 4, dtype=np.int64).reshape(2, 3, 4),
    "one row": np.array([[0.25, 0.75]]),
}


@pytest.mark.parametrize("name", ARRAYS)
@pytest.mark.parametrize("rows_per_block", [1, 3, 999, 5000])
def test_rows_written_in_blocks_are_the_file_np_save_writes(name, rows_per_block, tmp_path):
    array = ARRAYS[name]
    np.save(tmp_path / "whole.npy", array)
    with NpyRowWriter(tmp_path / "blocks.npy", array.shape, array.dtype) as out:
        for first in range(0, len(array), rows_per_block):
            out.write(array[first : first + rows_per_block])
    assert (tmp_path / "blocks.npy").read_bytes() == (tmp_path / "whole.npy").read_bytes()


@pytest.mark.parametrize("name", ARRAYS)
def test_rows_read_back_are_the_array_s_rows(name, tmp_path):
    array = ARRAYS[name]
    np.save(tmp_path / "a.npy", array)
    with NpyRows(tmp_path / "a.npy") as rows:
        assert rows.shape == array.shape and rows.dtype == array.dtype and len(rows) == len(array)
        for first, last in [
            (0, len(array)),
            (0, min(1, len(array))),
            (len(array) // 3, len(array) // 2),
            (len(array), len(array)),
        ]:
            np.testing.assert_array_equal(rows.read(first, last), array[first:last])
        blocks = list(rows.blocks(7))
    assert [len(block) for block in blocks] == [min(7, len(array) - first) for first in range(0, len(array), 7)]
    np.testing.assert_array_equal(np.concatenate(blocks) if blocks else array[:0], array)


def test_a_writer_refuses_rows_that_do_not_fit_and_a_missing_row(tmp_path):
    with pytest.raises(ValueError, match=r"do not fit \(3, 2\) after 2 rows"):
        with NpyRowWriter(tmp_path / "a.npy", (3, 2), np.float64) as out:
            out.write(np.zeros((2, 2)))
            out.write(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"do not fit \(3, 2\)"):
        with NpyRowWriter(tmp_path / "b.npy", (3, 2), np.float64) as out:
            out.write(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="2 rows written of 3"):
        with NpyRowWriter(tmp_path / "c.npy", (3, 2), np.float64) as out:
            out.write(np.zeros((2, 2)))


def test_a_truncated_file_is_an_error_naming_it(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(100.0))
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "a.npy").write_bytes(data[:-80])
    with pytest.raises(ValueError, match="a.npy"):
        with NpyRows(tmp_path / "a.npy") as rows:
            rows.read(0, 100)


def test_a_memory_map_is_read_from_its_file_and_a_view_of_one_is_sliced(tmp_path, monkeypatch):
    array = ARRAYS["doc-topic rows"]
    np.save(tmp_path / "a.npy", array)
    mapped = np.load(tmp_path / "a.npy", mmap_mode="r")
    assert mapped_npy_file(mapped) == tmp_path / "a.npy"
    assert mapped_npy_file(mapped[10:]) is None and mapped_npy_file(array) is None

    reads = []
    real_read = NpyRows.read
    monkeypatch.setattr(NpyRows, "read", lambda self, first, last: reads.append((first, last)) or real_read(self, first, last))
    np.testing.assert_array_equal(np.concatenate(list(row_blocks(mapped, 300))), array)
    assert reads == [(0, 300), (300, 600), (600, 900), (900, 1000)]
    reads.clear()
    np.testing.assert_array_equal(np.concatenate(list(row_blocks(mapped[::-1], 300))), array[::-1])
    np.testing.assert_array_equal(np.concatenate(list(row_blocks(array, 300))), array)
    assert reads == []
