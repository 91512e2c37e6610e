"""The repeated-lines boilerplate rule: in how many documents each line occurs, counted on a sample
of the documents, and the lines over the threshold.

The rule needs the whole corpus. In the first pass the workers tokenise each document as
usual but keep its non-blank lines beside its tokens in a scratch file, while counting in how many
documents each normalised line occurs, as 64-bit hashes in sorted arrays (16 bytes a distinct
line), on a sample: every k-th document, k the smallest power of two that leaves at most
``repeated_sample`` documents (so the whole corpus below that size; ``LineSample`` keeps the
counts by level so that k can grow as documents arrive, without knowing their number
beforehand). The main process sums the workers' counts and sends back the hashes of the lines
over the threshold; the workers then write the token file, tokenising again (from their caches)
only the documents that lose a line. The outputs are the same for any number of processes: the
sample is chosen by document position.

A sample suffices because the threshold is a share. A line in a share p of the documents occurs
in about n·p of n sampled ones, with a standard deviation of sqrt(n·p·(1 - p)): for n = 20,000
and p = 1%, 200 ± 14. A line well above the threshold (1.5% of the documents: 300 ± 17 against a
threshold of 200) is missed with a chance below 1e-9, a line well below it (0.5%) caught with a
chance as small; only lines within a few tenths of a percent of the threshold can fall either
side, and those are borderline whatever is counted. Taking every k-th document rather than the
first n spreads the sample over a corpus sorted by source or by date.
"""

from __future__ import annotations

import math

import numpy as np

from topics.config import PreprocessConfig

REPEATED_MIN_DOCUMENTS = 5
PENDING_HASHES = 1 << 18  # line hashes buffered before they are folded into the sorted counts


def _level(index: int) -> int:
    """The largest m with ``index`` a multiple of 2**m (64 for 0)."""
    return (index & -index).bit_length() - 1 if index else 64


def sample_level(num_docs: int, limit: int) -> int:
    """The smallest m such that every 2**m-th document of ``num_docs`` is at most ``limit`` documents."""
    level = 0
    while math.ceil(num_docs / 2**level) > limit:
        level += 1
    return level


def _fold(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    unique, inverse = np.unique(keys, return_inverse=True)
    return unique, np.bincount(inverse, weights=counts, minlength=len(unique)).astype(np.int64)


class LineSample:
    """In how many sampled documents each normalised line occurs, as 64-bit hashes in sorted arrays.

    Document ``i`` (its position in the corpus) is kept at level m, the number of times 2 divides
    ``i``; the sample of step 2**m is the documents of level m and above. As positions grow the step
    doubles (``sample_level``) and the lower levels are dropped, so at most ``limit`` documents'
    lines are held whatever the corpus's size, and the sample is fixed by the documents' positions
    alone (any number of workers, any order of chunks, the same sample)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.level = 0
        self.seen = 0  # one past the highest position added
        self.counts: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._pending: dict[int, list[np.ndarray]] = {}
        self._pending_size = 0

    def sampled(self, index: int) -> bool:
        """Whether document ``index`` is in the sample, as far as the documents up to it tell
        (``add`` counts only those: normalising the lines of the others is wasted work)."""
        self.seen = max(self.seen, index + 1)
        if math.ceil(self.seen / 2**self.level) > self.limit:
            self.level = sample_level(self.seen, self.limit)
            for level in [level for level in (*self.counts, *self._pending) if level < self.level]:
                self.counts.pop(level, None)
                self._pending.pop(level, None)
        return _level(index) >= self.level

    def add(self, index: int, lines: set[str]) -> None:
        """The distinct normalised non-blank lines of document ``index``."""
        if not self.sampled(index) or not lines:
            return
        level = _level(index)
        self._pending.setdefault(level, []).append(np.fromiter(map(hash, lines), dtype=np.int64, count=len(lines)))
        self._pending_size += len(lines)
        if self._pending_size > PENDING_HASHES:
            self._fold()

    def _fold(self) -> None:
        for level, pending in self._pending.items():
            keys, counts = self.counts.get(level, (np.empty(0, np.int64), np.empty(0, np.int64)))
            new = np.concatenate(pending)
            self.counts[level] = _fold(np.concatenate([keys, new]), np.concatenate([counts, np.ones(len(new), np.int64)]))
        self._pending, self._pending_size = {}, 0

    def arrays(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Level -> (sorted hashes, documents counted)."""
        self._fold()
        return self.counts


def repeated_line_hashes(
    samples: list[dict[int, tuple[np.ndarray, np.ndarray]]], num_docs: int, config: PreprocessConfig
) -> tuple[np.ndarray, dict]:
    """The hashes of the lines over the threshold, from the workers' ``LineSample.arrays``, and
    what the report says of the sample."""
    level = sample_level(num_docs, config.repeated_sample)
    sampled = math.ceil(num_docs / 2**level)
    parts = [arrays for sample in samples for lvl, arrays in sample.items() if lvl >= level]
    threshold = max(REPEATED_MIN_DOCUMENTS, math.ceil(config.repeated_min_share * sampled))
    if parts:
        keys, counts = _fold(np.concatenate([k for k, _ in parts]), np.concatenate([c for _, c in parts]))
        hashes = keys[counts >= threshold]
    else:
        hashes = np.empty(0, np.int64)
    facts = {
        "sample_documents": sampled,
        "sample_every": 2**level,
        "min_documents_in_sample": threshold,
        "distinct_lines": len(hashes),
    }
    return hashes, facts
