"""Collocations: gensim's phrase scoring, reproduced on counted arrays, and the phrase layers that join tokens."""

from __future__ import annotations

from collections.abc import Iterable
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
    """The ``FrozenPhrases`` that ``phrase_layer`` describes (gensim's own class, no refitting)."""
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
        self.phrases = frozenset(phrase for phrase, score in layer["phrasegrams"].items() if score > layer["threshold"])
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
