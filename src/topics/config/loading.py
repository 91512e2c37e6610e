"""Reading TOML files and validating sections: strict for values from files (a TOML integer is an integer), lax for command-line flags."""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ValidationError,
)

from topics.config.messages import format_validation_error
from topics.config.sections import CorpusConfig, EvaluateConfig, PreprocessConfig, S, Strict, TrainConfig, files_relative_to
from topics.errors import ConfigError, lookup


def read_file_bytes(path: str | Path, expected: str, where: str = "") -> bytes:
    """The bytes of a file the user named; a missing or unreadable file, or a folder, is one
    ConfigError naming it, ``where`` it was named (a key, shown in brackets) and what to give."""
    note = f" ({where})" if where else ""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file{note}; give {expected}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder{note}; give {expected}") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror}){note}; give a readable file") from None


def load_toml(path: Path) -> dict[str, Any]:
    """Read a UTF-8 TOML file (a byte-order mark is allowed); a missing or unreadable file, a folder,
    another encoding or a syntax error is a ConfigError naming the file."""
    raw = read_file_bytes(path, "a TOML file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 (byte {error.start}); save it as UTF-8") from None
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None


def validate(model: type[S], data: dict[str, Any], origin: str, section: str = "", lax: Collection[str] = ()) -> S:
    """Build ``model`` from ``data`` or raise a ConfigError naming ``origin`` and each bad key.

    Values are strict (a TOML integer is an integer: ``"10"`` or ``true`` is no number of topics),
    but for the keys in ``lax``, which come from command-line flags and may be parsed from text.
    """
    try:
        built = model.model_validate(data)
        strict_problems = [] if set(data) <= set(lax) else _strict_problems(model, data, lax)
    except ValidationError as error:
        raise ConfigError(format_validation_error(origin, error, section, model)) from None
    if strict_problems:
        raise ConfigError(format_validation_error(origin, strict_problems[0], section, model))
    return built


def _strict_problems(model: type[BaseModel], data: dict[str, Any], lax: Collection[str]) -> list[ValidationError]:
    """The strict-mode error of ``data`` restricted to the keys not in ``lax`` (empty when none)."""
    try:
        model.model_validate(data, strict=True)
    except ValidationError as error:
        problems = [p for p in error.errors() if not p["loc"] or p["loc"][0] not in lax]
        if problems:
            return [ValidationError.from_exception_data(error.title, problems)]  # type: ignore[arg-type]
    return []


def load_config(path: str | Path | None, section: str, overrides: dict[str, Any] | None = None) -> Any:
    """One section of a TOML file (``corpus``, ``preprocess``, ``model`` or ``evaluate``) with
    ``overrides`` (say, options given on the command line) applied over the file's values.

    Parameters
    ----------
    path : path or None
        A TOML file; None for defaults and overrides only.
    section : str
        The section to read; its model is ``SECTIONS[section]``.
    overrides : dict, optional
        Values that replace the file's; None values are ignored (not given).

    Returns
    -------
    CorpusConfig, PreprocessConfig, TrainConfig or EvaluateConfig

    Examples
    --------
    >>> topics.load_config(None, "model", {"num_topics": 20}).num_topics
    20
    """
    model = lookup(SECTIONS, "section", section)
    origin = str(path) if path is not None else "command line"
    data: dict[str, Any] = {}
    if path is not None:
        file_data = files_relative_to(load_toml(Path(path)), Path(path).parent)
        unknown = sorted(set(file_data) - set(SECTIONS) - EXPERIMENT_KEYS)
        if unknown:
            raise ConfigError(f"{origin}: unknown section(s) {', '.join(unknown)}; use {', '.join(f'[{s}]' for s in SECTIONS)}")
        section_data = file_data.get(section, {})
        if not isinstance(section_data, dict):
            raise ConfigError(f"{origin}: [{section}] must be a table, got {section_data!r}")
        data.update(section_data)
    given = {key: value for key, value in (overrides or {}).items() if value is not None}
    data.update(given)
    return validate(model, data, origin, section, lax=given)


SECTIONS: dict[str, type[Strict]] = {
    "corpus": CorpusConfig,
    "preprocess": PreprocessConfig,
    "model": TrainConfig,
    "evaluate": EvaluateConfig,
}
#: top-level keys of an experiment file, allowed beside the sections when one file serves both
EXPERIMENT_KEYS = frozenset({"name", "description", "seeds", "metric", "search"})
