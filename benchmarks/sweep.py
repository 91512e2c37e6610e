"""A 10-model K-sweep with c_v and c_npmi on 20 Newsgroups: `topics` against the loop written by hand.

The hand-written loop is what researchers write: read the tokens, build a gensim ``Dictionary``,
then for each K train an ``LdaModel`` and score it with a ``CoherenceModel`` per measure. Both
sides use the same documents (the OCTIS train split for training, every document as the coherence
reference), the same seeds and settings; the script checks that the topics are identical.

With training identical on both sides, the best ratio on C cores is about
C x (1 + coherence time / training time) (parallel training, coherence counted once); the script
reports the ratio and its share of that ceiling.

    .venv/bin/python benchmarks/sweep.py [--data ../shared/data/20newsgroups-preprocessed] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

K_VALUES = [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
MEASURES = ["c_v", "c_npmi"]
PASSES, ITERATIONS, ALPHA, ETA, SEED, TOPN = 10, 50, 0.1, 0.01, 0, 10


def hand_loop(data: Path) -> tuple[dict, float, float, float]:
    """The loop by hand; returns ({K: (topic_word, scores)}, total, training and coherence seconds)."""
    from gensim.corpora import Dictionary
    from gensim.models import CoherenceModel, LdaModel

    start = time.perf_counter()
    texts, train = [], []
    with (data / "corpus.tsv").open(encoding="utf-8") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            tokens = fields[0].split()
            texts.append(tokens)
            if len(fields) > 1 and fields[1] == "train":
                train.append(tokens)
    dictionary = Dictionary(texts)
    bow = [dictionary.doc2bow(tokens) for tokens in train]
    results, train_seconds, coherence_seconds = {}, 0.0, 0.0
    for k in K_VALUES:
        t = time.perf_counter()
        lda = LdaModel(
            corpus=bow,
            id2word=dictionary,
            num_topics=k,
            passes=PASSES,
            iterations=ITERATIONS,
            chunksize=len(bow),
            alpha=ALPHA,
            eta=ETA,
            decay=0.5,
            offset=1.0,
            random_state=SEED,
            eval_every=None,
        )
        train_seconds += time.perf_counter() - t
        t = time.perf_counter()
        topic_word = lda.get_topics()
        top = [[dictionary[i] for i in np.argsort(-row, kind="stable")[:TOPN]] for row in topic_word]
        scores = {
            m: CoherenceModel(topics=top, texts=texts, dictionary=dictionary, coherence=m, topn=TOPN).get_coherence()
            for m in MEASURES
        }
        coherence_seconds += time.perf_counter() - t
        results[k] = (topic_word, scores)
        print(f"  hand K={k}: train {train_seconds:.1f} s, coherence {coherence_seconds:.1f} s so far", flush=True)
    return results, time.perf_counter() - start, train_seconds, coherence_seconds


def with_topics(data: Path, jobs: int, results_dir: Path) -> tuple[dict, float]:
    from topics.config import ExperimentConfig
    from topics.experiment.results import load_experiment
    from topics.experiment.runner import run_experiment

    config = ExperimentConfig(
        name="sweep",
        seeds=[SEED],
        corpus={"source": str(data), "format": "octis"},
        model={"num_topics": K_VALUES, "passes": PASSES, "iterations": ITERATIONS, "alpha": ALPHA, "eta": ETA},
        evaluate={"measures": MEASURES, "topn": TOPN},
    )
    start = time.perf_counter()
    result = run_experiment(config, results_dir, jobs=jobs)
    seconds = time.perf_counter() - start
    experiment = load_experiment(result.path)
    out = {}
    for row in experiment.runs.itertuples():
        run = experiment.run(row.run_id)
        out[int(row.num_topics)] = (run.model.topic_word, {m: getattr(row, m) for m in MEASURES})
    return out, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "20newsgroups-preprocessed"
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        print(f"topics run, {args.jobs} jobs ...", flush=True)
        ours, our_seconds = with_topics(args.data, args.jobs, Path(tmp))
    print(f"  topics: {our_seconds:.1f} s", flush=True)
    print("hand-written loop ...", flush=True)
    theirs, hand_seconds, train_seconds, coherence_seconds = hand_loop(args.data)

    identical = all(np.array_equal(ours[k][0], theirs[k][0]) for k in K_VALUES)
    close = all(np.allclose(ours[k][0], theirs[k][0], rtol=0, atol=1e-12) for k in K_VALUES)
    score_gap = max(abs(ours[k][1][m] - theirs[k][1][m]) for k in K_VALUES for m in MEASURES)
    ratio = hand_seconds / our_seconds
    ceiling = args.jobs * (1 + coherence_seconds / train_seconds)
    figures = {
        "models": len(K_VALUES),
        "jobs": args.jobs,
        "hand_seconds": round(hand_seconds, 1),
        "hand_train_seconds": round(train_seconds, 1),
        "hand_coherence_seconds": round(coherence_seconds, 1),
        "topics_seconds": round(our_seconds, 1),
        "ratio": round(ratio, 2),
        "ceiling": round(ceiling, 2),
        "share_of_ceiling": round(ratio / ceiling, 2),
        "identical_topic_word": identical,
        "topic_word_within_1e-12": close,
        "max_coherence_difference": score_gap,
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
