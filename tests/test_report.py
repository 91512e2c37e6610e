"""The HTML report and the pyLDAvis page: content, self-containment, manifest, and a real headless browser.

Real news: a few hundred of the BBC stories (no dates); dated generated articles for the trend part.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from dated_articles import write_dated_articles
from helpers import invoke
from topics.config import PreprocessConfig, TrainConfig
from topics.corpus.stream import read_corpus
from topics.preprocessing.prepare import preprocess
from topics.reading import representative_documents
from topics.reading.experiment_report import write_report
from topics.runs.run import create_run, load_run

BBC_DOCS = 300


@pytest.fixture(scope="module")
def bbc_run(bbc_articles_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("bbc-report")
    subset = root / "articles"
    subset.mkdir()
    for path in sorted(bbc_articles_dir.glob("*.txt"))[:BBC_DOCS]:
        shutil.copy(path, subset / path.name)
    prepared = preprocess(read_corpus(subset), PreprocessConfig(), root / "prepared", processes=1)
    return create_run(prepared, TrainConfig(num_topics=5, passes=4), seed=0, run_dir=root / "run")


@pytest.fixture(scope="module")
def dated_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dated-report")
    articles = write_dated_articles(root / "articles", n=90)
    prepared = preprocess(read_corpus(articles), PreprocessConfig(no_below=1, phrases="none"), root / "prepared", processes=1)
    return create_run(prepared, TrainConfig(num_topics=3, passes=5), seed=0, run_dir=root / "run")


def assert_self_contained(page: str) -> None:
    """No resource is fetched from anywhere: no src/href to a URL but the articles' own <a href> links."""
    assert not re.search(r"""<(?:script|img|link|iframe)[^>]+(?:src|href)=["']?(?:https?:)?//""", page)
    assert "@import" not in page and "url(http" not in page


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if found := shutil.which(name):
            return found
    return None


def open_in_browser(page: Path, tmp_path: Path) -> tuple[dict[str, str], str]:
    """Load ``page`` in headless chromium: the <html> attributes the page's check script set, and the browser log.

    Also takes a screenshot into ``tmp_path/screenshot.png``.
    """
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium found on PATH (the Makefile's test set-up installs Debian's chromium)")
    common = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,4000",
    ]
    dom = subprocess.run(
        [*common, f"--user-data-dir={tmp_path / 'profile-dom'}", "--dump-dom", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    shot = subprocess.run(
        [
            *common,
            f"--user-data-dir={tmp_path / 'profile-shot'}",
            f"--screenshot={tmp_path / 'screenshot.png'}",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert (tmp_path / "screenshot.png").stat().st_size > 10_000
    root = re.search(r"<html([^>]*)>", dom.stdout)
    assert root, f"no DOM dumped: {dom.stderr[-2000:]}"
    attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', root.group(1)))
    return attributes, dom.stderr


def console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line and re.search(r"error|uncaught", line, re.IGNORECASE)]


def test_run_report_shows_every_topic_and_keeps_the_manifest_valid(bbc_run):
    result = invoke("report", bbc_run.path)
    assert result.exit_code == 0, result.output
    page = (bbc_run.path / "report.html").read_text(encoding="utf-8")
    assert_self_contained(page)
    for k in range(5):
        assert f'id="topic-{k}"' in page
    assert page.count("data:image/png;base64,") == 5  # one bar chart per topic; no dates, so no trends
    assert "No trends over time: none of its 300 documents has a date" in page
    run = load_run(bbc_run.path)
    for k in range(5):  # each topic's most representative article, linked to its url
        url = representative_documents(run, k, 1)["url"][0]
        assert url.startswith("https://news.bbc.co.uk/") and f'href="{url}"' in page
    assert str(bbc_run.path) not in page and str(Path.cwd()) not in page  # no machine paths in a shared page
    run.verify()
    run.native_model()


def test_report_uses_user_labels(bbc_run, tmp_path):
    root = bbc_run.path.parent
    shutil.copytree(root / "prepared", tmp_path / "prepared")
    shutil.copytree(root / "run", tmp_path / "run")
    (tmp_path / "run" / "labels.toml").write_text('[labels]\n1 = "My own label"\n')
    write_report(tmp_path / "run")
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert "Topic 1: My own label" in page
    # the user's file is theirs to edit: it is left out of the hashes
    assert "labels.toml" not in load_run(tmp_path / "run").manifest["files"]
    (tmp_path / "run" / "labels.toml").write_text('[labels]\n1 = "Changed"\n')
    load_run(tmp_path / "run").verify()


def test_report_opens_in_a_headless_browser(bbc_run, tmp_path):
    write_report(bbc_run.path)
    attributes, log = open_in_browser(bbc_run.path / "report.html", tmp_path)
    assert attributes["data-ok"] == "true", attributes
    assert attributes["data-topics-shown"] == "5"
    assert attributes["data-images"] == "5" and attributes["data-broken-images"] == "0"
    assert not console_errors(log), console_errors(log)


def test_dated_report_has_trends_and_renders(dated_run, tmp_path):
    path = write_report(dated_run.path, period="month")
    page = path.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 1 + 2 * 3  # overall trend, then bars and a trend per topic
    assert "have no date and are left out" in page
    attributes, log = open_in_browser(path, tmp_path)
    assert attributes["data-ok"] == "true" and attributes["data-images"] == "7", attributes
    assert not console_errors(log)


def test_experiment_report_details_the_best_run(dated_run, tmp_path):
    """An experiment folder as topics.experiment writes it: runs.csv, plots/, summary.md, runs/<id>/."""
    experiment = tmp_path / "results" / "sweep"
    runs = experiment / "runs"
    prepared = dated_run.prepared
    for k in (2, 3):
        create_run(prepared, TrainConfig(num_topics=k, passes=3), seed=0, run_dir=runs / f"k{k}")
    pd.DataFrame(
        {"run_id": ["k2", "k3"], "status": ["complete", "complete"], "num_topics": [2, 3], "c_npmi": [0.01, 0.05]}
    ).to_csv(experiment / "runs.csv", index=False)
    (experiment / "plots").mkdir()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    axes.plot([2, 3], [0.01, 0.05])
    figure.savefig(experiment / "plots" / "coherence.png")
    plt.close(figure)
    (experiment / "summary.md").write_text("# sweep\n\nbest: k3\n")
    result = invoke("report", experiment)
    assert result.exit_code == 0, result.output
    page = (experiment / "report.html").read_text(encoding="utf-8")
    assert_self_contained(page)
    assert (
        "Run k3: the best seed (highest c_npmi) of the best setting over seeds (num_topics = 3)" in page
        and "coherence" in page
        and "best: num_topics=3" in page
    )
    assert page.count('class="topic"') == 3
    invoke("report", experiment, "--run", "k2")
    assert "Run k2: the run asked for" in (experiment / "report.html").read_text(encoding="utf-8")
    result = invoke("report", experiment, "--run", "k9")
    assert result.exit_code == 2 and "no run 'k9'" in result.output
    result = invoke("report", experiment, "--metric", "cv")
    assert result.exit_code == 2 and "unknown metric 'cv'" in result.output
    result = invoke("report", experiment, "--ldavis")
    assert result.exit_code == 2 and "give a run folder" in result.output


def test_ldavis_page_works_offline(bbc_run, tmp_path):
    result = invoke("report", bbc_run.path, "--ldavis")
    assert result.exit_code == 0, result.output
    page = (bbc_run.path / "ldavis.html").read_text(encoding="utf-8")
    assert_self_contained(page)
    assert "new LDAvis(" in page and "d3" in page
    load_run(bbc_run.path).verify()
    attributes, log = open_in_browser(bbc_run.path / "ldavis.html", tmp_path)
    assert attributes["data-ok"] == "true", attributes
    assert not console_errors(log), console_errors(log)
