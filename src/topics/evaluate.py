"""Scoring topics: coherence (through topics.coherence), diversity, held-out perplexity,
stability across seeds and agreement with document labels.

Every measure is a function over a ``TopicModel`` (and a reference corpus or run where it needs
one). ``evaluate_runs`` counts the reference corpus once for all runs that share it.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import EvaluateConfig
from .errors import ConfigError, RunError, unknown_name
from .model import TopicModel

if TYPE_CHECKING:
    from .preprocess import PreparedCorpus
    from .runs import Run

log = logging.getLogger(__name__)

COHERENCE_MEASURES = ("u_mass", "c_uci", "c_npmi", "c_v")
MODEL_MEASURES = ("diversity", "irbo", "perplexity", "nmi", "ari", "accuracy")
ALL_MEASURES = (*COHERENCE_MEASURES, *MODEL_MEASURES)
DIVERSITY_TOPN = 25


@dataclass
class Evaluation:
    """Scores of one model: a mean per measure, per-topic values where the measure has them, and settings."""

    metrics: dict[str, float] = field(default_factory=dict)
    topic_metrics: dict[str, np.ndarray] = field(default_factory=dict)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)


# --- measures over one model --------------------------------------------------------------------


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


def label_agreement(model: TopicModel, labels: Sequence[str], folds: int = 5, seed: int = 0) -> dict[str, float]:
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
    return {"stability": float(matched.mean()), "stability_reappear": float((matched >= threshold).mean())}


# --- perplexity -----------------------------------------------------------------------------------


def heldout_perplexity(run: Run) -> dict[str, Any]:
    """Per-word held-out log-likelihood (natural log) of the test documents under the run's engine,
    and perplexity = exp(-bound) (Blei, Ng and Jordan 2003, section 7.1).

    What the bound is depends on the engine (``HELDOUT_BOUNDS`` in topics.train): gensim's and
    scikit-learn's variational bounds, tomotopy's Gibbs-sampled log-likelihood; ``method`` in the
    result says which, so values of different engines are compared knowingly.
    """
    from .train import HELDOUT_BOUNDS

    prepared = run.prepared
    heldout = list(prepared.bow("test"))
    if not heldout:
        raise ConfigError(
            f"{prepared.path}: no held-out documents for perplexity; preprocess with --heldout 0.1 (or another share)"
        )
    engine = run.manifest.get("engine", "gensim")
    if engine not in HELDOUT_BOUNDS:
        raise ConfigError(unknown_name("engine", engine, list(HELDOUT_BOUNDS)))
    training_docs = sum(1 for _ in prepared.doc_ids("train"))
    bound, method = HELDOUT_BOUNDS[engine](run.native_model(), heldout, run.seed, training_docs)
    return {"perplexity": float(np.exp(-bound)), "per_word_bound": bound, "method": method}


# --- the evaluation of runs -----------------------------------------------------------------------


class _TokenIdTexts:
    """Re-iterable token-id arrays of a prepared corpus, for the coherence engine."""

    def __init__(self, prepared: PreparedCorpus):
        self.prepared = prepared

    def __iter__(self):
        # The whole tokens.npy in one read, then slices of a plain array: slicing the memory map of
        # ``PreparedCorpus.token_ids`` costs numpy's Python-level memmap bookkeeping per document
        # (0.6 s of a 2.2 s `topics evaluate` on 130,000 documents). The counting concatenates all
        # documents anyway, so holding them in memory costs nothing extra.
        path = self.prepared.path
        tokens = np.load(path / "tokens.npy", allow_pickle=False)
        offsets = np.load(path / "offsets.npy", allow_pickle=False).tolist()
        return (tokens[start:end] for start, end in pairwise(offsets))


def reference_corpus(prepared: PreparedCorpus):
    from .coherence import ReferenceCorpus

    return ReferenceCorpus(_TokenIdTexts(prepared), list(prepared.vocabulary))


def check_measures(measures: Sequence[str]) -> None:
    for name in measures:
        if name not in ALL_MEASURES and name != "stability":
            raise ConfigError(unknown_name("measure", name, [*ALL_MEASURES, "stability"]))


def evaluate_runs(runs: Sequence[Run], config: EvaluateConfig, reference: PreparedCorpus | None = None) -> list[Evaluation]:
    """Score ``runs``; coherence is counted once per reference corpus for all of them."""
    from . import coherence

    check_measures(config.measures)
    evaluations = [Evaluation() for _ in runs]
    coherence_measures = [m for m in config.measures if m in COHERENCE_MEASURES]
    if coherence_measures:
        groups: dict[str, list[int]] = {}
        references: dict[str, PreparedCorpus] = {}
        for i, run in enumerate(runs):
            ref = reference or run.prepared
            groups.setdefault(ref.fingerprint, []).append(i)
            references[ref.fingerprint] = ref
        for fingerprint, members in groups.items():
            ref = references[fingerprint]
            for i in members:
                vocabulary_size = len(runs[i].model.vocabulary)
                if config.topn > vocabulary_size:
                    raise ConfigError(f"--topn must be at most the vocabulary size ({vocabulary_size}), got {config.topn}")
            topics_per_model = [
                runs[i].model.top_words(config.topn, config.ranking, config.relevance_lambda) for i in members
            ]
            windows = {m: config.window or coherence.DEFAULT_WINDOWS[m] for m in coherence_measures if m != "u_mass"}
            scores = coherence.score_models(
                topics_per_model, reference_corpus(ref), coherence_measures, windows=windows, counting=config.counting
            )
            for i, model_scores in zip(members, scores):
                for measure, values in model_scores.items():
                    values = np.asarray(values, dtype=np.float64)
                    evaluations[i].metrics[measure] = float(np.mean(values))
                    evaluations[i].topic_metrics[measure] = values
                    evaluations[i].settings[measure] = {
                        "topn": config.topn,
                        "window": windows.get(measure),
                        "counting": config.counting if measure != "u_mass" else "documents",
                        "ranking": config.ranking,
                        "relevance_lambda": config.relevance_lambda if config.ranking == "relevance" else None,
                        "reference": {"path": str(Path(ref.path).resolve()), "fingerprint": ref.fingerprint},
                    }
    for run, evaluation in zip(runs, evaluations):
        model = run.model
        if "diversity" in config.measures:
            evaluation.metrics["diversity"] = topic_diversity(model)
            evaluation.settings["diversity"] = {"topn": DIVERSITY_TOPN}
        if "irbo" in config.measures:
            evaluation.metrics["irbo"] = inverted_rbo(model, config.topn)
            evaluation.settings["irbo"] = {"topn": config.topn, "p": 0.9}
        if "perplexity" in config.measures:
            perplexity = heldout_perplexity(run)
            method = perplexity.pop("method")
            evaluation.metrics.update(perplexity)
            evaluation.settings["perplexity"] = {
                "documents": "test split of the prepared corpus",
                "engine": run.manifest.get("engine", "gensim"),
                "computed": f"exp(-per_word_bound); per_word_bound: {method}",
            }
        if {"nmi", "ari", "accuracy"} & set(config.measures):
            documents = run.prepared.documents.set_index("id")
            labels = documents["label"].reindex(model.doc_ids).fillna("").astype(str).tolist()
            scores = label_agreement(model, labels, seed=run.seed)
            for name in ("nmi", "ari", "accuracy"):
                if name in config.measures:
                    evaluation.metrics[name] = scores[name]
                    evaluation.settings[name] = {"label": "documents.csv label", "classifier": "logistic regression, stratified k-fold"}
    return evaluations


def evaluate(run: Run, config: EvaluateConfig | None = None, reference: PreparedCorpus | None = None) -> Evaluation:
    """Score one run (see ``evaluate_runs``)."""
    return evaluate_runs([run], config or EvaluateConfig(), reference)[0]


def write_evaluation(run: Run, evaluation: Evaluation) -> None:
    """Merge ``evaluation`` into the run's ``metrics.json`` and ``topic_metrics.csv``, replacing earlier
    values of the same measures, and keep the manifest's hashes current."""
    from .runs import replace_files

    metrics = run.metrics
    settings = metrics.pop("settings", {})
    metrics.update(evaluation.metrics)
    settings.update(evaluation.settings)
    metrics["settings"] = settings

    topic_columns: dict[str, list[str]] = {}
    table = run.path / "topic_metrics.csv"
    if table.is_file():
        with table.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                for key, value in row.items():
                    if key != "topic":
                        topic_columns.setdefault(key, []).append(value)
    num_topics = run.model.num_topics
    for measure, values in evaluation.topic_metrics.items():
        topic_columns[measure] = [repr(float(v)) for v in values]
    topic_columns = {k: v for k, v in topic_columns.items() if len(v) == num_topics}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["topic", *topic_columns])
    for k in range(num_topics):
        writer.writerow([k, *(column[k] for column in topic_columns.values())])
    replace_files(
        run.path,
        {"metrics.json": json.dumps(metrics, indent=2, sort_keys=True) + "\n", "topic_metrics.csv": out.getvalue()},
    )


def stability_of(runs: Sequence[Run]) -> dict[str, float]:
    """Stability over runs that must differ only by seed."""
    configs = {(run.manifest["corpus_fingerprint"], run.config.model_dump_json()) for run in runs}
    if len(configs) > 1:
        raise RunError("stability compares runs that differ only by seed; these runs differ in corpus or settings")
    return stability([run.model for run in runs])
