"""The compact tables a reading pass keeps (topics.corpus.seen), against plain dicts and lists."""

import hashlib
import random

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
