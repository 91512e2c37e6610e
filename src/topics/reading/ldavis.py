"""A pyLDAvis page for one run (Sievert and Shirley 2014), with pyLDAvis's own JavaScript, d3 and CSS
inlined, so it opens with no network."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from topics.errors import RunError, TopicsError
from topics.reading.report import _e, _page
from topics.runs import Run, is_run_folder, load_run, write_run_outputs

LDAVIS_HTML = "ldavis.html"


def ldavis_data(run: Run):
    """pyLDAvis's PreparedData for a run (topic order kept, topics numbered from 0)."""
    try:
        import pyLDAvis
    except ImportError:
        raise TopicsError("the pyLDAvis page needs pyLDAvis: pip install 'topics[ldavis]'") from None
    model = run.model
    doc_lengths = np.fromiter((sum(c for _, c in bow) for bow in run.prepared.bow()), dtype=np.int64)
    keep = doc_lengths > 0  # pyLDAvis weights topics by document length; empty documents add nothing
    topic_word = model.topic_word / model.topic_word.sum(axis=1, keepdims=True)
    doc_topics = model.doc_topics[keep] / model.doc_topics[keep].sum(axis=1, keepdims=True)
    return pyLDAvis.prepare(
        topic_word,
        doc_topics,
        doc_lengths[keep],
        list(model.vocabulary),
        np.asarray(model.term_frequency),
        sort_topics=False,
        start_index=0,
        n_jobs=1,
        mds="pcoa",
    )


def ldavis_html(run: Run) -> str:
    """A pyLDAvis page with d3, LDAvis's JavaScript and its CSS inlined: it needs no network."""
    from pyLDAvis import urls

    def read(path: str) -> str:
        return Path(path).read_text(encoding="utf-8")

    data = ldavis_data(run)
    # "</" inside inlined scripts would end the <script> element early
    script = lambda text: text.replace("</", "<\\/")
    vis_json = script(data.to_json())
    body = (
        f'<h1 style="font-family:sans-serif;font-size:1.3rem">pyLDAvis: run {_e(run.id)}</h1>\n'
        f"<style>body{{max-width:none}}\n{read(urls.LDAVIS_CSS_LOCAL)}</style>\n"
        f"<script>{script(read(urls.D3_LOCAL))}</script>\n<script>{script(read(urls.LDAVIS_LOCAL))}</script>\n"
        '<div id="ldavis" style="background-color:white;"></div>\n'
        f'<script>new LDAvis("#ldavis", {vis_json});</script>'
    )
    return _page(f"pyLDAvis: run {run.id}", body)


def write_ldavis(run_dir: str | Path) -> Path:
    """Write ``ldavis.html`` into a run folder (kept in its manifest); returns its path.

    Examples
    --------
    >>> topics.write_ldavis("results/quickstart/runs/k10-seed0-e8a83cad")  # doctest: +SKIP
    """

    run_dir = Path(run_dir)
    if not is_run_folder(run_dir):
        raise RunError(f"{run_dir}: the pyLDAvis page shows one run; give a run folder (results/<experiment>/runs/<run-id>)")
    run = load_run(run_dir)
    write_run_outputs(run_dir, {LDAVIS_HTML: ldavis_html(run)})
    return run_dir / LDAVIS_HTML
