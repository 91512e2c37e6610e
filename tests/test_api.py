"""The public Python API: the README's walk-through works, twice in one process, and no public name
is shadowed by a sub-package once that sub-package is imported."""

from __future__ import annotations

import importlib
import pkgutil
import re
import types
from pathlib import Path

import pytest

import topics

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_walkthrough() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## From Python") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_walkthrough_runs_twice_in_one_process(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = compile(readme_walkthrough(), str(README), "exec")
    for _ in range(2):  # a notebook cell run twice
        namespace: dict = {}
        exec(code, namespace)
        assert set(namespace["evaluation"].metrics) == {"c_npmi", "c_v"}
        assert -1 <= namespace["evaluation"].metrics["c_npmi"] <= 1
        assert len(namespace["run"].topics) == 10 * 20
    assert (tmp_path / "runs" / "lee-k10" / "metrics.json").is_file()


def test_every_public_name_stays_a_function_or_class_after_every_submodule_is_imported():
    for module in pkgutil.walk_packages(topics.__path__, "topics."):
        if module.name.startswith(("topics.cli", "topics.__main__")):
            continue
        importlib.import_module(module.name)
    for name in topics.__all__:
        value = getattr(topics, name)
        assert not isinstance(value, types.ModuleType), name
        assert getattr(topics, name) is value  # cached: the second lookup gives the same object


def test_from_topics_import_gives_the_functions():
    from topics import evaluate, preprocess

    assert callable(preprocess) and callable(evaluate)
    assert preprocess.__module__ == "topics.preprocessing.prepare"
    assert evaluate.__module__ == "topics.evaluation.scoring"


def test_every_public_function_has_a_docstring():
    for name in topics.__all__:
        assert (getattr(topics, name).__doc__ or "").strip(), name


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'preprocessing_'"):
        topics.preprocessing_  # noqa: B018
