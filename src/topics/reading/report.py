"""The HTML report: one self-contained page that opens offline in a browser.

For an experiment folder (``results/<experiment>``): its comparison table (``runs.csv``), summary
and plots, then the best run (or a chosen one) in detail. For a run folder: that run in detail.
A run in detail is each topic's label, top-word bar chart, coherence, share of the corpus, most
representative articles (linked to their urls) and, when documents have dates, its trend over time
and beneath it a timeline of its top words per period (a dynamic model's own topics per period).

Self-contained: images are PNG data URIs, styles and the one small script are inline, and the only
URLs are the articles' own links. The script checks, after loading, that every image decoded and
records the result on ``<html data-ok="...">``, which the browser test reads.

``ldavis_html`` exports a pyLDAvis page (Sievert and Shirley 2014) with pyLDAvis's own JavaScript,
d3 and CSS inlined, so it works with no network either.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from topics._files import atomic_write
from topics.errors import RunError, TopicsError, unknown_name
from topics.experiment.statistics import LOWER_IS_BETTER, aggregate, best_run_id
from topics.reading.documents import PERIODS, document_periods, representative_documents
from topics.reading.figures import (
    figure_png,
    png_data_uri,
    topic_trend_png,
    trends_figure,
    word_bar_png,
    words_timeline_html,
)
from topics.reading.labels import topic_labels
from topics.reading.trends import topic_trends
from topics.reading.words import model_topic_words, words_table
from topics.runs import is_run_folder
from topics.runs.folder import MANIFEST, write_run_outputs
from topics.runs.run import load_run

if TYPE_CHECKING:
    import pandas as pd

    from topics.runs.run import Run

log = logging.getLogger(__name__)


REPORT_HTML = "report.html"
#: runs.csv columns that can pick the best run, in order of preference; higher is better
COHERENCE_PREFERENCE = ("c_npmi", "c_v", "c_uci", "u_mass")
#: a topic's words timeline: words per period, and at most this many periods (coarser periods beyond)
TIMELINE_WORDS, TIMELINE_PERIODS = 5, 12

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.3rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
h3{font-size:1.1rem;margin:.2rem 0 .5rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.topic{border:1px solid #ddd;border-radius:6px;padding:1rem;margin:1rem 0;break-inside:avoid}
.topic .figures{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}
.topic img,.plots img{max-width:100%;height:auto}
.meta{color:#555;font-size:.9rem}.note{color:#8a5a00;background:#fff6e0;padding:.4rem .6rem;border-radius:4px}
.scroll{overflow-x:auto}pre{background:#f7f7f7;padding:.6rem;white-space:pre-wrap;font-size:.85rem}
nav a{margin-right:.6rem}
table.timeline td{white-space:nowrap;font-size:.8rem}table.timeline caption{text-align:left;color:#555;font-size:.8rem}
.timeline .none{color:#aaa}
"""

# Registered first, so errors anywhere on the page are recorded; the check runs after `load`,
# when every image has decoded or failed.
HEAD_SCRIPT = """
window.__reportErrors = [];
window.addEventListener("error", function (e) { window.__reportErrors.push(String(e.message || e)); });
"""
CHECK_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (img) { return !(img.complete && img.naturalWidth > 0); });
  var root = document.documentElement;
  root.setAttribute("data-images", String(images.length));
  root.setAttribute("data-broken-images", String(broken.length));
  root.setAttribute("data-topics-shown", String(document.querySelectorAll("section.topic").length));
  root.setAttribute("data-errors", window.__reportErrors.join(" | "));
  root.setAttribute("data-ok", broken.length === 0 && window.__reportErrors.length === 0 ? "true" : "false");
});
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _img(png: bytes, alt: str) -> str:
    return f'<img src="{png_data_uri(png)}" alt="{_e(alt)}">'


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en" data-ok="pending">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{_e(title)}</title>\n'
        f"<script>{HEAD_SCRIPT}</script>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n"
        f"<script>{CHECK_SCRIPT}</script>\n</body>\n</html>\n"
    )


# ------------------------------------------------------------------------------------ one run


def _document_rows(documents: pd.DataFrame) -> str:
    rows = []
    for doc in documents.itertuples(index=False):
        title = _e(doc.title or doc.id)
        link = f'<a href="{_e(doc.url)}">{title}</a>' if str(doc.url).startswith(("http://", "https://")) else title
        rows.append(f'<tr><td>{link}</td><td>{_e(doc.date)}</td><td class="num">{doc.weight:.3f}</td></tr>')
    return "<table><tr><th>article</th><th>date</th><th>weight</th></tr>" + "".join(rows) + "</table>"


def timeline_words(run: Run, period: str) -> pd.DataFrame:
    """``trend_words`` for the words timelines: a dtm run's own periods; else ``period``, made coarser
    until there are at most ``TIMELINE_PERIODS`` periods (a timeline has one column per period)."""
    own = model_topic_words(run)
    order = list(PERIODS)
    candidates = [own[0]] if own is not None else order[order.index(period) :] if period in order else [period]
    for candidate in candidates:
        periods = document_periods(run, candidate, needed_for="there are no words per period")
        if len(periods.labels) <= TIMELINE_PERIODS:
            break
    return words_table(run, periods, TIMELINE_WORDS)


def run_section(
    run: Run,
    *,
    period: str = "month",
    words: int = 10,
    docs: int = 5,
    heading: str | None = None,
    location: str | None = None,
) -> str:
    """The HTML of one run in detail: overview table, trends, then one section per topic."""

    model = run.model
    labels = topic_labels(model, run.path)
    metrics = run.topic_metrics
    measures = list(metrics)
    share = model.doc_topics.mean(axis=0) if len(model.doc_topics) else np.zeros(model.num_topics)
    top_ids = model.top_word_ids(words)
    trends = timeline = None
    trend_note = ""
    try:
        trends = topic_trends(run, period)
        trend_note = trends.note
        timeline = timeline_words(run, period)
    except TopicsError as error:
        if trends is None:
            trend_note = f"No trends over time: {str(error).removeprefix(f'{run.path}: ')}"
        else:
            log.warning("%s; the report has no words timelines", error)
    parts = [f'<h2 id="run">{_e(heading or f"Run {run.id}")}</h2>']
    config = run.config
    passes = run.run_config.get("engine_parameters", {}).get("passes", config.passes or "")
    parts.append(
        f'<p class="meta">{_e(location or run.id)} &middot; engine {_e(run.manifest.get("engine", "gensim"))} &middot; '
        f"K = {model.num_topics} &middot; seed {run.seed} &middot; {len(model.doc_ids)} documents &middot; "
        f"vocabulary {len(model.vocabulary)} &middot; passes {_e(passes)}</p>"
    )
    scalar = {k: v for k, v in run.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if scalar:
        parts.append(
            "<table><tr>"
            + "".join(f"<th>{_e(k)}</th>" for k in scalar)
            + "</tr><tr>"
            + "".join(f'<td class="num">{v:.4g}</td>' for v in scalar.values())
            + "</tr></table>"
        )
    overview = [
        "<table><tr><th>topic</th><th>label</th><th>top words</th><th>share</th>"
        + "".join(f"<th>{_e(m)}</th>" for m in measures)
        + "</tr>"
    ]
    for k in range(model.num_topics):
        top = " ".join(model.vocabulary[i] for i in top_ids[k])
        scores = "".join(f'<td class="num">{metrics[m][k]:.3f}</td>' for m in measures)
        overview.append(
            f'<tr><td><a href="#topic-{k}">{k}</a></td><td>{_e(labels[k])}</td><td>{_e(top)}</td>'
            f'<td class="num">{share[k]:.1%}</td>{scores}</tr>'
        )
    parts.append('<div class="scroll">' + "".join(overview) + "</table></div>")
    if trend_note:
        parts.append(f'<p class="note">{_e(trend_note)}</p>')
    if trends is not None:
        parts.append(
            '<div class="plots">' + _img(figure_png(trends_figure(trends, labels)), "topic prevalence over time") + "</div>"
        )
    for k in range(model.num_topics):
        ids = top_ids[k]
        figures = [
            _img(
                word_bar_png(
                    [model.vocabulary[i] for i in ids],
                    model.topic_word[k, ids],
                    f"topic {k}: top words",
                ),
                f"top words of topic {k}",
            )
        ]
        if trends is not None:
            figures.append(_img(topic_trend_png(trends, k), f"prevalence of topic {k} over time"))
        scores = " &middot; ".join(f"{_e(m)} {metrics[m][k]:.3f}" for m in measures)
        body = [
            f'<section class="topic" id="topic-{k}"><h3>Topic {k}: {_e(labels[k])}</h3>',
            f'<p class="meta">share of the corpus {share[k]:.1%}{" &middot; " + scores if scores else ""}</p>',
            '<div class="figures">' + "".join(figures) + "</div>",
        ]
        if timeline is not None:
            body.append(words_timeline_html(timeline, k, TIMELINE_WORDS))
        if docs:
            body.append("<h4>Most representative articles</h4>" + _document_rows(representative_documents(run, k, docs)))
        body.append("</section>")
        parts.append("".join(body))
    return "\n".join(parts)


def run_report(run: Run, *, period: str = "month", words: int = 10, docs: int = 5) -> str:
    """The full HTML page for one run."""
    title = f"Topics of run {run.id}"
    return _page(
        title,
        f"<h1>{_e(title)}</h1>\n" + run_section(run, period=period, words=words, docs=docs),
    )


# ------------------------------------------------------------------------------------ experiment


def experiment_runs(folder: Path) -> pd.DataFrame:
    """``runs.csv`` of an experiment folder (a RunError when it is missing or has no run_id column)."""
    import pandas as pd

    path = Path(folder) / "runs.csv"
    if not path.is_file():
        raise RunError(f"{folder}: neither a run folder (no {MANIFEST}) nor an experiment folder (no runs.csv)")
    table = pd.read_csv(path, dtype={"run_id": str})
    if "run_id" not in table:
        raise RunError(f"{path}: no run_id column; run the experiment again")
    return table


def _metric_column(table: pd.DataFrame, metric: str | None) -> str | None:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    numeric = [c for c in table.columns if c != "run_id" and is_numeric_dtype(table[c]) and not is_bool_dtype(table[c])]
    if metric is not None:
        if metric not in numeric:
            raise RunError(f"runs.csv: {unknown_name('metric', metric, numeric)}")
        return metric
    for name in COHERENCE_PREFERENCE:
        for column in numeric:
            if column == name or column.startswith(name):
                return column
    return None


def _experiment_metric(folder: Path, table: pd.DataFrame) -> str | None:
    """The ``metric`` the experiment file names (it picks its best run too), when runs.csv has that column."""
    import tomllib

    for name in ("experiment.resolved.toml", "experiment.toml"):
        path = Path(folder) / name
        if path.is_file():
            try:
                metric = tomllib.loads(path.read_text(encoding="utf-8")).get("metric")
            except (tomllib.TOMLDecodeError, UnicodeDecodeError):
                return None
            return metric if isinstance(metric, str) and metric in table.columns else None
    return None


def choose_run(folder: Path, table: pd.DataFrame, run_id: str | None, metric: str | None) -> tuple[str, str]:
    """The run to detail and why: ``run_id`` when given, else the best seed of the best setting by
    ``metric`` (default: the experiment's own metric, else the first coherence column of runs.csv)."""
    runs_dir = Path(folder) / "runs"
    if run_id is not None:
        if run_id not in set(table["run_id"]):
            raise RunError(f"{folder}: no run {run_id!r} in runs.csv; choose from {', '.join(table['run_id'])}")
        return run_id, "the run asked for"
    candidates = table[table["status"] == "complete"] if "status" in table else table
    candidates = candidates[[is_run_folder(runs_dir / r) for r in candidates["run_id"]]]
    if candidates.empty:
        raise RunError(f"{folder}: no complete run to report; run the experiment first")
    column = _metric_column(candidates, metric or _experiment_metric(folder, candidates))
    if column is None or candidates[column].isna().all():
        return str(candidates["run_id"].iloc[0]), "the first complete run (runs.csv has no coherence column)"
    chosen, comparison = best_run_id(candidates, column)
    settings = ", ".join(f"{k} = {v}" for k, v in comparison.best.items())
    direction = "lowest" if column in LOWER_IS_BETTER else "highest"
    return chosen, f"the best seed ({direction} {column}) of the best setting over seeds ({settings})"


def run_of(folder: str | Path) -> tuple[Run, str | None]:
    """The run a folder stands for: a run folder itself, or an experiment's best run (with why it was chosen)."""
    folder = Path(folder)
    if not is_run_folder(folder) and (folder / "runs.csv").is_file():
        chosen, reason = choose_run(folder, experiment_runs(folder), None, None)
        return load_run(folder / "runs" / chosen), reason
    return load_run(folder), None


def best_run(experiment_dir: str | Path, metric: str | None = None) -> Run:
    """The best run of an experiment: the best seed of the setting with the best mean ``metric`` over seeds.

    Parameters
    ----------
    experiment_dir : path
        ``results/<experiment>``, written by ``topics.run_experiment``.
    metric : str, optional
        A column of ``runs.csv``; default: the experiment's own metric, else the first coherence column.

    Returns
    -------
    Run

    Examples
    --------
    >>> run = topics.best_run("results/quickstart")  # doctest: +SKIP
    >>> run.topics.head()  # doctest: +SKIP
    """
    folder = Path(experiment_dir)
    chosen, _ = choose_run(folder, experiment_runs(folder), None, metric)
    return load_run(folder / "runs" / chosen)


def _settings_section(table: pd.DataFrame, metric: str | None) -> str:
    """The settings aggregated over seeds (mean, sd, 95% CI), best first, with the best-vs-runner-up test."""

    column = _metric_column(table, metric)
    if column is None:
        return '<p class="note">No run has a score to compare settings by.</p>'
    try:
        comparison = aggregate(table, column)
    except TopicsError as error:
        return f'<p class="note">{_e(error)}</p>'
    return (
        f'<p>{_e(comparison.verdict())}</p><div class="scroll">'
        + comparison.table.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="", border=0)
        + "</div>"
    )


def experiment_report(
    folder: Path,
    *,
    run_id: str | None = None,
    metric: str | None = None,
    period: str = "month",
    words: int = 10,
    docs: int = 5,
) -> str:
    """The full HTML page for an experiment: comparison table, summary, plots, then one run in detail."""

    folder = Path(folder)
    table = experiment_runs(folder)
    chosen, reason = choose_run(folder, table, run_id, metric)
    run = load_run(folder / "runs" / chosen)
    title = f"Experiment {folder.name}"
    parts = [
        f"<h1>{_e(title)}</h1>",
        '<nav><a href="#comparison">comparison</a><a href="#plots">plots</a><a href="#run">best run</a></nav>',
        '<h2 id="comparison">Settings compared over seeds</h2>',
    ]
    parts.append(_settings_section(table, metric or _experiment_metric(folder, table)))
    parts.append("<h2>Every run</h2>")
    shown = table.copy()
    if "run_id" in shown:
        shown["run_id"] = shown["run_id"].map(lambda r: f"<b>{_e(r)}</b>" if r == chosen else _e(r))
    parts.append(
        '<div class="scroll">'
        + shown.to_html(
            index=False,
            escape=False,
            float_format=lambda v: f"{v:.4g}",
            na_rep="",
            border=0,
        )
        + "</div>"
    )
    from topics.reading.search_section import search_section  # "" unless the folder has search.db

    parts.append(search_section(folder))
    plots = sorted((folder / "plots").glob("*.png")) if (folder / "plots").is_dir() else []
    parts.append('<h2 id="plots">Plots</h2>')
    if plots:
        parts.append(
            '<div class="plots">'
            + "".join(f"<figure>{_img(p.read_bytes(), p.stem)}<figcaption>{_e(p.stem)}</figcaption></figure>" for p in plots)
            + "</div>"
        )
    else:
        parts.append('<p class="note">This experiment has no plots.</p>')
    parts.append(
        run_section(
            run,
            period=period,
            words=words,
            docs=docs,
            heading=f"Run {chosen}: {reason}",
            location=f"runs/{chosen}",
        )
    )
    return _page(title, "\n".join(parts))


def write_report(
    folder: str | Path,
    *,
    run_id: str | None = None,
    metric: str | None = None,
    period: str = "month",
    words: int = 10,
    docs: int = 5,
) -> Path:
    """Write ``report.html`` into a run folder (kept in its manifest) or an experiment folder; returns its path.

    Examples
    --------
    >>> topics.write_report("results/quickstart")  # doctest: +SKIP
    PosixPath('results/quickstart/report.html')
    """

    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"{folder}: no such run or experiment folder")
    if is_run_folder(folder):
        if run_id is not None or metric is not None:
            raise RunError(f"{folder}: `run_id` and `metric` choose a run of an experiment; this is a single run")
        run = load_run(folder)
        write_run_outputs(
            folder,
            {REPORT_HTML: run_report(run, period=period, words=words, docs=docs)},
        )
        return folder / REPORT_HTML
    page = experiment_report(folder, run_id=run_id, metric=metric, period=period, words=words, docs=docs)
    return atomic_write(folder / REPORT_HTML, page)
