"""Topic quality of the engines, through our own pipeline: one table.

Both benchmark corpora (OCTIS layout), K = 20 and 50, seeds 0-2;
gensim with the tutorial settings (passes 10, chunksize 2000, symmetric priors), gensim with our
defaults, and our sklearn and tomotopy engines with theirs. Each model is trained by
``topics.runs.create_run`` and scored by ``topics.evaluate`` (c_npmi over the top-10 words by
probability against the prepared corpus, diversity over the top 25), with training wall and CPU time.

``--split all`` (the default) trains on every document, as the figures in the issue tracker were
measured; ``--split own`` keeps the corpora's OCTIS test split out of training, as
``topics preprocess`` does with OCTIS folders (20 Newsgroups then trains on 9,755 of 16,221 documents
and every method scores lower; see docs/defaults.md).

    nice .venv/bin/python benchmarks/quality.py                     # everything (long: ~1 h on 2 idle cores)
    nice .venv/bin/python benchmarks/quality.py --corpus bbc-news-preprocessed --k 20 --method gensim-defaults
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from topics.config import EvaluateConfig, PreprocessConfig, TrainConfig
from topics.corpus.stream import read_corpus
from topics.evaluation.scoring import evaluate_many
from topics.preprocessing.prepare import preprocess
from topics.runs.run import create_run

REPO = Path(__file__).resolve().parents[1]
CORPORA = ("bbc-news-preprocessed", "20newsgroups-preprocessed")
METHODS = {
    "gensim-tutorial": dict(engine="gensim", passes=10, chunksize=2000, alpha="symmetric", eta="symmetric", iterations=50),
    "gensim-defaults": dict(engine="gensim"),
    "sklearn": dict(engine="sklearn"),
    "tomotopy": dict(engine="tomotopy"),
}


def shared_data() -> Path:
    beside = REPO.parent / "shared" / "data"
    return beside if beside.is_dir() else Path("/work/shared/data")


def all_train_copy(source: Path, target: Path) -> Path:
    """A copy of an OCTIS folder whose every document is in the train split."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "vocabulary.txt", target / "vocabulary.txt")
    with (source / "corpus.tsv").open(encoding="utf-8") as lines, (target / "corpus.tsv").open("w", encoding="utf-8") as out:
        for line in lines:
            fields = line.rstrip("\n").split("\t")
            if len(fields) > 1:
                fields[1] = "train"
            out.write("\t".join(fields) + "\n")
    return target


def measure(corpora, ks, seeds, methods, workdir: Path, split: str = "all", progress=print) -> list[dict]:
    rows = []
    for corpus_name in corpora:
        source = shared_data() / corpus_name
        if split == "all":
            source = all_train_copy(source, workdir / "octis" / corpus_name)
        prepared = preprocess(
            read_corpus(source, format="octis"), PreprocessConfig(), workdir / "prepared" / corpus_name, processes=1
        )
        for k in ks:
            for method in methods:
                runs = []
                for seed in seeds:
                    config = TrainConfig(num_topics=k, **METHODS[method])
                    run = create_run(prepared, config, seed, workdir / "runs" / f"{corpus_name}-k{k}-{method}-{seed}")
                    runs.append(run)
                evaluations = evaluate_many(runs, EvaluateConfig(measures=["c_npmi", "diversity"], topn=10))
                for seed, run, evaluation in zip(seeds, runs, evaluations):
                    row = dict(
                        corpus=corpus_name,
                        k=k,
                        method=method,
                        seed=seed,
                        split=split,
                        train_documents=sum(1 for _ in prepared.doc_ids("train")),
                        c_npmi=evaluation.metrics["c_npmi"],
                        diversity=evaluation.metrics["diversity"],
                        ranking=evaluation.settings["c_npmi"]["ranking"],
                        train_seconds=run.manifest["train_wall_seconds"],
                        train_cpu_seconds=run.manifest.get("cpu_seconds"),
                        reproducible=run.manifest["reproducible"],
                    )
                    rows.append(row)
                    progress(json.dumps(row))
    return rows


def table(rows: list[dict]) -> str:
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["corpus"], row["k"], row["method"]), []).append(row)
    lines = [
        f"{'corpus':<26} {'K':>3} {'method':<16} {'c_npmi mean':>11} {'sd':>6} {'min..max':>14} {'diversity':>9} {'train s':>8} {'run cpu s':>9}  seeds",
    ]
    for (corpus, k, method), members in groups.items():
        scores = [m["c_npmi"] for m in members]
        sd = statistics.stdev(scores) if len(scores) > 1 else 0.0
        lines.append(
            f"{corpus:<26} {k:>3} {method:<16} {statistics.mean(scores):>11.4f} {sd:>6.4f} "
            f"{min(scores):>6.3f}..{max(scores):<6.3f} {statistics.mean(m['diversity'] for m in members):>9.3f} "
            f"{statistics.mean(m['train_seconds'] for m in members):>8.1f} "
            f"{statistics.mean(m['train_cpu_seconds'] or 0 for m in members):>9.1f}  "
            f"{','.join(str(m['seed']) for m in members)}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", choices=CORPORA, help="repeat for several (default: both)")
    parser.add_argument("--k", action="append", type=int, help="repeat for several (default: 20 and 50)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--method", action="append", choices=list(METHODS), help="repeat for several (default: all)")
    parser.add_argument(
        "--split", choices=["all", "own"], default="all", help="train on all documents, or keep the OCTIS test split out"
    )
    parser.add_argument("--json", type=Path, help="also write every row to this JSON-lines file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        rows = measure(
            args.corpus or CORPORA,
            args.k or [20, 50],
            args.seeds,
            args.method or list(METHODS),
            Path(tmp),
            split=args.split,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    if args.json:
        args.json.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    print(table(rows))
    print(
        f"\ntraining documents: {'all' if args.split == 'all' else 'OCTIS train and val splits'}; "
        f"c_npmi: top 10 words by probability, against the prepared corpus (all documents); diversity: top 25."
        f"\ntotal {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
