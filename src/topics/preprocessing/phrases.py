"""Collocations: gensim's phrase scoring, reproduced on counted arrays, and the phrase layers that join tokens."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import compress, islice
from itertools import count as counter

# --- collocations ----------------------------------------------------------------------------
#
# gensim's Phrases counts unigrams and bigrams in one Python loop in one process, keeping every
# bigram's string in a dict. We count the same keys (``topics.tallies.PhraseTally``) per chunk of
# documents in worker processes, as 64-bit hashes of the strings, merge the counts by hash, find
# the strings of the candidates again, and score them with the arithmetic of gensim's scorer
# (``phrase_scores``), so the phrases and their scores are gensim's own (default ``original_scorer``, Mikolov et al.
# 2013). Unlike gensim we never prune the vocabulary; results are identical while the corpus has
# fewer than ``max_vocab_size`` (40 million) unigram and bigram types.

PHRASE_DELIMITER = "_"
# gensim's default: no connector words. Stopwords (including English connectors) are removed
# before phrases are learnt, so connectors would rarely matter here.
CONNECTOR_WORDS: frozenset[str] = frozenset()


def phrase_scores(counts, first_counts, last_counts, vocab_size: int, min_count: int):
    """gensim's ``original_scorer`` over arrays: ``(bigram_count - min_count) / float(worda_count
    * wordb_count) * len_vocab``, the same float operations in the same order (so the same
    scores, bit for bit; a test checks), and -inf where a word count is 0, as gensim."""
    import numpy as np

    denominators = (first_counts * last_counts).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = (counts - min_count) / denominators * vocab_size
    scores[denominators == 0] = -np.inf
    return scores


def phrase_layer(phrasegrams: Iterable[tuple[str, float]], threshold: float, min_count: int) -> dict:
    """A pickle-free (JSON) phrase layer: what ``import_phrase_layer`` needs to rebuild gensim's
    ``FrozenPhrases`` (default scorer, no connector words). ``phrasegrams``: (phrase, score)
    pairs, sorted by phrase (the order they are written in)."""
    return {
        "scoring": "default",
        "threshold": threshold,
        "min_count": min_count,
        "delimiter": PHRASE_DELIMITER,
        "connector_words": sorted(CONNECTOR_WORDS),
        "phrasegrams": dict(phrasegrams),
    }


def _frozen(
    phrasegrams: dict[str, float],
    threshold: float,
    min_count: int,
    delimiter: str,
    connector_words,
):
    from gensim.models.phrases import FrozenPhrases, original_scorer

    frozen = FrozenPhrases.__new__(FrozenPhrases)  # its __init__ needs a whole Phrases model
    frozen.threshold = threshold
    frozen.min_count = min_count
    frozen.delimiter = delimiter
    frozen.scoring = original_scorer
    frozen.connector_words = frozenset(connector_words)
    frozen.phrasegrams = phrasegrams
    return frozen


def import_phrase_layer(layer: dict):
    """The ``FrozenPhrases`` that ``phrase_layer`` or ``list_layer`` describes (gensim's own class,
    no refitting). A listed layer (threshold null) joins all its phrases, scored or not."""
    if layer["threshold"] is None:
        phrasegrams = {phrase: float("inf") if score is None else score for phrase, score in layer["phrasegrams"].items()}
        return _frozen(phrasegrams, float("-inf"), 0, layer["delimiter"], layer["connector_words"])
    return _frozen(
        dict(layer["phrasegrams"]),
        layer["threshold"],
        layer["min_count"],
        layer["delimiter"],
        layer["connector_words"],
    )


class PhraseJoiner:
    """``joiner(tokens)`` is ``import_phrase_layer(layer)[tokens]`` (gensim's left-to-right greedy
    joining of adjacent pairs) for a layer without connector words, with the pairs looked up in C
    and without importing gensim (worker processes need not load it)."""

    def __init__(self, layer: dict):
        self.delimiter = layer["delimiter"]
        threshold = layer["threshold"]  # None: a listed layer, every phrase joined
        self.phrases = frozenset(
            phrase for phrase, score in layer["phrasegrams"].items() if threshold is None or score > threshold
        )
        self._frozen = import_phrase_layer(layer) if layer["connector_words"] else None

    def __call__(self, tokens: list[str]) -> list[str]:
        if self._frozen is not None:
            return self._frozen[tokens]
        pairs = map(self.delimiter.join, zip(tokens, islice(tokens, 1, None)))
        hits = list(compress(counter(), map(self.phrases.__contains__, pairs)))
        if not hits:
            return list(tokens)
        out: list[str] = []
        position = 0
        for hit in hits:
            if hit >= position:  # a pair overlapping the previous phrase stays apart, as in gensim
                out.extend(tokens[position:hit])
                out.append(tokens[hit] + self.delimiter + tokens[hit + 1])
                position = hit + 2
        out.extend(tokens[position:])
        return out


# --- phrases given by the user ---------------------------------------------------------------
#
# A phrase list replaces learning: its phrases are joined wherever their words are adjacent. A
# blocklist takes phrases out of the learnt layers. Both are read here from text (one phrase a
# line, or a phrases.json); what a word means is settled by the token steps (``topics.inputs``).

_SEPARATORS = re.compile(r"[\s_]+")
_JSON_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:')


class PhraseLineError(ValueError):
    """A line of a phrase file that is not a phrase: ``line`` (1-based) and why."""

    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class ListedPhrase:
    """One phrase of a phrase file: its words, the line it is on, and, from a phrases.json, its
    layer (0-based) and score (None when the file gives none)."""

    words: tuple[str, ...]
    line: int
    layer: int | None = None
    score: float | None = None


def parse_phrase_lines(text: str) -> list[ListedPhrase]:
    """A text phrase file: one phrase a line, words separated by spaces or ``_`` (``new york``,
    ``new_york``); ``#`` starts a comment; blank lines are skipped. A line of one word is an error."""
    phrases = []
    for number, line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        content = line.split("#", 1)[0]
        words = tuple(word for word in _SEPARATORS.split(content) if word)
        if len(words) == 1:
            raise PhraseLineError(number, f"{content.strip()!r} is one word; a phrase has two or more")
        if words:
            phrases.append(ListedPhrase(words, number))
    return phrases


def parse_phrases_json(text: str) -> tuple[list[ListedPhrase], int]:
    """The phrases of a ``phrases.json`` (as ``preprocess`` writes it, perhaps edited), each in its
    layer, and the number of layers. A phrase of layer k (1-based) has 2 to 2**k words, as a phrase
    learnt there can; its score must be a number or null."""
    try:
        data = json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as error:
        raise PhraseLineError(error.lineno, f"not valid JSON ({error.msg}, column {error.colno})") from None
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list) or not all(
        isinstance(layer, dict) and isinstance(layer.get("phrasegrams"), dict) for layer in layers
    ):
        raise PhraseLineError(1, 'not a phrases.json: expected {"layers": [{"phrasegrams": {"new_york": 25.3, ...}}, ...]}')
    phrases = []
    for index, layer in enumerate(layers):
        delimiter = layer.get("delimiter") or data.get("delimiter") or PHRASE_DELIMITER
        most = 2 ** (index + 1)
        for phrase, score in layer["phrasegrams"].items():
            words = tuple(phrase.split(delimiter))
            if not 2 <= len(words) <= most or not all(words):
                raise PhraseLineError(
                    json_line_of(text, phrase),
                    f"{phrase!r} in layer {index + 1} must be {'2' if most == 2 else f'2 to {most}'} words joined by {delimiter!r}",
                )
            if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
                raise PhraseLineError(
                    json_line_of(text, phrase), f"the score of {phrase!r} must be a number or null, got {score!r}"
                )
            phrases.append(ListedPhrase(words, 0, index, None if score is None else float(score)))
    return phrases, len(layers)


def json_line_of(text: str, key: str) -> int:
    """The line of a JSON text where ``key`` first appears as a key (1 if it cannot be found)."""
    for match in _JSON_KEY.finditer(text):
        try:
            found = json.loads(f'"{match.group(1)}"')
        except json.JSONDecodeError:
            continue
        if found == key:
            return text.count("\n", 0, match.start()) + 1
    return 1


def list_layer(phrasegrams: dict[str, float | None]) -> dict:
    """A phrase layer that joins every phrase of ``phrasegrams`` (threshold null: nothing was
    scored on this corpus; a score is kept as the phrase list gave it, else null)."""
    return {
        "scoring": "list",
        "threshold": None,
        "min_count": None,
        "delimiter": PHRASE_DELIMITER,
        "connector_words": [],
        "phrasegrams": dict(sorted(phrasegrams.items())),
    }


def listed_layers(phrases: Iterable[ListedPhrase], n_layers: int = 0) -> list[dict]:
    """The layers (``list_layer``) that join ``phrases``, whose words are tokens already: a phrase
    of a phrases.json goes to its own layer; one of a text list to the first layer (``a_b``) or, of
    three words, to the second (``a_b`` + ``c``, with ``a_b`` also in the first: a later layer joins
    the tokens an earlier one made). At least ``n_layers`` layers (a phrases.json's, even empty)."""
    layers: list[dict[str, float | None]] = [{} for _ in range(n_layers)]

    def add(index: int, words: tuple[str, ...], score: float | None) -> None:
        while len(layers) <= index:
            layers.append({})
        layers[index].setdefault(PHRASE_DELIMITER.join(words), score)

    for phrase in phrases:
        if phrase.layer is not None:
            add(phrase.layer, phrase.words, phrase.score)
        elif len(phrase.words) == 2:
            add(0, phrase.words, phrase.score)
        elif len(phrase.words) == 3:
            add(0, phrase.words[:2], None)
            add(1, phrase.words, phrase.score)
        else:
            raise PhraseLineError(
                phrase.line, f"{' '.join(phrase.words)!r} has {len(phrase.words)} words; a listed phrase has 2 or 3"
            )
    return [list_layer(phrasegrams) for phrasegrams in layers]


def block_phrases(layer: dict, blocked: frozenset[str]) -> tuple[dict, int]:
    """``layer`` without the phrases that hold a blocked phrase (its words, consecutive: blocking
    ``new_york`` also removes ``new_york_times``), and how many were removed."""
    if not blocked:
        return layer, 0

    def holds_blocked(phrase: str) -> bool:
        words = phrase.split(PHRASE_DELIMITER)
        return any(
            PHRASE_DELIMITER.join(words[start:end]) in blocked
            for start in range(len(words) - 1)
            for end in range(start + 2, len(words) + 1)
        )

    kept = {phrase: score for phrase, score in layer["phrasegrams"].items() if not holds_blocked(phrase)}
    return {**layer, "phrasegrams": kept}, len(layer["phrasegrams"]) - len(kept)
