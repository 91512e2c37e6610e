"""The tomotopy engine against tomotopy alone, on the same prepared tokens of raw text: one table.

Issue 12, item 6 (target: the engine within 0.005 c_npmi of tomotopy alone, 3-seed means, K = 20).
For each corpus (the raw BBC stories, ``bbc-articles.tar.gz`` read as articles, and ``sample:lee``)
the corpus is prepared once with the package's defaults (``topics preprocess``, through the command
line at ``--topics-bin``); on those same tokens, for every seed:

* ``engine``: ``topics train --engine tomotopy -k K --seed SEED``, everything else its defaults;
  training CPU from the run's ``manifest.json`` (``train_cpu_seconds``);
* ``alone``: tomotopy as a user writes it, on the prepared tokens
  (``PreparedCorpus.load(path).texts()``): ``tp.LDAModel(k=K, seed=seed)`` with tomotopy's own
  defaults, ``add_doc(tokens)`` for each non-empty document, ``train(1000, workers=1)``; training CPU
  (``add_doc`` and ``train``) from ``time.process_time``.

Scores: c_npmi and c_v of each topic's top 10 words against the prepared tokens (the package's
``ReferenceCorpus.from_token_lists`` and ``score_models``, as ``raw_quality.py --fast`` scores), the
mean over topics; diversity = unique share of the top 25 words of all topics. Prints the means over
seeds and the difference engine - alone per corpus.

    nice .venv/bin/python benchmarks/tomotopy_engine.py                    # BBC and Lee, K 20, seeds 0-2
    nice .venv/bin/python benchmarks/tomotopy_engine.py --corpus lee --workdir /tmp/tte   # reuses runs

Data: ``../shared/data`` beside the repository, or ``$TOPICS_DATA``; the tarball is unpacked into
``--workdir`` (a temporary folder unless given; prepared corpora and runs there are reused).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CORPORA = {"bbc": ("bbc-articles.tar.gz", "bbc-articles", "articles"), "lee": (None, None, None)}
PIPELINES = ("engine", "alone")
TOPN, DIVERSITY_TOPN = 10, 25


def data_dir() -> Path:
    return Path(os.environ.get("TOPICS_DATA") or REPO.parent / "shared" / "data")


def topics_cli(topics_bin: str, args: list[str], log: Path) -> None:
    with log.open("a", encoding="utf-8") as out:
        done = subprocess.run(["nice", topics_bin, *args], stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.exit(f"topics {' '.join(args)} failed (exit {done.returncode}); see {log}")


def prepare(name: str, workdir: Path, topics_bin: str) -> Path:
    """The corpus prepared with the package's defaults (once; reused from ``workdir``)."""
    tarball, folder, fmt = CORPORA[name]
    source, options = "sample:lee", []
    if tarball is not None:
        source, options = str(workdir / "raw" / folder), ["--format", fmt]
        if not Path(source).is_dir():
            with tarfile.open(data_dir() / tarball) as archive:
                archive.extractall(workdir / "raw", filter="data")
    out = workdir / name / "prepared"
    if not (out / "prepared.json").is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        topics_cli(topics_bin, ["preprocess", source, *options, "--out", str(out)], out.parent / "preprocess.log")
    return out


def train_engine(topics_bin: str, prepared: Path, k: int, seed: int) -> dict:
    run = prepared.parent / "runs" / f"engine-k{k}-s{seed}"
    if not (run / "manifest.json").is_file():
        run.parent.mkdir(parents=True, exist_ok=True)
        args = ["train", str(prepared), "--out", str(run), "--engine", "tomotopy", "-k", str(k), "--seed", str(seed)]
        topics_cli(topics_bin, args, run.parent / "engine.log")
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    words = json.loads((run / "model" / "vocabulary.json").read_text(encoding="utf-8"))
    topic_word = np.load(run / "model" / "topic_word.npy", allow_pickle=False)
    topics = [[words[i] for i in np.argsort(-row, kind="stable")[:DIVERSITY_TOPN]] for row in topic_word]
    return dict(topics=topics, cpu_seconds=manifest["train_cpu_seconds"])


def train_alone(texts: list[list[str]], k: int, seed: int) -> dict:
    """tomotopy as a user writes it: its own defaults, 1000 sweeps, one worker."""
    import tomotopy as tp

    started = time.process_time()
    model = tp.LDAModel(k=k, seed=seed)
    for tokens in texts:
        if tokens:
            model.add_doc(tokens)
    model.train(1000, workers=1)
    cpu = time.process_time() - started
    topics = [[word for word, _ in model.get_topic_words(t, top_n=DIVERSITY_TOPN)] for t in range(k)]
    return dict(topics=topics, cpu_seconds=cpu)


def score(rows: list[dict], texts: list[list[str]]) -> None:
    """Add the mean c_npmi and c_v of each row's topics (top 10 words) against ``texts``."""
    from topics.evaluation import ReferenceCorpus, score_models

    reference = ReferenceCorpus.from_token_lists(texts)
    vocabulary = set(reference.vocabulary)
    models = [[[w for w in topic[:TOPN] if w in vocabulary] for topic in row["topics"]] for row in rows]
    for row, values in zip(rows, score_models(models, reference, ["c_npmi", "c_v"])):
        for measure, per_topic in values.items():
            row[measure] = float(np.nanmean(per_topic))
        words = [w for topic in row["topics"] for w in topic[:DIVERSITY_TOPN]]
        row["diversity"] = len(set(words)) / len(words)


def measure_corpus(name: str, args, progress) -> list[dict]:
    from topics.preprocessing import PreparedCorpus

    prepared = prepare(name, args.workdir, args.topics_bin)
    corpus = PreparedCorpus.load(prepared)
    texts = list(corpus.texts())
    progress(f"{name}: {len(texts)} documents, {sum(map(len, texts))} tokens, {corpus.num_terms} terms")
    cache = prepared.parent / "alone.json"
    done = json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else {}
    rows = []
    for seed in args.seeds:
        for pipeline in PIPELINES:
            if pipeline == "engine":
                result = train_engine(args.topics_bin, prepared, args.k, seed)
            else:
                key = f"k{args.k}-s{seed}"
                if key not in done:
                    done[key] = train_alone(texts, args.k, seed)
                    cache.write_text(json.dumps(done), encoding="utf-8")
                result = done[key]
            rows.append(dict(corpus=name, docs=sum(1 for t in texts if t), pipeline=pipeline, seed=seed, **result))
            progress(f"{name} {pipeline} K={args.k} seed={seed}: {result['cpu_seconds']:.1f} CPU s")
    score(rows, texts)
    return rows


COLUMNS = ("c_npmi", "c_v", "diversity", "cpu_seconds")


def table(rows: list[dict], k: int) -> str:
    lines = [
        f"| corpus (documents trained) | K = {k} | c_npmi (sd) | c_npmi per seed | c_v | diversity | CPU s |",
        "|---|---|---|---|---|---|---|",
    ]
    for corpus in dict.fromkeys(row["corpus"] for row in rows):
        means = {}
        for pipeline in PIPELINES:
            members = [r for r in rows if r["corpus"] == corpus and r["pipeline"] == pipeline]
            means[pipeline] = {c: statistics.mean(m[c] for m in members) for c in COLUMNS}
            sd = statistics.stdev(m["c_npmi"] for m in members) if len(members) > 1 else 0.0
            seeds = ", ".join(f"{m['c_npmi']:.4f}" for m in members)
            m = means[pipeline]
            lines.append(
                f"| {corpus} ({members[0]['docs']:,}) | {pipeline} | {m['c_npmi']:.4f} ({sd:.4f}) | {seeds} "
                f"| {m['c_v']:.4f} | {m['diversity']:.3f} | {m['cpu_seconds']:.1f} |"
            )
        d = {c: means["engine"][c] - means["alone"][c] for c in COLUMNS}
        lines.append(
            f"| {corpus} | engine - alone | {d['c_npmi']:+.4f} | | {d['c_v']:+.4f} | {d['diversity']:+.3f} "
            f"| {d['cpu_seconds']:+.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", choices=list(CORPORA), help="repeat for several (default: all)")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--topics-bin", default=str(REPO / ".venv" / "bin" / "topics"), help="the topics command")
    parser.add_argument("--workdir", type=Path, help="keep unpacked data, prepared corpora and runs here (reused)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    temporary = None
    if args.workdir is None:
        temporary = tempfile.mkdtemp(prefix="bench-tomotopy-engine-")
        args.workdir = Path(temporary)
    progress = lambda line: print(line, file=sys.stderr, flush=True)
    try:
        rows = [row for name in args.corpus or list(CORPORA) for row in measure_corpus(name, args, progress)]
    finally:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)
    print(table(rows, args.k))
    print(
        f"\nmeans over seeds {' '.join(map(str, args.seeds))}; c_npmi and c_v of the top {TOPN} words against the "
        f"prepared tokens; diversity over the top {DIVERSITY_TOPN}; CPU = training; "
        f"total {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
