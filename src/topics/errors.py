"""Errors a user can cause.

Library code raises these; only the CLI turns them into a message and exit code 2.
Messages name the place (file, line, key or option), the value, and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


class TopicsError(Exception):
    """An error caused by input or configuration; the message is shown as is, without traceback."""


class ConfigError(TopicsError):
    """A configuration file or option is invalid."""


class CorpusError(TopicsError):
    """A corpus or prepared corpus cannot be read."""


class RunError(TopicsError):
    """A run folder or experiment is missing, incomplete or inconsistent."""


def unknown_name(kind: str, name: str, valid: list[str] | tuple[str, ...]) -> str:
    """One message for an unknown name: "unknown measure 'cv'; choose from c_v, c_npmi"."""
    return f"unknown {kind} {name!r}; choose from {', '.join(sorted(valid))}"


def lookup(table: Mapping[str, T], kind: str, name: str) -> T:
    """``table[name]``, or a ConfigError listing the valid names."""
    try:
        return table[name]
    except KeyError:
        raise ConfigError(unknown_name(kind, name, list(table))) from None
