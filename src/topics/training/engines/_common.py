"""What the engines share: bag-of-words as a sparse matrix, row normalisation, symmetric priors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sps


def bow_matrix(bow: Iterable[Sequence[tuple[int, float]]], num_terms: int) -> sps.csr_matrix:
    """Documents x terms count matrix of bag-of-words documents."""
    indptr, indices, data = [0], [], []
    for doc in bow:
        for term, count in doc:
            indices.append(term)
            data.append(count)
        indptr.append(len(indices))
    return sps.csr_matrix(
        (
            np.asarray(data, dtype=np.float64),
            np.asarray(indices, dtype=np.int64),
            np.asarray(indptr, dtype=np.int64),
        ),
        shape=(len(indptr) - 1, num_terms),
    )


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to one; an all-zero row becomes uniform."""
    matrix = np.asarray(matrix, dtype=np.float64)
    sums = matrix.sum(axis=1, keepdims=True)
    uniform = np.full_like(matrix, 1.0 / max(matrix.shape[1], 1))
    return np.where(sums > 0, matrix / np.where(sums > 0, sums, 1), uniform)


def symmetric_prior(value: float | str, num_topics: int) -> float:
    """A prior given as a number or ``symmetric`` (1/K)."""
    return 1.0 / num_topics if value == "symmetric" else float(value)
