"""The compact tables a reading pass keeps (topics.corpus.seen), against plain dicts and lists."""

import hashlib
import random
from pathlib import Path

import pytest

from topics.corpus import seen
from topics.corpus.seen import DigestTable, NumberedStrings


def _digest(text: str, size: int) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=size).digest()


@pytest.mark.parametrize(("key_size", "value_size", "buffer_size"), [(8, 0, 7), (12, 4, 64), (8, 8, 1000)])
def test_a_digest_table_answers_as_a_dict_through_merges(monkeypatch, key_size, value_size, buffer_size):
    monkeypatch.setattr(seen, "BUFFER_SIZE", buffer_size)
    rng = random.Random(key_size + value_size)
    # repeats of recent and of long-merged keys, and keys that share their first bytes (one group)
    keys = [_digest(f"key {i}", key_size) for i in range(3000)]
    keys += [bytes([7, 7]) + _digest(f"crowded {i}", key_size - 2) for i in range(300)]
    stream = [rng.choice(keys[: 1 + n // 2]) if n % 3 == 0 else keys[n % len(keys)] for n in range(9000)]
    table, reference = DigestTable(key_size, value_size), {}
    for n, key in enumerate(stream):
        value = n.to_bytes(8, "little")[:value_size]
        expected = reference.get(key)
        reference.setdefault(key, value)
        assert table.setdefault(key, value) == expected, n
    assert len(table) == len(reference)
    assert table._merged > 0  # the answers above came from the merged strings too
    for key, value in reference.items():
        assert table.setdefault(key, b"\xff" * value_size) == value


def test_a_digest_table_finds_no_key_across_two_records(monkeypatch):
    monkeypatch.setattr(seen, "BUFFER_SIZE", 2)
    table = DigestTable(key_size=6)
    # stored records (the keys without their first two bytes) abcd and efgh: "cdef" runs across them
    assert table.setdefault(b"\x00\x00abcd") is None
    assert table.setdefault(b"\x00\x00efgh") is None
    assert table._merged == 2
    assert table.setdefault(b"\x00\x00cdef") is None
    assert table.setdefault(b"\x00\x00efgh") == b""
    assert table.setdefault(b"\x00\x01abcd") is None  # another group


def test_a_digest_table_refuses_keys_of_another_size(monkeypatch):
    monkeypatch.setattr(seen, "BUFFER_SIZE", 2)
    table = DigestTable(key_size=8)
    table.setdefault(b"12345678")
    with pytest.raises(ValueError, match="keys of 8 bytes"):
        table.setdefault(b"123456789")


def test_numbered_strings_give_back_each_string():
    strings = NumberedStrings()
    texts = [f"/archive/{i // 1000:04d}/{i:07d}.txt" for i in range(1000)] + ["caf\u00e9", "\udce9 lone surrogate"]
    for text in texts:
        strings.append(text)
    assert len(strings) == len(texts)
    assert [strings[i] for i in range(len(texts))] == texts
    with pytest.raises(IndexError):
        strings[len(texts)]
    with pytest.raises(ValueError, match="NUL"):
        strings.append("a\0b")


ARTICLE = "# {title}\n\n2014-05-19\n\n{body}\n\nOriginal url:\n<https://example.org/{url}>\n"


def _reference_pass(folder: Path) -> tuple[list[str], dict[str, str], dict[str, int]]:
    """What a pass over a folder of articles must give, worked out with plain sets and dicts: the ids
    read, the skipped files' reasons, and the warnings (the rules of topics.corpus.stream)."""
    first_copies: dict[str, str] = {}
    texts: set[str] = set()
    url_texts: dict[str, str] = {}
    ids: set[str] = set()
    read, skipped, warnings = [], {}, {"text": 0, "url": 0, "id": 0}
    for file in sorted(folder.rglob("*.txt")):
        raw = file.read_text(encoding="utf-8")
        lines = raw.strip().split("\n")
        body, url = lines[4], lines[7]
        first = first_copies.setdefault(raw.strip(), str(file))
        if first != str(file):
            skipped[str(file)] = f"duplicate of {first}"
            continue
        warnings["text"] += body in texts
        texts.add(body)
        warnings["url"] += url_texts.setdefault(url, body) != body
        doc_id = file.stem
        if doc_id in ids:
            relative, n = file.relative_to(folder).as_posix(), 1
            while doc_id in ids:
                doc_id = f"{file.stem}@{relative}" + (f"#{n}" if n > 1 else "")
                n += 1
            warnings["id"] += 1
        ids.add(doc_id)
        read.append(doc_id)
    return read, skipped, warnings


def test_a_pass_over_many_articles_checks_repeats_across_merged_tables(tmp_path, monkeypatch):
    from topics.corpus.stream import read_corpus

    monkeypatch.setattr(seen, "BUFFER_SIZE", 8)  # 300 files: tens of merges of every table
    rng = random.Random(5)
    folder = tmp_path / "archive"
    bodies = [f"Body {i} of the council's budget." for i in range(120)]
    for number in range(300):
        # stems repeat across the three folders (ids made unique); bodies and urls repeat at random,
        # and one file in ten is an exact copy of an earlier one (skipped as a duplicate)
        stem = f"{number % 170:03d}"
        if number % 10 == 9:
            earlier = rng.choice(sorted(folder.rglob("*.txt")))
            text = earlier.read_text(encoding="utf-8")
        else:
            text = ARTICLE.format(title=f"t{number}", body=rng.choice(bodies), url=rng.randrange(200))
        path = folder / f"part{number % 3}" / f"{stem}.txt"
        if path.exists():  # a stem met again in the same folder: another name there
            path = path.with_name(f"{stem}@x.txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    expected_ids, expected_skipped, expected_warnings = _reference_pass(folder)
    corpus = read_corpus(folder, "articles")
    documents = list(corpus)
    assert [d.id for d in documents] == expected_ids
    assert {s.source: s.reason for s in corpus.report.skipped} == expected_skipped
    warnings = corpus.report.warnings
    assert warnings["same text as an earlier document"] == expected_warnings["text"] > 20
    assert warnings["same url as an earlier document, different text"] == expected_warnings["url"] > 20
    assert warnings["repeated id, made unique with the source (id@source)"] == expected_warnings["id"] > 20
    assert len(expected_skipped) > 20
