"""topics.preprocessing.boilerplate on real text: raw 20 Newsgroups posts, BBC articles, the seed
article, and generated articles with a shared sign-off line."""

from __future__ import annotations

import hashlib
import math
import random
import tarfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topics.config import PreprocessConfig, validate
from topics.corpus import read_corpus
from topics.corpus.documents import CorpusReport, Document
from topics.errors import ConfigError
from topics.preprocessing.boilerplate import (
    Cleaner,
    header_block,
    normalise_line,
)
from topics.preprocessing.prepare import preprocess, resolve_config
from topics.preprocessing.repeated import LineSample, sample_level

ALL_RULES = {f"boilerplate_{rule}": True for rule in ("headers", "quotes", "signature", "repeated")}
OUTPUTS = ("tokens.npy", "offsets.npy", "vocabulary.txt", "documents.csv", "phrases.json", "term_frequency.npy")


class DocumentsCorpus:
    """The duck type preprocess relies on: re-iterable Documents, .report, .fingerprint(), .format."""

    def __init__(self, documents: list[Document], format: str = "text"):
        self.documents, self.format, self.report = documents, format, CorpusReport()

    def __iter__(self):
        self.report = CorpusReport()
        for doc in self.documents:
            self.report.documents_read += 1
            yield doc

    def fingerprint(self) -> str:
        return hashlib.sha256(repr([(d.id, d.text) for d in self.documents]).encode()).hexdigest()


@pytest.fixture(scope="module")
def posts_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 raw 20 Newsgroups posts (every 400th of the archive, in name order), one file each."""
    target = tmp_path_factory.mktemp("posts")
    with tarfile.open(shared_data / "20news-bydate.tar.gz") as archive:
        members = sorted((m for m in archive.getmembers() if m.isfile()), key=lambda m: m.name)
        for member in members[::400]:
            data = archive.extractfile(member)
            assert data is not None
            (target / f"{member.name.replace('/', '_')}.txt").write_bytes(data.read())
    return target


@pytest.fixture(scope="module")
def posts(posts_dir: Path) -> list[Document]:
    return list(read_corpus(posts_dir, format="text"))


def generated_articles(n: int = 300, seed: int = 0) -> list[Document]:
    """Articles of random words from a few topics, every one ending in the same sign-off line
    (spelt with varying case and spaces), and one line shared by only three of them."""
    rng = random.Random(seed)
    topics = [[f"{stem}{i}" for i in range(30)] for stem in ("ocean", "planet", "market", "senate")]
    docs = []
    for index in range(n):
        words = topics[index % 4]
        body = "\n".join(" ".join(rng.choices(words, k=12)) for _ in range(6))
        sign_off = rng.choice(["Reporting by Jane Doe; Editing by John Smith", "reporting by  Jane Doe;   editing by John SMITH"])
        rare = "\nSpecial correspondent notebook entry" if index < 3 else ""
        docs.append(Document(id=f"gen-{index}", text=f"Headline {index}\n\n{body}{rare}\n\n{sign_off}\n"))
    return docs


def config(**overrides) -> PreprocessConfig:
    return PreprocessConfig(**{**ALL_RULES, "no_below": 1, "no_above": 1.0, **overrides})


# --- the per-document rules on real posts -------------------------------------------------------


def test_header_block_goes_and_the_subject_stays(posts):
    cleaner = Cleaner(config())
    for doc in posts:
        lines = doc.text.split("\n")
        subject = next(line for line in lines if line.startswith("Subject:"))
        cleaned = cleaner(doc.text)
        assert cleaned.removed["headers"] >= 2, doc.id  # From and Lines at least (the Subject stays)
        expected = subject.removeprefix("Subject:").strip()
        while expected.lower().startswith("re:"):
            expected = expected[3:].strip()
        assert cleaned.lines[0] == expected, doc.id
        header = [line for line in lines[:8] if line.startswith(("From:", "Lines:", "Organization:"))]
        assert header and not set(header) & set(cleaned.lines), doc.id


def test_quoted_replies_and_attributions_go(posts):
    cleaner = Cleaner(config())
    quoting = [doc for doc in posts if any(line.startswith(">") for line in doc.text.split("\n"))]
    assert len(quoting) >= 10
    for doc in quoting:
        cleaned = cleaner(doc.text)
        assert cleaned.removed["quotes"] > 0
        assert not any(line.lstrip().startswith((">", "|>", ":>")) for line in cleaned.lines), doc.id
        assert not any(line.rstrip().endswith("writes:") for line in cleaned.lines), doc.id


def test_signature_after_the_last_marker_goes(posts):
    cleaner = Cleaner(config())
    signed = []
    for doc in posts:
        lines = doc.text.rstrip("\n").split("\n")
        marks = [index for index, line in enumerate(lines) if line in ("--", "-- ")]
        if marks and len(lines) - 1 - marks[-1] <= 15:
            signed.append((doc, lines[marks[-1] :]))
    assert signed, "no post with a signature among the sample"
    for doc, signature in signed:
        cleaned = cleaner(doc.text)
        assert cleaned.removed["signature"] >= len(signature)
        assert not {line for line in signature if line.strip()} & set(cleaned.lines[-3:]), doc.id
    long = "body\n--\n" + "\n".join(f"line {i}" for i in range(16))  # 16 lines after the marker: not a signature
    assert Cleaner(config())(long).removed["signature"] == 0


def test_articles_lose_nothing_to_the_per_document_rules(bbc_articles_dir, seed_article):
    cleaner = Cleaner(config())
    docs = list(read_corpus(bbc_articles_dir, format="articles")) + list(read_corpus(seed_article.parent, format="articles"))
    assert len(docs) >= 2226
    for doc in docs:
        cleaned = cleaner(doc.text)
        assert sum(cleaned.removed.values()) == 0 and cleaned.lines == doc.text.split("\n"), doc.id


def test_header_block_needs_two_known_keys():
    assert header_block(["Lines: 3", "Summary: two known keys", "", "text"]) == (2, "")
    assert header_block(["Note: one known key", "Summary: is not enough", "", "text"]) == (0, "")
    assert header_block(["Warning: careful", "Idea: maybe", "", "text"]) == (0, "")
    assert header_block(["From: a@b.c", "Subject: Re: Re: the plan", "  continued", "", "text"]) == (3, "the plan")


# --- the repeated-lines rule --------------------------------------------------------------------


def test_repeated_sign_off_line_is_removed_and_reported(tmp_path):
    docs = generated_articles()
    prepared = preprocess(DocumentsCorpus(docs), config(), tmp_path / "out", processes=1)
    repeated = prepared.report["boilerplate"]["removed"]["repeated"]
    assert repeated["lines"] == 300 and repeated["documents"] == 300
    assert repeated["top_lines"] == [["reporting by jane doe; editing by john smith", 300]]
    assert repeated["sample_documents"] == 300 and repeated["min_documents_in_sample"] == 5
    assert not {"reporting", "jane", "doe", "edit", "editing", "john", "smith"} & set(prepared.vocabulary)
    assert {"special", "correspondent", "notebook"} <= set(prepared.vocabulary)  # in 3 documents: kept
    off = preprocess(DocumentsCorpus(docs), config(boilerplate_repeated=False), tmp_path / "off", processes=1)
    assert {"jane", "doe", "smith"} <= set(off.vocabulary)


def test_repeated_lines_counted_on_every_kth_document():
    """LineSample keeps every 2**m-th document, whatever the workers it is split over."""
    rng = random.Random(1)
    lines = [{f"line {rng.randrange(40)}" for _ in range(5)} for _ in range(1000)]
    samples = [LineSample(limit=100) for _ in range(3)]
    for index, doc_lines in enumerate(lines):
        samples[(index // 128) % 3].add(index, {normalise_line(line) for line in doc_lines})
    level = sample_level(1000, 100)
    assert 2**level == 16 and math.ceil(1000 / 16) == 63
    expected = Counter(hash(line) for index, doc_lines in enumerate(lines) if index % 16 == 0 for line in doc_lines)
    counted: Counter = Counter()
    for sample in samples:
        for lvl, (keys, counts) in sample.arrays().items():
            if lvl >= level:
                counted.update(dict(zip(keys.tolist(), counts.tolist(), strict=True)))
    assert counted == expected


# --- the report, opt-out, processes -------------------------------------------------------------


def test_report_counts_add_up(posts, tmp_path):
    docs = posts + generated_articles(60)
    prepared = preprocess(DocumentsCorpus(docs), config(), tmp_path / "out", processes=1)
    report = prepared.report["boilerplate"]
    assert report["rules"] == {"headers": True, "quotes": True, "signature": True, "repeated": True}
    assert report["documents"] == len(docs)
    assert report["lines_read"] == sum(len(doc.text.split("\n")) for doc in docs)
    assert report["lines_read"] == report["lines_kept"] + report["lines_removed"]
    assert report["lines_removed"] == sum(rule["lines"] for rule in report["removed"].values())
    assert report["removed"]["headers"]["documents"] == len(posts)
    assert report["removed"]["repeated"]["documents"] == 60
    flagged = report["mostly_removed"]
    assert flagged["documents"] == len(flagged["ids"]) + flagged["not_listed"] > 0
    assert set(flagged["ids"]) <= {doc.id for doc in posts}
    assert (
        prepared.report["warnings"][
            "documents that lost more than half of their lines to boilerplate rules (see boilerplate.mostly_removed)"
        ]
        == flagged["documents"]
    )


@pytest.mark.parametrize("rule", ["headers", "quotes", "signature", "repeated"])
def test_each_rule_can_be_turned_off(posts, tmp_path, rule):
    docs = posts + generated_articles(60)
    on = preprocess(DocumentsCorpus(docs), config(), tmp_path / "on", processes=1).report["boilerplate"]
    off = preprocess(DocumentsCorpus(docs), config(**{f"boilerplate_{rule}": False}), tmp_path / "off", processes=1)
    report = off.report["boilerplate"]
    assert report["rules"][rule] is False and rule not in report["removed"]
    assert on["removed"][rule]["lines"] > 0
    assert report["lines_removed"] < on["lines_removed"]
    assert off.config.model_dump()[f"boilerplate_{rule}"] is False


def test_defaults_depend_on_the_format():
    for format in ("articles", "text", "jsonl", "csv"):
        assert all(getattr(resolve_config(PreprocessConfig(), format), key) for key in ALL_RULES), format
    for format in ("lines", "sample", None):
        assert not any(getattr(resolve_config(PreprocessConfig(), format), key) for key in ALL_RULES), format
    assert not resolve_config(PreprocessConfig(boilerplate_headers=True), "octis").boilerplate_headers
    assert not resolve_config(PreprocessConfig(boilerplate_quotes=False), "text").boilerplate_quotes


def test_processes_give_identical_outputs_with_boilerplate(posts, tmp_path):
    docs = generated_articles() + posts  # 348 documents: three chunks
    settings_ = config(phrases="bigrams", repeated_min_share=0.05)
    one = preprocess(DocumentsCorpus(docs), settings_, tmp_path / "one", processes=1)
    for processes in (2, 3):
        other = preprocess(DocumentsCorpus(docs), settings_, tmp_path / f"p{processes}", processes=processes)
        for name in OUTPUTS:
            assert (other.path / name).read_bytes() == (one.path / name).read_bytes(), name
        assert other.report["boilerplate"] == one.report["boilerplate"]
    without_repeated = config(phrases="bigrams", boilerplate_repeated=False)
    one = preprocess(DocumentsCorpus(docs), without_repeated, tmp_path / "one-b", processes=1)
    two = preprocess(DocumentsCorpus(docs), without_repeated, tmp_path / "two-b", processes=2)
    for name in OUTPUTS:
        assert (two.path / name).read_bytes() == (one.path / name).read_bytes(), name


# --- bad input and properties -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(1.5, "must be < 1.0, got 1.5"), (0, "must be > 0.0, got 0"), (1.0, "must be < 1.0, got 1.0")]
)
def test_repeated_share_out_of_range_is_one_config_error(value, expected):
    with pytest.raises(ConfigError) as error:
        validate(PreprocessConfig, {"repeated_min_share": value}, "exp.toml", "preprocess")
    assert str(error.value) == f"exp.toml: [preprocess] repeated_min_share {expected}"


LINES = st.sampled_from(
    [
        "From: someone@example.org (Some One)",
        "Subject: Re: the question",
        "Organization: a university",
        "Lines: 12",
        "Note: not a header key",
        "  continued header",
        "> a quoted line",
        "|> quoted twice",
        ":> quoted otherwise",
        "In article <123@x.org>, someone@x.org",
        "someone@x.org (Some One) writes:",
        "she wrote:",
        "--",
        "-- ",
        "---",
        "",
        "   ",
        "plain text of the post",
        "Reporting by Jane Doe",
    ]
)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.one_of(LINES, st.text(alphabet=st.characters(blacklist_characters="\n"), max_size=30)), max_size=40))
def test_cleaning_only_drops_lines(lines):
    """The cleaned lines are the original's in order, some dropped (the Subject's text first when a
    header block went), and the counts add up."""
    text = "\n".join(lines)
    original = text.split("\n")
    cleaned = Cleaner(config())(text)
    kept = cleaned.lines
    end, subject = header_block(original)
    if end and subject:
        assert kept[0] == subject and subject in next(line for line in original[:end] if line.lower().startswith("subject:"))
        kept, original = kept[1:], original[end:]
    remaining = iter(original)
    assert all(any(line == candidate for candidate in remaining) for line in kept)  # a subsequence
    assert cleaned.lines_read == len(text.split("\n")) == len(cleaned.lines) + sum(cleaned.removed.values())
