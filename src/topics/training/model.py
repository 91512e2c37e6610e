"""TopicModel: the one type every engine's output becomes, and every metric reads.

Stored without pickle: ``.npy`` arrays (loaded with ``allow_pickle=False``) and JSON,
so a run's record can be read even where its engine's pickled model is not trusted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np

from topics.errors import ConfigError, RunError, unknown_name

Ranking = Literal["probability", "relevance"]

_FILES = (
    "topic_word.npy",
    "doc_topics.npy",
    "vocabulary.json",
    "doc_ids.json",
    "term_frequency.npy",
)


@dataclass(frozen=True)
class TopicModel:
    """Topic-word and document-topic matrices over a vocabulary.

    ``topic_word`` is K x V, each row a distribution over ``vocabulary``;
    ``doc_topics`` is D x K, each row a distribution over topics, for ``doc_ids``;
    ``term_frequency`` is the corpus count of each vocabulary word (for relevance ranking).
    """

    topic_word: np.ndarray
    doc_topics: np.ndarray
    vocabulary: list[str]
    doc_ids: Sequence[str]
    term_frequency: np.ndarray

    @property
    def num_topics(self) -> int:
        return int(self.topic_word.shape[0])

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
        np.save(
            directory / "doc_topics.npy",
            np.ascontiguousarray(self.doc_topics, dtype=np.float64),
        )
        np.save(
            directory / "term_frequency.npy",
            np.asarray(self.term_frequency, dtype=np.int64),
        )
        (directory / "vocabulary.json").write_text(json.dumps(self.vocabulary, ensure_ascii=False), encoding="utf-8")
        (directory / "doc_ids.json").write_text(json.dumps(list(self.doc_ids), ensure_ascii=False), encoding="utf-8")
        return [directory / name for name in _FILES]

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
