"""Rows of a ``.npy`` array read a block at a time, each block with a seek and a read.

Pages of a memory map stay in the process's resident memory once touched (and count towards its
peak), so reading a whole array through a map grows the process with the file; a block read into
an array of its own is freed when the next one replaces it. The coherence reference (``tokens.npy``)
and the topic shares (``doc_topics.npy``) are read this way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np


def read_npy_rows(path: Path, bounds: Iterable[tuple[int, int]]) -> Iterator[np.ndarray]:
    """Rows ``start:stop`` of the C-ordered array saved at ``path``, for each ``(start, stop)`` of
    ``bounds`` in turn, each in an array of its own (shape ``(stop - start, *row shape)``).

    Raises ValueError naming ``path`` when the array is Fortran-ordered or a range lies beyond its
    rows (or the file is shorter than its header says)."""
    # dtype, shape and data offset from numpy's own header parsing: a map reads no page of data
    mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    dtype, shape, data_start, c_ordered = mapped.dtype, mapped.shape, mapped.offset, mapped.flags.c_contiguous
    del mapped
    if not shape:
        raise ValueError(f"{path}: holds a scalar, not rows")
    if not c_ordered:
        raise ValueError(f"{path}: saved in Fortran order; rows can be read only from a C-ordered array")
    row_shape = shape[1:]
    row_items = math.prod(row_shape)
    with Path(path).open("rb") as handle:
        for start, stop in bounds:
            if not 0 <= start <= stop <= shape[0]:
                raise ValueError(f"{path}: rows {start}:{stop} asked of an array of {shape[0]} rows")
            handle.seek(data_start + start * row_items * dtype.itemsize)
            count = (stop - start) * row_items
            block = np.fromfile(handle, dtype=dtype, count=count)
            if len(block) != count:
                raise ValueError(f"{path}: shorter than its header says ({shape[0]} rows)")
            yield block.reshape((stop - start, *row_shape))


def row_blocks(num_rows: int, rows_per_block: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of consecutive blocks of ``rows_per_block`` rows covering ``num_rows``."""
    for start in range(0, num_rows, rows_per_block):
        yield start, min(start + rows_per_block, num_rows)
