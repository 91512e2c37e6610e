"""What a user feels: the whole `topics evaluate` process against a gensim script (issue 3).

    .venv/bin/python benchmarks/evaluate_cli.py [--repeat 8] [--runs 3] [--workdir DIR]

Set-up (not timed; `topics` commands in a temporary folder T, or in --workdir, reused when there):
  T/ng    `topics preprocess <20newsgroups-preprocessed> --format octis`
  T/ng8x  an OCTIS folder whose corpus.tsv is the 20 Newsgroups corpus.tsv repeated --repeat times
  T/ng8   `topics preprocess T/ng8x --format octis` (repeated lines stay documents; checked)
  T/run   `topics train T/ng -k 20 --passes 10 --seed 0`

Timed, wall clock, whole processes (start-up, imports, loading and writing included):
  ours    `topics evaluate T/run --reference T/ng8 --measure c_npmi --measure c_v`, best and median of --runs
  gensim  a Python script: the run's top-10 words per topic from T/run/topics.csv, the token lists
          from T/ng8x/corpus.tsv, a gensim Dictionary of them and CoherenceModel(..., topn=10,
          processes=1).get_coherence_per_topic() for c_npmi and c_v; run once (it is the slow one)

Then the per-topic values of both are compared (ours from T/run/topic_metrics.csv). The target is
ours at least 10 times faster, with values within 1e-6. Other jobs may share the cores: run it
under `nice` and read the load averages printed with the table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA_NAME = "20newsgroups-preprocessed"
DATA_CANDIDATES = [REPO.parent / "shared" / "data" / DATA_NAME, Path("/work/shared/data") / DATA_NAME]
MEASURES = ["c_npmi", "c_v"]
TARGET_RATIO = 10.0
TOLERANCE = 1e-6

GENSIM_SCRIPT = """
import csv, json, sys, time
start = time.perf_counter()
from gensim.corpora import Dictionary
from gensim.models import CoherenceModel

run_dir, corpus_tsv, out = sys.argv[1:4]
topics = {}
with open(f"{run_dir}/topics.csv", encoding="utf-8", newline="") as handle:
    for row in csv.DictReader(handle):
        if int(row["rank"]) <= 10:
            topics.setdefault(int(row["topic"]), []).append((int(row["rank"]), row["word"]))
topics = [[word for _, word in sorted(topics[k])] for k in sorted(topics)]
with open(corpus_tsv, encoding="utf-8") as handle:
    texts = [line.split("\\t")[0].split() for line in handle]
dictionary = Dictionary(texts)
stages = {"imports_and_reading": time.perf_counter() - start}
values = {}
for measure in ["c_npmi", "c_v"]:
    began = time.perf_counter()
    model = CoherenceModel(topics=topics, texts=texts, dictionary=dictionary, coherence=measure, topn=10, processes=1)
    values[measure] = [float(v) for v in model.get_coherence_per_topic()]
    stages[measure] = time.perf_counter() - began
with open(out, "w", encoding="utf-8") as handle:
    json.dump({"values": values, "stages": stages, "documents": len(texts), "tokens": sum(map(len, texts))}, handle)
"""


def find_data(given: Path | None) -> Path:
    for candidate in [given] if given else DATA_CANDIDATES:
        if (candidate / "corpus.tsv").is_file():
            return candidate
    raise SystemExit(f"no {DATA_NAME}/corpus.tsv in {', '.join(map(str, DATA_CANDIDATES))}; give --data")


def topics_command() -> str:
    beside = Path(sys.executable).parent / "topics"
    return str(beside) if beside.is_file() else (shutil.which("topics") or "topics")


def run(command: list[str]) -> float:
    """Run a whole process, fail loudly, return its wall time."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return wall


def set_up(work: Path, data: Path, repeat: int) -> None:
    topics = topics_command()
    if not (work / "ng" / "prepared.json").is_file():
        wall = run([topics, "preprocess", str(data), "--format", "octis", "--out", str(work / "ng")])
        print(f"set-up: preprocess {data} -> ng in {wall:.1f} s")
    repeated = work / "ng8x"
    if not (repeated / "corpus.tsv").is_file():
        repeated.mkdir(parents=True, exist_ok=True)
        text = (data / "corpus.tsv").read_text(encoding="utf-8")
        text = text if text.endswith("\n") else text + "\n"
        (repeated / "corpus.tsv").write_text(text * repeat, encoding="utf-8")
        shutil.copy(data / "vocabulary.txt", repeated / "vocabulary.txt")
    if not (work / "ng8" / "prepared.json").is_file():
        wall = run([topics, "preprocess", str(repeated), "--format", "octis", "--out", str(work / "ng8")])
        print(f"set-up: preprocess ng8x -> ng8 in {wall:.1f} s")
    if not (work / "run" / "topics.csv").is_file():
        wall = run([topics, "train", str(work / "ng"), "--out", str(work / "run"), "-k", "20", "--passes", "10", "--seed", "0"])
        print(f"set-up: train K=20 passes=10 seed 0 -> run in {wall:.1f} s")
    check_reference(work)


def check_reference(work: Path) -> None:
    """The prepared 8x reference holds every repeated line as a document, with the same tokens the
    gensim script reads from corpus.tsv (otherwise the comparison would compare different texts)."""
    from topics.preprocessing.prepared import PreparedCorpus

    prepared = PreparedCorpus.load(work / "ng8")
    with (work / "ng8x" / "corpus.tsv").open(encoding="utf-8") as lines:
        for number, (line, tokens) in enumerate(zip(lines, prepared.texts(), strict=True), start=1):
            if line.split("\t")[0].split() != tokens:
                raise SystemExit(f"ng8x/corpus.tsv:{number}: the prepared reference has other tokens for this line")
    print(
        f"reference: {prepared.num_docs} documents, {prepared.num_tokens} tokens, vocabulary {prepared.num_terms}; "
        "same token lists as ng8x/corpus.tsv"
    )


def our_values(run_dir: Path) -> dict[str, list[float]]:
    with (run_dir / "topic_metrics.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    values = {m: [float(row[m]) for row in rows] for m in MEASURES}
    for m in MEASURES:  # metrics.json holds the means of the same values
        assert abs(metrics[m] - statistics.fmean(values[m])) < 1e-12, (m, metrics[m])
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help=f"the {DATA_NAME} OCTIS folder")
    parser.add_argument("--repeat", type=int, default=8, help="copies of the corpus in the reference")
    parser.add_argument("--runs", type=int, default=3, help="timed `topics evaluate` processes")
    parser.add_argument("--workdir", type=Path, help="keep (and reuse) the set-up here instead of a temporary folder")
    args = parser.parse_args()

    data = find_data(args.data)
    with tempfile.TemporaryDirectory(prefix="evaluate-cli-") as temporary:
        work = args.workdir or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        set_up(work, data, args.repeat)
        load_before = os.getloadavg()

        evaluate = [topics_command(), "evaluate", str(work / "run"), "--reference", str(work / "ng8")]
        for m in MEASURES:
            evaluate += ["--measure", m]
        ours = [run(evaluate) for _ in range(args.runs)]
        values = our_values(work / "run")

        script = work / "gensim_coherence.py"
        script.write_text(GENSIM_SCRIPT, encoding="utf-8")
        gensim_out = work / "gensim_values.json"
        gensim_wall = run([sys.executable, str(script), str(work / "run"), str(work / "ng8x" / "corpus.tsv"), str(gensim_out)])
        gensim = json.loads(gensim_out.read_text(encoding="utf-8"))
        load_after = os.getloadavg()

    best, median = min(ours), statistics.median(ours)
    differences = {m: max(abs(a - b) for a, b in zip(values[m], gensim["values"][m], strict=True)) for m in MEASURES}
    worst = max(differences.values())
    ratio_best, ratio_median = gensim_wall / best, gensim_wall / median

    print()
    print(
        f"reference: {args.repeat}x 20 Newsgroups, {gensim['documents']} documents, {gensim['tokens']} tokens; "
        f"measures {', '.join(MEASURES)}, top 10 words of 20 topics"
    )
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, niceness {os.nice(0)}, "
        f"load average {' '.join(f'{x:.2f}' for x in load_before)} before, {' '.join(f'{x:.2f}' for x in load_after)} after"
    )
    print()
    print(f"{'whole process':<48} {'wall s':>9}")
    print(f"{'topics evaluate, best of ' + str(args.runs):<48} {best:9.2f}")
    print(f"{'topics evaluate, median of ' + str(args.runs):<48} {median:9.2f}")
    print(f"{'gensim script (processes=1)':<48} {gensim_wall:9.2f}")
    stages = ", ".join(f"{name} {seconds:.1f}" for name, seconds in gensim["stages"].items())
    print(f"{'  of which (s): ' + stages}")
    print()
    print(f"ratio gensim / ours: {ratio_best:.1f}x (best), {ratio_median:.1f}x (median); target >= {TARGET_RATIO:g}x")
    print(
        "max abs difference per topic: "
        + ", ".join(f"{m} {d:.2e}" for m, d in differences.items())
        + f"; tolerance {TOLERANCE:g}"
    )
    ok = ratio_median >= TARGET_RATIO and worst < TOLERANCE
    print("target met" if ok else "TARGET MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
