"""One table from pydantic's error types to this package's message templates: every invalid value is one line naming the file, the section and key, what was expected, and what was given."""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ValidationError,
)

from topics.config.experiment_file import ExperimentConfig
from topics.config.sections import CorpusConfig, EvaluateConfig, PreprocessConfig, TrainConfig
from topics.errors import unknown_name

ERROR_MESSAGES = {
    "missing": "{key} is required",
    "extra_forbidden": "{key}: unknown key",
    "int_type": "{key} must be an integer{bounds}, got {value!r}",
    "int_parsing": "{key} must be an integer{bounds}, got {value!r}",
    "int_from_float": "{key} must be an integer{bounds}, got {value!r}",
    "float_type": "{key} must be a number{bounds}, got {value!r}",
    "float_parsing": "{key} must be a number{bounds}, got {value!r}",
    "bool_type": "{key} must be true or false, got {value!r}",
    "bool_parsing": "{key} must be true or false, got {value!r}",
    "string_type": "{key} must be a string, got {value!r}",
    "list_type": "{key} must be a list, got {value!r}",
    "dict_type": "{key} must be a table, got {value!r}",
    "model_type": "{key} must be a table, got {value!r}",
    "model_attributes_type": "{key} must be a table, got {value!r}",
    "too_short": "{key} must list at least {min_length} {item}, got {value!r}",
    "too_long": "{key} must list at most {max_length} {item}, got {value!r}",
    "greater_than_equal": "{key} must be >= {ge}, got {value!r}",
    "greater_than": "{key} must be > {gt}, got {value!r}",
    "less_than_equal": "{key} must be <= {le}, got {value!r}",
    "less_than": "{key} must be < {lt}, got {value!r}",
    "literal_error": "{key}: {unknown}",
    "value_error": "{key} {reason}, got {value!r}",
    "union": "{key} must be {choices}, got {value!r}",
}
_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


def _section_model(annotation: Any) -> tuple[Any, Any]:
    """``(model, None)`` for a nested section ``M`` or ``M | None``, ``(None, model)`` for a table of
    sections ``dict[str, M]``, else ``(None, None)``."""
    import typing

    def is_model(candidate: Any) -> bool:
        return isinstance(candidate, type) and issubclass(candidate, BaseModel)

    if is_model(annotation):
        return annotation, None
    arguments = typing.get_args(annotation)
    if typing.get_origin(annotation) is dict and arguments and is_model(arguments[-1]):
        return None, arguments[-1]
    return next((a for a in arguments if is_model(a)), None), None


def _field_of(model: type[BaseModel], location: tuple[int | str, ...]) -> tuple[list[str], Any, int | None]:
    """The key path of an error's location (union members and list indexes dropped), its field and
    the list index, if any, walking nested sections."""
    keys: list[str] = []
    field: Any = None
    index: int | None = None
    current: Any = model
    table: Any = None  # the model of the values of a table of sections ([search.space])
    for part in location:
        if isinstance(part, int):
            index = part
        elif table is not None:
            keys.append(str(part))
            current, table = table, None
        elif isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            keys.append(part)
            field = current.model_fields[part]
            current, table = _section_model(field.annotation)
        elif not keys or current is not None:
            keys.append(part)  # an unknown key
            break
    return keys, field, index


def _bounds(field: Any) -> str:
    found = [
        f"{symbol} {getattr(rule, name)}"
        for rule in (field.metadata if field is not None else [])
        for name, symbol in _BOUNDS
        if getattr(rule, name, None) is not None
    ]
    return f" {' and '.join(found)}" if found else ""


def _choices(problem: dict[str, Any]) -> list[str]:
    import re

    return re.findall(r"'([^']*)'", str(problem.get("ctx", {}).get("expected", "")))


def _message(model: type[BaseModel], problems: list[dict[str, Any]], key: str, keys: list[str], field: Any) -> str:
    """One message for all the problems of one field (a union's members fail one by one)."""
    problem = problems[0]
    name = keys[-1] if keys else key
    value = problem.get("input")
    kinds = {p["type"] for p in problems}
    if len(problems) > 1 and "literal_error" in kinds:  # float | Literal[...]: a number or a keyword
        names = [c for p in problems if p["type"] == "literal_error" for c in _choices(p)]
        number = "a number" if kinds & {"float_type", "float_parsing", "int_type", "int_parsing"} else "a value"
        choices = f"{number} or one of {', '.join(names)}"
        return ERROR_MESSAGES["union"].format(key=key, choices=choices, value=value)
    kind = problem["type"]
    template = ERROR_MESSAGES.get(kind)
    if template is None:  # a type this table does not know yet: keep pydantic's words, in our form
        reason = str(problem["msg"]).replace("Input should be", "must be").replace("Value error, ", "")
        return f"{key} {reason}, got {value!r}"
    if kind == "missing" and field is not None and isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
        return f"[{'.'.join(keys)}] is required"
    ctx = dict(problem.get("ctx") or {})
    min_length = ctx.pop("min_length", 1)
    item = name[:-1] if name.endswith("s") else f"{name} item"
    return template.format(
        key=key,
        value=value,
        bounds=_bounds(field),
        item=item if min_length == 1 else f"{item}s",
        min_length="one" if min_length == 1 else min_length,
        unknown=unknown_name(
            item if problem["loc"] and isinstance(problem["loc"][-1], int) else name, str(value), _choices(problem)
        ),
        reason=str(problem["msg"]).removeprefix("Value error, "),
        **ctx,
    )


def format_validation_error(origin: str, error: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> str:
    """One line per field in trouble: ``file: [section] key must ..., got ...`` (see ``ERROR_MESSAGES``)."""
    model = model or error_model(error)
    grouped: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    fields: dict[tuple[str, ...], tuple[list[str], Any]] = {}
    for problem in error.errors():
        keys, field, _ = _field_of(model, tuple(problem["loc"]))
        grouped.setdefault(tuple(keys), []).append(dict(problem))
        fields[tuple(keys)] = (keys, field)
    lines = []
    for path, problems in grouped.items():
        keys, field = fields[path]
        key = ".".join(keys) or "(top level)"
        if prefix:
            key = f"[{prefix}] {key}"
        lines.append(f"{origin}: {_message(model, problems, key, keys, field)}")
    return "\n".join(lines)


def error_model(error: ValidationError) -> type[BaseModel]:
    """The model a ValidationError is about (by its title), or BaseModel when unknown."""
    found = {m.__name__: m for m in (CorpusConfig, PreprocessConfig, TrainConfig, EvaluateConfig, ExperimentConfig)}
    return found.get(error.title, BaseModel)
