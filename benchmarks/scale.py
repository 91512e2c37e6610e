"""The package at archive scale: a synthetic news archive of N articles, and the time and memory of
each CLI step on it (issue 16).

    .venv/bin/python benchmarks/scale.py --n 100000 [--out /tmp/scale] [--seed 0]
        [--steps preprocess,train,evaluate,run,gensim[,dask]] [--train-args "--passes 1"]
        [--gensim-sample 0.05] [--topics-bin .venv/bin/topics] [--json scale.json]

The archive is built from the raw BBC stories and 20 Newsgroups posts in ../shared/data (or
``$TOPICS_DATA``): each article takes 2-6 paragraphs of 1-3 source documents of one BBC category or
newsgroup, a distinct title and URL, and a date in 2015-2022; 10,000 files a folder. It is built
once per (N, seed) and reused (``OUT/archive-N-sSEED/.scale-archive.json`` is written last).

Each step runs as a subprocess of the ``topics`` CLI: preprocess, train -k 50, evaluate (c_npmi,
c_v, c_uci, u_mass), and ``topics run`` of a 10-model grid (K = 10..50 x seeds 0, 1; it prepares
the archive again, inside its results folder). Wall time, CPU time and peak RSS are measured for
the main process and, separately, its child processes (polled from /proc; CPU totals from
``os.wait4``), beside the ``peak_memory_mb`` the package itself records. The ``gensim`` step
times gensim's ``CoherenceModel`` (c_npmi) against ``topics evaluate --reference`` on a sample of
the prepared documents, both on the same top words. The ``dask`` step (not run by default)
prepares the archive again with ``--executor dask`` on a LocalCluster of 1 and of 2 single-threaded
workers, cluster start-up included, and checks the files against the local path's. Prints one
markdown table.

Reads the prepared corpus with numpy only (tokens.npy, offsets.npy, vocabulary.txt), never by
importing the package, so it keeps working while the package's modules move.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
DATA = Path(
    os.environ.get("TOPICS_DATA")
    or next((p for p in (REPO.parent / "shared/data", Path("/work/shared/data")) if p.is_dir()), Path("/work/shared/data"))
)
FILES_PER_FOLDER = 10_000
MARKER = ".scale-archive.json"  # hidden: the article reader leaves it out
BUILDER_VERSION = 2
FIRST_DAY, LAST_DAY = dt.date(2015, 1, 1).toordinal(), dt.date(2022, 12, 31).toordinal()
COHERENCE = ["c_npmi", "c_v", "c_uci", "u_mass"]
STEPS = ["preprocess", "train", "evaluate", "run", "gensim", "dask"]
DEFAULT_STEPS = STEPS[:-1]  # dask: preprocess again on LocalClusters of 1 and 2 workers (small N only)
DASK_WORKERS = (1, 2)
PREPARED_DATA = ["tokens.npy", "offsets.npy", "vocabulary.txt", "term_frequency.npy", "document_frequency.npy", "is_test.npy"]
PREPARED_DATA += ["documents.csv", "phrases.json"]
TICKS = os.sysconf("SC_CLK_TCK")


# --- the synthetic archive ----------------------------------------------------------------------


def clean_paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, each on one line and at most 300 words. Left out: those the
    article parser would take for a title or the url mark, those without letters, and uuencoded
    binaries and rules (a third of the characters in 40+ character "words"), which copied into
    thousands of articles would fill every topic with ``ax`` and ``max``."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        words = block.split()
        binary = sum(len(word) for word in words if len(word) >= 40) > 0.3 * len(block)
        paragraph = " ".join(words[:300])
        if (
            re.search(r"[A-Za-z]{2}", paragraph)
            and not binary
            and not paragraph.startswith("#")
            and "original url" not in paragraph.lower()
        ):
            paragraphs.append(paragraph)
    return paragraphs


def tar_files(path: Path, encoding: str):
    """``(name, text)`` of each file in a .tar.gz, in the archive's order (one pass: seeking back
    in a gzip stream would decompress it again from the start)."""
    with tarfile.open(path, "r|gz") as archive:
        for member in archive:
            if member.isfile():
                yield member.name, archive.extractfile(member).read().decode(encoding)


def read_sources(data: Path) -> list[tuple[str, str, list[str]]]:
    """``(group, title, paragraphs)`` per source document, sorted by group then name: BBC stories
    (group = category from the URL) and 20 Newsgroups posts (group = newsgroup, headers dropped)."""
    sources = []
    for name, text in tar_files(data / "bbc-articles.tar.gz", "utf-8"):
        head, _, tail = text.partition("\nOriginal url:")
        lines = head.strip().split("\n")
        group = "bbc." + re.search(r"https?://[^/]+/([^/]+)/", tail).group(1)
        paragraphs = clean_paragraphs("\n".join(lines[1:]))
        if paragraphs:
            sources.append((group, name, lines[0].lstrip("# ").strip(), paragraphs))
    for name, text in tar_files(data / "20news-bydate.tar.gz", "latin-1"):
        header, _, body = text.partition("\n\n")
        subject = re.search(r"^Subject:\s*(.*)$", header, re.MULTILINE)
        title = re.sub(r"^(re:\s*)+", "", subject.group(1).strip(), flags=re.IGNORECASE) if subject else ""
        paragraphs = clean_paragraphs(body)
        if paragraphs:
            sources.append(("news." + name.split("/")[-2], name, title or paragraphs[0][:60], paragraphs))
    sources.sort(key=lambda s: (s[0], s[1]))
    return [(group, title, paragraphs) for group, _, title, paragraphs in sources]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "story"


def build_archive(n: int, out_dir: Path, seed: int, data: Path = DATA) -> dict:
    """N article files under ``out_dir`` (sub-folders of 10,000), the same for the same seed.

    Returns the archive's facts (also in ``out_dir/.scale-archive.json``); an archive already there
    for the same (n, seed) is reused, anything else in ``out_dir`` is replaced only if it is an
    archive this script built."""
    out_dir = Path(out_dir)
    facts_file = out_dir / MARKER
    wanted = {"n": n, "seed": seed, "builder": BUILDER_VERSION}
    if facts_file.is_file():
        facts = json.loads(facts_file.read_text())
        if {key: facts.get(key) for key in wanted} == wanted:
            return facts | {"reused": True}
    elif out_dir.exists() and any(out_dir.iterdir()):
        sys.exit(f"{out_dir}: not empty and not an archive built by this script; remove it or choose another --out")
    started, cpu = time.perf_counter(), time.process_time()
    sources = read_sources(data)
    groups = [group for group, _, _ in sources]
    titles = [title for _, title, _ in sources]
    slugs = [slug(title) for title in titles]
    paragraphs = [p for _, _, ps in sources for p in ps]
    words = np.array([len(p.split()) for p in paragraphs], dtype=np.int64)
    sizes = np.array([len(ps) for _, _, ps in sources])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    names, first_doc = np.unique(groups, return_index=True)  # sources are sorted by group
    group_of = np.searchsorted(names, groups)
    group_start, group_size = first_doc[group_of], np.bincount(group_of)[group_of]

    rng = np.random.default_rng(seed)
    first = rng.integers(0, len(sources), n)  # a group in proportion to its documents
    others = group_start[first, None] + (rng.random((n, 2)) * group_size[first, None]).astype(np.int64)
    chosen = np.concatenate([first[:, None], others], axis=1)  # (n, 3) candidate sources
    n_sources = rng.integers(1, 4, n)
    n_paragraphs = rng.integers(2, 7, n)
    which = (rng.random((n, 6)) * n_sources[:, None]).astype(np.int64)  # source of each paragraph slot
    source_of = np.take_along_axis(chosen, which, axis=1)
    picks = starts[source_of] + (rng.random((n, 6)) * sizes[source_of]).astype(np.int64)
    days = rng.integers(FIRST_DAY, LAST_DAY + 1, n)

    partial = out_dir.parent / f".{out_dir.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    raw_words = 0
    for i in range(n):
        if i % FILES_PER_FOLDER == 0:
            folder = partial / f"{i // FILES_PER_FOLDER:04d}"
            folder.mkdir(parents=True)
        row = list(dict.fromkeys(picks[i, : n_paragraphs[i]].tolist()))  # each paragraph once
        title = f"{titles[first[i]]} ({i + 1})"
        date = dt.date.fromordinal(int(days[i]))
        url = f"https://news.example.org/{groups[first[i]]}/{date:%Y/%m/%d}/{slugs[first[i]]}-{i + 1}"
        body = "\n\n".join(paragraphs[p] for p in row)
        raw_words += int(words[row].sum())
        (folder / f"{i:07d}.txt").write_text(
            f"# {title}\n\n{date:%B} {date.day}, {date.year}\n\n{body}\n\nOriginal url:\n\n<{url}>\n", encoding="utf-8"
        )
    facts = wanted | {
        "files": n,
        "raw_words": raw_words,
        "sources": len(sources),
        "groups": len(names),
        "build_seconds": round(time.perf_counter() - started, 1),
        "build_cpu_seconds": round(time.process_time() - cpu, 1),
    }
    (partial / MARKER).write_text(json.dumps(facts, indent=2) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(partial, out_dir)
    return facts | {"reused": False}


# --- measuring a subprocess ---------------------------------------------------------------------


def proc_stat(pid: int) -> tuple[float, int] | None:
    """(own CPU seconds, peak RSS in MB) of a live process, from /proc; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    peak = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return (int(fields[11]) + int(fields[12])) / TICKS, int(peak.group(1)) // 1024 if peak else 0


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids = [int(k) for k in task.read_text().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def measure(command: list[str], log: Path, interval: float = 0.2) -> dict:
    """Run ``command`` (output to ``log``) and return wall s, CPU s and peak RSS MB of the main
    process and of its children. Peaks are the highest VmHWM seen while polling (a child living
    less than ``interval`` may be missed: gensim's ``uname`` forks, which would otherwise report the
    parent's size); the CPU of the whole tree comes from ``os.wait4``, the main's own from /proc."""
    with log.open("w") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        main = {"cpu": 0.0, "rss": 0}
        children: dict[int, dict] = {}
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                seen = proc_stat(process.pid)
                if seen:
                    main["cpu"], main["rss"] = seen[0], max(main["rss"], seen[1])
                for kid in descendants(process.pid):
                    seen = proc_stat(kid)
                    if seen:
                        child = children.setdefault(kid, {"cpu": 0.0, "rss": 0})
                        child["cpu"], child["rss"] = seen[0], max(child["rss"], seen[1])
                done.wait(interval)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        poller.join()
    process.returncode = code = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait
    if code != 0:
        raise SystemExit(f"{shlex.join(command)} failed with exit code {code}:\n{log.read_text(errors='replace')[-2000:]}")
    cpu_tree = usage.ru_utime + usage.ru_stime
    return {
        "wall_s": wall,
        "cpu_s": cpu_tree,
        "cpu_main_s": main["cpu"],
        "cpu_children_s": max(cpu_tree - main["cpu"], sum(c["cpu"] for c in children.values())),
        "rss_main_mb": main["rss"],
        "rss_children_mb": max((c["rss"] for c in children.values()), default=0),
        "rss_tree_mb": usage.ru_maxrss // 1024,
        "children": len(children),
    }


# --- the steps ----------------------------------------------------------------------------------


def top_words(run: Path, topn: int = 10) -> list[list[str]]:
    """Top words per topic from the run's topics.csv (topic, rank, word, weight)."""
    import csv

    by_topic: dict[int, list[tuple[int, str]]] = {}
    for row in csv.DictReader((run / "topics.csv").open(encoding="utf-8")):
        by_topic.setdefault(int(row["topic"]), []).append((int(row["rank"]), row["word"]))
    return [[word for _, word in sorted(words)[:topn]] for _, words in sorted(by_topic.items())]


def gensim_child(sample_dir: Path, run: Path) -> None:
    """In a child process: gensim's CoherenceModel (c_npmi, top 10) over the sample's documents."""
    from gensim.corpora import Dictionary
    from gensim.models import CoherenceModel

    texts = [line.split("\t")[0].split() for line in (sample_dir / "corpus.tsv").read_text(encoding="utf-8").splitlines()]
    dictionary = Dictionary(texts)
    topics = [[w for w in words if w in dictionary.token2id] for words in top_words(run)]
    started = time.perf_counter()
    model = CoherenceModel(topics=topics, texts=texts, dictionary=dictionary, coherence="c_npmi", topn=10, processes=1)
    value = model.get_coherence()
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - started,
                "c_npmi": value,
                "topics_with_missing_words": sum(len(t) < 10 for t in topics),
            }
        )
    )


def write_sample(prep: Path, share: float, seed: int, out: Path) -> int:
    """A ``share`` of the prepared documents (non-empty ones, seeded) as an OCTIS folder; its token
    count. Read with numpy, not the package: the ids of document d are tokens[offsets[d]:offsets[d + 1]]."""
    tokens, offsets = np.load(prep / "tokens.npy", mmap_mode="r"), np.load(prep / "offsets.npy")
    vocabulary = (prep / "vocabulary.txt").read_text(encoding="utf-8").split("\n")[:-1]
    lengths = np.diff(offsets)
    candidates = np.flatnonzero(lengths > 0)
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(candidates, max(1, round(share * len(candidates))), replace=False))
    words = np.array(vocabulary, dtype=object)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with (out / "corpus.tsv").open("w", encoding="utf-8") as handle:
        for d in picked.tolist():
            handle.write(" ".join(words[tokens[offsets[d] : offsets[d + 1]]]) + "\ttrain\t\n")
    (out / "vocabulary.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    return int(lengths[picked].sum())


def model_options(train_args: list[str]) -> str:
    """``--passes 1 --chunksize 2000`` as TOML ``passes = 1`` lines for the experiment's [model]."""
    return "\n".join(
        f"{flag.lstrip('-').replace('-', '_')} = {value if re.fullmatch(r'[0-9.]+', value) else json.dumps(value)}"
        for flag, value in zip(train_args[::2], train_args[1::2])
    )


def run_steps(args, archive: Path, work: Path, archive_facts: dict) -> list[dict]:
    topics = [str(args.topics_bin)]
    prep, run, results = work / "prepared", work / "run-k50", work / "results"
    train_args = shlex.split(args.train_args)
    rows = []

    def step(name: str, command: list[str], tokens: int) -> dict:
        rows.append(timed(name, command, tokens, work))
        del rows[-1]["log"]
        return rows[-1]

    def num_tokens() -> int:
        return json.loads((prep / "prepared.json").read_text())["num_tokens"]

    if "preprocess" in args.steps:
        shutil.rmtree(prep, ignore_errors=True)
        row = step("preprocess", [*topics, "preprocess", str(archive), "--out", str(prep)], archive_facts["raw_words"])
        report = json.loads((prep / "report.json").read_text())
        row["package_peak_mb"] = report.get("peak_memory_mb")
        row["prepared_tokens"], row["vocabulary"] = num_tokens(), json.loads((prep / "prepared.json").read_text())["num_terms"]
    if "train" in args.steps:
        shutil.rmtree(run, ignore_errors=True)
        row = step(
            " ".join(["train -k 50", *train_args]),
            [*topics, "train", str(prep), "--out", str(run), "-k", "50", *train_args],
            num_tokens(),
        )
        row["package_peak_mb"] = json.loads((run / "manifest.json").read_text()).get("peak_memory_mb")
    if "evaluate" in args.steps:
        measures = [flag for m in COHERENCE for flag in ("-m", m)]
        step("evaluate " + ",".join(COHERENCE), [*topics, "evaluate", str(run), *measures], num_tokens())
    if "run" in args.steps:
        shutil.rmtree(results, ignore_errors=True)
        experiment = work / "scale-sweep.toml"
        experiment.write_text(
            f'name = "scale-sweep"\ndescription = "benchmarks/scale.py: K = 10..50 x 2 seeds on {archive.name}"\n'
            f'seeds = [0, 1]\nmetric = "c_npmi"\n\n[corpus]\nsource = {json.dumps(str(archive))}\nformat = "articles"\n\n'
            f"[model]\nnum_topics = [10, 20, 30, 40, 50]\n{model_options(train_args)}\n\n"
            f"[evaluate]\nmeasures = {json.dumps(COHERENCE)}\ntopn = 10\n",
            encoding="utf-8",
        )
        row = step("run 10 models (+ its preprocess)", [*topics, "run", str(experiment), "--results", str(results)], num_tokens())
        peaks = [json.loads(p.read_text()).get("peak_memory_mb") for p in results.glob("scale-sweep/runs/*/manifest.json")]
        row["package_peak_mb"] = max((p for p in peaks if p), default=None)
    if "gensim" in args.steps:
        rows += compare_with_gensim(args, work, prep, run)
    if "dask" in args.steps:
        for workers in DASK_WORKERS:
            # the time includes starting the LocalCluster (about 2 s); the files must be the local path's
            dask_prep = work / f"prepared-dask-{workers}"
            shutil.rmtree(dask_prep, ignore_errors=True)
            command = [*topics, "preprocess", str(archive), "--out", str(dask_prep), "--executor", "dask"]
            row = step(
                f"preprocess --executor dask, {workers} worker(s)",
                [*command, "--processes", str(workers)],
                archive_facts["raw_words"],
            )
            row["package_peak_mb"] = json.loads((dask_prep / "report.json").read_text()).get("peak_memory_mb")
            if (prep / "prepared.json").is_file():
                row["identical"] = all((dask_prep / f).read_bytes() == (prep / f).read_bytes() for f in PREPARED_DATA)
    return rows


def compare_with_gensim(args, work: Path, prep: Path, run: Path) -> list[dict]:
    """gensim's CoherenceModel (c_npmi) against ``topics evaluate -m c_npmi --reference SAMPLE`` on
    the same sample of the prepared documents and the same top words. ``topics evaluate -m
    diversity`` (no counting) on the same run gives the CLI's fixed cost: start-up, loading, writing."""
    topics, share = [str(args.topics_bin)], args.gensim_sample
    sample, sample_prep, sample_run = work / "sample", work / "sample-prepared", work / "sample-run"
    tokens = write_sample(prep, share, args.seed, sample)
    shutil.rmtree(sample_prep, ignore_errors=True)
    shutil.rmtree(sample_run, ignore_errors=True)
    shutil.copytree(run, sample_run)  # evaluate writes metrics.json into the run folder
    measure([*topics, "preprocess", str(sample), "--format", "octis", "--out", str(sample_prep)], work / "sample-preprocess.log")
    rows = [
        timed(
            f"evaluate c_npmi, {share:.0%} sample",
            [*topics, "evaluate", str(sample_run), "-m", "c_npmi", "--reference", str(sample_prep)],
            tokens,
            work,
        ),
        timed("evaluate diversity (no counting)", [*topics, "evaluate", str(sample_run), "-m", "diversity"], 0, work),
        timed(
            f"gensim CoherenceModel c_npmi, {share:.0%} sample",
            [str(Path(args.topics_bin).parent / "python"), str(HERE), "--gensim-child", str(sample), "--gensim-run", str(run)],
            tokens,
            work,
        ),
    ]
    ours, fixed, theirs = rows
    theirs["ours_c_npmi"] = json.loads((sample_run / "metrics.json").read_text())["c_npmi"]
    facts = json.loads(theirs.pop("log").read_text().splitlines()[-1])
    theirs.update(
        c_npmi=facts["c_npmi"], coherence_s=facts["seconds"], topics_with_missing_words=facts["topics_with_missing_words"]
    )
    theirs["ratio_whole_cli"] = facts["seconds"] / ours["wall_s"]
    counting = ours["wall_s"] - fixed["wall_s"]  # not measurable when lost in the start-up's noise
    theirs["ratio_net"] = facts["seconds"] / counting if counting > 0.2 * fixed["wall_s"] else None
    theirs["share"] = share
    return [{key: value for key, value in row.items() if key != "log"} for row in rows]


def timed(name: str, command: list[str], tokens: int, work: Path) -> dict:
    """One table row: ``command`` measured, its output in ``work/<name>.log``."""
    print(f"... {name}: {shlex.join(command)}", file=sys.stderr, flush=True)
    log = work / f"{slug(name)}.log"
    row = {"step": name, "tokens": tokens, **measure(command, log), "log": log}
    print(
        f"    {row['wall_s']:.1f} s wall, {row['cpu_s']:.1f} s CPU, peak {row['rss_main_mb']} / {row['rss_children_mb']} MB",
        file=sys.stderr,
        flush=True,
    )
    return row


# --- the table ----------------------------------------------------------------------------------


def table(rows: list[dict]) -> str:
    lines = [
        "| step | wall s | CPU s (main + children) | peak RSS main / children MB | package peak MB | tokens | s per M tokens | M tokens/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        per_m = f"{r['wall_s'] / (r['tokens'] / 1e6):.1f}" if r["tokens"] else ""
        rate = f"{r['tokens'] / 1e6 / r['wall_s']:.2f}" if r["step"].startswith("preprocess") else ""
        peak = r.get("package_peak_mb")
        peak = "" if peak is None else json.dumps(peak).replace('"', "")
        lines.append(
            f"| {r['step']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} ({r['cpu_main_s']:.1f} + {r['cpu_children_s']:.1f}) | "
            f"{r['rss_main_mb']} / {r['rss_children_mb']} | {peak} | {r['tokens']:,} | {per_m} | {rate} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="articles in the archive")
    parser.add_argument("--seed", type=int, default=0, help="seed of the archive and of the sample")
    parser.add_argument("--out", type=Path, default=Path("/tmp/scale"), help="folder for the archive and every output")
    parser.add_argument(
        "--data", type=Path, default=DATA, help="folder with bbc-articles.tar.gz and 20news-bydate.tar.gz ($TOPICS_DATA)"
    )
    parser.add_argument("--topics-bin", type=Path, default=REPO / ".venv/bin/topics", help="the topics CLI to time")
    parser.add_argument("--steps", default=",".join(DEFAULT_STEPS), help=f"comma-separated, of {','.join(STEPS)}")
    parser.add_argument("--train-args", default="", help='extra flags for train and the run\'s [model], e.g. "--passes 1"')
    parser.add_argument("--gensim-sample", type=float, default=0.05, help="share of the documents for the gensim comparison")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--gensim-child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--gensim-run", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.gensim_child:
        gensim_child(args.gensim_child, args.gensim_run)
        return
    args.steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = set(args.steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown step(s) {', '.join(sorted(unknown))}; choose from {', '.join(STEPS)}")
    archive = args.out / f"archive-{args.n}-s{args.seed}"
    facts = build_archive(args.n, archive, args.seed, args.data)
    how = "reused" if facts["reused"] else f"built in {facts['build_seconds']} s, {facts['build_cpu_seconds']} s CPU"
    print(f"archive: {archive} ({facts['files']:,} articles, {facts['raw_words']:,} raw words; {how})", file=sys.stderr)
    work = args.out / f"work-{args.n}-s{args.seed}"
    work.mkdir(parents=True, exist_ok=True)
    rows = run_steps(args, archive, work, facts)

    print(
        f"\n{args.n:,} articles, {facts['raw_words']:,} raw words (whitespace-separated); train args: {args.train_args or '(defaults)'}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n"
    )
    print(table(rows))
    for r in rows:
        if "prepared_tokens" in r:
            print(f"\nprepared: {r['prepared_tokens']:,} tokens, {r['vocabulary']:,} words")
        if "identical" in r:
            print(f"\n{r['step']}: data files {'identical to' if r['identical'] else 'DIFFERENT from'} the local path's")
        if "ratio_whole_cli" in r:
            print(
                f"\ngensim CoherenceModel c_npmi on the {r['share']:.0%} sample: {r['coherence_s']:.2f} s (the call alone), "
                f"{r['ratio_whole_cli']:.1f}x the whole `topics evaluate` process, "
                + (f"{r['ratio_net']:.1f}x" if r["ratio_net"] else "not measurable (lost in the start-up's noise)")
                + f" net of the diversity-only run; c_npmi gensim {r['c_npmi']:.6f}, ours {r['ours_c_npmi']:.6f}; "
                f"gensim on the whole corpus, scaled: about {r['coherence_s'] / r['share']:.0f} s per measure"
            )
    if args.json:
        args.json.write_text(
            json.dumps({"n": args.n, "seed": args.seed, "archive": facts, "train_args": args.train_args, "rows": rows}, indent=2)
            + "\n"
        )


if __name__ == "__main__":
    main()
