"""Figures on matplotlib's object API (no pyplot, no backend switch): trends, a topic's words and its
prevalence; and a topic's words per period as a small HTML table (a timeline to read across)."""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from topics.reading.trends import Trends


#: beyond this many topics the plot's legend would hide the lines; stacked areas stay readable
MAX_LINE_TOPICS = 12


def trends_figure(trends: Trends, labels: dict[int, str], *, stacked: bool | None = None, size=(10, 5)):
    """A matplotlib Figure: one labelled line per topic (stacked areas beyond ``MAX_LINE_TOPICS``)."""
    import pandas as pd
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    prevalence = trends.prevalence
    num_topics = prevalence.shape[1]
    stacked = num_topics > MAX_LINE_TOPICS if stacked is None else stacked
    x = pd.to_datetime(prevalence.index)
    names = [f"{k}: {labels.get(k, '')}" for k in range(num_topics)]
    figure = Figure(figsize=size, layout="constrained")
    axes = figure.add_subplot()
    colors = colormaps["tab20" if num_topics > 10 else "tab10"]
    if stacked:
        axes.stackplot(
            x,
            np.nan_to_num(prevalence.to_numpy().T),
            labels=names,
            colors=[colors(k % colors.N) for k in range(num_topics)],
        )
        axes.set_ylim(0, 1)
    else:
        marker = "o" if len(x) <= 40 else None
        for k in range(num_topics):
            axes.plot(
                x,
                prevalence.iloc[:, k].to_numpy(),
                label=names[k],
                color=colors(k % colors.N),
                marker=marker,
                markersize=3,
            )
        axes.set_ylim(bottom=0)
    axes.set_ylabel("mean topic share")
    axes.set_xlabel(trends.period)
    title = f"Topic prevalence per {trends.period}"
    if trends.undated:
        title += f" ({trends.note})"
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return figure


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure_png(figure, dpi: int = 100) -> bytes:
    """The PNG bytes of a matplotlib ``Figure`` (made without pyplot, so nothing needs closing)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------ figures


def word_bar_png(words: list[str], weights: np.ndarray, title: str) -> bytes:
    """A horizontal bar chart of a topic's top words (best at the top)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2, 0.25 * len(words) + 0.8), layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(len(words))[::-1]
    axes.barh(positions, weights, color="#4878a8")
    axes.set_yticks(positions, [w.replace("_", " ") for w in words], fontsize=8)
    axes.tick_params(axis="x", labelsize=7)
    axes.set_xlabel("weight in topic", fontsize=8)
    axes.set_title(title, fontsize=9)
    return figure_png(figure, dpi=90)


def topic_trend_png(trends: Trends, topic: int) -> bytes:
    """A small line chart of one topic's prevalence per period."""
    import pandas as pd
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2, 2.0), layout="constrained")
    axes = figure.add_subplot()
    x = pd.to_datetime(trends.prevalence.index)
    axes.plot(
        x,
        trends.prevalence.iloc[:, topic].to_numpy(),
        color="#c0504d",
        marker="o" if len(x) <= 40 else None,
        markersize=3,
    )
    axes.set_ylim(bottom=0)
    axes.set_ylabel("mean share", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.set_title(f"prevalence per {trends.period}", fontsize=9)
    figure.autofmt_xdate()
    return figure_png(figure, dpi=90)


# ------------------------------------------------------------------------------------ words timeline


def period_heading(start: str, period: str) -> str:
    """A period's short name from its first day (ISO): ``2020``, ``2020 Q2``, ``2020-06``, or the day."""
    year, month = start[:4], int(start[5:7])
    return {"year": year, "quarter": f"{year} Q{(month - 1) // 3 + 1}", "month": start[:7]}.get(period, start)


def words_timeline_html(words: pd.DataFrame, topic: int, n: int = 5) -> str:
    """One topic's top ``n`` words per period from ``trend_words``'s table: an HTML table with one
    column per period, best word first; a word not among the previous period's is bold, and a period
    where the topic has too few documents is a grey dash."""
    rows = words[words["topic"] == topic]
    period, source = words.attrs.get("period", ""), words.attrs.get("source", "documents")
    origin = "the model's own topic per period" if source == "model" else "from the documents' topic shares"
    heads: list[str] = []
    columns: list[list[str]] = []
    previous: set[str] = set()
    for start, group in rows.groupby("period", sort=True):
        heads.append(f"<th>{html.escape(period_heading(str(start), period))}</th>")
        listed = group[group["sufficient"]].sort_values("rank")["word"].head(n).tolist()
        if not listed:
            documents = float(group["documents"].iloc[0])
            cells = [f'<span class="none" title="{documents:.1f} documents">&ndash;</span>']
        else:
            cells = [f"<b>{html.escape(w)}</b>" if previous and w not in previous else html.escape(w) for w in listed]
        columns.append(cells)
        previous = set(listed)
    body = "".join(
        "<tr>" + "".join(f"<td>{c[r] if r < len(c) else ''}</td>" for c in columns) + "</tr>"
        for r in range(max((len(c) for c in columns), default=0))
    )
    caption = f"top {n} words per {period} ({origin}; bold: new since the period before)"
    return f'<div class="scroll"><table class="timeline"><caption>{html.escape(caption)}</caption><tr>{"".join(heads)}</tr>{body}</table></div>'
