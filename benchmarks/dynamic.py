"""Topics over time (issue 15): tomotopy's DTModel against gensim's LdaSeqModel, plus trend words.

One table: method, documents, time slices, training seconds, seconds per document, speed ratio per
document against gensim's ``LdaSeqModel`` (the baseline users would otherwise reach for), and how
much of a planted vocabulary shift each method recovers.

    nice .venv/bin/python benchmarks/dynamic.py                          # 7m47s measured (2 shared cores)
    nice .venv/bin/python benchmarks/dynamic.py --lda-seq-docs 200 --show-words
    nice .venv/bin/python benchmarks/dynamic.py --archive /tmp/bbc-dated --skip-lda-seq

The data: a dated archive built from the 2,225 raw BBC stories (``bbc-articles.tar.gz`` in
``../shared/data`` or ``$TOPICS_DATA``), written in the package's article format (``# Title``, a
date line like ``May 19, 2014``, the body, ``Original url:``, the URL) into ``--archive``, then read
back from those files. Dates are planted so that each category's vocabulary shifts halfway:

1. Each story is tokenised (lowercase letters, >= 3 characters, gensim's stop words); the
   vocabulary keeps words in >= ``--min-df`` stories and <= 50 % of them.
2. Within each category (the URL path: business, entertainment, politics, sport, tech) the stories
   are split into two sub-groups by their words: a seeded 2-means (scikit-learn ``KMeans``) on
   L2-normalised tf-idf rows. Sub-group A is the larger one.
3. Sub-group A gets uniformly random days in 2004, sub-group B in 2005. The time slices are
   ``--slices`` equal calendar periods over 2004-05 (8 = quarters), so slices 0..T/2-1 are early
   and T/2..T-1 late: a category's topic should speak of A's subjects early and B's late.

The planted shift of a category is the 20 words that gain most probability from B to A,
p_A(w) - p_B(w) (the category's word distributions in A and in B), and the 20 that gain most from
A to B. Each method's topics are matched to categories (the topic with the largest mean share over
the category's documents) and its early and late distributions (the mean of the topic's
per-slice distributions over each half) are scored with the same two ideas:

- ``shift``: a(E) - a(L), where a(X) = φ_X(A-words) / (φ_X(A-words) + φ_X(B-words)) is the share of
  the topic's planted-word mass on A's words in half X. 0 = no shift (any model with one
  topic-word matrix); the ``planted (data)`` row gives the same number on the true distributions.
- ``J@20``: the Jaccard overlap of the topic's 20 words ranked by φ_E - φ_L with the A-words, and of
  those ranked by φ_L - φ_E with the B-words, averaged (1 on the data by construction).

Methods, on the same vocabulary and slices: (a) tomotopy ``DTModel`` (Gibbs sampling with SGLD,
``workers=1``, seeded; phi_var 0.01 as in tomotopy's example, eta_var 1.0, lr_a 0.1, 300
iterations: with tomotopy's defaults one topic absorbed most words of every category here); (b) gensim ``LdaSeqModel`` on a stratified ``--lda-seq-docs`` subsample with
few EM iterations (it is slow: its time includes the ``LdaModel`` it starts from, as users pay it
too), with tomotopy and the static model measured on the same subsample; (c) a static gensim
``LdaModel`` (plain gensim, not the ``topics`` CLI, so every method sees the same vocabulary) plus
trend words (``_trend_words_reference.trend_words``) from its document-topic shares. Speed ratios
are per document and only on the subsample, where every method trains on the same documents: an
EM iteration of ``LdaSeqModel`` costs about vocabulary x topics x slices for its topic chains plus
the documents' E-steps, so no per-document figure extrapolates it to the whole archive.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core per process: the machine is shared

import argparse
import datetime as dt
import re
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _trend_words_reference import trend_words

REPO = Path(__file__).resolve().parents[1]
START_YEAR, MONTHS = 2004, 24
URL = re.compile(r"<(https?://[^>]+)>")
WORD = re.compile(r"[a-z]+")


def data_dir() -> Path:
    if os.environ.get("TOPICS_DATA"):
        return Path(os.environ["TOPICS_DATA"])
    beside = REPO.parent / "shared" / "data"
    return beside if beside.is_dir() else Path("/work/shared/data")


def read_stories(tar_path: Path) -> list[dict]:
    """Title, body, url and category (the URL's first path part) of every story, in name order."""
    stories = []
    with tarfile.open(tar_path) as tar:
        for member in sorted((m for m in tar if m.isfile() and m.name.endswith(".txt")), key=lambda m: m.name):
            text = tar.extractfile(member).read().decode("utf-8")
            head, _, tail = text.partition("Original url:")
            lines = head.strip().splitlines()
            title = lines[0].removeprefix("# ").strip()
            body = "\n\n".join(p.strip() for p in "\n".join(lines[1:]).split("\n\n") if p.strip())
            url = URL.search(tail).group(1)
            stories.append(dict(name=Path(member.name).name, title=title, body=body, url=url, category=url.split("/")[3]))
    return stories


def tokenize(text: str, stopwords) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if len(w) >= 3 and w not in stopwords]


def count_matrix(token_lists, vocab: dict[str, int]) -> sp.csr_matrix:
    rows, cols = [], []
    for d, tokens in enumerate(token_lists):
        ids = [vocab[w] for w in tokens if w in vocab]
        rows.extend([d] * len(ids))
        cols.extend(ids)
    data = np.ones(len(rows))
    return sp.csr_matrix((data, (rows, cols)), shape=(len(token_lists), len(vocab)))  # duplicates are summed


def build_vocabulary(token_lists, min_df: int, max_df: float) -> dict[str, int]:
    df: dict[str, int] = {}
    for tokens in token_lists:
        for w in set(tokens):
            df[w] = df.get(w, 0) + 1
    keep = sorted(w for w, n in df.items() if n >= min_df and n <= max_df * len(token_lists))
    return {w: i for i, w in enumerate(keep)}


def split_subgroups(counts: sp.csr_matrix, seed: int) -> np.ndarray:
    """0 (A, the larger) or 1 (B) per row: seeded 2-means on L2-normalised tf-idf."""
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfTransformer

    tfidf = TfidfTransformer().fit_transform(counts)
    labels = KMeans(n_clusters=2, n_init=10, random_state=seed).fit_predict(tfidf)
    return labels if (labels == 0).sum() >= (labels == 1).sum() else 1 - labels


def build_archive(out: Path, min_df: int, seed: int) -> None:
    """Write the dated archive (see the module docstring) as article files into ``out``."""
    from gensim.parsing.preprocessing import STOPWORDS

    stories = read_stories(data_dir() / "bbc-articles.tar.gz")
    tokens = [tokenize(s["title"] + "\n" + s["body"], STOPWORDS) for s in stories]
    counts = count_matrix(tokens, build_vocabulary(tokens, min_df, 0.5))
    categories = np.array([s["category"] for s in stories])
    rng = np.random.default_rng(seed)
    first, days = dt.date(START_YEAR, 1, 1), [366, 365]  # 2004 is a leap year
    out.mkdir(parents=True, exist_ok=True)
    for category in sorted(set(categories)):
        rows = np.flatnonzero(categories == category)
        for row, group in zip(rows, split_subgroups(counts[rows], seed)):
            day = first + dt.timedelta(days=int(group) * days[0] + int(rng.integers(days[group])))
            s = stories[row]
            date = f"{day:%B} {day.day}, {day.year}"
            text = f"# {s['title']}\n\n{date}\n\n{s['body']}\n\nOriginal url:\n\n<{s['url']}>\n"
            (out / s["name"]).write_text(text, encoding="utf-8")


def read_archive(folder: Path, slices: int) -> list[dict]:
    """Stories of the archive with their slice index, sorted by date (LdaSeqModel needs that)."""
    stories = []
    for path in sorted(folder.glob("*.txt")):
        head, _, tail = path.read_text(encoding="utf-8").partition("Original url:")
        title, date, body = (head.split("\n\n", 2) + ["", ""])[:3]
        day = dt.datetime.strptime(date.strip(), "%B %d, %Y").date()
        month = (day.year - START_YEAR) * 12 + day.month - 1
        url = URL.search(tail).group(1)
        stories.append(
            dict(title=title.removeprefix("# "), body=body, date=day, slice=month * slices // MONTHS, category=url.split("/")[3])
        )
    return sorted(stories, key=lambda s: s["date"])


def planted_words(counts, categories, early, n: int = 20) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per category: the n words gaining most probability early over late, and late over early."""
    planted = {}
    for category in sorted(set(categories)):
        p = [np.asarray(counts[(categories == category) & half].sum(axis=0)).ravel() for half in (early, ~early)]
        diff = p[0] / p[0].sum() - p[1] / p[1].sum()
        planted[category] = (np.argsort(-diff, kind="stable")[:n], np.argsort(diff, kind="stable")[:n])
    return planted


def halves(word_dist: np.ndarray, topic: int) -> tuple[np.ndarray, np.ndarray]:
    t = word_dist.shape[0] // 2
    return np.nanmean(word_dist[:t, topic], axis=0), np.nanmean(word_dist[t:, topic], axis=0)


def shift_scores(word_dist, doc_topics, categories, planted, n: int = 20) -> tuple[float, float, list]:
    """Mean over categories of (shift, J@20) for the matched topics, and the matches."""
    shifts, jaccards, matches = [], [], []
    for category, (a_words, b_words) in planted.items():
        topic = int(np.argmax(doc_topics[categories == category].mean(axis=0)))
        early, late = halves(word_dist, topic)
        share = [x[a_words].sum() / (x[a_words].sum() + x[b_words].sum()) for x in (early, late)]
        shifts.append(share[0] - share[1])
        gained = [np.argsort(late - early, kind="stable")[:n], np.argsort(early - late, kind="stable")[:n]]
        jaccards.append(np.mean([len(set(g) & set(w)) / len(set(g) | set(w)) for g, w in zip(gained, (a_words, b_words))]))
        matches.append((category, topic, gained))
    return float(np.mean(shifts)), float(np.mean(jaccards)), matches


def run_dtm(token_lists, slices, num_slices, vocab, k, args):
    import tomotopy as tp

    start = time.perf_counter()
    model = tp.DTModel(k=k, t=num_slices, seed=args.seed, phi_var=args.dtm_phi_var, eta_var=args.dtm_eta_var, lr_a=args.dtm_lr_a)
    for tokens, t in zip(token_lists, slices):
        model.add_doc(tokens, timepoint=int(t))
    model.train(args.dtm_iterations, workers=1)
    seconds = time.perf_counter() - start
    assert len(model.docs) == len(token_lists), "tomotopy dropped empty documents"
    ids = np.array([vocab[w] for w in model.used_vocabs])
    word_dist = np.zeros((num_slices, k, len(vocab)))
    for t in range(num_slices):
        for topic in range(k):
            word_dist[t, topic, ids] = model.get_topic_word_dist(topic, timepoint=t)
    doc_topics = np.array([doc.get_topic_dist() for doc in model.docs])
    return seconds, word_dist, doc_topics


def run_lda_seq(bow, slices, num_slices, id2word, k, args):
    from gensim.models import LdaSeqModel

    start = time.perf_counter()
    model = LdaSeqModel(
        corpus=bow,
        time_slice=np.bincount(slices, minlength=num_slices).tolist(),
        id2word=id2word,
        num_topics=k,
        passes=args.lda_seq_passes,
        random_state=args.seed,
        em_min_iter=args.lda_seq_em_iter,
        em_max_iter=args.lda_seq_em_iter,
        lda_inference_max_iter=args.lda_seq_inference_iter,
        chunksize=len(bow),
    )
    seconds = time.perf_counter() - start
    log_prob = np.stack([chain.e_log_prob.T for chain in model.topic_chains], axis=1)  # (T, K, V)
    word_dist = np.exp(log_prob - log_prob.max(axis=2, keepdims=True))
    word_dist /= word_dist.sum(axis=2, keepdims=True)
    doc_topics = model.gammas / model.gammas.sum(axis=1, keepdims=True)
    return seconds, word_dist, doc_topics


def run_static(bow, counts, slices, num_slices, id2word, k, args):
    from gensim.models import LdaModel

    start = time.perf_counter()
    model = LdaModel(
        bow,
        id2word=id2word,
        num_topics=k,
        passes=args.passes,
        chunksize=len(bow),
        iterations=50,
        alpha="symmetric",
        eta="symmetric",
        random_state=args.seed,
    )
    doc_topics = model.inference(bow)[0]
    doc_topics /= doc_topics.sum(axis=1, keepdims=True)
    train = time.perf_counter() - start
    start = time.perf_counter()
    trends = trend_words(doc_topics, counts, slices, num_slices, min_docs=args.min_docs)
    trend_seconds = time.perf_counter() - start
    topic_words = model.get_topics()
    return train, trend_seconds, np.broadcast_to(topic_words, (num_slices, *topic_words.shape)), trends, doc_topics


def subsample(slices, size: int, num_slices: int, seed: int) -> np.ndarray:
    """About ``size`` row indices, the same number from every slice, in date order."""
    rng = np.random.default_rng(seed)
    per = size // num_slices
    picks = [np.sort(rng.choice(np.flatnonzero(slices == t), size=per, replace=False)) for t in range(num_slices)]
    return np.concatenate(picks)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--archive", type=Path, help="folder for the dated archive (built if it has no .txt files; default: a temp folder)"
    )
    parser.add_argument(
        "--slices", type=int, default=8, help="equal calendar periods over 2004-05; must divide 24 and be even (8 = quarters)"
    )
    parser.add_argument("--k", type=int, default=5, help="number of topics (5 = the BBC categories)")
    parser.add_argument("--min-df", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtm-iterations", type=int, default=300, help="tomotopy Gibbs iterations")
    parser.add_argument(
        "--dtm-phi-var", type=float, default=0.01, help="DTModel phi_var (tomotopy's default 0.1; its example uses 0.01)"
    )
    parser.add_argument("--dtm-eta-var", type=float, default=1.0, help="DTModel eta_var")
    parser.add_argument(
        "--dtm-lr-a",
        type=float,
        default=0.1,
        help="DTModel SGLD step size a (tomotopy's default 0.01 collapses; see the docstring)",
    )
    parser.add_argument("--passes", type=int, default=10, help="passes of the static LdaModel")
    parser.add_argument("--min-docs", type=float, default=5.0, help="trend words: N_tk below this is marked insufficient")
    parser.add_argument("--lda-seq-docs", type=int, default=400, help="stratified subsample for LdaSeqModel")
    parser.add_argument("--lda-seq-passes", type=int, default=5, help="passes of the LdaModel that LdaSeqModel starts from")
    parser.add_argument("--lda-seq-em-iter", type=int, default=2, help="EM iterations of LdaSeqModel (min = max)")
    parser.add_argument("--lda-seq-inference-iter", type=int, default=10)
    parser.add_argument("--skip-lda-seq", action="store_true")
    parser.add_argument("--show-words", action="store_true", help="print planted and recovered words per category")
    args = parser.parse_args(argv)
    if MONTHS % args.slices or args.slices % 2:
        parser.error(f"--slices must divide {MONTHS} and be even, got {args.slices}")

    with tempfile.TemporaryDirectory(prefix="dynamic-") as tmp:
        archive = args.archive or Path(tmp) / "archive"
        if not any(archive.glob("*.txt")):
            start = time.perf_counter()
            build_archive(archive, args.min_df, args.seed)
            print(f"built {archive} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        stories = read_archive(archive, args.slices)

    from gensim.corpora import Dictionary
    from gensim.parsing.preprocessing import STOPWORDS

    tokens = [tokenize(s["title"] + "\n" + s["body"], STOPWORDS) for s in stories]
    vocab = build_vocabulary(tokens, args.min_df, 0.5)
    tokens = [[w for w in ts if w in vocab] for ts in tokens]
    counts = count_matrix(tokens, vocab)
    slices = np.array([s["slice"] for s in stories])
    categories = np.array([s["category"] for s in stories])
    early = slices < args.slices // 2
    planted = planted_words(counts, categories, early)

    rows = []  # method, docs, seconds, shift, jaccard, matches
    truth = np.stack(
        [
            np.stack([np.asarray(counts[(slices == t) & (categories == c)].sum(axis=0)).ravel() for c in planted])
            for t in range(args.slices)
        ]
    )
    truth = truth / truth.sum(axis=2, keepdims=True)
    onehot = (categories[:, None] == np.array(list(planted))[None, :]).astype(float)
    rows.append(("planted (data)", len(stories), None, *shift_scores(truth, onehot, categories, planted)))

    def measure(label, docs, seconds, word_dist, doc_topics, cats):
        rows.append((label, docs, seconds, *shift_scores(word_dist, doc_topics, cats, planted)))
        print(f"{label}: {seconds:.1f} s", file=sys.stderr)

    def restrict(sel):
        """The rows ``sel`` on the words they use (as a user would build the vocabulary), ids compacted."""
        used = np.flatnonzero(np.asarray(counts[sel].sum(axis=0)).ravel() > 0)
        sub_counts = counts[sel][:, used]
        sub_vocab = {w: i for i, w in enumerate(np.array(sorted(vocab, key=vocab.get))[used])}
        sub_id2word = Dictionary()
        sub_id2word.token2id = dict(sub_vocab)
        sub_id2word.id2token = {i: w for w, i in sub_vocab.items()}
        sub_bow = [list(zip(row.indices.tolist(), row.data.astype(int).tolist())) for row in sub_counts]
        return used, sub_counts, sub_bow, sub_vocab, sub_id2word

    def expand(word_dist, used):
        full = np.zeros((*word_dist.shape[:2], len(vocab)))
        full[..., used] = word_dist
        return full

    def all_methods(sel, suffix, lda_seq=False):
        used, sub_counts, sub_bow, sub_vocab, sub_id2word = restrict(sel)
        if lda_seq:
            seconds, word_dist, doc_topics = run_lda_seq(sub_bow, slices[sel], args.slices, sub_id2word, args.k, args)
            measure(f"gensim LdaSeqModel{suffix}", len(sel), seconds, expand(word_dist, used), doc_topics, categories[sel])
        sel_tokens = [tokens[i] for i in sel]
        seconds, word_dist, doc_topics = run_dtm(sel_tokens, slices[sel], args.slices, sub_vocab, args.k, args)
        measure(f"tomotopy DTModel{suffix}", len(sel), seconds, expand(word_dist, used), doc_topics, categories[sel])
        train, trend_s, static, trends, doc_topics = run_static(
            sub_bow, sub_counts, slices[sel], args.slices, sub_id2word, args.k, args
        )
        measure(f"gensim LdaModel, one matrix{suffix}", len(sel), train, expand(static, used), doc_topics, categories[sel])
        measure(
            f"LdaModel + trend words{suffix}",
            len(sel),
            train + trend_s,
            expand(trends.word_dist, used),
            doc_topics,
            categories[sel],
        )
        print(
            f"  trend_words: {trend_s:.3f} s, {int((~trends.sufficient).sum())} of {trends.sufficient.size} "
            f"(slice, topic) pairs below {args.min_docs} effective documents",
            file=sys.stderr,
        )

    if not args.skip_lda_seq:
        all_methods(subsample(slices, args.lda_seq_docs, args.slices, args.seed), " (subsample)", lda_seq=True)
    all_methods(np.arange(len(stories)), "")

    baseline = next(((r[1], r[2] / r[1]) for r in rows if r[0].startswith("gensim LdaSeqModel")), None)
    print(
        f"\nBBC stories dated 2004-05 with a planted mid-range vocabulary shift per category; K = {args.k}, "
        f"{len(vocab)} words, {args.slices} slices, seed {args.seed}"
    )
    print("| method | docs | slices | training s | ms/doc | speed vs LdaSeqModel (per doc) | shift | J@20 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, docs, seconds, shift, jaccard, _ in rows:
        timing = (
            ("", "", "")
            if seconds is None
            else (
                f"{seconds:.1f}",
                f"{1000 * seconds / docs:.1f}",
                "" if baseline is None or docs != baseline[0] else f"{baseline[1] / (seconds / docs):,.0f}x",
            )
        )
        print(f"| {label} | {docs} | {args.slices} | {timing[0]} | {timing[1]} | {timing[2]} | {shift:.2f} | {jaccard:.2f} |")
    if args.show_words:
        words = np.array(sorted(vocab, key=vocab.get))
        for label, *_, matches in rows:
            print(f"\n{label}")
            for category, topic, (gain_early, gain_late) in matches:
                print(
                    f"  {category} -> topic {topic}: early {' '.join(words[gain_early[:8]])} | late {' '.join(words[gain_late[:8]])}"
                )


if __name__ == "__main__":
    main()
