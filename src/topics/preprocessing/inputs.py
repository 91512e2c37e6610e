"""What ``preprocess`` settles before it reads a document: the config resolved with the defaults of
the corpus's format and fingerprinted, the output folder and the documents' language checked, and
what the corpus says of itself for the report and the manifest."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from topics._files import sha256_json
from topics.config import PreprocessConfig
from topics.errors import CorpusError
from topics.preprocessing.boilerplate import RULES as BOILERPLATE_RULES
from topics.preprocessing.tokenize import PIPELINE_VERSION

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
    """Resolved config + tokeniser version + the contents of stopword files."""
    files = {}
    for name in config.stopwords:
        path = Path(name)
        if path.is_file():
            files[name] = sha256_json(path.read_text(encoding="utf-8", errors="replace"))
    return sha256_json(
        {
            "config": config.model_dump(mode="json"),
            "pipeline": PIPELINE_VERSION,
            "files": files,
        }
    )


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
