"""Coherence speed and exactness against gensim 4.4's CoherenceModel on 20 Newsgroups.

    .venv/bin/python benchmarks/coherence.py [--models 30] [--gensim-calls 30] [--passes 10]

1. One model (K=20 gensim LdaModel, passes=10, random_state=0, top-10 words): for each measure,
   gensim's CoherenceModel with processes=1 and with its default processes, against ours
   (count_reference for the measure's window + score), with the largest absolute difference.
2. gensim counting against boolean counting: word-window hits of the topic words and mean c_v.
3. Many models: score_models on --models models (K=20, passes=1, seeds 1..N), all four measures
   from one count, against one gensim CoherenceModel call per model and measure. With
   --gensim-calls below --models, the gensim total is extrapolated from that many calls per measure.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
from gensim.corpora import Dictionary
from gensim.models import CoherenceModel, LdaModel

from topics.evaluation.coherence import MEASURES, score, score_models
from topics.evaluation.counting import DEFAULT_WINDOWS, ReferenceCorpus, count_reference

CORPUS = Path("/work/shared/data/20newsgroups-preprocessed/corpus.tsv")
MEASURE_NAMES = ["u_mass", "c_uci", "c_npmi", "c_v"]


def timed(function, repeat=1):
    """Best wall time of ``repeat`` calls, and the last result."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def gensim_scores(topics, texts, dictionary, measure, processes):
    model = CoherenceModel(topics=topics, texts=texts, dictionary=dictionary, coherence=measure, topn=10, processes=processes)
    return np.asarray(model.get_coherence_per_topic())


def top_words(lda, k, topn=10):
    return [[w for w, _ in lda.show_topic(t, topn=topn)] for t in range(k)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--gensim-calls", type=int, default=30, help="gensim calls timed per measure in part 3")
    parser.add_argument("--passes", type=int, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("gensim").setLevel(logging.ERROR)  # "too few updates" for the passes=1 models

    with args.corpus.open(encoding="utf-8") as lines:
        texts = [line.split("\t")[0].split() for line in lines]
    dictionary = Dictionary(texts)
    bow = [dictionary.doc2bow(t) for t in texts]
    print(f"corpus: {len(texts)} documents, {sum(map(len, texts))} tokens, {len(dictionary)} word types")
    print(f"gensim default processes here: {max(1, mp.cpu_count() - 1)} (cpu_count - 1)")

    train_time, lda = timed(lambda: LdaModel(bow, id2word=dictionary, num_topics=20, passes=args.passes, random_state=0))
    topics = top_words(lda, 20)
    print(f"trained K=20 LdaModel, passes={args.passes}, random_state=0 in {train_time:.1f} s")
    prep_time, reference = timed(lambda: ReferenceCorpus.from_token_lists(texts))
    print(f"ReferenceCorpus.from_token_lists: {prep_time:.3f} s (once per corpus, not counted below)\n")

    # --- 1. one model -------------------------------------------------------------------------
    words = [w for t in topics for w in t]
    print(f"{'measure':8} {'gensim p=1':>11} {'gensim dflt':>12} {'ours':>9} {'speed-up':>9} {'max |diff|':>11}")
    for measure in MEASURE_NAMES:
        g1, expected = timed(lambda m=measure: gensim_scores(topics, texts, dictionary, m, 1))
        gd, expected_default = timed(lambda m=measure: gensim_scores(topics, texts, dictionary, m, -1))
        window = [DEFAULT_WINDOWS[measure]] if measure in DEFAULT_WINDOWS else []
        ours_time, ours = timed(lambda m=measure, w=window: score(topics, count_reference(reference, words, w), m), repeat=3)
        diff = max(np.max(np.abs(ours - expected)), np.max(np.abs(ours - expected_default)))
        print(f"{measure:8} {g1:10.3f}s {gd:11.3f}s {ours_time:8.4f}s {min(g1, gd) / ours_time:8.0f}x {diff:11.2e}")

    # --- 2. gensim vs boolean counting ---------------------------------------------------------
    print("\ncounting  window  word-window hits   mean c_v")
    by_counting = {c: count_reference(reference, words, [10, 110], counting=c) for c in ("gensim", "boolean")}
    for window in (10, 110):
        hits = {c: int(counts.windows[window].occurrences.sum()) for c, counts in by_counting.items()}
        print(
            f"gensim    {window:6d}  {hits['gensim']:16d}   (boolean {hits['boolean']}, "
            f"{100 * (1 - hits['gensim'] / hits['boolean']):.1f}% fewer)"
        )
    for counting, counts in by_counting.items():
        print(f"{counting:8}     110  {'':16}   {np.mean(score(topics, counts, 'c_v')):.3f}")

    # --- 3. many models ------------------------------------------------------------------------
    print(f"\ntraining {args.models} models (K=20, passes=1, random_state=1..{args.models}) ...")
    models = [
        top_words(LdaModel(bow, id2word=dictionary, num_topics=20, passes=1, random_state=seed), 20)
        for seed in range(1, args.models + 1)
    ]
    ours_time, results = timed(lambda: score_models(models, reference, MEASURE_NAMES), repeat=3)
    calls = min(args.gensim_calls, args.models)
    print(f"{'measure':8} {'gensim ' + str(args.models) + ' calls':>16} {'ours':>9} {'speed-up':>9} {'max |diff|':>11}")
    gensim_total = 0.0
    for measure in MEASURE_NAMES:
        start = time.perf_counter()
        diff = 0.0
        for topics_m, result in zip(models[:calls], results):
            diff = max(diff, np.max(np.abs(gensim_scores(topics_m, texts, dictionary, measure, 1) - result[measure])))
        elapsed = (time.perf_counter() - start) * args.models / calls
        gensim_total += elapsed
        ours_m, _ = timed(lambda m=measure: score_models(models, reference, [m]), repeat=3)
        note = "" if calls == args.models else f" (gensim extrapolated from {calls} calls)"
        print(f"{measure:8} {elapsed:15.1f}s {ours_m:8.3f}s {elapsed / ours_m:8.0f}x {diff:11.2e}{note}")
    print(
        f"all four measures: gensim {gensim_total:.1f} s, ours {ours_time:.3f} s "
        f"(score_models, one count), {gensim_total / ours_time:.0f}x"
    )
    assert set(MEASURES) == set(MEASURE_NAMES)


if __name__ == "__main__":
    main()
