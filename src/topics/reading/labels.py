"""Topic labels: automatic ones from top words and phrases, and a user's own in ``labels.toml``.

A user's ``labels.toml`` sits in the run folder and maps topic ids to labels::

    [labels]
    0 = "Elections"
    3 = "Football"

(the ``[labels]`` header may be left out). Topics it does not name keep their automatic label.
The file is the user's, not the run's: it is left out of the manifest's hashes, so editing it
never makes a run look changed.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from topics.errors import ConfigError

if TYPE_CHECKING:
    from topics.training.model import TopicModel

LABELS_FILE = "labels.toml"
#: how many words and phrases an automatic label names
LABEL_TERMS = 3
#: relevance weight for automatic labels: below 1 favours words specific to the topic (Sievert and Shirley 2014)
LABEL_RELEVANCE_LAMBDA = 0.6
PHRASE_DELIMITER = "_"


def automatic_labels(model: TopicModel, terms: int = LABEL_TERMS) -> dict[int, str]:
    """One short label per topic, e.g. ``"prime minister / election / labour"``.

    Candidates are the topic's top words by relevance (λ = 0.6), so the label names what sets the
    topic apart rather than the corpus's commonest words. A phrase among the first candidates
    (``prime_minister``) comes first and its parts are not repeated. Labels that would clash take
    one more word until they differ.
    """
    candidates = model.top_words(terms * 4, ranking="relevance", relevance_lambda=LABEL_RELEVANCE_LAMBDA)
    labels: dict[int, str] = {}
    seen: set[str] = set()
    for topic, words in enumerate(candidates):
        count = terms
        label = _label_from(words, count)
        while label in seen and count < len(words):
            count += 1
            label = _label_from(words, count)
        if label in seen:
            label = f"{label} ({topic})"
        seen.add(label)
        labels[topic] = label
    return labels


def _label_from(words: list[str], count: int) -> str:
    phrases = [w for w in words[: count * 2] if PHRASE_DELIMITER in w]
    ordered = phrases[:1] + [w for w in words if w not in phrases[:1]]
    chosen: list[str] = []
    covered: set[str] = set()
    for word in ordered:
        parts = set(word.split(PHRASE_DELIMITER))
        if parts <= covered:
            continue
        chosen.append(word.replace(PHRASE_DELIMITER, " "))
        covered |= parts
        if len(chosen) == count:
            break
    return " / ".join(chosen)


def read_user_labels(run_dir: Path, num_topics: int) -> dict[int, str]:
    """The labels of ``run_dir/labels.toml`` (empty when there is no such file), checked against the run."""
    path = Path(run_dir) / LABELS_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    table: Any = data.get("labels", data) if set(data) <= {"labels"} else data
    if not isinstance(table, dict):
        raise ConfigError(f'{path}: [labels] must be a table of topic id = "label", got {type(table).__name__}')
    labels: dict[int, str] = {}
    for key, value in table.items():
        try:
            topic = int(key)
        except ValueError:
            raise ConfigError(f"{path}: keys must be topic ids 0-{num_topics - 1}, got {key!r}") from None
        if not 0 <= topic < num_topics:
            raise ConfigError(f"{path}: topic {topic} is not in this run; it has topics 0-{num_topics - 1}")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{path}: the label of topic {topic} must be a non-empty string, got {value!r}")
        labels[topic] = value.strip()
    return labels


def topic_labels(model: TopicModel, run_dir: Path | None = None) -> dict[int, str]:
    """Every topic's label: the user's from ``labels.toml`` where given, else the automatic one.

    Examples
    --------
    >>> topics.topic_labels(run.model, run.path)[0]  # doctest: +SKIP
    'israeli / palestinian / arafat'
    """
    labels = automatic_labels(model)
    if run_dir is not None:
        labels.update(read_user_labels(run_dir, model.num_topics))
    return labels
