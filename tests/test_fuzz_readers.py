"""Fuzzing the corpus readers (issue 13): random bytes, random file names, random folder shapes.

Every input ends in exactly one of three outcomes: ingested as a document, skipped with a reason, or
one ``TopicsError`` for the whole corpus; nothing else raises, and ``inputs_seen == ingested + skipped``.
The suite runs a bounded number of examples; ``HYPOTHESIS_PROFILE=long`` runs many more (benchmarks).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from topics.corpus.decoding import shown
from topics.corpus.stream import read_corpus
from topics.errors import TopicsError

settings.register_profile("suite", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "2000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "suite")

# File names as bytes: any byte but '/' and NUL, so names that are not UTF-8 and hidden names occur.
names = st.binary(min_size=1, max_size=6).filter(lambda b: b"/" not in b and b"\x00" not in b and b not in (b".", b".."))
contents = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", errors="surrogatepass")),
    st.sampled_from([b"", b"# Title\n\nMay 1, 2020\n\nBody.\n\nOriginal url:\n<https://x.org/a>\n", b"%PDF-1.4\n"]),
)
shapes = st.lists(st.tuples(st.lists(names, min_size=1, max_size=3), contents), min_size=1, max_size=8)


def outcome(source: Path, format: str) -> tuple[list, object] | TopicsError:
    """The documents and report of one pass, or the one TopicsError; any other exception fails the test."""
    try:
        corpus = read_corpus(source, format)
        return list(corpus), corpus.report
    except TopicsError as error:
        return error


def check_identity(result) -> None:
    if isinstance(result, TopicsError):
        assert str(result)  # a message, naming what went wrong
        return
    documents, report = result
    assert report.inputs_seen == len(documents) + len(report.skipped) == report.documents_read + len(report.skipped)
    assert all(skipped.reason for skipped in report.skipped)
    assert len({document.id for document in documents}) == len(documents)  # ids are unique


@settings(settings.get_profile(PROFILE))
@given(shape=shapes, links=st.lists(st.tuples(names, st.sampled_from(["..", "/", "missing", "self", "sibling"])), max_size=2))
def test_fuzz_folder_readers(shape, links):
    with tempfile.TemporaryDirectory() as scratch:
        root = os.path.join(os.fsencode(scratch), b"corpus")
        os.mkdir(root)
        files: set[bytes] = set()
        for parts, data in shape:
            path = os.path.join(root, *parts)
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as handle:
                    handle.write(data)
            except OSError:  # a name already taken by a folder, or a file where a folder should be
                continue
            files.add(path)
        for name, target in links:
            link = os.path.join(root, name)
            destination = {"..": b"..", "/": b"/", "missing": b"missing", "self": name, "sibling": b"."}[target]
            try:
                os.symlink(destination, link)
            except OSError:
                continue
        assume(files)
        for format in ("text", "articles"):
            result = outcome(Path(os.fsdecode(root)), format)
            check_identity(result)
            if isinstance(result, TopicsError):
                continue
            documents, report = result
            sources = [document.source for document in documents] + [skipped.source for skipped in report.skipped]
            assert len(sources) == len(set(sources))  # one outcome per entry
            for file in files:  # each file ingested or skipped, or inside a folder skipped as a whole
                shown_file = shown(os.fsdecode(file))
                assert any(shown_file == source or shown_file.startswith(source + "/") for source in sources), shown_file


@settings(settings.get_profile(PROFILE))
@given(data=contents, format=st.sampled_from(["lines", "jsonl", "csv"]))
def test_fuzz_file_readers(data, format):
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"corpus.{format}"
        path.write_bytes(data)
        check_identity(outcome(path, format))
