"""Preprocessing throughput and peak memory on the raw 20 Newsgroups posts.

    .venv/bin/python benchmarks/preprocess.py [--data ../shared/data/20news-bydate.tar.gz] [--limit N] [--runs 3]

Compares ``topics.preprocess`` (default config: lemmas and bigrams included) with 1 process and
with all cores against the loop people write by hand (gensim ``simple_preprocess`` + stopwords +
``Dictionary`` + ``doc2bow``, one process), and measures peak memory (max RSS of the main process,
and of any worker as ``report.json`` records it) for the corpus once and repeated 4 times. Each measurement runs in a fresh
child process so peaks do not mix. The three timed set-ups run ``--runs`` times, interleaved (hand,
1 process, all cores, hand, ...), so that a change in the machine's speed hits them alike; the
table shows every run and the ratios are of the medians. Prints a table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
DEFAULT_DATA = next(
    (
        p
        for p in (HERE.parents[2] / "shared/data/20news-bydate.tar.gz", Path("/work/shared/data/20news-bydate.tar.gz"))
        if p.is_file()
    ),
    Path("/work/shared/data/20news-bydate.tar.gz"),
)


class Posts:
    """The unpacked posts as a re-iterable corpus (the duck type preprocess needs), ``repeat`` times."""

    format = "text"

    def __init__(self, folder: Path, repeat: int = 1, limit: int | None = None):
        from topics.corpus.documents import CorpusReport

        self.paths = sorted(p for p in folder.rglob("*") if p.is_file())[:limit]
        self.repeat = repeat
        self.report = CorpusReport()

    def __iter__(self):
        from topics.corpus.documents import CorpusReport, Document

        self.report = CorpusReport()
        for copy in range(self.repeat):
            for path in self.paths:
                raw = path.read_bytes()
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    text = raw.decode("latin-1")
                self.report.documents_read += 1
                yield Document(id=f"{copy}/{path.parent.name}/{path.name}", text=text, source=str(path), label=path.parent.name)

    def fingerprint(self) -> str:
        digest = hashlib.sha256(f"repeat={self.repeat}".encode())
        for path in self.paths:
            digest.update(path.read_bytes())
        return digest.hexdigest()


def hand_loop(corpus) -> dict:
    from gensim.corpora import Dictionary
    from gensim.parsing.preprocessing import STOPWORDS
    from gensim.utils import simple_preprocess

    texts = [[w for w in simple_preprocess(doc.text) if w not in STOPWORDS] for doc in corpus]
    dictionary = Dictionary(texts)
    dictionary.filter_extremes()
    bow = [dictionary.doc2bow(text) for text in texts]
    return {"docs": len(bow), "tokens": sum(len(t) for t in texts), "terms": len(dictionary)}


def child(args) -> None:
    corpus = Posts(Path(args.folder), repeat=args.repeat, limit=args.limit)
    started = time.perf_counter()
    if args.mode == "hand":
        facts = hand_loop(corpus)
    else:
        from topics.config import PreprocessConfig
        from topics.preprocessing.prepare import preprocess

        processes = 1 if args.mode == "ours-1" else None
        prepared = preprocess(corpus, PreprocessConfig(), Path(args.out), processes=processes, force=True)
        report = prepared.report
        facts = {
            "docs": prepared.num_docs,
            "tokens": report["num_tokens_before_filtering"],
            "terms": prepared.num_terms,
            "processes": report["processes"],
            "rss_workers_mb": report["peak_memory_mb"]["workers"],
        }
    facts["seconds"] = time.perf_counter() - started
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    facts["cpu_main"] = me.ru_utime + me.ru_stime
    facts["cpu_workers"] = kids.ru_utime + kids.ru_stime
    facts["rss_main_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # the workers' own peaks, as preprocess reports them (not RUSAGE_CHILDREN, which also counts
    # the `uname -p` that gensim's Dictionary.save runs through platform.platform(), a fork of main)
    facts["rss_worker_mb"] = max(facts.pop("rss_workers_mb", None) or [0])
    print(json.dumps(facts))


def run_child(mode: str, folder: Path, out: Path, repeat: int = 1, limit: int | None = None) -> dict:
    command = [sys.executable, str(HERE), "--child", mode, "--folder", str(folder), "--out", str(out), "--repeat", str(repeat)]
    if limit:
        command += ["--limit", str(limit)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="only the first N posts")
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs of each timed set-up (medians compared)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.mode = args.child
        child(args)
        return

    with tempfile.TemporaryDirectory(prefix="bench-preprocess-") as temp:
        temp = Path(temp)
        with tarfile.open(args.data) as archive:
            archive.extractall(temp / "posts", filter="data")
        cores = os.cpu_count() or 1
        setups = [
            ("hand loop (simple_preprocess+stopwords+Dictionary+doc2bow), 1 process", "hand", 1),
            ("topics.preprocess, processes=1", "ours-1", 1),
            (f"topics.preprocess, processes={cores} (all cores)", "ours-all", 1),
        ]
        rows = []
        for run in range(args.runs):
            for label, mode, repeat in setups:
                facts = run_child(mode, temp / "posts", temp / f"out-{mode}-{repeat}-{run}", repeat, args.limit)
                rows.append((f"{label} #{run + 1}", facts))
        label = f"topics.preprocess, processes={cores}, corpus x4"
        rows.append((label, run_child("ours-all", temp / "posts", temp / "out-x4", 4, args.limit)))

    header = f"{'run':<72} {'docs':>7} {'tokens':>9} {'sec':>7} {'docs/s':>8} {'tokens/s':>10} {'CPU main s':>10} {'CPU wrk s':>9} {'RSS main MB':>11} {'RSS worker MB':>13}"
    print(header)
    print("-" * len(header))
    for label, f in rows:
        print(
            f"{label:<72} {f['docs']:>7} {f['tokens']:>9} {f['seconds']:>7.1f} {f['docs'] / f['seconds']:>8.0f} "
            f"{f['tokens'] / f['seconds']:>10.0f} {f['cpu_main']:>10.1f} {f['cpu_workers']:>9.1f} {f['rss_main_mb']:>11.0f} {f['rss_worker_mb']:>13.0f}"
        )

    def median_of(index: int) -> dict:
        runs = [facts for _, facts in rows[index : -1 : len(setups)]]
        return sorted(runs, key=lambda facts: facts["seconds"])[(len(runs) - 1) // 2]  # the median run (lower one if even)

    hand, one, many = (median_of(index) for index in range(len(setups)))
    many4 = rows[-1][1]
    print()
    print(
        f"medians of {args.runs} interleaved runs: hand {hand['seconds']:.2f} s, 1 process {one['seconds']:.2f} s, "
        f"{cores} processes {many['seconds']:.2f} s"
    )
    print(f"speed-up all cores vs 1 process: {one['seconds'] / many['seconds']:.2f}x (target >= 1.7x on 2 cores)")
    print(f"ours (all cores) vs hand loop:   {hand['seconds'] / many['seconds']:.2f}x as fast (target >= 1.0x)")
    print(f"ours (1 process) vs hand loop:   {hand['seconds'] / one['seconds']:.2f}x as fast")
    load = os.getloadavg()[0]
    print(f"load average now: {load:.1f} on {cores} cores (other work on the machine slows the parallel runs)")
    critical = max(many["cpu_main"], many["cpu_workers"] / cores)
    print(
        f"CPU-bound speed-up estimate:     {(one['cpu_main'] + one['cpu_workers']) / critical:.2f}x "
        "(1-process CPU / busiest of main and mean worker CPU, all cores)"
    )
    peak1 = max(many["rss_main_mb"], many["rss_worker_mb"])
    peak4 = max(many4["rss_main_mb"], many4["rss_worker_mb"])
    print(
        f"peak memory x4 / x1:             {peak4 / peak1:.2f} (main {many4['rss_main_mb'] / many['rss_main_mb']:.2f}, "
        f"worker {many4['rss_worker_mb'] / max(many['rss_worker_mb'], 1):.2f}; target <= 1.3)"
    )


if __name__ == "__main__":
    main()
