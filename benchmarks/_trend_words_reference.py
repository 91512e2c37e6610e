"""Words per period for any topic model: the reference maths of issue 15 ("trend words").

Standalone and numpy-only (the document-word matrix is used only through row indexing and
``.T @ dense``, so a scipy CSR matrix works without this module importing scipy). The package
will port it; ``benchmarks/dynamic.py`` uses it on a static gensim run.

Formula. With θ_dk the share of topic k in document d (rows of ``doc_topics`` sum to 1), c_dw the
count of word w in d, and S_t the documents whose period is t:

    n_tkw = Σ_{d ∈ S_t} θ_dk · c_dw                       expected count of w given to k in period t
    p(w | k, t) = n_tkw / Σ_w' n_tkw'                      the period's word distribution of topic k
    N_tk = Σ_{d ∈ S_t} θ_dk                                effective number of documents of k in t
    M_tk = Σ_w n_tkw                                       tokens the period gives topic k

This is the expected topic-word count table of the period under the documents' topic mixtures, i.e.
one step of the M-step of LDA restricted to S_t with the word's topic posterior approximated by the
document's θ (a "topics over time" table in the sense of BERTopic's ``topics_over_time``, computed
from an LDA run instead of re-fitting c-TF-IDF). A pair (t, k) with N_tk < ``min_docs`` is marked
insufficient: its row of ``word_dist`` is NaN, never a distribution estimated from a handful of
documents. Empty periods are kept (all NaN) so time axes stay honest.

Ranking (``rank_trend_words``): by probability p(w | k, t), or by relevance against the topic's
overall distribution p(w | k) (Sievert and Shirley 2014, with the topic's overall distribution in
place of the corpus marginal so that what is *new for the topic* in a period stands out):

    r(w | k, t) = λ · log p(w | k, t) + (1 - λ) · log( p(w | k, t) / p(w | k) )

λ = 1 is ranking by probability; λ = 0 is pure lift. p(w | k) defaults to the same table pooled
over all dated documents (Σ_t n_tkw, normalised), so the two distributions share one estimator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrendWords:
    """Per (period, topic): ``word_dist`` (T x K x V, NaN rows where insufficient),
    ``effective_docs`` N_tk (T x K), ``token_mass`` M_tk (T x K), ``sufficient`` (T x K bool),
    ``overall`` p(w | k) pooled over all dated documents (K x V), ``docs_per_period`` (T,)."""

    word_dist: np.ndarray
    effective_docs: np.ndarray
    token_mass: np.ndarray
    sufficient: np.ndarray
    overall: np.ndarray
    docs_per_period: np.ndarray
    min_docs: float


def trend_words(doc_topics, doc_words, period_of_doc, num_periods: int, min_docs: float = 5.0) -> TrendWords:
    """The word distribution of every topic in every period, p(w | k, t), and N_tk.

    doc_topics: (D, K) topic shares θ, each row summing to 1 (rows are renormalised if not).
    doc_words: (D, V) word counts, scipy.sparse CSR (or dense ndarray).
    period_of_doc: (D,) integer period of each document in [0, num_periods); -1 = undated (left out).
    num_periods: T, the number of periods, including empty ones.
    min_docs: N_tk below this marks (t, k) insufficient (its ``word_dist`` row is NaN).

    Memory: the result holds T·K·V floats; for large vocabularies a port should keep only the
    top words of each (t, k) while looping over periods, as this loop already does.
    """
    theta = np.asarray(doc_topics, dtype=np.float64)
    periods = np.asarray(period_of_doc).astype(np.int64, copy=False)
    num_docs, num_topics = theta.shape
    if doc_words.shape[0] != num_docs or periods.shape != (num_docs,):
        raise ValueError(f"doc_topics has {num_docs} rows, doc_words {doc_words.shape[0]}, period_of_doc {periods.shape}")
    if num_periods < 1:
        raise ValueError(f"num_periods must be >= 1, got {num_periods}")
    if np.any((periods < -1) | (periods >= num_periods)):
        raise ValueError(f"period_of_doc must lie in [-1, {num_periods}), got {periods.min()}..{periods.max()}")
    if np.any(theta < 0):
        raise ValueError("doc_topics must be non-negative")
    totals = theta.sum(axis=1, keepdims=True)
    theta = np.divide(theta, totals, out=np.zeros_like(theta), where=totals > 0)

    num_words = doc_words.shape[1]
    counts = np.zeros((num_periods, num_topics, num_words))
    effective_docs = np.zeros((num_periods, num_topics))
    docs_per_period = np.bincount(periods[periods >= 0], minlength=num_periods)
    for t in range(num_periods):
        rows = np.flatnonzero(periods == t)
        if rows.size == 0:
            continue
        # (V x D_t) @ (D_t x K): sparse times dense is dense, so no scipy import is needed
        counts[t] = np.asarray(doc_words[rows].T @ theta[rows]).T
        effective_docs[t] = theta[rows].sum(axis=0)

    token_mass = counts.sum(axis=2)
    sufficient = (effective_docs >= min_docs) & (token_mass > 0)
    word_dist = np.full_like(counts, np.nan)
    word_dist[sufficient] = counts[sufficient] / token_mass[sufficient][:, None]
    pooled = counts.sum(axis=0)
    pooled_mass = pooled.sum(axis=1, keepdims=True)
    overall = np.divide(pooled, pooled_mass, out=np.zeros_like(pooled), where=pooled_mass > 0)
    return TrendWords(word_dist, effective_docs, token_mass, sufficient, overall, docs_per_period, float(min_docs))


def rank_trend_words(trends: TrendWords, n: int = 10, lam: float = 1.0, overall=None) -> np.ndarray:
    """Word ids of the top ``n`` words per (period, topic): (T, K, n) int, -1 where insufficient.

    lam = 1 ranks by p(w | k, t); lam < 1 mixes in the lift p(w | k, t) / p(w | k) (see the module
    docstring). ``overall`` (K x V) overrides p(w | k), e.g. with the model's own topic-word matrix.
    Words with p(w | k, t) = 0 are never ranked (their relevance is -inf); ties keep word-id order.
    """
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must lie in [0, 1], got {lam}")
    reference = trends.overall if overall is None else np.asarray(overall, dtype=np.float64)
    num_periods, num_topics, num_words = trends.word_dist.shape
    n = min(n, num_words)
    top = np.full((num_periods, num_topics, n), -1, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        for t, k in zip(*np.nonzero(trends.sufficient)):
            p = trends.word_dist[t, k]
            score = np.log(p)
            if lam < 1.0:  # skipped at lam = 1 so that 0 * inf never turns into NaN
                score = lam * score + (1.0 - lam) * (score - np.log(reference[k]))
            score[~(p > 0)] = -np.inf
            best = np.argsort(-score, kind="stable")[:n]
            best = best[np.isfinite(score[best])]
            top[t, k, : best.size] = best
    return top
