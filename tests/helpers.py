"""What many test modules share: the command line run in-process, as a user would type it."""

from __future__ import annotations

from typer.testing import CliRunner

from topics.cli import app

runner = CliRunner()


def invoke(*args: object):
    """``topics ARGS...`` in this process; exceptions other than the CLI's own exits propagate."""
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
