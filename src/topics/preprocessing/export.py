"""A prepared corpus in other tools' formats: gensim (Matrix Market + Dictionary), MALLET and OCTIS.

Nothing in this package reads these files; they exist so that a corpus prepared here can be taken
to another tool with exactly the same documents and vocabulary. gensim's and MALLET's are written
by gensim's own writers (``MmCorpus.serialize``, ``MalletCorpus.serialize``).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Literal

from topics._files import replace_folder, work_dir_beside
from topics.errors import CorpusError, lookup
from topics.preprocessing.prepared import PreparedCorpus

ExportFormat = Literal["gensim", "mallet", "octis"]


def _gensim(prepared: PreparedCorpus, folder: Path) -> None:
    from gensim.corpora import MmCorpus

    MmCorpus.serialize(str(folder / "corpus.mm"), prepared.bow(), id2word=prepared.dictionary)
    prepared.dictionary.save(str(folder / "dictionary.gensim"))


def _mallet(prepared: PreparedCorpus, folder: Path) -> None:
    from gensim.corpora import MalletCorpus

    MalletCorpus.serialize(str(folder / "corpus.mallet"), prepared.bow(), id2word=prepared.dictionary)


def _octis(prepared: PreparedCorpus, folder: Path) -> None:
    """OCTIS's folder: ``corpus.tsv`` (tokens, split, label) and ``vocabulary.txt``; OCTIS calls the held-out split 'test'."""
    documents = prepared.documents
    with (folder / "corpus.tsv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        for tokens, split, label in zip(prepared.texts(), documents["split"], documents["label"].fillna(""), strict=True):
            writer.writerow([" ".join(tokens), split, label])
    shutil.copyfile(prepared.path / "vocabulary.txt", folder / "vocabulary.txt")


EXPORTERS = {"gensim": _gensim, "mallet": _mallet, "octis": _octis}


def export_prepared(prepared: PreparedCorpus, out_dir: str | Path, format: ExportFormat = "gensim") -> Path:
    """Write ``prepared`` into ``out_dir`` in another tool's format (built beside, swapped in whole).

    Examples
    --------
    >>> topics.export_prepared(topics.PreparedCorpus.load("prepared/lee"), "exports/lee-gensim", "gensim")  # doctest: +SKIP
    """
    exporter = lookup(EXPORTERS, "export format", format)
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise CorpusError(f"{out_dir}: exists and is not empty; choose another output folder")
    work = work_dir_beside(out_dir)
    try:
        exporter(prepared, work)
        replace_folder(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out_dir
