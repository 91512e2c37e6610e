"""Measures over one or more ``TopicModel``s besides coherence: diversity, inverted RBO, label agreement, topic matching, stability, held-out perplexity."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from topics.errors import ConfigError
from topics.training import heldout_bound
from topics.training.model import TopicModel

if TYPE_CHECKING:
    from topics.evaluation.scoring import Scorable

log = logging.getLogger(__name__)


# --- measures over one model --------------------------------------------------------------------

DIVERSITY_TOPN = 25


def topic_diversity(model: TopicModel, topn: int = DIVERSITY_TOPN) -> float:
    """Share of unique words among the top ``topn`` words of all topics (Dieng, Ruiz and Blei 2020)."""
    top = model.top_word_ids(topn)
    return float(len(np.unique(top)) / top.size)


def rank_biased_overlap(left: Sequence[Any], right: Sequence[Any], p: float = 0.9) -> float:
    """Extrapolated rank-biased overlap of two ranked lists of equal length (Webber, Moffat and Zobel 2010)."""
    depth = min(len(left), len(right))
    if depth == 0:
        return 0.0
    seen_left: set[Any] = set()
    seen_right: set[Any] = set()
    overlap = 0
    total = 0.0
    for d in range(1, depth + 1):
        a, b = left[d - 1], right[d - 1]
        if a == b:
            overlap += 1
        else:
            overlap += (a in seen_right) + (b in seen_left)
        seen_left.add(a)
        seen_right.add(b)
        total += overlap / d * p**d
    return float(overlap / depth * p**depth + (1 - p) / p * total)


def inverted_rbo(model: TopicModel, topn: int = 10, p: float = 0.9) -> float:
    """1 - mean rank-biased overlap over all pairs of topics (Bianchi et al. 2021, as in OCTIS)."""
    top = model.top_words(topn)
    if len(top) < 2:
        return 1.0
    overlaps = [rank_biased_overlap(top[i], top[j], p) for i in range(len(top)) for j in range(i + 1, len(top))]
    return float(1 - np.mean(overlaps))


def label_agreement(model: TopicModel, labels: Sequence[str] | np.ndarray, folds: int = 5, seed: int = 0) -> dict[str, float]:
    """NMI and ARI between each document's dominant topic and its label, and the cross-validated
    accuracy of a logistic regression on the document-topic vectors. Documents without a label are left out."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    labels = np.asarray(labels, dtype=object)
    known = np.array([bool(label) for label in labels])
    if known.sum() < 2 or len(set(labels[known])) < 2:
        raise ConfigError("label agreement needs documents with at least two distinct labels; this corpus has none")
    doc_topics = model.doc_topics[known]
    y = labels[known].astype(str)
    dominant = doc_topics.argmax(axis=1)
    result = {
        "nmi": float(normalized_mutual_info_score(y, dominant)),
        "ari": float(adjusted_rand_score(y, dominant)),
    }
    smallest_class = min(np.unique(y, return_counts=True)[1])
    n_splits = max(2, min(folds, smallest_class))
    classifier = LogisticRegression(max_iter=1000)
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    result["accuracy"] = float(np.mean(cross_val_score(classifier, doc_topics, y, cv=cv)))
    return result


def topic_similarity_matrix(left: TopicModel, right: TopicModel) -> np.ndarray:
    """1 - Jensen-Shannon distance (base 2) between every pair of topic-word distributions, aligned by word."""
    from scipy.spatial.distance import jensenshannon

    vocabulary = sorted(set(left.vocabulary) | set(right.vocabulary))
    index = {word: i for i, word in enumerate(vocabulary)}

    def aligned(model: TopicModel) -> np.ndarray:
        matrix = np.zeros((model.num_topics, len(vocabulary)))
        matrix[:, [index[w] for w in model.vocabulary]] = model.topic_word
        return matrix

    a, b = aligned(left), aligned(right)
    return 1 - np.array([[jensenshannon(x, y, base=2) for y in b] for x in a])


def match_topics(left: TopicModel, right: TopicModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-to-one topic matching (Hungarian assignment on JS similarity): rows, columns, similarities."""
    from scipy.optimize import linear_sum_assignment

    similarity = topic_similarity_matrix(left, right)
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    return rows, cols, similarity[rows, cols]


def stability(models: Sequence[TopicModel], threshold: float = 0.5) -> dict[str, float]:
    """Stability across seeds (Greene, O'Callaghan and Cunningham 2014, with JS similarity): for every
    pair of models, match topics one to one; report the mean matched similarity and the share of topics
    whose match is at least ``threshold`` similar."""
    if len(models) < 2:
        raise ConfigError("stability needs at least two runs that differ only by seed")
    similarities = []
    for i in range(len(models)):
        for j in range(i + 1, len(models)):
            similarities.append(match_topics(models[i], models[j])[2])
    matched = np.concatenate(similarities)
    return {
        "stability": float(matched.mean()),
        "stability_reappear": float((matched >= threshold).mean()),
    }


# --- perplexity -----------------------------------------------------------------------------------


def heldout_perplexity(run: Scorable) -> dict[str, Any]:
    """Per-word held-out log-likelihood (natural log) of the test documents under the run's engine,
    and perplexity = exp(-bound) (Blei, Ng and Jordan 2003, section 7.1).

    What the bound is depends on the engine (``topics.training.engines``): gensim's and
    scikit-learn's variational bounds, tomotopy's Gibbs-sampled log-likelihood; ``method`` in the
    result says which, so values of different engines are compared knowingly.
    """
    prepared = run.prepared
    heldout = list(prepared.bow("test"))
    if not heldout:
        raise ConfigError(
            f"{prepared.path}: no held-out documents for perplexity; preprocess with a [preprocess] heldout share (e.g. 0.1)"
        )
    training_docs = sum(1 for _ in prepared.doc_ids("train"))
    bound, method = heldout_bound(run.engine, run.native_model(), heldout, run.seed, training_docs)
    return {
        "perplexity": float(np.exp(-bound)),
        "per_word_bound": bound,
        "method": method,
    }
