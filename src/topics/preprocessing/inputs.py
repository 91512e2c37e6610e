"""What ``preprocess`` settles before it reads a document: the config resolved with the defaults of
the corpus's format and fingerprinted, the output folder and the documents' language checked, and
what the corpus says of itself for the report and the manifest."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path
from typing import Any

from topics._files import sha256_json
from topics.config import PreprocessConfig
from topics.config.loading import read_file_bytes
from topics.errors import ConfigError, CorpusError
from topics.preprocessing.boilerplate import RULES as BOILERPLATE_RULES
from topics.preprocessing.phrases import (
    PHRASE_DELIMITER,
    ListedPhrase,
    PhraseLineError,
    json_line_of,
    listed_layers,
    parse_phrase_lines,
    parse_phrases_json,
)
from topics.preprocessing.tokenize import PIPELINE_VERSION, TOKEN_RE, Pipeline

FILTER_DEFAULTS = {"no_below": 5, "no_above": 0.5, "keep_n": 100000}
PRETOKENISED_FILTER_DEFAULTS = {"no_below": 1, "no_above": 1.0, "keep_n": None}
PRETOKENISED_FORMATS = ("octis",)
#: formats whose boilerplate rules are on unless turned off (a line of ``lines`` is a whole document)
BOILERPLATE_FORMATS = ("articles", "text", "jsonl", "csv")


def resolve_config(config: PreprocessConfig, corpus_format: str | None) -> PreprocessConfig:
    """``config`` with format defaults filled in: filtering bounds, boilerplate rules, and no
    phrases or boilerplate rules for pre-tokenised input."""
    pretokenised = corpus_format in PRETOKENISED_FORMATS
    defaults = PRETOKENISED_FILTER_DEFAULTS if pretokenised else FILTER_DEFAULTS
    update: dict[str, Any] = {key: value for key, value in defaults.items() if getattr(config, key) is None}
    for rule in BOILERPLATE_RULES:
        key = f"boilerplate_{rule}"
        if getattr(config, key) is None or pretokenised:
            update[key] = corpus_format in BOILERPLATE_FORMATS
    if pretokenised:
        update["phrases"] = "none"
    return config.model_copy(update=update)


def config_fingerprint(config: PreprocessConfig) -> str:
    """Resolved config + tokeniser version + the contents of stopword files and phrase files (a
    phrase file counts by its content, not by its path: an edit prepares again, a move does not)."""
    return sha256_json(
        {
            "config": preprocess_identity(config),
            "pipeline": PIPELINE_VERSION,
            "files": stopword_file_digests(config),
        }
    )


def preprocess_identity(config: PreprocessConfig) -> dict[str, Any]:
    """The settings as JSON with each phrase file replaced by the SHA-256 of its content: what an
    experiment's prepared-corpus and run keys hash, so that editing the file in place redoes them."""
    settings = config.model_dump(mode="json")
    for key in PHRASE_FILES:
        name = getattr(config, key)
        if name is not None:
            settings[key] = hashlib.sha256(phrase_file_bytes(name, key)).hexdigest()
    return settings


def stopword_file_digests(config: PreprocessConfig) -> dict[str, str]:
    """SHA-256 of each stopword list given as a file (by name), as read."""
    files = {}
    for name in config.stopwords:
        path = Path(name)
        if path.is_file():
            files[name] = sha256_json(path.read_text(encoding="utf-8", errors="replace"))
    return files


# --- phrase files ---------------------------------------------------------------------------

#: the settings naming phrase files, and what each file is for (in messages)
PHRASE_FILES = {"phrase_list": "the phrases to join", "phrase_blocklist": "the phrases never joined"}


def phrase_file_bytes(name: str, key: str) -> bytes:
    return read_file_bytes(name, "an existing phrase file", f"[preprocess] {key}, {PHRASE_FILES[key]}")


def read_phrase_file(name: str, key: str, pipeline: Pipeline) -> tuple[list[ListedPhrase], int]:
    """The phrases of the file that setting ``key`` names, their words in token form
    (``token_form``), and its number of layers (a phrases.json's; 0 for a text list). One
    ConfigError names the file and line of the first bad one."""
    raw = phrase_file_bytes(name, key)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigError(f"{name}:{line}: not UTF-8 (byte {error.start}; [preprocess] {key}); save it as UTF-8") from None
    is_json = Path(name).suffix.lower() == ".json"
    try:
        phrases, n_layers = parse_phrases_json(text) if is_json else (parse_phrase_lines(text), 0)
    except PhraseLineError as error:
        raise ConfigError(f"{name}:{error.line}: {error.reason} ([preprocess] {key})") from None
    normalised = []
    for phrase in phrases:
        words = []
        for word in phrase.words:
            token, problem = token_form(word, pipeline)
            if token is None:
                line = phrase.line or json_line_of(text, PHRASE_DELIMITER.join(phrase.words))
                raise ConfigError(
                    f"{name}:{line}: {PHRASE_DELIMITER.join(phrase.words)!r}: {problem}; "
                    f"remove the phrase or change the word ([preprocess] {key})"
                )
            words.append(token)
        normalised.append(ListedPhrase(tuple(words), phrase.line, phrase.layer, phrase.score))
    return normalised, n_layers


def token_form(word: str, pipeline: Pipeline) -> tuple[str | None, str]:
    """``word`` as a token of ``pipeline``, or None and why not. A word the pipeline can output as it
    is (as phrases.json shows it: ``united``, from "United") stays as it is; any other goes through
    the token steps (``Running`` -> ``run``). Re-lemmatising every word would be wrong: simplemma
    leaves capitalised names alone, so ``united`` is a token although it lemmatises to ``unite``."""
    if TOKEN_RE.fullmatch(word) and any(pipeline.token(form) == word for form in (word, word.capitalize(), word.upper())):
        return word, ""
    tokens = pipeline(word)
    if len(tokens) == 1:
        return tokens[0], ""
    if not tokens:
        return None, (
            f"the token steps drop {word!r} (a stopword, a number, punctuation, or shorter than "
            f"min_token_length {pipeline.config.min_token_length}), so it never stands next to another word"
        )
    return None, f"the token steps make {len(tokens)} tokens of {word!r} ({' '.join(tokens)}); write them as separate words"


def phrase_list_layers(config: PreprocessConfig, pipeline: Pipeline) -> list[dict] | None:
    """The phrase layers ``config.phrase_list`` gives (``phrases.listed_layers``), or None when
    the phrases are to be learnt (or there are none)."""
    if config.phrase_list is None:
        return None
    phrases, n_layers = read_phrase_file(config.phrase_list, "phrase_list", pipeline)
    try:
        return listed_layers(phrases, n_layers)
    except PhraseLineError as error:
        raise ConfigError(f"{config.phrase_list}:{error.line}: {error.reason} ([preprocess] phrase_list)") from None


def phrase_blocklist(config: PreprocessConfig, pipeline: Pipeline) -> frozenset[str]:
    """The phrases ``config.phrase_blocklist`` names, joined as tokens (``new_york``); empty without one."""
    if config.phrase_blocklist is None:
        return frozenset()
    phrases, _ = read_phrase_file(config.phrase_blocklist, "phrase_blocklist", pipeline)
    return frozenset(PHRASE_DELIMITER.join(phrase.words) for phrase in phrases)


def check_not_the_input(corpus, out_dir: Path) -> None:
    """Refuse an output folder that is the input or holds it: replacing it would delete the corpus."""
    source = getattr(corpus, "path", None)
    if source is None:
        return
    source, out = Path(source).resolve(), out_dir.resolve()
    if out == source or out in source.parents:
        raise CorpusError(f"{out_dir}: is the corpus being read, or holds it ({source}); choose another output folder")


#: documents sampled, and the least share of their words the configured language must know
LANGUAGE_SAMPLE, LANGUAGE_SHARE = 50, 0.3
#: candidates of the language detector, by script (each costs a second or two to load)
CANDIDATE_LANGUAGES = {"cyrillic": ("ru", "uk", "bg"), "latin": ("en", "de", "fr", "es", "it", "pt", "nl")}


def check_language(corpus, config: PreprocessConfig) -> None:
    """Stop when a sample of the documents is not in ``config.language`` left at its default (a language
    set explicitly is trusted): a Russian corpus must not get English stopwords and lemmas silently."""
    if "language" in config.model_fields_set or getattr(corpus, "format", None) in PRETOKENISED_FORMATS:
        return
    sample = " ".join(document.text[:2000] for document in itertools.islice(corpus, LANGUAGE_SAMPLE))
    letters = [c for c in sample[:20000] if c.isalpha()]
    if len(sample.split()) < 100 or not letters:
        return  # too little text to tell
    from simplemma import in_target_language, langdetect

    configured = tuple(config.language.split(","))
    if in_target_language(sample, lang=configured) >= LANGUAGE_SHARE:
        return
    cyrillic = sum("\u0400" <= c <= "\u04ff" for c in letters) > len(letters) / 2
    detected, share = langdetect(sample, lang=CANDIDATE_LANGUAGES["cyrillic" if cyrillic else "latin"])[0]
    if detected in configured or detected == "unk" or share < 0.5:
        return
    source = corpus_description(corpus).get("source") or "corpus"
    raise CorpusError(
        f"{source}: the documents look like {detected!r} ({share:.0%} of sampled words), not the configured "
        f"language {config.language!r}; set [preprocess] language = {detected!r} and stopwords to a list for it"
        f" (e.g. 'russian' or a file), or set language explicitly to keep it"
    )


def report_of_corpus(corpus, n_docs: int) -> dict:
    report = getattr(corpus, "report", None)
    if report is None:
        return {"documents_read": n_docs}
    return report.to_dict() if hasattr(report, "to_dict") else dict(report)


def corpus_description(corpus) -> dict:
    description: dict[str, Any] = {"format": getattr(corpus, "format", None)}
    config = getattr(corpus, "config", None)
    if config is not None and hasattr(config, "model_dump"):
        description["config"] = config.model_dump(mode="json")
        description["source"] = getattr(config, "source", None)
    return description
