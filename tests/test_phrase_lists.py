"""A user's own phrases: a phrase list joined instead of learnt phrases, a blocklist taken out of
the learnt ones, both files fingerprinted by content, and bad files refused by file and line."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import pytest
from gensim.models.phrases import Phrases
from hypothesis import given, settings
from hypothesis import strategies as st

import topics
from helpers import invoke
from topics._files import sha256_json
from topics.config import PreprocessConfig, load_config
from topics.errors import ConfigError, TopicsError
from topics.experiment.grid import load_experiment_config, preparation_key, run_hash
from topics.preprocessing.inputs import config_fingerprint, token_form
from topics.preprocessing.phrases import block_phrases, parse_phrase_lines, phrase_layer
from topics.preprocessing.prepare import preprocess
from topics.preprocessing.tokenize import Pipeline

#: no vocabulary filtering, so the prepared tokens are all the joined tokens, comparable one by one
UNFILTERED = {"no_below": 1, "no_above": 1.0}


def lee():
    return topics.read_corpus("sample:lee")


def unjoined_texts(config: PreprocessConfig) -> list[list[str]]:
    """The documents' tokens before any phrase is joined: the reference's input."""
    pipeline = Pipeline(config)
    return [pipeline(document.text) for document in lee()]


def gensim_layer(phrases) -> object:
    """gensim's own FrozenPhrases joining exactly ``phrases`` (the independent reference)."""
    frozen = Phrases([], threshold=1.0).freeze()
    frozen.phrasegrams = {phrase: 2.0 for phrase in phrases}
    return frozen


def adjacent_pairs(texts: list[list[str]]) -> Counter:
    return Counter(f"{a}_{b}" for tokens in texts for a, b in itertools.pairwise(tokens))


@pytest.fixture(scope="module")
def learnt(tmp_path_factory):
    """Bigrams learnt from the Lee corpus, without and with a blocklist of two of them."""
    root = tmp_path_factory.mktemp("learnt")
    config = PreprocessConfig(phrases="bigrams", **UNFILTERED)
    return preprocess(lee(), config, root / "prepared", processes=1)


def layers_of(prepared) -> list[dict]:
    return json.loads((prepared.path / "phrases.json").read_text(encoding="utf-8"))["layers"]


# --- a phrase list -------------------------------------------------------------------------------


def test_an_edited_phrases_json_joins_exactly_its_phrases(learnt, tmp_path):
    """An earlier phrases.json with one phrase removed and one added (no score) is joined as
    gensim's FrozenPhrases of the same phrases joins the unjoined tokens, token for token."""
    data = json.loads((learnt.path / "phrases.json").read_text(encoding="utf-8"))
    phrasegrams = data["layers"][0]["phrasegrams"]
    texts = unjoined_texts(PreprocessConfig(**UNFILTERED))
    pairs = adjacent_pairs(texts)
    removed = max(phrasegrams, key=pairs.__getitem__)  # the most frequent learnt phrase
    added = next(pair for pair, _ in pairs.most_common() if pair not in phrasegrams)
    del phrasegrams[removed]
    phrasegrams[added] = None
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data, indent=2), encoding="utf-8")

    prepared = preprocess(lee(), PreprocessConfig(phrase_list=str(edited), **UNFILTERED), tmp_path / "listed", processes=1)

    reference = gensim_layer(phrasegrams)
    assert list(prepared.texts()) == [reference[tokens] for tokens in texts]
    vocabulary = set(prepared.vocabulary)
    assert added in vocabulary and removed not in vocabulary and removed in set(learnt.vocabulary)
    (layer,) = layers_of(prepared)
    assert layer["phrasegrams"] == dict(sorted(phrasegrams.items()))  # scores kept as given, null for the new one
    assert layer["threshold"] is None


def test_a_text_list_joins_two_and_three_word_phrases(tmp_path):
    """Words as written in text go through the token steps ("Osama bin Laden" -> osama bin laden);
    a three-word phrase is its first two words joined, then the third: every adjacent occurrence
    is joined, counted against a direct scan of the unjoined tokens."""
    phrase_list = tmp_path / "phrases.txt"
    phrase_list.write_text("# people and places\nOsama bin Laden\nprime_minister   # a comment\n\nWest Bank\n", encoding="utf-8")
    config = PreprocessConfig(phrase_list=str(phrase_list), **UNFILTERED)

    prepared = preprocess(lee(), config, tmp_path / "listed", processes=1)

    first, second = layers_of(prepared)
    assert set(first["phrasegrams"]) == {"osama_bin", "prime_minister", "west_bank"}
    assert set(second["phrasegrams"]) == {"osama_bin_laden"}
    texts = unjoined_texts(config)
    first_layer, second_layer = gensim_layer(first["phrasegrams"]), gensim_layer(second["phrasegrams"])
    assert list(prepared.texts()) == [second_layer[first_layer[tokens]] for tokens in texts]
    counts = Counter(token for tokens in prepared.texts() for token in tokens)
    trigrams = Counter(
        "_".join(tokens[i : i + 3])
        for tokens in texts
        for i in range(len(tokens) - 2)
        if tokens[i : i + 3] == ["osama", "bin", "laden"]
    )
    assert counts["osama_bin_laden"] == trigrams["osama_bin_laden"] > 20
    assert counts["prime_minister"] > 20 and counts["west_bank"] > 5
    # new text is joined with the same layers, read back from the folder
    assert list(prepared.prepare_texts(["The Prime Minister spoke of Osama bin Laden"])) == [
        ["prime_minister", "speak", "osama_bin_laden"]
    ]


def test_list_words_in_token_form_stay_and_others_are_normalised():
    """A word the pipeline can output stays (``united``, from "United"), even where simplemma would
    lemmatise it; any other goes through the token steps; a stopword is refused."""
    pipeline = Pipeline(PreprocessConfig())
    assert token_form("united", pipeline) == ("united", "")
    assert token_form("States", pipeline) == ("states", "")
    assert token_form("Running", pipeline) == ("run", "")
    assert token_form("running", pipeline) == ("run", "")
    token, problem = token_form("the", pipeline)
    assert token is None and "drop 'the'" in problem


# --- a blocklist ---------------------------------------------------------------------------------


def test_the_blocklist_removes_learnt_phrases(learnt, tmp_path):
    """Blocked phrases are learnt without the blocklist and absent with it, from phrases.json and
    from the tokens; every other learnt phrase is the same, and the report counts the removed."""
    learnt_phrases = layers_of(learnt)[0]["phrasegrams"]
    vocabulary = set(learnt.vocabulary)
    blocked = sorted(phrase for phrase in learnt_phrases if phrase in vocabulary)[:2]
    blocklist = tmp_path / "blocked.txt"
    blocklist.write_text("".join(f"{phrase.replace('_', ' ')}\n" for phrase in blocked), encoding="utf-8")
    config = PreprocessConfig(phrases="bigrams", phrase_blocklist=str(blocklist), **UNFILTERED)

    prepared = preprocess(lee(), config, tmp_path / "blocked", processes=1)

    (layer,) = layers_of(prepared)
    assert layer["phrasegrams"] == {p: s for p, s in learnt_phrases.items() if p not in blocked}
    assert not set(blocked) & set(prepared.vocabulary)
    assert prepared.report["phrases_blocked"] == [2]
    assert prepared.report["phrases"] == [len(learnt_phrases) - 2]


def test_a_blocked_phrase_takes_the_longer_phrases_holding_it():
    layer = phrase_layer([("new_york", 50.0), ("new_york_times", 90.0), ("york_times", 12.0), ("times_square", 30.0)], 10.0, 5)
    kept, removed = block_phrases(layer, frozenset({"new_york"}))
    assert kept["phrasegrams"] == {"york_times": 12.0, "times_square": 30.0} and removed == 2


# --- fingerprints and paths ----------------------------------------------------------------------


def test_the_fingerprint_follows_the_files_content(tmp_path):
    phrase_list = tmp_path / "phrases.txt"
    phrase_list.write_text("prime minister\n", encoding="utf-8")
    config = PreprocessConfig(phrase_list=str(phrase_list))
    before = config_fingerprint(config)
    assert config_fingerprint(config) == before
    moved = tmp_path / "moved.txt"
    moved.write_text("prime minister\n", encoding="utf-8")
    assert config_fingerprint(PreprocessConfig(phrase_list=str(moved))) == before  # the content counts, not the path
    phrase_list.write_text("prime minister\nwest bank\n", encoding="utf-8")
    assert config_fingerprint(config) != before
    blocklist = tmp_path / "blocked.txt"
    blocklist.write_text("west bank\n", encoding="utf-8")
    with_blocklist = PreprocessConfig(phrases="bigrams", phrase_blocklist=str(blocklist))
    assert config_fingerprint(with_blocklist) != config_fingerprint(PreprocessConfig(phrases="bigrams"))
    # unset, the settings leave the dump (and so every existing fingerprint) as it was
    assert "phrase_list" not in PreprocessConfig().model_dump()


def test_an_experiment_redoes_its_runs_when_a_phrase_file_is_edited_in_place(tmp_path):
    """The prepared-corpus folder name and the run hash follow the file's content, as the fingerprint does."""
    phrase_list = tmp_path / "phrases.txt"
    phrase_list.write_text("prime minister\n", encoding="utf-8")
    config = PreprocessConfig(phrase_list=str(phrase_list))
    model = topics.TrainConfig()
    key, run = preparation_key("corpus", config), run_hash("corpus", config, model, 0)
    moved = tmp_path / "moved.txt"
    moved.write_text("prime minister\n", encoding="utf-8")
    assert preparation_key("corpus", PreprocessConfig(phrase_list=str(moved))) == key
    phrase_list.write_text("prime minister\nwest bank\n", encoding="utf-8")
    assert preparation_key("corpus", config) != key
    assert run_hash("corpus", config, model, 0) != run
    # settings without files keep the keys they always had
    plain = PreprocessConfig()
    assert preparation_key("corpus", plain) == sha256_json({"corpus": "corpus", "preprocess": plain.model_dump(mode="json")})[:16]


def test_an_unchanged_list_reuses_the_prepared_corpus_and_an_edit_does_not(tmp_path):
    phrase_list = tmp_path / "phrases.txt"
    phrase_list.write_text("prime minister\n", encoding="utf-8")
    config = PreprocessConfig(phrase_list=str(phrase_list))
    preprocess(lee(), config, tmp_path / "prepared", processes=1)
    assert preprocess(lee(), config, tmp_path / "prepared", processes=1).reused
    phrase_list.write_text("prime minister\nwest bank\n", encoding="utf-8")
    with pytest.raises(TopicsError, match="holds a different prepared corpus"):
        preprocess(lee(), config, tmp_path / "prepared", processes=1)
    again = preprocess(lee(), config, tmp_path / "prepared", processes=1, force=True)
    assert "west_bank" in again.vocabulary


def test_paths_are_relative_to_the_toml_file(tmp_path, monkeypatch):
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "preprocess.toml").write_text('[preprocess]\nphrase_list = "lists/mine.txt"\n', encoding="utf-8")
    (folder / "experiment.toml").write_text(
        'name = "x"\n[corpus]\nsource = "sample:lee"\n[preprocess]\nphrases = "bigrams"\n'
        'phrase_blocklist = ["a.txt", "/abs/b.txt"]\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    configs = Path("configs")
    assert load_config(configs / "preprocess.toml", "preprocess").phrase_list == str(Path("configs/lists/mine.txt"))
    experiment = load_experiment_config(configs / "experiment.toml")
    assert experiment.preprocess["phrase_blocklist"] == [str(Path("configs/a.txt")), "/abs/b.txt"]
    # a flag is relative to where the command runs
    assert load_config(configs / "preprocess.toml", "preprocess", {"phrase_list": "x.txt"}).phrase_list == "x.txt"


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "line", "says"),
    [
        ("phrases.txt", "prime minister\n# fine\nnewyork\n", 3, "one word"),
        ("phrases.txt", "prime minister\nthe president\n", 2, "drop 'the'"),
        ("phrases.txt", "prime minister\nsydney harbour bridge walk\n", 2, "4 words"),
        ("phrases.json", '{"layers": [\n  {"phrasegrams": {\n    "west_bank": 3,\n    "prime": 2}}]}', 4, "must be 2 words"),
        ("phrases.json", '{"layers": [\n  {"phrasegrams": {\n    "west_bank": 3,\n  }]}', 4, "not valid JSON"),
        ("phrases.json", '{"layers": [{"phrasegrams": {"west_bank": "high"}}]}', 1, "number or null"),
    ],
)
def test_a_bad_line_is_named_by_file_and_line_and_nothing_is_written(tmp_path, name, text, line, says):
    phrase_list = tmp_path / name
    phrase_list.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{name}:{line}: .*{says}") as error:
        preprocess(lee(), PreprocessConfig(phrase_list=str(phrase_list)), tmp_path / "prepared", processes=1)
    assert "phrase_list" in str(error.value)
    assert list(tmp_path.iterdir()) == [phrase_list]


def test_the_command_line_refuses_a_missing_or_malformed_file(tmp_path):
    missing = invoke("preprocess", "sample:lee", "--out", tmp_path / "a", "--phrase-list", tmp_path / "none.txt")
    assert missing.exit_code == 2
    assert "none.txt: no such file ([preprocess] phrase_list" in " ".join(missing.output.split())
    blocklist = tmp_path / "blocked.txt"
    blocklist.write_text("west bank\nbank\n", encoding="utf-8")
    malformed = invoke(
        "preprocess", "sample:lee", "--out", tmp_path / "b", "--phrases", "bigrams", "--phrase-blocklist", blocklist
    )
    assert malformed.exit_code == 2
    assert "blocked.txt:2: 'bank' is one word" in " ".join(malformed.output.split())
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_list_with_learnt_phrases_is_refused(tmp_path):
    config = tmp_path / "preprocess.toml"
    config.write_text('[preprocess]\nphrases = "bigrams"\nphrase_list = "mine.txt"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[preprocess\] phrase_list gives the phrases to join.*phrases = 'none'"):
        load_config(config, "preprocess")


# --- the text format -----------------------------------------------------------------------------

WORD = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8).filter(
    lambda word: not any(char.isspace() or char in "_#" for char in word)
)


@settings(max_examples=200, deadline=None)
@given(
    phrases=st.lists(st.lists(WORD, min_size=2, max_size=4), max_size=8),
    separators=st.lists(st.sampled_from([" ", "_", "\t", " _ ", "  "]), min_size=1),
    comments=st.lists(st.sampled_from(["", "# note", "  #", "#a b c"]), min_size=1),
)
def test_phrase_lines_round_trip(phrases, separators, comments):
    """Phrases written one a line, in any separators, with comments and blank lines between, are
    read back as the same words, each with its line."""
    lines, expected = [], []
    for index, words in enumerate(phrases):
        lines.append(comments[index % len(comments)])  # a comment or blank line
        lines.append(separators[index % len(separators)].join(words) + " " + comments[-1])
        expected.append((tuple(words), len(lines)))
    parsed = parse_phrase_lines("\n".join(lines))
    assert [(phrase.words, phrase.line) for phrase in parsed] == expected
