"""Reading a run's documents: their metadata, each topic's representative documents, and topic
distributions for new documents through exactly the run's preprocessing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from topics._files import batched
from topics.corpus.documents import Document
from topics.corpus.stream import read_corpus
from topics.errors import RunError, TopicsError, unknown_name
from topics.training.train import infer_doc_topics

if TYPE_CHECKING:
    import pandas as pd

    from topics.corpus.documents import Document
    from topics.runs.run import Run

log = logging.getLogger(__name__)

METADATA_COLUMNS = ("title", "date", "url")
NO_KNOWN_WORDS = "no known words: none of its words is in the run's vocabulary after preprocessing; no topics inferred"
INFER_BATCH = 1000


def check_topic(run: Run, topic: int) -> int:
    """``topic`` when it is one of the run's topic ids, else a RunError naming the range."""
    num_topics = run.model.num_topics
    if not 0 <= topic < num_topics:
        raise RunError(f"{run.path}: topic {topic} is out of range; this run has topics 0-{num_topics - 1}")
    return topic


def document_metadata(run: Run) -> pd.DataFrame:
    """Title, date (ISO text, '' when unknown) and url of every document of the run, indexed by id.

    Read from the run's prepared corpus; a RunError when it is missing or does not match.
    """
    import pandas as pd

    documents = run.prepared.documents.copy()
    documents["id"] = documents["id"].astype(str)
    for column in METADATA_COLUMNS:
        if column not in documents:
            documents[column] = ""
        documents[column] = documents[column].fillna("").astype(str)
    table = documents.set_index("id")[list(METADATA_COLUMNS)]
    return table.reindex(pd.Index(run.model.doc_ids, name="id")).fillna("")


def representative_documents(run: Run, topic: int, n: int = 5) -> pd.DataFrame:
    """The ``n`` documents with the highest share of ``topic``: id, title, date, url, weight (best first).

    Title, date and url come from the prepared corpus; when it cannot be found they are left
    empty (with a logged warning), so the ids and weights can still be read.

    Examples
    --------
    >>> topics.representative_documents(run, topic=2, n=5)  # doctest: +SKIP
    """
    import pandas as pd

    check_topic(run, topic)
    model = run.model
    weights = model.doc_topics[:, topic]
    order = np.argsort(-weights, kind="stable")[: max(n, 0)]
    ids = [model.doc_ids[i] for i in order]
    table = pd.DataFrame({"id": ids, "weight": weights[order]})
    try:
        metadata = document_metadata(run)
    except TopicsError as error:
        log.warning("%s; titles, dates and urls are left empty", error)
        metadata = pd.DataFrame(
            {c: [""] * len(ids) for c in METADATA_COLUMNS},
            index=pd.Index(ids, name="id"),
        )
    table = table.join(metadata, on="id")
    return table[["id", *METADATA_COLUMNS, "weight"]].reset_index(drop=True)


def infer_documents(run: Run, documents: Iterable[Document]) -> pd.DataFrame:
    """Topic distributions of new documents, one row each: id, title, date, known_words, note, topic_0...

    Each text goes through the run's own preprocessing (``PreparedCorpus.prepare_texts``: the same
    tokeniser, stopwords, lemmas, phrase model and dictionary, loaded, never refitted) and then the
    engine's inference with the run's seed. A document none of whose words is in the vocabulary gets
    a note and empty topic shares instead of the prior.
    """
    import pandas as pd

    prepared = run.prepared
    native = run.native_model()
    engine = run.manifest.get("engine", "gensim")
    num_topics = run.model.num_topics
    rows: list[dict] = []
    for batch in batched(documents, INFER_BATCH):
        token_lists = list(prepared.prepare_texts(doc.text for doc in batch))
        bows = [prepared.dictionary.doc2bow(tokens) for tokens in token_lists]
        known = [i for i, bow in enumerate(bows) if bow]
        shares = infer_doc_topics(engine, native, [bows[i] for i in known], run.seed) if known else np.zeros((0, num_topics))
        by_position = dict(zip(known, shares))
        for i, doc in enumerate(batch):
            date = getattr(doc, "date", None)
            row = {
                "id": str(doc.id),
                "title": doc.title or "",
                "date": date.isoformat() if date else "",
                "known_words": int(sum(count for _, count in bows[i])),
                "note": "" if i in by_position else NO_KNOWN_WORDS,
            }
            values = by_position.get(i)
            for k in range(num_topics):
                row[f"topic_{k}"] = float(values[k]) if values is not None else np.nan
            rows.append(row)
    columns = [
        "id",
        "title",
        "date",
        "known_words",
        "note",
        *(f"topic_{k}" for k in range(num_topics)),
    ]
    return pd.DataFrame(rows, columns=columns)


def infer_texts(run: Run, texts: Iterable[str] | str) -> pd.DataFrame:
    """``infer_documents`` for plain texts (ids 0, 1, ...); a single string is one document.

    Examples
    --------
    >>> topics.infer_texts(run, ["Shares fell as the central bank raised rates"])  # doctest: +SKIP
    """

    if isinstance(texts, str):
        texts = [texts]
    return infer_documents(run, (Document(id=str(i), text=text) for i, text in enumerate(texts)))


def infer_source(run: Run, source: str, format: str | None = None) -> pd.DataFrame:
    """``infer_documents`` for a corpus folder or file, read as ``topics preprocess`` reads one.

    Examples
    --------
    >>> topics.infer_source(run, "new-articles/")  # doctest: +SKIP
    """

    return infer_documents(run, read_corpus(source, format=format))


# --- periods -------------------------------------------------------------------------------------

Period = Literal["week", "month", "quarter", "year"]
#: pandas period codes
PERIODS: dict[str, str] = {"week": "W-MON", "month": "M", "quarter": "Q", "year": "Y"}


@dataclass
class DocumentPeriods:
    """The calendar period of every document of a run.

    ``labels`` are the periods' first days (ISO text), from the first dated document's period to
    the last, empty periods included; ``of_doc`` (D,) is each document's index into ``labels``,
    in the order of ``run.model.doc_ids``, -1 for a document without a date.
    """

    period: str
    labels: list[str]
    of_doc: np.ndarray

    @property
    def undated(self) -> int:
        return int((self.of_doc < 0).sum())

    def members(self, t: int) -> np.ndarray:
        """Rows (documents) dated in period ``t``."""
        return np.flatnonzero(self.of_doc == t)


def check_period(period: str) -> str:
    if period not in PERIODS:
        raise RunError(unknown_name("period", period, list(PERIODS)))
    return period


def document_periods(run: Run, period: str = "month", needed_for: str = "there is no trend over time") -> DocumentPeriods:
    """Each document's ``period`` (week, month, quarter or year) from its date.

    A RunError when no document of the run has a date (a corpus format without dates, such as
    plain text, or articles whose date lines are empty); ``needed_for`` ends its first clause.
    """
    import pandas as pd

    check_period(period)
    metadata = document_metadata(run)
    dates = pd.to_datetime(
        metadata["date"].where(metadata["date"] != ""),
        errors="coerce",
        format="ISO8601",
    )
    dated = dates.notna().to_numpy()
    if not dated.any():
        raise RunError(
            f"{run.path}: none of its {len(dates)} documents has a date, so {needed_for}; "
            "trends need a corpus with dates (the articles format's date line, a date field in JSONL/CSV)"
        )
    undated = int((~dated).sum())
    if undated:
        log.info("%s: %d documents without a date are left out of the trend", run.path, undated)
    periods = dates[dated].dt.to_period(PERIODS[period])
    full = pd.period_range(periods.min(), periods.max(), freq=PERIODS[period])
    of_doc = np.full(len(dates), -1, dtype=np.int64)
    of_doc[dated] = full.get_indexer(pd.PeriodIndex(periods))
    labels = [p.start_time.date().isoformat() for p in full]
    return DocumentPeriods(period=period, labels=labels, of_doc=of_doc)
