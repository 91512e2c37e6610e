"""Config validation: one line per bad key in the package's own words, never pydantic's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topics.config import SECTIONS, load_config
from topics.errors import ConfigError

PYDANTIC_WORDING = ("Input should be", "validation", "List should", "Value error", "errors.pydantic.dev")

#: per section, each field and values that are wrong for it (of the wrong type or out of range)
INVALID = {
    "preprocess": {
        "min_token_length": st.one_of(st.integers(max_value=0), st.text(max_size=5), st.booleans(), st.floats()),
        "lemmatize": st.one_of(st.text(max_size=5), st.integers()),
        "no_above": st.one_of(st.floats(min_value=1.001, max_value=1e9), st.floats(max_value=0), st.text(max_size=5)),
        "phrases": st.text(max_size=8).filter(lambda s: s not in ("none", "bigrams", "trigrams")),
        "stopwords": st.one_of(st.text(max_size=5), st.integers(), st.just([1])),
        "heldout": st.one_of(st.floats(min_value=1, max_value=1e9), st.floats(max_value=-0.001), st.booleans()),
    },
    "model": {
        "num_topics": st.one_of(st.integers(max_value=0), st.text(max_size=5), st.booleans(), st.floats()),
        "passes": st.one_of(st.integers(max_value=0), st.text(max_size=5), st.booleans()),
        "engine": st.text(max_size=8).filter(lambda s: s not in ("gensim", "sklearn", "tomotopy")),
        "alpha": st.one_of(
            st.floats(max_value=0), st.text(max_size=8).filter(lambda s: s not in ("symmetric", "asymmetric", "auto"))
        ),
        "decay": st.one_of(st.floats(max_value=0.49), st.floats(min_value=1.01, max_value=1e9), st.text(max_size=3)),
        "workers": st.one_of(st.integers(max_value=0), st.just("2")),
    },
    "evaluate": {
        "topn": st.one_of(st.integers(max_value=1), st.text(max_size=5)),
        "measures": st.one_of(st.just(["cv"]), st.text(max_size=5), st.just([3])),
        "relevance_lambda": st.one_of(st.floats(min_value=1.001, max_value=1e9), st.floats(max_value=-0.001)),
    },
}

FIELDS = [(section, key) for section, keys in INVALID.items() for key in keys]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_invalid_value_gives_one_line_in_our_words(tmp_path: Path, data):
    section, key = data.draw(st.sampled_from(FIELDS))
    value = data.draw(INVALID[section][key].filter(lambda v: v == v))  # no NaN: TOML writes it, fine either way
    file = tmp_path / "config.toml"
    file.write_text(tomli_w.dumps({section: {key: value}}), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(file, section)
    lines = str(error.value).splitlines()
    assert len(lines) == 1, lines
    assert re.match(rf"{re.escape(str(file))}: \[{section}\] {key}\b.*(got |unknown )", lines[0]), lines[0]
    assert not any(words in lines[0] for words in PYDANTIC_WORDING), lines[0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '[model]\nengine = "lightlda"\n',
            "[model] engine: unknown engine 'lightlda'; choose from dtm, gensim, sklearn, tomotopy",
        ),
        ("[model]\nnum_topics = 0\n", "[model] num_topics must be >= 1, got 0"),
        ("[model]\nnum_topic = 3\n", "[model] num_topic: unknown key"),
        ('[model]\nnum_topics = "ten"\n', "[model] num_topics must be an integer >= 1, got 'ten'"),
        ('[preprocess]\nstopwords = "english"\n', "[preprocess] stopwords must be a list, got 'english'"),
    ],
)
def test_messages_follow_one_template(tmp_path, body, expected):
    file = tmp_path / "c.toml"
    file.write_text(body)
    section = body[1 : body.index("]")]
    with pytest.raises(ConfigError) as error:
        load_config(file, section)
    assert str(error.value) == f"{file}: {expected}"


def test_every_section_has_a_model():
    assert set(INVALID) <= set(SECTIONS)
