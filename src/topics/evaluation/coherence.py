"""Segmentation, confirmation and aggregation over counted references: the four coherence measures (Röder et al. 2015)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from topics.errors import ConfigError, unknown_name
from topics.evaluation.counting import (
    DEFAULT_BLOCK_TOKENS,
    DEFAULT_WINDOWS,
    EPSILON,
    ReferenceCorpus,
    ReferenceCounts,
    count_reference,
)

log = logging.getLogger(__name__)


# --- segmentation and confirmation ---------------------------------------------------------------


def _one_preceding(n: int) -> tuple[np.ndarray, np.ndarray]:
    """gensim's s_one_pre: (W'=w_i, W*=w_j) for j < i, in gensim's order."""
    pairs = [(i, j) for i in range(1, n) for j in range(i)]
    return _as_arrays(pairs)


def _one_one(n: int) -> tuple[np.ndarray, np.ndarray]:
    """gensim's s_one_one: (w_i, w_j) for i != j."""
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    return _as_arrays(pairs)


def _one_set(n: int) -> tuple[np.ndarray, np.ndarray]:
    """gensim's s_one_set: every ordered pair, self-pairs included (W* is the whole topic)."""
    pairs = [(i, j) for i in range(n) for j in range(n)]
    return _as_arrays(pairs)


def _as_arrays(pairs):
    arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


class _Stats(NamedTuple):
    """Counts for the segment pairs of one topic (probabilities are these over ``total``)."""

    prime: np.ndarray  # count of W'
    star: np.ndarray  # count of W*
    joint: np.ndarray  # count of W' and W* together
    total: float
    grouping: np.ndarray  # topic position x distinct word, one-hot


def _log_conditional(stats: _Stats, n: int) -> np.ndarray:
    """u_mass confirmation, log((P(W',W*) + eps) / P(W*)); 0 where P(W*) = 0 (gensim catches the division)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        star = stats.star / stats.total
        value = np.log((stats.joint / stats.total + EPSILON) / star)
    return np.where(stats.star == 0, 0.0, value)


def _log_ratio(stats: _Stats, n: int) -> np.ndarray:
    """PMI, log((P(W',W*) + eps) / (P(W') P(W*)))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log((stats.joint / stats.total + EPSILON) / (stats.prime / stats.total * (stats.star / stats.total)))


def _normalized_log_ratio(stats: _Stats, n: int) -> np.ndarray:
    """NPMI, PMI / -log(P(W',W*) + eps)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _log_ratio(stats, n) / -np.log(stats.joint / stats.total + EPSILON)


def _indirect_cosine(stats: _Stats, n: int) -> np.ndarray:
    """c_v: cosine between the NPMI context vector of each word and that of the whole topic (gamma=1)."""
    npmi = _normalized_log_ratio(stats, n).reshape(n, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Context vectors are indexed by distinct word: a repeated topic word adds into one entry.
        vectors = npmi @ stats.grouping
        topic_vector = npmi.sum(axis=0) @ stats.grouping
        dots = vectors @ topic_vector
        norms = np.sqrt((vectors**2).sum(axis=1)) * np.sqrt((topic_vector**2).sum())
        return dots / norms


class Measure(NamedTuple):
    """One row of the measure table, after gensim's COHERENCE_MEASURES."""

    segmentation: Callable[[int], tuple[np.ndarray, np.ndarray]]
    estimation: str  # "document" or "window"
    confirmation: Callable[[_Stats, int], np.ndarray]
    window: int | None


MEASURES: dict[str, Measure] = {
    "u_mass": Measure(_one_preceding, "document", _log_conditional, None),
    "c_uci": Measure(_one_one, "window", _log_ratio, DEFAULT_WINDOWS["c_uci"]),
    "c_npmi": Measure(_one_one, "window", _normalized_log_ratio, DEFAULT_WINDOWS["c_npmi"]),
    "c_v": Measure(_one_set, "window", _indirect_cosine, DEFAULT_WINDOWS["c_v"]),
}


def _measure(name: str) -> Measure:
    if name not in MEASURES:
        raise ConfigError(unknown_name("measure", name, list(MEASURES)))
    return MEASURES[name]


# --- scoring ----------------------------------------------------------------------------------


def score(
    topics: list[list[str]],
    counts: ReferenceCounts,
    measure: str,
    window: int | None = None,
) -> np.ndarray:
    """Coherence of each topic (a list of its top words, best first) under ``measure``.

    Topic words absent from the reference vocabulary are dropped, as gensim does. A topic left with
    no word, or (u_mass) with a single one, scores NaN. ``window`` defaults to ``DEFAULT_WINDOWS``
    and must have been counted by ``count_reference``. Röder et al. (2015); values match gensim 4.4.
    """
    spec = _measure(measure)
    if spec.estimation == "window":
        window = spec.window if window is None else int(window)
        if window not in counts.windows:
            raise ConfigError(f"window {window} for {measure} was not counted; counted windows: {sorted(counts.windows)}")
        window_counts = counts.windows[window]
    values = np.full(len(topics), np.nan)
    for t, topic in enumerate(topics):
        kept = [w for w in topic if w in counts.vocabulary]
        missing = [w for w in kept if w not in counts.index]
        if missing:
            raise ConfigError(f"topic {t}: words {missing[:5]} were not counted; pass them to count_reference")
        rows = np.asarray([counts.index[w] for w in kept], dtype=np.int64)
        n = len(rows)
        prime_at, star_at = spec.segmentation(n)
        if n == 0 or len(prime_at) == 0:
            continue
        prime, star = rows[prime_at], rows[star_at]
        distinct, first_at, position_of = np.unique(rows, return_index=True, return_inverse=True)
        # Context vectors list the distinct words in topic order, not in row order: rows number the
        # union of all models' words, and summing c_v's cosines in an order that depends on which
        # models are scored together changes their last bits.
        column_of = np.empty(len(distinct), dtype=np.int64)
        column_of[np.argsort(first_at, kind="stable")] = np.arange(len(distinct))
        grouping = np.zeros((n, len(distinct)))
        grouping[np.arange(n), column_of[position_of]] = 1.0
        prime_at, star_at = position_of[prime_at], position_of[star_at]
        if spec.estimation == "document":
            diag = np.diagonal(counts.doc_counts)
            stats = _Stats(
                diag[prime],
                diag[star],
                counts.doc_counts[prime, star],
                float(counts.num_docs),
                grouping,
            )
        else:
            occ = window_counts.occurrences
            joint = window_counts.cooccurrence_matrix(distinct)[prime_at, star_at]
            stats = _Stats(occ[prime], occ[star], joint, float(window_counts.num_windows), grouping)
        values[t] = np.mean(spec.confirmation(stats, n))
    return values


def score_models(
    models_topics: list[list[list[str]]],
    reference: ReferenceCorpus,
    measures: Sequence[str],
    *,
    windows: dict[str, int] | None = None,
    counting: str = "gensim",
    block_tokens: int = DEFAULT_BLOCK_TOKENS,
    count: Callable[..., ReferenceCounts] = count_reference,
) -> list[dict[str, np.ndarray]]:
    """Score several models' topics under several measures, counting the reference corpus once.

    Returns, for each model, ``{measure: per-topic values}``. ``windows`` overrides
    ``DEFAULT_WINDOWS`` per measure. The reference is counted in blocks of ``block_tokens`` tokens
    for the topics' word pairs only, so memory does not grow with the length of the reference.
    ``count`` counts it: ``count_reference`` here, or a function with its arguments that counts
    elsewhere (``cluster.count_reference_dask`` with its client bound) and returns identical counts.
    """
    specs = {m: _measure(m) for m in measures}
    windows = dict(windows or {})
    for name in windows:
        _measure(name)
    chosen: dict[str, int] = {}
    for m, spec in specs.items():
        if spec.estimation == "window":
            assert spec.window is not None  # every window measure has a default window
            chosen[m] = windows.get(m, spec.window)
    words = (w for topics in models_topics for topic in topics for w in topic)
    topics = [topic for topics in models_topics for topic in topics]
    counts = count(reference, words, chosen.values(), counting=counting, word_sets=topics, block_tokens=block_tokens)
    return [{m: score(topics, counts, m, chosen.get(m)) for m in measures} for topics in models_topics]
