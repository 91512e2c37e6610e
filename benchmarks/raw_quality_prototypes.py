"""Prototype candidate pipelines for issue 12, phase 1 (not part of the package; for porting).

Boilerplate rules (Usenet header block keeping the Subject, quoted ``>`` lines, attribution lines,
a signature after the last ``--`` line when at most 15 lines follow, lines repeated in
>= max(5, 1% of) documents), gensim ``Phrases`` with the npmi scorer and a cap, and gensim LDA
with a given schedule, tokenised by the package's own ``Pipeline`` (frozen, pre-restructuring
import paths). Scores through ``raw_quality.score_rows`` (yardstick + own tokens, --fast counting).

    nice /work/frozen/.venv/bin/python benchmarks/raw_quality_prototypes.py 20news NAME \
        '{"boiler": true, "train": {"passes": 11, "iterations": 10, "alpha": 0.1, "eta": 0.01, "offset": 16}}'

Writes ``/tmp/rq/proto/<corpus>-<NAME>-k<K>.jsonl`` and prints one summary line.
"""
import sys, json, time, re, pickle, statistics, argparse
from pathlib import Path
from collections import Counter
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parent))
import raw_quality as rq
from topics.config import PreprocessConfig
from topics.tokenize import Pipeline

W = Path("/tmp/rq")  # workdir shared with raw_quality.py --workdir /tmp/rq
HEADER = re.compile(r"^[A-Za-z][\w-]*: ")
QUOTE = re.compile(r"^\s*(>|\|>|:>)")
ATTRIB = re.compile(r"(writes|wrote|says|said):\s*$", re.I)

def usenet_clean(text, stats):
    lines = text.split("\n")
    i = 0
    if lines and HEADER.match(lines[0]):
        subject = ""
        while i < len(lines) and lines[i].strip():
            if lines[i].lower().startswith("subject:"):
                subject = re.sub(r"^(re:\s*)+", "", lines[i][8:].strip(), flags=re.I)
            i += 1
        stats["header_lines"] += i
        lines = [subject] + lines[i:]
    marks = [j for j, line in enumerate(lines) if line.rstrip() == "--"]
    if marks and len(lines) - marks[-1] <= 16:
        stats["signature_lines"] += len(lines) - marks[-1]
        lines = lines[:marks[-1]]
    out = []
    for line in lines:
        if QUOTE.match(line):
            stats["quoted_lines"] += 1; continue
        if ATTRIB.search(line) and len(line) < 200:
            stats["attribution_lines"] += 1; continue
        out.append(line)
    return "\n".join(out)

def norm(line):
    return " ".join(line.lower().split())

def drop_repeated(texts, share, min_docs, stats):
    df = Counter()
    for t in texts:
        df.update({norm(l) for l in t.split("\n") if len(norm(l)) >= 3})
    limit = max(min_docs, share * len(texts))
    bad = {l for l, c in df.items() if c >= limit}
    stats["repeated_distinct"] = len(bad)
    stats["repeated_top"] = [(l[:60], df[l]) for l in sorted(bad, key=df.get, reverse=True)[:10]]
    out = []
    for t in texts:
        keep = [l for l in t.split("\n") if norm(l) not in bad]
        stats["repeated_lines"] += t.count("\n") + 1 - len(keep)
        out.append("\n".join(keep))
    return out

def tokens_for(corpus, boiler, lemma, share=0.01, min_docs=5):
    key = W / "proto" / f"{corpus}-b{int(boiler)}v2-l{int(lemma)}-{share}-{min_docs}.pkl"
    if key.is_file():
        return pickle.loads(key.read_bytes())
    source, _ = rq.corpus_source(corpus, W)
    docs = rq.raw_documents(corpus, source)
    stats = Counter()
    if boiler:
        docs = [usenet_clean(d, stats) for d in docs]  # a no-op on text without a header block
        docs = drop_repeated(docs, share, min_docs, stats)
    pipe = Pipeline(PreprocessConfig(lemmatize=lemma, phrases="none"))
    toks = [pipe(d) for d in docs]
    key.write_bytes(pickle.dumps((toks, dict(stats))))
    return toks, dict(stats)

def phrases(toks, threshold, min_count, cap):
    from gensim.models.phrases import Phrases, ENGLISH_CONNECTOR_WORDS
    ph = Phrases(toks, min_count=min_count, threshold=threshold, scoring="npmi", connector_words=ENGLISH_CONNECTOR_WORDS)
    grams = {p: s for p, s in ph.export_phrases().items() if not any(ch.isdigit() for ch in p)}
    kept = dict(sorted(grams.items(), key=lambda kv: -kv[1])[:cap])
    ph.phrasegrams = kept  # gensim 4: exported phrases are looked up through FrozenPhrases
    frozen = ph.freeze()
    frozen.phrasegrams = kept
    return [frozen[t] for t in toks], kept

def train(toks, k, seed, no_below=5, no_above=0.5, keep_n=100000, passes=10, chunksize=2000, iterations=50,
          alpha="symmetric", eta=None, decay=0.5, offset=1.0):
    from gensim.corpora import Dictionary
    from gensim.models import LdaModel
    d = Dictionary(toks); d.filter_extremes(no_below=no_below, no_above=no_above, keep_n=keep_n)
    bow = [d.doc2bow(t) for t in toks]
    t0 = time.process_time()
    m = LdaModel(bow, id2word=d, num_topics=k, chunksize=chunksize, passes=passes, iterations=iterations, alpha=alpha,
                 eta=eta, decay=decay, offset=offset, eval_every=None, random_state=seed)
    cpu = time.process_time() - t0
    own = [[w for w in t if w in d.token2id] for t in toks]
    return dict(topics=[[w for w, _ in m.show_topic(i, topn=25)] for i in range(k)], cpu_seconds=cpu), own

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus"); ap.add_argument("name"); ap.add_argument("spec", help="JSON")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2]); ap.add_argument("--k", type=int, default=20)
    a = ap.parse_args()
    spec = json.loads(a.spec)
    toks, stats = tokens_for(a.corpus, spec.get("boiler", False), spec.get("lemma", True), spec.get("share", 0.01), spec.get("min_docs", 5))
    n = len(toks)
    kept = {}
    if spec.get("phrases"):
        p = spec["phrases"]
        mc = max(5, round(n * p.get("mc_per_doc", 0)))
        toks, kept = phrases(toks, p["threshold"], mc, p.get("cap", 10**9))
    tr = dict(spec.get("train", {}))
    if "C" in tr:
        tr["passes"] = int(min(tr.pop("pmax", 10), max(1, round(tr.pop("C") / n))))
    rows, own = [], None
    for s in a.seeds:
        r, own = train(toks, a.k, s, **tr)
        rows.append(dict(corpus=a.corpus, pipeline=a.name, k=a.k, seed=s, **r))
    # yardstick from the cached tutorial tokens
    source, _ = rq.corpus_source(a.corpus, W)
    tut = rq.tutorial_tokens(rq.raw_documents(a.corpus, source))
    rq.score_rows(rows, {a.name: own}, rq.Yardstick(tut), True)
    for r in rows:
        r["diversity"], r["phrases"] = rq.diversity(r["topics"]), rq.phrase_share(r["topics"])
    out = W / "proto" / f"{a.corpus}-{a.name}-k{a.k}.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    m = lambda c: statistics.mean(r[c] for r in rows)
    print(f"{a.corpus} {a.name} K={a.k}: yard {m('yard_c_npmi'):.4f} yard_cv {m('yard_c_v'):.4f} own {m('own_c_npmi'):.4f} "
          f"div {m('diversity'):.3f} phr {m('phrases'):.3f} cpu {m('cpu_seconds'):.1f} passes {tr.get('passes')} nphr {len(kept)} "
          f"| {json.dumps(spec)} | {json.dumps({k: v for k, v in stats.items() if k != 'repeated_top'})}", flush=True)
    if stats.get("repeated_top"):
        print("   repeated:", stats["repeated_top"][:10], flush=True)
    for r in rows[:1]:
        print("   sample topics:", [" ".join(t[:8]) for t in r["topics"][:6]], flush=True)

if __name__ == "__main__":
    main()
