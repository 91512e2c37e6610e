"""What many test modules share: the command line run in-process, as a user would type it."""

from __future__ import annotations

from typer.testing import CliRunner

from topics.cli import app

runner = CliRunner()


def invoke(*args: object):
    """``topics ARGS...`` in this process; exceptions other than the CLI's own exits propagate."""
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def lee_experiment(
    name: str,
    model: str,
    *,
    seeds: str | None = "[0, 1]",
    measures: str = '["c_npmi"]',
    top: str = "",
    preprocess: str = "",
    evaluate: str = "",
    rest: str = "",
) -> str:
    """An experiment file on ``sample:lee`` that prepares quickly (no lemmas, no phrases): the
    ``[model]`` lines given, and ``top`` (before ``[corpus]``), ``preprocess``, ``evaluate`` lines and
    ``rest`` (whole sections, after ``[evaluate]``) where a test needs more."""
    seeds_line = f"seeds = {seeds}\n" if seeds is not None else ""
    return f"""\
name = "{name}"
{seeds_line}{top}
[corpus]
source = "sample:lee"

[preprocess]
no_below = 3
no_above = 0.5
lemmatize = false
phrases = "none"
{preprocess}

[model]
{model}

[evaluate]
measures = {measures}
{evaluate}
{rest}"""
