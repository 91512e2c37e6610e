"""TopicModel: the one type every engine's output becomes, and every metric reads.

Stored without pickle: ``.npy`` arrays (loaded with ``allow_pickle=False``) and JSON,
so a run's record can be read even where its engine's pickled model is not trusted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np

from topics._files import NpyRowWriter, mapped_npy_file, row_blocks
from topics.errors import ConfigError, RunError, unknown_name

Ranking = Literal["probability", "relevance"]

_FILES = (
    "topic_word.npy",
    "doc_topics.npy",
    "vocabulary.json",
    "doc_ids.json",
    "term_frequency.npy",
)

#: rows of ``doc_topics`` read or written at once (a few MB at K = 100)
DOC_TOPIC_BLOCK_ROWS = 8192


@dataclass(frozen=True)
class TopicModel:
    """Topic-word and document-topic matrices over a vocabulary.

    ``topic_word`` is K x V, each row a distribution over ``vocabulary``;
    ``doc_topics`` is D x K, each row a distribution over topics, for ``doc_ids``;
    ``term_frequency`` is the corpus count of each vocabulary word (for relevance ranking).

    ``doc_topics`` may be a read-only memory map of its ``.npy`` file (as loading a run or training
    into a run folder gives it): ``doc_topic_blocks`` and ``topic_shares`` read it a block at a time,
    so a pass over it never holds the D x K matrix in memory.
    """

    topic_word: np.ndarray
    doc_topics: np.ndarray
    vocabulary: list[str]
    doc_ids: Sequence[str]
    term_frequency: np.ndarray

    @property
    def num_topics(self) -> int:
        return int(self.topic_word.shape[0])

    def doc_topic_blocks(self, rows: int | None = None) -> Iterator[np.ndarray]:
        """The rows of ``doc_topics``, ``rows`` (default ``DOC_TOPIC_BLOCK_ROWS``) at a time (from the
        file, when it is a memory map)."""
        return row_blocks(self.doc_topics, rows or DOC_TOPIC_BLOCK_ROWS)

    def topic_shares(self, rows: int | None = None) -> np.ndarray:
        """Each topic's share of the corpus: the mean of ``doc_topics`` over documents (zeros when
        there are none), read ``rows`` documents at a time (``doc_topic_blocks``). The running
        total goes in front of each block, numpy's own order of additions for ``mean(axis=0)``,
        so the shares are the same to the last bit; a single topic's column is read whole, since
        numpy sums one column pairwise. A ``doc_topics.npy`` shorter than its header is a RunError."""
        num_docs = len(self.doc_topics)
        if not num_docs:
            return np.zeros(self.num_topics)
        if self.doc_topics.shape[1] == 1:
            return np.asarray(self.doc_topics, dtype=np.float64).mean(axis=0)
        total = np.zeros((1, self.doc_topics.shape[1]), dtype=np.float64)
        try:
            for block in self.doc_topic_blocks(rows):
                total = np.concatenate((total, block)).sum(axis=0, keepdims=True)
        except ValueError as error:
            raise RunError(f"{error}; retrain the run") from None
        return total[0] / num_docs

    def top_word_ids(self, n: int, ranking: Ranking = "probability", relevance_lambda: float = 0.6) -> np.ndarray:
        """K x n word ids, best first.

        ``relevance`` is λ·log φ_kw + (1-λ)·log(φ_kw / p_w), Sievert and Shirley (2014), with
        p_w the word's share of the corpus tokens.
        """
        if ranking == "probability":
            score = self.topic_word
        elif ranking == "relevance":
            p_w = self.term_frequency / max(self.term_frequency.sum(), 1)
            with np.errstate(divide="ignore"):
                log_phi = np.log(self.topic_word)
                score = relevance_lambda * log_phi + (1 - relevance_lambda) * (log_phi - np.log(p_w))
        else:
            raise ConfigError(unknown_name("ranking", ranking, ["probability", "relevance"]))
        n = min(n, score.shape[1])
        # stable sort on the negated score: ties keep vocabulary order, so top words are deterministic
        return np.argsort(-score, axis=1, kind="stable")[:, :n]

    def top_words(self, n: int, ranking: Ranking = "probability", relevance_lambda: float = 0.6) -> list[list[str]]:
        return [[self.vocabulary[i] for i in row] for row in self.top_word_ids(n, ranking, relevance_lambda)]

    def save(self, directory: Path) -> list[Path]:
        """Write the pickle-free record into ``directory``; returns the files written."""
        directory.mkdir(parents=True, exist_ok=True)
        np.save(
            directory / "topic_word.npy",
            np.ascontiguousarray(self.topic_word, dtype=np.float64),
        )
        self._save_doc_topics(directory / "doc_topics.npy")
        np.save(
            directory / "term_frequency.npy",
            np.asarray(self.term_frequency, dtype=np.int64),
        )
        (directory / "vocabulary.json").write_text(json.dumps(self.vocabulary, ensure_ascii=False), encoding="utf-8")
        (directory / "doc_ids.json").write_text(json.dumps(list(self.doc_ids), ensure_ascii=False), encoding="utf-8")
        return [directory / name for name in _FILES]

    def _save_doc_topics(self, path: Path) -> None:
        """``doc_topics`` as ``np.save`` writes it, a block of rows at a time (through a temporary
        file: the rows may be read from ``path`` itself); nothing to do when ``doc_topics`` is the
        memory map of that very file (a model trained straight into its run folder)."""
        mapped = mapped_npy_file(self.doc_topics)
        if mapped is not None and path.exists() and os.path.samefile(mapped, path):
            return
        partial = path.with_name(f".{path.name}.partial")
        try:
            with NpyRowWriter(partial, tuple(np.shape(self.doc_topics)), np.float64) as out:
                for block in self.doc_topic_blocks():
                    out.write(block)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)

    @classmethod
    def load(cls, directory: Path) -> TopicModel:
        missing = [name for name in _FILES if not (directory / name).is_file()]
        if missing:
            raise RunError(f"{directory}: topic model files missing ({', '.join(missing)}); rerun training")
        return cls(
            topic_word=np.load(directory / "topic_word.npy", allow_pickle=False),
            # memory-mapped, read-only: D x K is the one array that grows with the corpus (400 MB
            # at a million documents and K = 50), and scoring coherence never reads it
            doc_topics=np.load(directory / "doc_topics.npy", mmap_mode="r", allow_pickle=False),
            vocabulary=json.loads((directory / "vocabulary.json").read_text(encoding="utf-8")),
            doc_ids=SavedDocumentIds(directory / "doc_ids.json"),
            term_frequency=np.load(directory / "term_frequency.npy", allow_pickle=False),
        )


class SavedDocumentIds(Sequence[str]):
    """The document ids of a saved model, read from ``doc_ids.json`` when first asked for: scoring
    and the topic table never need them, and a million ids are 70 MB of Python strings."""

    def __init__(self, path: Path):
        self.path = path

    @cached_property
    def _ids(self) -> list[str]:
        return json.loads(self.path.read_text(encoding="utf-8"))

    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, index):  # an int gives an id, a slice a list
        return self._ids[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __eq__(self, other: object) -> bool:
        return self._ids == (list(other) if isinstance(other, SavedDocumentIds) else other)

    def __repr__(self) -> str:
        return f"SavedDocumentIds({self.path})"
