"""`topics preprocess`, `topics train`, `topics evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from topics.cli import SchedulerOption, app, console, error_console, reported
from topics.cli.render import progress_display, topics_table

SourceArg = Annotated[str, typer.Argument(help="corpus folder or file, or sample:lee")]
RunDirArg = Annotated[Path, typer.Argument(help="a run folder written by `topics train` or `topics run`")]


def document_total(corpus) -> int | None:
    """The documents a corpus yields at most, when that is cheap to know before reading it: one per
    file of a folder of articles or texts (a skipped file makes the count end below it); otherwise None."""
    if corpus.format not in ("articles", "text"):
        return None
    return sum(1 for _ in corpus.input_files())


@app.command()
@reported
def preprocess(
    source: SourceArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for the prepared corpus")],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="articles, text, lines, jsonl, csv, octis; detected when omitted",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML file with \\[corpus] and \\[preprocess] sections"),
    ] = None,
    no_below: Annotated[int | None, typer.Option(help="keep words in at least this many documents")] = None,
    no_above: Annotated[
        float | None,
        typer.Option(help="keep words in at most this share of documents"),
    ] = None,
    keep_n: Annotated[int | None, typer.Option(help="keep at most this many words")] = None,
    stopwords: Annotated[
        list[str] | None,
        typer.Option(
            "--stopwords",
            help="'english', 'russian' or a file with one word a line; repeat for several",
        ),
    ] = None,
    lemmatize: Annotated[
        bool | None,
        typer.Option("--lemmatize/--no-lemmatize", help="lemmatise with simplemma"),
    ] = None,
    language: Annotated[str | None, typer.Option(help="simplemma language code(s), e.g. en or en,ru")] = None,
    phrases: Annotated[str | None, typer.Option(help="collocations: none, bigrams, trigrams")] = None,
    phrase_list: Annotated[
        str | None, typer.Option(help="file of the phrases to join instead of learning them (phrases.json or one a line)")
    ] = None,
    phrase_blocklist: Annotated[str | None, typer.Option(help="file of phrases never joined, one a line")] = None,
    min_token_length: Annotated[int | None, typer.Option(help="shortest token kept")] = None,
    heldout: Annotated[float | None, typer.Option(help="share of documents held out for perplexity")] = None,
    split_seed: Annotated[int | None, typer.Option(help="seed of the held-out split")] = None,
    text_field: Annotated[str | None, typer.Option(help="JSONL/CSV text field")] = None,
    id_field: Annotated[str | None, typer.Option(help="JSONL/CSV id field")] = None,
    title_field: Annotated[str | None, typer.Option(help="JSONL/CSV title field")] = None,
    date_field: Annotated[str | None, typer.Option(help="JSONL/CSV date field")] = None,
    label_field: Annotated[str | None, typer.Option(help="JSONL/CSV label field")] = None,
    processes: Annotated[
        int | None,
        typer.Option(min=1, help="tokenising processes (with --executor dask: Dask workers); default: all cores"),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(help="replace an existing prepared corpus of other inputs or settings"),
    ] = False,
    executor: Annotated[
        str,
        typer.Option(help="where the corpus is tokenised: local (worker processes here) or dask (a shard on each Dask worker)"),
    ] = "local",
    scheduler: SchedulerOption = None,
) -> None:
    """Read a corpus, clean and tokenise it, and save a prepared corpus folder."""
    from topics.config import load_config
    from topics.corpus.stream import Corpus
    from topics.preprocessing.prepare import preprocess as run_preprocess

    corpus_config = load_config(
        config,
        "corpus",
        dict(
            source=source,
            format=format,
            text_field=text_field,
            id_field=id_field,
            title_field=title_field,
            date_field=date_field,
            label_field=label_field,
        ),
    )
    preprocess_config = load_config(
        config,
        "preprocess",
        dict(
            no_below=no_below,
            no_above=no_above,
            keep_n=keep_n,
            stopwords=stopwords,
            lemmatize=lemmatize,
            language=language,
            phrases=phrases,
            phrase_list=phrase_list,
            phrase_blocklist=phrase_blocklist,
            min_token_length=min_token_length,
            heldout=heldout,
            split_seed=split_seed,
        ),
    )
    corpus = Corpus(corpus_config)
    total = document_total(corpus)
    with progress_display("tokenising", "documents", total=total, console=error_console) as update:
        prepared = run_preprocess(
            corpus,
            preprocess_config,
            out,
            processes=processes,
            progress=update,
            force=force,
            executor=executor,
            scheduler=scheduler,
        )
    if prepared.reused:
        console.print(
            f"[green]reused[/] {out}: same inputs and settings were prepared before (fingerprint {prepared.fingerprint[:12]})"
        )
    report = prepared.report
    skipped = report.get("skipped", [])
    console.print(
        f"prepared {prepared.num_docs} documents, {prepared.num_tokens} tokens, vocabulary {prepared.num_terms} -> {out}"
    )
    if skipped:
        console.print(f"[yellow]skipped {len(skipped)} document(s)[/]; reasons in {out / 'report.json'}")
    for warning, count in (report.get("warnings") or {}).items():
        console.print(f"[yellow]warning:[/] {warning}: {count} document(s)")


@app.command()
@reported
def train(
    prepared_dir: Annotated[Path, typer.Argument(help="prepared corpus folder from `topics preprocess`")],
    out: Annotated[Path, typer.Option("--out", "-o", help="run folder to create")],
    num_topics: Annotated[int | None, typer.Option("--num-topics", "-k", help="number of topics (default 10)")] = None,
    seed: Annotated[int, typer.Option(min=0, help="random seed")] = 0,
    engine: Annotated[str | None, typer.Option(help="gensim (default), sklearn, tomotopy or dtm")] = None,
    passes: Annotated[int | None, typer.Option(help="passes over the corpus")] = None,
    iterations: Annotated[int | None, typer.Option(help="inference iterations")] = None,
    alpha: Annotated[
        str | None,
        typer.Option(help="document-topic prior: a number, symmetric, asymmetric or auto"),
    ] = None,
    eta: Annotated[
        str | None,
        typer.Option(help="topic-word prior: a number, symmetric or auto"),
    ] = None,
    chunksize: Annotated[
        int | None,
        typer.Option(
            help="documents per update; default: equal chunks of at most 2000 documents and of at most chunk_budget / K"
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="worker processes for one model (>1 is not reproducible)"),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(help="dtm: the calendar period of a time slice, month, quarter or year (default year)"),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML file with a \\[model] section"),
    ] = None,
    force: Annotated[bool, typer.Option(help="replace an existing run folder")] = False,
) -> None:
    """Fit an LDA model on a prepared corpus and write a run folder."""
    from topics.config import load_config
    from topics.preprocessing.prepared import PreparedCorpus
    from topics.runs.run import create_run

    overrides = dict(engine=engine, passes=passes, iterations=iterations, alpha=_prior(alpha), eta=_prior(eta))
    overrides.update(chunksize=chunksize, workers=workers, num_topics=num_topics, period=period)
    train_config = load_config(config, "model", overrides)
    prepared = PreparedCorpus.load(prepared_dir)
    description = f"training {train_config.engine} LDA, K={train_config.num_topics}, seed {seed}"
    unit = TRAINING_UNITS.get(train_config.engine, "steps")
    total: dict[str, int | None] = {"sklearn": 1}  # gensim: passes x documents, known when it starts
    total.update(dict.fromkeys(("tomotopy", "dtm"), train_config.resolved_iterations()))
    with progress_display(description, unit, total=total.get(train_config.engine), console=error_console) as update:
        run = create_run(prepared, train_config, seed, out, force=force, progress=update)
    console.print(topics_table(run.model, title=f"{out}  (K={train_config.num_topics}, seed {seed})"))
    note = "" if run.manifest["reproducible"] else "  [yellow](not reproducible: workers > 1)[/]"
    console.print(f"trained in {run.manifest['train_wall_seconds']:.1f} s -> {out}{note}")


#: what an engine reports progress in (``train_lda``'s ``progress``)
TRAINING_UNITS = {"gensim": "documents visited", "tomotopy": "Gibbs sweeps", "dtm": "Gibbs sweeps", "sklearn": "fits"}


def _prior(value: str | None) -> float | str | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return value


@app.command()
@reported
def evaluate(
    run_dir: RunDirArg,
    measure: Annotated[
        list[str] | None,
        typer.Option(
            "--measure",
            "-m",
            help="measure to compute; repeat for several (default: c_npmi, u_mass)",
        ),
    ] = None,
    topn: Annotated[int, typer.Option(help="top words per topic")] = 10,
    reference: Annotated[
        Path | None,
        typer.Option(help="prepared corpus to score against (default: the run's own)"),
    ] = None,
    window: Annotated[int | None, typer.Option(help="sliding window size (default per measure)")] = None,
    counting: Annotated[str, typer.Option(help="sliding-window counting: gensim or boolean")] = "gensim",
    ranking: Annotated[str, typer.Option(help="top-word ranking: probability or relevance")] = "probability",
    relevance_lambda: Annotated[
        float,
        typer.Option(help="λ of relevance ranking (Sievert and Shirley 2014): 1 is probability"),
    ] = 0.6,
    by_period: Annotated[
        str | None,
        typer.Option(
            "--by-period",
            help="also score each period's topics (week, month, quarter or year) against its documents: period_metrics.csv",
        ),
    ] = None,
    executor: Annotated[
        str,
        typer.Option(help="where coherence is counted: local (this process) or dask (the reference's blocks on Dask workers)"),
    ] = "local",
    scheduler: SchedulerOption = None,
) -> None:
    """Score a run's topics and write metrics.json and topic_metrics.csv into the run folder.

    With --by-period, also c_npmi and diversity per period (period_metrics.csv; see docs/trends.md)."""
    import contextlib

    from topics.config import load_config
    from topics.evaluation.scoring import COHERENCE_MEASURES, check_executor, check_measures
    from topics.evaluation.scoring import evaluate as run_evaluate
    from topics.preprocessing.prepared import PreparedCorpus
    from topics.runs.run import load_run, write_evaluation

    if measure:
        check_measures(measure)
    check_executor(executor, scheduler)
    overrides = dict(
        topn=topn, counting=counting, ranking=ranking, relevance_lambda=relevance_lambda, window=window, measures=measure
    )
    evaluate_config = load_config(None, "evaluate", overrides)
    run = load_run(run_dir)
    if by_period:
        from topics.reading.trends import document_periods

        document_periods(run, by_period, needed_for="there is no coherence over time")  # bad input fails before scoring
    reference_corpus = PreparedCorpus.load(reference) if reference else None
    # the documents of the reference as coherence counts them (here, or merged from the Dask workers)
    counted = any(m in COHERENCE_MEASURES for m in evaluate_config.measures)
    with contextlib.ExitStack() as stack:
        update = None
        if counted:
            documents = (reference_corpus or run.prepared).num_docs
            display = progress_display("counting the reference corpus", "documents", total=documents, console=error_console)
            update = stack.enter_context(display)
        else:
            stack.enter_context(console.status("scoring topics"))
        evaluation = run_evaluate(run, evaluate_config, reference_corpus, executor=executor, scheduler=scheduler, progress=update)
    write_evaluation(run, evaluation)
    console.print(topics_table(run.model, topic_metrics=evaluation.topic_metrics, title=str(run_dir)))
    for name, value in evaluation.metrics.items():
        console.print(f"{name:>12}  {value: .4f}")
    if by_period:
        from topics.reading.periods import PERIOD_METRICS_CSV, write_period_metrics

        with console.status(f"scoring topics per {by_period}"):
            periods = write_period_metrics(run, by_period, topn=topn, window=window, counting=counting)
        console.print(f"c_npmi and diversity of {periods['period'].nunique()} {by_period}(s) -> {run_dir / PERIOD_METRICS_CSV}")
