"""`topics show`, `topics trends`, `topics infer`, `topics report`: reading a trained model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from topics.cli import app, console, reported
from topics.cli.render import topics_table

RunDirArg = Annotated[Path, typer.Argument(help="a run folder written by `topics train` or `topics run`")]
PeriodOption = Annotated[str, typer.Option("--period", "-p", help="week, month, quarter or year")]


@app.command()
@reported
def show(
    run_dir: RunDirArg,
    topic: Annotated[
        int | None,
        typer.Option(
            "--topic",
            "-t",
            help="show one topic: its words and most representative documents",
        ),
    ] = None,
    words: Annotated[int, typer.Option("--words", "-w", min=1, help="top words per topic")] = 15,
    docs: Annotated[
        int,
        typer.Option("--docs", "-d", min=0, help="representative documents shown with --topic"),
    ] = 5,
) -> None:
    """A run's topics: label, top words with weights, coherence and share of the corpus.

    Given an experiment folder, shows its best run (by the experiment's metric)."""
    from rich.markup import escape
    from rich.table import Table

    from topics.reading.documents import check_topic, representative_documents
    from topics.reading.experiment_report import run_of
    from topics.reading.labels import topic_labels

    run, why = run_of(run_dir)
    if why is not None:
        console.print(escape(f"{run_dir}: showing run {run.id}, {why}"), highlight=False)
    model = run.model
    labels = topic_labels(model, run.path)
    metrics = run.topic_metrics
    if topic is None:
        console.print(
            topics_table(
                model,
                words=words,
                topic_metrics=metrics,
                labels=labels,
                weights=True,
                title=f"{run.path}  (K={model.num_topics})",
            )
        )
        return
    check_topic(run, topic)
    share = model.topic_shares()[topic]
    scores = "  ".join(f"{m} {values[topic]:.3f}" for m, values in metrics.items())
    console.print(
        f"[bold]topic {topic}[/]: {escape(labels[topic])}   share {share:.1%}   {scores}",
        highlight=False,
    )
    word_table = Table(title="top words")
    word_table.add_column("rank", justify="right")
    word_table.add_column("word")
    word_table.add_column("weight", justify="right")
    for rank, word_id in enumerate(model.top_word_ids(words)[topic], start=1):
        word_table.add_row(
            str(rank),
            escape(model.vocabulary[word_id]),
            f"{model.topic_word[topic, word_id]:.4f}",
        )
    console.print(word_table)
    if docs:
        documents = representative_documents(run, topic, docs)
        doc_table = Table(title=f"most representative documents of topic {topic}")
        for column in ("id", "title", "date", "url"):
            if column == "id" or documents[column].astype(bool).any():
                doc_table.add_column(column, overflow="fold")
        doc_table.add_column("weight", justify="right")
        shown = [str(c.header) for c in doc_table.columns][:-1]
        for row in documents.itertuples(index=False):
            # titles, ids and urls are the user's text, never rich markup
            doc_table.add_row(*(escape(str(getattr(row, c))) for c in shown), f"{row.weight:.3f}")
        console.print(doc_table)


@app.command()
@reported
def trends(
    run_dir: RunDirArg,
    period: PeriodOption = "month",
    words: Annotated[
        int | None,
        typer.Option(
            "--words",
            "-w",
            min=1,
            help="also write trend_words.csv: each topic's top N words in each period",
        ),
    ] = None,
    ranking: Annotated[
        str,
        typer.Option(help="rank a period's words by probability, or by relevance against the topic overall"),
    ] = "probability",
    relevance_lambda: Annotated[
        float,
        typer.Option(help="λ of relevance ranking: 1 is probability, 0 what is most new for the topic"),
    ] = 0.6,
    min_docs: Annotated[
        float,
        typer.Option(help="a topic's effective documents in a period (sum of its shares) below this: no words"),
    ] = 5.0,
) -> None:
    """Topic prevalence per period (mean topic share of the documents dated in it): trends.csv and trends.png.

    With --words, also each topic's words per period (trend_words.csv; see docs/trends.md)."""
    from topics.reading.trends import TRENDS_CSV, TRENDS_PNG, check_period, write_trends
    from topics.reading.words import TREND_WORDS_CSV, check_words_options
    from topics.runs.run import load_run

    check_period(period)
    if words is not None:
        check_words_options(words, ranking, relevance_lambda, min_docs)
    result = write_trends(
        load_run(run_dir), period, words=words, ranking=ranking, relevance_lambda=relevance_lambda, min_docs=min_docs
    )
    periods = len(result.prevalence)
    console.print(
        f"{periods} {period}(s), {int(result.documents.sum())} dated documents -> {run_dir / TRENDS_CSV}, {run_dir / TRENDS_PNG}"
    )
    if result.words is not None:
        pairs = result.words.drop_duplicates(["period", "topic"])
        sufficient = int(pairs["sufficient"].sum())
        console.print(
            f"top {words} words of {sufficient} of {len(pairs)} (period, topic) pairs -> {run_dir / TREND_WORDS_CSV}; "
            f"the others have fewer than {min_docs:g} effective documents",
            highlight=False,
        )
    if result.undated:
        console.print(f"[yellow]note:[/] {result.note}")


@app.command()
@reported
def infer(
    run_dir: RunDirArg,
    source: Annotated[str, typer.Argument(help="new documents: a corpus folder or file")],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="articles, text, lines, jsonl, csv; detected when omitted",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="CSV file for the topic distributions; printed when omitted",
        ),
    ] = None,
) -> None:
    """Topic distributions of new documents, through exactly the run corpus's preprocessing."""
    from topics._files import atomic_write
    from topics.reading.documents import infer_source
    from topics.reading.labels import topic_labels
    from topics.runs.run import load_run

    run = load_run(run_dir)
    table = infer_source(run, source, format)
    empty = table[table["note"] != ""]
    if out is not None:
        atomic_write(out, table.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
        console.print(f"{len(table)} document(s) -> {out}")
        for row in empty.itertuples(index=False):
            console.print(f"[yellow]note:[/] {row.id}: {row.note}", highlight=False)
    else:
        from rich.table import Table

        labels = topic_labels(run.model, run.path)
        shown = Table(title=f"topics of {source}")
        shown.add_column("id", overflow="fold")
        shown.add_column("top topics")
        topic_columns = [c for c in table.columns if c.startswith("topic_")]
        for _, row in table.iterrows():
            if row["note"]:
                shown.add_row(row["id"], f"[yellow]{row['note']}[/]")
                continue
            shares = row[topic_columns].astype(float).sort_values(ascending=False).head(3)
            shown.add_row(
                row["id"],
                "; ".join(
                    f"{c.removeprefix('topic_')} {labels[int(c.removeprefix('topic_'))]} {v:.0%}" for c, v in shares.items()
                ),
            )
        console.print(shown)


@app.command()
@reported
def report(
    folder: Annotated[
        Path,
        typer.Argument(help="an experiment folder (results/<experiment>) or a run folder"),
    ],
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            help="for an experiment: the run id to detail (default: the best run)",
        ),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            help="for an experiment: the column of runs.csv that picks the best run (default: the first coherence column)",
        ),
    ] = None,
    period: PeriodOption = "month",
    words: Annotated[int, typer.Option("--words", "-w", min=1, help="top words per topic")] = 10,
    docs: Annotated[
        int,
        typer.Option("--docs", "-d", min=0, help="representative documents per topic"),
    ] = 5,
    ldavis: Annotated[
        bool,
        typer.Option(
            "--ldavis",
            help="for a run: also write ldavis.html, an offline pyLDAvis page",
        ),
    ] = False,
) -> None:
    """A self-contained HTML report (report.html) that opens offline in a browser."""
    from topics.errors import RunError
    from topics.reading.experiment_report import write_report
    from topics.reading.ldavis import write_ldavis
    from topics.reading.trends import check_period
    from topics.runs.folder import is_run_folder

    check_period(period)
    if ldavis and not is_run_folder(folder):
        raise RunError(f"{folder}: --ldavis exports one run; give a run folder (results/<experiment>/runs/<run-id>)")
    path = write_report(folder, run_id=run, metric=metric, period=period, words=words, docs=docs)
    console.print(f"report -> {path}")
    if ldavis:
        console.print(f"pyLDAvis page -> {write_ldavis(folder)}")
