"""`topics export`: a prepared corpus in another tool's format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from topics.cli import app, console, reported


@app.command()
@reported
def export(
    prepared_dir: Annotated[Path, typer.Argument(help="prepared corpus folder from `topics preprocess`")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder to create")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="gensim (corpus.mm + dictionary.gensim), mallet or octis")
    ] = "gensim",
) -> None:
    """Write a prepared corpus for another tool: gensim, MALLET or OCTIS."""
    from topics.preprocessing import PreparedCorpus, export_prepared

    path = export_prepared(PreparedCorpus.load(prepared_dir), out, format)  # type: ignore[arg-type]
    console.print(f"{format} files -> {path}: {', '.join(sorted(p.name for p in path.iterdir()))}")
