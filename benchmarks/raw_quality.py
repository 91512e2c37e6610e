"""Topic quality on raw corpora, against the script people write from gensim's tutorial: one table.

Issue 12. Three raw corpora: the BBC stories (``bbc-articles.tar.gz``, article files), the 20
Newsgroups posts (``20news-bydate.tar.gz``, one post a file, read as ``--format text``) and
``sample:lee`` (gensim's ``lee_background.cor``, one article a line). On each, for K in ``--k`` and
every seed:

* ``tutorial``: the ten-line script, written out here as people write it: ``simple_preprocess``,
  gensim's ``STOPWORDS``, ``Dictionary.filter_extremes(no_below=5, no_above=0.5)``,
  ``LdaModel(passes=10, chunksize=2000, eval_every=None, random_state=seed)``, everything else
  gensim's default; training CPU measured with ``time.process_time``;
* ``topics-defaults``: ``topics preprocess`` + ``topics train`` with the package's defaults, through
  the command line found at ``--topics-bin``; training CPU from the run's ``manifest.json``;
* each ``--candidate NAME=file.toml``: the same, with the file's ``[preprocess]`` section passed to
  ``topics preprocess --config`` and its ``[model]`` section to ``topics train --config`` (a file
  without ``[preprocess]`` trains on the defaults' prepared corpus). Runs are reused by NAME: give a
  changed file a new NAME.

Scores (top 10 words by probability, gensim's ``CoherenceModel``, c_npmi and c_v):

* ``own``: against each pipeline's own prepared tokens (the tutorial's: its texts filtered to its
  dictionary; topics': the prepared corpus);
* ``yard``, the common yardstick: the tutorial's tokens of the same documents (before
  ``filter_extremes``) lemmatised with simplemma; every topic word is split at ``_`` (a phrase counts
  as its words, in place) and run through the same ``simple_preprocess`` + lemmatisation, and the
  first 10 distinct words found in the reference are kept. Lemmatising neither helps nor hurts a
  pipeline there, and junk phrases are scored as the words they are made of.

Also: diversity (unique share of the top-25 words of all topics) and the share of top-10 words that
are phrases. ``--fast`` scores with the package's own coherence counting (same values as gensim,
tens of times faster) instead of gensim's.

    nice .venv/bin/python benchmarks/raw_quality.py                         # all corpora, K 20 and 50, seeds 0-2
    nice .venv/bin/python benchmarks/raw_quality.py --corpus bbc --k 20 --fast \\
        --candidate recipe=experiments/recipe.toml --workdir /tmp/rq       # reuses runs already in --workdir

Data: ``../shared/data`` beside the repository, or ``$TOPICS_DATA``; tarballs are unpacked into
``--workdir`` (a temporary folder unless given; runs there are reused by later calls).
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
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# name: (tarball, folder inside it, --format for topics, source for topics or None for the folder)
CORPORA = {
    "bbc": ("bbc-articles.tar.gz", "bbc-articles", "articles"),
    "20news": ("20news-bydate.tar.gz", "20news-bydate", "text"),
    "lee": (None, None, None),
}
MEASURES = ("c_npmi", "c_v")
TOPN = 10


# --- documents -------------------------------------------------------------------------------------


def data_dir() -> Path:
    return Path(os.environ.get("TOPICS_DATA") or REPO.parent / "shared" / "data")


def corpus_source(name: str, workdir: Path) -> tuple[str, list[str]]:
    """(the source argument for ``topics preprocess``, extra options), unpacking the tarball once."""
    tarball, folder, fmt = CORPORA[name]
    if tarball is None:
        return "sample:lee", []
    target = workdir / "raw" / folder
    if not target.is_dir():
        with tarfile.open(data_dir() / tarball) as archive:
            archive.extractall(workdir / "raw", filter="data")
    return str(target), ["--format", fmt]


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def article_body(text: str) -> str:
    """The body of an article file (``# Title``, date line, body, ``Original url:`` and the URL), as
    ``topics`` reads it: the title, date and URL are not part of the text."""
    lines = text.replace("\r\n", "\n").split("\n")
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start < len(lines) and lines[start].lstrip().startswith("# "):
        start += 1
    marks = [i for i, line in enumerate(lines) if line.strip().lower().startswith("original url:")]
    return "\n".join(lines[start : marks[-1] if marks else len(lines)])


def raw_documents(name: str, source: str) -> list[str]:
    """The texts of the corpus, in the order ``topics`` reads them (sorted paths; lines for Lee)."""
    if name == "lee":
        from gensim.test.utils import datapath

        return decode(Path(datapath("lee_background.cor")).read_bytes()).splitlines()
    files = sorted(p for p in Path(source).rglob("*") if p.is_file() and not p.name.startswith("."))
    texts = [decode(p.read_bytes()) for p in files]
    return [article_body(t) for t in texts] if CORPORA[name][2] == "articles" else texts


# --- the tutorial script ---------------------------------------------------------------------------


def tutorial_tokens(documents: list[str]) -> list[list[str]]:
    from gensim.parsing.preprocessing import STOPWORDS
    from gensim.utils import simple_preprocess

    interned: dict[str, str] = {}
    return [[interned.setdefault(t, t) for t in simple_preprocess(doc) if t not in STOPWORDS] for doc in documents]


def train_tutorial(texts: list[list[str]], k: int, seed: int) -> dict:
    """The tutorial's model: returns its topics (top 25 words) and training CPU seconds."""
    from gensim.corpora import Dictionary
    from gensim.models import LdaModel

    dictionary = Dictionary(texts)
    dictionary.filter_extremes(no_below=5, no_above=0.5)
    bow = [dictionary.doc2bow(text) for text in texts]
    started = time.process_time()
    model = LdaModel(bow, id2word=dictionary, num_topics=k, chunksize=2000, passes=10, eval_every=None, random_state=seed)
    cpu = time.process_time() - started
    topics = [[word for word, _ in model.show_topic(t, topn=25)] for t in range(k)]
    return dict(topics=topics, cpu_seconds=cpu)


def tutorial_own_texts(texts: list[list[str]]) -> list[list[str]]:
    from gensim.corpora import Dictionary

    dictionary = Dictionary(texts)
    dictionary.filter_extremes(no_below=5, no_above=0.5)
    kept = dictionary.token2id
    return [[t for t in text if t in kept] for text in texts]


# --- topics, through its command line --------------------------------------------------------------


def write_toml(path: Path, section: str, values: dict) -> None:
    def value(v):
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()

    lines = [f"[{section}]"] + [f"{key} = {value(v)}" for key, v in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def topics_cli(topics_bin: str, args: list[str], log: Path) -> None:
    with log.open("a", encoding="utf-8") as out:
        done = subprocess.run(["nice", topics_bin, *args], stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.exit(f"topics {' '.join(args)} failed (exit {done.returncode}); see {log}")


def prepare(topics_bin: str, name: str, pipeline: str, config: dict, workdir: Path, processes: int) -> Path:
    source, options = corpus_source(name, workdir)
    # a candidate without a [preprocess] section trains on the defaults' prepared corpus
    out = workdir / name / "prepared" / (pipeline if config.get("preprocess") else "topics-defaults")
    if not (out / "prepared.json").is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        if config.get("preprocess"):
            write_toml(out.parent / f"{pipeline}.preprocess.toml", "preprocess", config["preprocess"])
            options += ["--config", str(out.parent / f"{pipeline}.preprocess.toml")]
        topics_cli(
            topics_bin,
            ["preprocess", source, *options, "--out", str(out), "--processes", str(processes)],
            out.parent / f"{pipeline}.log",
        )
    return out


def train_topics(topics_bin: str, prepared: Path, pipeline: str, config: dict, k: int, seed: int) -> dict:
    run = prepared.parent.parent / "runs" / f"{pipeline}-k{k}-s{seed}"
    if not (run / "manifest.json").is_file():
        run.parent.mkdir(parents=True, exist_ok=True)
        options = []
        if config.get("model"):
            write_toml(run.parent / f"{pipeline}.model.toml", "model", config["model"])
            options = ["--config", str(run.parent / f"{pipeline}.model.toml")]
        topics_cli(
            topics_bin,
            ["train", str(prepared), "--out", str(run), "-k", str(k), "--seed", str(seed), *options],
            run.parent / f"{pipeline}.log",
        )
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    # training CPU: the fit and the document-topic inference after it (the tutorial times its fit alone)
    return dict(topics=run_topics(run), cpu_seconds=manifest.get("train_cpu_seconds", manifest["cpu_seconds"]))


def run_topics(run: Path, topn: int = 25) -> list[list[str]]:
    """Each topic's top ``topn`` words by probability: from the model's topic-word matrix when the
    run has one (topics.csv keeps only the top 20), else from topics.csv."""
    matrix, vocabulary = run / "model" / "topic_word.npy", run / "model" / "vocabulary.json"
    if matrix.is_file() and vocabulary.is_file():
        words = json.loads(vocabulary.read_text(encoding="utf-8"))
        topic_word = np.load(matrix, allow_pickle=False)
        return [[words[i] for i in np.argsort(-row, kind="stable")[:topn]] for row in topic_word]
    ranked: dict[int, list[tuple[int, str]]] = {}
    with (run / "topics.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            ranked.setdefault(int(row["topic"]), []).append((int(row["rank"]), row["word"]))
    return [[w for _, w in sorted(ranked[t])][:topn] for t in sorted(ranked)]


def prepared_texts(prepared: Path) -> list[list[str]]:
    vocabulary = (prepared / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    tokens = np.load(prepared / "tokens.npy", allow_pickle=False)
    offsets = np.load(prepared / "offsets.npy", allow_pickle=False)
    return [[vocabulary[i] for i in tokens[offsets[d] : offsets[d + 1]]] for d in range(len(offsets) - 1)]


# --- scoring ---------------------------------------------------------------------------------------


def score_topics(topics: list[list[str]], texts: list[list[str]], measure: str, fast: bool = False) -> list[float]:
    """Coherence of each topic (its top words, best first) against the reference ``texts``: the one
    place scoring happens. Words absent from ``texts`` are dropped first. gensim's ``CoherenceModel``
    (``processes=1``), or with ``fast`` the package's counting, which gives the same values."""
    vocabulary = {w for text in texts for w in text}
    kept = [[w for w in topic if w in vocabulary] for topic in topics]
    if fast:
        from topics.evaluation import ReferenceCorpus, score_models

        reference = ReferenceCorpus.from_token_lists(texts)
        return [float(v) for v in score_models([kept], reference, [measure])[0][measure]]
    from gensim.corpora import Dictionary
    from gensim.models import CoherenceModel

    dictionary = Dictionary(texts)
    model = CoherenceModel(topics=kept, texts=texts, dictionary=dictionary, coherence=measure, topn=TOPN, processes=1)
    return [float(v) for v in model.get_coherence_per_topic()]


class Yardstick:
    """The common reference: tutorial tokens lemmatised, and topic words mapped the same way."""

    def __init__(self, texts: list[list[str]]):
        import simplemma

        self._simplemma = simplemma
        self.lemmas: dict[str, str] = {}
        self.texts = [[self.lemma(t) for t in text] for text in texts]
        self.vocabulary = {w for text in self.texts for w in text}

    def lemma(self, token: str) -> str:
        if token not in self.lemmas:
            self.lemmas[token] = self._simplemma.lemmatize(token, lang="en").lower()
        return self.lemmas[token]

    def topic(self, words: list[str]) -> list[str]:
        from gensim.utils import simple_preprocess

        mapped = (self.lemma(t) for word in words for part in word.split("_") for t in simple_preprocess(part))
        return [w for w in dict.fromkeys(mapped) if w in self.vocabulary][:TOPN]


def diversity(topics: list[list[str]], topn: int = 25) -> float:
    words = [w for topic in topics for w in topic[:topn]]
    return len(set(words)) / len(words)


def phrase_share(topics: list[list[str]]) -> float:
    words = [w for topic in topics for w in topic[:TOPN]]
    return sum("_" in w for w in words) / len(words)


def score_rows(rows: list[dict], references: dict[str, list[list[str]]], yardstick: Yardstick, fast: bool) -> None:
    """Add own_* and yard_* means to every row of one corpus, one scoring call per reference and measure."""
    for measure in MEASURES:
        mapped = [yardstick.topic(t) for row in rows for t in row["topics"]]
        values = iter(score_topics(mapped, yardstick.texts, measure, fast))
        for row in rows:
            row[f"yard_{measure}"] = float(np.nanmean([next(values) for _ in row["topics"]]))
        for pipeline, texts in references.items():
            members = [row for row in rows if row["pipeline"] == pipeline]
            values = iter(score_topics([t[:TOPN] for row in members for t in row["topics"]], texts, measure, fast))
            for row in members:
                row[f"own_{measure}"] = float(np.nanmean([next(values) for _ in row["topics"]]))


# --- the run ---------------------------------------------------------------------------------------


def measure_corpus(name: str, ks, seeds, pipelines: dict[str, dict | None], args, progress) -> list[dict]:
    workdir = args.workdir
    source, _ = corpus_source(name, workdir)
    texts = tutorial_tokens(raw_documents(name, source))
    progress(f"{name}: {len(texts)} documents, {sum(map(len, texts))} tutorial tokens")
    rows, references = [], {}
    for pipeline, config in pipelines.items():
        if config is None:
            references[pipeline] = tutorial_own_texts(texts)
            cache = workdir / name / "tutorial.json"
            done = json.loads(cache.read_text()) if cache.is_file() else {}
        else:
            prepared = prepare(args.topics_bin, name, pipeline, config, workdir, args.processes)
            references[pipeline] = prepared_texts(prepared)
        for k in ks:
            for seed in seeds:
                if config is None:
                    key = f"k{k}-s{seed}"
                    if key not in done:
                        done[key] = train_tutorial(texts, k, seed)
                        cache.parent.mkdir(parents=True, exist_ok=True)
                        cache.write_text(json.dumps(done))
                    result = done[key]
                else:
                    result = train_topics(args.topics_bin, prepared, pipeline, config, k, seed)
                rows.append(dict(corpus=name, pipeline=pipeline, k=k, seed=seed, **result))
                progress(f"{name} {pipeline} K={k} seed={seed}: {result['cpu_seconds']:.1f} CPU s")
    started = time.perf_counter()
    score_rows(rows, references, Yardstick(texts), args.fast)
    progress(f"{name}: scored in {time.perf_counter() - started:.0f} s")
    for row in rows:
        row["diversity"], row["phrases"] = diversity(row["topics"]), phrase_share(row["topics"])
    return rows


COLUMNS = ("yard_c_npmi", "yard_c_v", "own_c_npmi", "own_c_v", "diversity", "phrases", "cpu_seconds")


def table(rows: list[dict]) -> str:
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["corpus"], row["k"], row["pipeline"]), []).append(row)
    lines = [
        "| corpus | K | pipeline | seeds | yard c_npmi (sd) | yard c_v | own c_npmi | own c_v | diversity | phrases | CPU s | CPU x tutorial |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (corpus, k, pipeline), members in groups.items():
        mean = {c: statistics.mean(m[c] for m in members) for c in COLUMNS}
        sd = statistics.stdev(m["yard_c_npmi"] for m in members) if len(members) > 1 else 0.0
        base = groups.get((corpus, k, "tutorial"))
        ratio = mean["cpu_seconds"] / statistics.mean(m["cpu_seconds"] for m in base) if base else float("nan")
        lines.append(
            f"| {corpus} | {k} | {pipeline} | {len(members)} | {mean['yard_c_npmi']:.4f} ({sd:.4f}) | {mean['yard_c_v']:.4f} "
            f"| {mean['own_c_npmi']:.4f} | {mean['own_c_v']:.4f} | {mean['diversity']:.3f} | {mean['phrases']:.3f} "
            f"| {mean['cpu_seconds']:.1f} | {ratio:.2f} |"
        )
    return "\n".join(lines)


def parse_candidate(text: str) -> tuple[str, dict]:
    name, sep, path = text.partition("=")
    if not sep or not name or name in ("tutorial", "topics-defaults"):
        raise argparse.ArgumentTypeError(f"--candidate must be NAME=path.toml with a new NAME, got {text!r}")
    with open(path, "rb") as handle:
        config = tomllib.load(handle)
    unknown = set(config) - {"preprocess", "model"}
    if unknown:
        raise argparse.ArgumentTypeError(f"{path}: unknown section(s) {sorted(unknown)}; use [preprocess] and [model]")
    return name, config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", choices=list(CORPORA), help="repeat for several (default: all)")
    parser.add_argument("--k", action="append", type=int, help="repeat for several (default: 20 and 50)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--candidate",
        action="append",
        type=parse_candidate,
        default=[],
        help="NAME=file.toml with [preprocess] and [model] sections; repeat for several",
    )
    parser.add_argument("--no-defaults", action="store_true", help="leave out topics with its defaults")
    parser.add_argument("--topics-bin", default=str(REPO / ".venv" / "bin" / "topics"), help="the topics command")
    parser.add_argument("--workdir", type=Path, help="keep unpacked data, prepared corpora and runs here (reused)")
    parser.add_argument("--processes", type=int, default=1, help="processes for topics preprocess")
    parser.add_argument("--fast", action="store_true", help="score with the package's coherence counting")
    parser.add_argument("--json", type=Path, help="also write every row (with topics) to this JSON-lines file")
    args = parser.parse_args(argv)
    pipelines: dict[str, dict | None] = {"tutorial": None}
    if not args.no_defaults:
        pipelines["topics-defaults"] = {}
    pipelines.update(args.candidate)
    started = time.perf_counter()
    temporary = None
    if args.workdir is None:
        temporary = tempfile.mkdtemp(prefix="bench-raw-quality-")
        args.workdir = Path(temporary)
    progress = lambda line: print(line, file=sys.stderr, flush=True)
    try:
        rows = [
            row
            for name in args.corpus or list(CORPORA)
            for row in measure_corpus(name, args.k or [20, 50], args.seeds, pipelines, args, progress)
        ]
    finally:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)
    if args.json:
        args.json.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    print(table(rows))
    print(
        f"\nmeans over seeds; top {TOPN} words by probability; yard = tutorial tokens lemmatised (simplemma), topic "
        f"words mapped alike, phrases split; own = each pipeline's prepared tokens; diversity over the top 25; "
        f"CPU = training.\ncoherence by {'the package' if args.fast else 'gensim CoherenceModel'}; "
        f"total {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
