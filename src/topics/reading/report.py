"""The HTML report's page and one run in detail: one self-contained page that opens offline in a browser.

A run in detail is each topic's label, top-word bar chart, coherence, share of the corpus, most
representative articles (linked to their urls) and, when documents have dates, its trend over time
and beneath it a timeline of its top words per period (a dynamic model's own topics per period).
The experiment page and ``write_report`` are in ``topics.reading.experiment_report``.

Self-contained: images are PNG data URIs, styles and the one small script are inline, and the only
URLs are the articles' own links. The script checks, after loading, that every image decoded and
records the result on ``<html data-ok="...">``, which the browser test reads.
"""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING

from topics.errors import TopicsError
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

if TYPE_CHECKING:
    import pandas as pd

    from topics.runs.run import Run

log = logging.getLogger(__name__)


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
    share = model.topic_shares()
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
