"""Token steps: raw text in, a list of clean tokens out.

Tokenising splits a text into raw tokens; every later step is a small pure function of one token
(the token, changed or not, or None to drop it), and a ``Pipeline`` composes the steps a
``PreprocessConfig`` asks for, in a list. The same ``Pipeline`` runs in worker processes during
``topics.preprocess`` and again, loaded from a prepared corpus, on new text
(``PreparedCorpus.prepare_texts``), so both see identical tokens.

Decisions, briefly:

* A word is a run of letters/digits with inner hyphens or apostrophes kept: ``well-known``,
  ``o'neill``, ``covid-19`` are one token each. Underscores are not word characters, because
  ``_`` joins collocations (``vladimir_putin``).
* The possessive ``'s`` (also ``’s``) is dropped: ``Putin's`` -> ``putin``, so a name and its
  possessive count as one word. ``it's`` thus becomes ``it`` (a stopword). Other contractions
  (``don't``) stay whole; the English stopword list includes the common ones.
* URLs and e-mail addresses are recognised before words, so that their parts do not leak into
  the vocabulary when they are removed.
* A number is a token made only of digits and ``.,:/%+-`` (``2009``, ``3.5``, ``10/12``);
  ``1990s`` and ``covid-19`` are words, not numbers.
* Words are lemmatised as written and lower-cased afterwards: simplemma keeps capitalised names
  (``Wales``, ``United States``, ``bin Laden``) that it would mangle in lower case (``wale``,
  ``unite``, ``lade``), and still maps ``Countries`` to ``country``. Each distinct raw token is
  run through the steps once per process (``Pipeline`` caches the result).
* Stopwords are removed after lemmatising, since a lemma may be a stopword (``was`` -> ``be``),
  and length bounds are checked last.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from importlib import resources
from itertools import chain, compress, repeat
from operator import is_
from pathlib import Path

from topics.config import PreprocessConfig
from topics.errors import ConfigError, unknown_name

# Bump when a change to the steps below changes their output: it is part of the fingerprint.
PIPELINE_VERSION = 1

_URL = r"(?:https?://|ftp://|www\.)[^\s<>\"'()\[\]{}]+[^\s<>\"'()\[\]{}.,;:!?]"
_EMAIL = r"[^\W_][\w.+-]*@[^\W_][\w-]*(?:\.[\w-]+)+"
_NUMBER = r"[+-]?\d+(?:[.,:/]\d+)*%?(?![^\W_])"
_WORD = r"[^\W_]+(?:['’\-][^\W_]+)*"
_OTHER = r"[^\w\s]+|_+"
TOKEN_RE = re.compile(f"{_URL}|{_EMAIL}|{_NUMBER}|{_WORD}|{_OTHER}")
URL_RE = re.compile(_URL)
EMAIL_RE = re.compile(_EMAIL)
NUMBER_RE = re.compile(r"[\d.,:/%+\-]*\d[\d.,:/%+\-]*")
POSSESSIVE_RE = re.compile(r"['’][sS]$")

Step = Callable[[str], "str | None"]  # one token in; the token (maybe changed) out, or None to drop it


# --- steps -----------------------------------------------------------------------------------


def tokenize(text: str) -> Iterator[str]:
    """Split ``text`` into URLs, e-mail addresses, numbers, words and punctuation runs.

    No token contains whitespace. Possessive ``'s`` is stripped (see the module docstring).
    """
    return map(strip_possessive, TOKEN_RE.findall(text))


def strip_possessive(token: str) -> str:
    """``Putin's`` -> ``Putin``. (URLs and e-mail addresses never contain an apostrophe.)"""
    if len(token) > 2 and token[-2] in "'’" and token[-1] in "sS":
        return token[:-2]
    return token


def lowercase(token: str) -> str:
    return token.lower()


def drop_url(token: str) -> str | None:
    return None if URL_RE.fullmatch(token) else token


def drop_email(token: str) -> str | None:
    return None if "@" in token and EMAIL_RE.fullmatch(token) else token


def drop_number(token: str) -> str | None:
    return None if NUMBER_RE.fullmatch(token) else token


_ALNUM_RE = re.compile(r"[^\W_]")  # a character that str.isalnum() accepts (re's \w is those and "_")


def drop_punctuation(token: str) -> str | None:
    """Drop tokens with no letter or digit (``--``, ``...``, ``_``)."""
    return token if _ALNUM_RE.search(token) else None


def length_between(shortest: int, longest: int) -> Step:
    def keep_length(token: str) -> str | None:
        return token if shortest <= len(token) <= longest else None

    return keep_length


def drop_words(words: frozenset[str]) -> Step:
    def drop_stopword(token: str) -> str | None:
        return None if token in words else token

    return drop_stopword


def lemmatizer(language: tuple[str, ...], lower: bool) -> Step:
    """Replace a token by its simplemma lemma (lower-cased if ``lower``); a lemma that would not
    be one token (empty, or with whitespace) leaves the token as it is."""
    import simplemma

    def lemmatize(token: str) -> str:
        lemma = simplemma.lemmatize(token, lang=language)
        if lower:
            lemma = lemma.lower()
        if lemma.split() != [lemma]:  # empty, or with whitespace
            return token
        return lemma

    return lemmatize


# --- stopwords -------------------------------------------------------------------------------

_EN_CONTRACTIONS = [
    f"{base}n't"
    for base in (
        "do",
        "does",
        "did",
        "is",
        "are",
        "was",
        "were",
        "have",
        "has",
        "had",
        "can",
        "could",
        "would",
        "should",
        "wo",
        "ca",
        "must",
        "need",
        "might",
        "ai",
        "sha",
        "may",
    )
] + [
    f"{pronoun}{suffix}"
    for pronoun in (
        "i",
        "you",
        "we",
        "they",
        "he",
        "she",
        "it",
        "that",
        "there",
        "what",
        "who",
        "let",
        "here",
    )
    for suffix in ("'re", "'ve", "'ll", "'d", "'m")
]


@cache
def english_stopwords() -> frozenset[str]:
    """gensim's STOPWORDS and scikit-learn's ENGLISH_STOP_WORDS together, plus common contractions.

    The union is shipped as package data (``topics/data/stopwords-en.txt``, checked against the
    installed packages by the tests): importing gensim and scikit-learn for two word lists costs
    seconds before any worker can start.
    """
    return _shipped_list("stopwords-en.txt") | frozenset(_EN_CONTRACTIONS)


@cache
def russian_stopwords() -> frozenset[str]:
    """The list shipped as package data (``topics/data/stopwords-ru.txt``, NLTK's list extended)."""
    return _shipped_list("stopwords-ru.txt")


def _shipped_list(name: str) -> frozenset[str]:
    text = resources.files("topics").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return frozenset(_words_of(text))


STOPWORD_LISTS: dict[str, Callable[[], frozenset[str]]] = {
    "english": english_stopwords,
    "russian": russian_stopwords,
}


def _words_of(text: str) -> Iterator[str]:
    for line in text.splitlines():
        word = line.strip()
        if word and not word.startswith("#"):
            yield word


def load_stopwords(names: Iterable[str], lower: bool = True) -> frozenset[str]:
    """Union of named lists and files (one word a line, ``#`` starts a comment line)."""
    words: set[str] = set()
    for name in names:
        if name in STOPWORD_LISTS:
            words |= STOPWORD_LISTS[name]()
            continue
        path = Path(name)
        if not path.is_file():
            valid = list(STOPWORD_LISTS) + ["a path to a file"]
            raise ConfigError(f"[preprocess] stopwords: {unknown_name('stopword list', name, valid)}")
        try:
            words |= set(_words_of(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: stopword file cannot be read as UTF-8 text ({error})") from None
    return frozenset(word.lower() for word in words) if lower else frozenset(words)


def languages(config: PreprocessConfig) -> tuple[str, ...]:
    return tuple(code.strip() for code in config.language.split(",") if code.strip())


# --- the pipeline ----------------------------------------------------------------------------


CACHE_LIMIT = 200_000  # distinct raw tokens (and parts) a cache generation holds; bounds memory


class Pipeline:
    """The configured steps, applied in order: ``pipeline(text) -> list[str]``.

    Every step after tokenising maps or drops one token at a time, independently of its
    neighbours, so the composed steps are run once per distinct raw token and remembered
    (a per-process cache); this is what makes the pipeline as fast as a hand-written loop.
    Picklable (each worker process gets its own cache).

    Each cache is kept in two generations of at most ``CACHE_LIMIT`` entries: when the current
    one is full it becomes the old one (the previous old one is dropped), and an entry found in
    the old one is carried over to the current one. Frequent parts and tokens so stay known
    while the rare ones (most of the distinct ones) are forgotten; emptying a full cache would
    tokenise the frequent ones again each time (on 50,000 news articles, 447,000 parts instead
    of 259,000, and more as a corpus grows).
    """

    def __init__(self, config: PreprocessConfig, stopwords: frozenset[str] | None = None):
        self.config = config
        self.stopwords = load_stopwords(config.stopwords, config.lowercase) if stopwords is None else stopwords
        self.steps = build_steps(config, self.stopwords)
        self._cache: dict[str, str] = {}  # raw token -> output token, "" if dropped
        self._old_cache: dict[str, str] = {}
        self._words = PartCache()  # whitespace-separated part -> output tokens
        self._ids = PartCache()  # part -> ids of its output tokens in ``_vocabulary``
        self._vocabulary: dict[str, int] | None = None

    def __reduce__(self):
        return (Pipeline, (self.config, self.stopwords))

    def forget(self) -> None:
        """Empty the caches (they fill again as needed)."""
        for generation in (self._cache, self._old_cache):
            generation.clear()
        self._words.clear()
        self._ids.clear()

    def token(self, raw: str) -> str | None:
        """The output for one raw token from ``TOKEN_RE``, or None if a step drops it."""
        token = strip_possessive(raw)
        for step in self.steps:
            stepped = step(token)
            if stepped is None:
                return None
            token = stepped
        return token

    def __call__(self, text: str) -> list[str]:
        return self._words.concatenated(self._parts(text), self._tokens_of)

    def token_ids(self, text: str, vocabulary: dict[str, int], words: list[str]) -> list[int]:
        """``self(text)`` as ids in ``vocabulary`` (token -> id); a token not in it is added with
        the next id, ``len(words)``, and appended to ``words`` (id -> token). The ids of a part are
        remembered, as its tokens are, for one vocabulary at a time (another empties the cache)."""
        if vocabulary is not self._vocabulary:
            self._ids.clear()
            self._vocabulary = vocabulary

        def ids_of(part: str) -> tuple[int, ...]:
            ids = []
            for token in self._tokens_of(part):
                known = vocabulary.get(token)
                if known is None:
                    known = vocabulary[token] = len(words)
                    words.append(token)
                ids.append(known)
            return tuple(ids)

        return self._ids.concatenated(self._parts(text), ids_of)

    def _parts(self, text: str) -> list[str]:
        # No token of TOKEN_RE spans whitespace and its one lookahead only rejects a following
        # letter or digit, so a text's tokens are those of its whitespace-separated parts, one
        # after another; parts repeat, and each distinct part is tokenised once per process.
        form = self.config.unicode_normalization
        if form != "none" and not unicodedata.is_normalized(form, text):
            text = unicodedata.normalize(form, text)
        return text.split()

    def _tokens_of(self, part: str) -> tuple[str, ...]:
        cache = self._cache
        if len(cache) > CACHE_LIMIT:
            self._old_cache, self._cache = cache, {}
            cache = self._cache
        out = []
        for raw in TOKEN_RE.findall(part):
            token = cache.get(raw)
            if token is None:
                token = self._old_cache.get(raw)
                if token is None:
                    token = self.token(raw) or ""  # "" marks a dropped token
                cache[raw] = token
            if token:
                out.append(token)
        return tuple(out)


class PartCache:
    """What ``Pipeline`` remembers of whitespace-separated parts, in two generations of at most
    ``CACHE_LIMIT`` entries (see ``Pipeline``)."""

    __slots__ = ("current", "old")

    def __init__(self):
        self.current: dict[str, tuple] = {}
        self.old: dict[str, tuple] = {}

    def clear(self) -> None:
        self.current.clear()
        self.old.clear()

    def concatenated(self, parts: list[str], compute: Callable[[str], tuple]) -> list:
        """The values of ``parts``, one after another; a part not in the current generation is
        carried over from the old one, or ``compute``d."""
        current = self.current
        if len(current) > CACHE_LIMIT:
            self.old, self.current = current, {}
            current = self.current
        # one look-up a part; the few parts not found are filled in afterwards
        found: list = list(map(current.get, parts))
        if None in found:
            known = self.old.get
            for index in compress(range(len(found)), map(is_, found, repeat(None))):
                part = parts[index]
                value = current.get(part)  # (a part repeated in the text is computed once)
                if value is None:
                    value = known(part)
                    current[part] = value = compute(part) if value is None else value
                found[index] = value
        return list(chain.from_iterable(found))


def build_steps(config: PreprocessConfig, stopwords: frozenset[str]) -> list[Step]:
    """The token-stream steps after tokenising, in order, as ``config`` asks."""
    steps: list[Step] = []
    if config.remove_urls:
        steps.append(drop_url)
    if config.remove_emails:
        steps.append(drop_email)
    if config.remove_numbers:
        steps.append(drop_number)
    if config.remove_punctuation:
        steps.append(drop_punctuation)
    if config.lemmatize:
        # Lemmatise as written, then lower-case: simplemma leaves capitalised names alone
        # ("Wales", "United"), where lower-cased ones would become "wale", "unite".
        codes = languages(config)
        _check_languages(codes)
        steps.append(lemmatizer(codes, config.lowercase))
    elif config.lowercase:
        steps.append(lowercase)
    if stopwords:
        steps.append(drop_words(stopwords))
    steps.append(length_between(config.min_token_length, config.max_token_length))
    return steps


def _check_languages(codes: tuple[str, ...]) -> None:
    import simplemma

    if not codes:
        raise ConfigError("[preprocess] language must name at least one simplemma language code, got ''")
    for code in codes:
        try:
            simplemma.lemmatize("test", lang=code)
        except ValueError:
            raise ConfigError(
                f"[preprocess] language: {code!r} is not a language simplemma supports (e.g. 'en', 'ru', 'de')"
            ) from None
