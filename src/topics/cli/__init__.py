"""The `topics` command line: thin commands over the library API.

This is the one place where errors become exit codes: a ``TopicsError`` is printed as one line
(no traceback) and the process exits with code 2, as does a disk that is full or read-only; Ctrl-C
exits with code 130 and says how to resume.
"""

from __future__ import annotations

import errno
import functools
import logging
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from topics.errors import TopicsError

app = typer.Typer(
    name="topics",
    help="Topic modelling for news collections: preprocess, train, evaluate, run experiments, compare and read topics.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
console = Console()
error_console = Console(stderr=True)

#: ``--scheduler``, as every command with ``--executor dask`` takes it
SchedulerOption = Annotated[
    str | None,
    typer.Option(help="address of a running Dask scheduler; with --executor dask and none, a LocalCluster starts"),
]


#: settings named in library messages (in backticks) and the flags that set them on the command line
SETTING_FLAGS = {
    "`force`": "--force",
    "`scheduler`": "--scheduler",
    "`executor`": "--executor",
    "`run_id`": "--run",
    "`metric`": "--metric",
}


def as_flags(message: str) -> str:
    """A library message in the command line's words: each setting it names becomes its flag."""
    for setting, flag in SETTING_FLAGS.items():
        message = message.replace(setting, flag)
    return message


def reported(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a TopicsError into one message on stderr and exit code 2, and Ctrl-C into exit code 130."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except TopicsError as error:
            # the message is plain text: "[model] num_topics ..." must not be read as rich markup
            error_console.print(
                f"[bold red]error:[/] {escape(as_flags(str(error)))}",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            # outputs are built beside their place and swapped in whole, so nothing is half-written
            error_console.print("interrupted; rerun the same command to resume", highlight=False)
            raise typer.Exit(130) from None
        except OSError as error:
            # a full or read-only disk: the folder being built was removed on the way out, so the
            # message and exit code are a TopicsError's; any other OSError is a bug, with its traceback
            if error.errno not in CANNOT_WRITE:
                raise
            place = error.filename or kwargs.get("out") or kwargs.get("results") or "an output file"
            advice = CANNOT_WRITE[error.errno]
            message = f"{place}: {error.strerror or error}; {advice}, then rerun the same command (nothing was left half-written)"
            error_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


#: errors of a disk that cannot take the outputs, and what to do about each
CANNOT_WRITE = {
    errno.ENOSPC: "free some space or choose another output folder",
    errno.EDQUOT: "free some space or choose another output folder",
    errno.EFBIG: "choose another output folder",
    errno.EROFS: "choose a writable output folder",
    errno.EACCES: "choose a writable output folder",
    errno.EPERM: "choose a writable output folder",
}


@app.callback()
def main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="log progress details"),
) -> None:
    # Without --verbose only errors are logged: commands print their own summary of warnings
    # (skipped documents, missing fields), and repeating them as log lines would be noise.
    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )


from topics.cli import experiment, export, pipeline, reading  # noqa: E402,F401  (registers the commands)
