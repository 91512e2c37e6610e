"""What one pass over a corpus has already seen, in memory that grows by bytes, not objects, a document.

A reading pass checks every document against the ones before it (repeated files, texts, urls and
ids). Kept as Python sets and dicts of strings and digests, that took about 610 bytes a document:
600 MB at a million articles. ``DigestTable`` keeps fixed-width digests (and a fixed-width value
for each) in a few byte strings, about ``digest size - 2 + value size`` bytes an entry;
``NumberedStrings`` keeps strings that are rarely read again (the sources of the files kept)
compressed, about 3 bytes a path of a numbered archive.
"""

from __future__ import annotations

import zlib
from array import array

#: keys a DigestTable holds in a dict before merging them into its byte strings
BUFFER_SIZE = 1 << 15

_PARTS = 16  # byte strings of a table: a merge copies one at a time
_BUCKETS = 65536 // _PARTS  # groups of records in each, by the key's first 16 bits


class DigestTable:
    """Fixed-width keys (digests), each stored with the fixed-width value it was first added with.

    New keys wait in a dict; every ``BUFFER_SIZE`` of them are merged into 16 byte strings, one
    per value of the key's first 4 bits, holding the records ``key[2:] + value`` grouped by the
    key's first 16 bits (each group's start in ``_starts``). A lookup searches for ``key[2:]``
    within the key's group with ``bytes.find``: no Python object an entry, a few hundred
    nanoseconds a lookup, and a merge copies one sixteenth of the table at a time.
    """

    def __init__(self, key_size: int, value_size: int = 0) -> None:
        if key_size < 4 or value_size < 0:
            raise ValueError(f"key_size must be >= 4 and value_size >= 0, got {key_size} and {value_size}")
        self.key_size, self.value_size = key_size, value_size
        self._width = key_size - 2 + value_size  # a stored record: the first two bytes are its group
        self._recent: dict[bytes, bytes] = {}
        self._records = [b""] * _PARTS
        # where each group's records start in its part, in bytes; replaced at a merge, never changed in place
        self._starts = [array("Q", bytes(8 * (_BUCKETS + 1)))] * _PARTS
        self._merged = 0

    def __len__(self) -> int:
        return self._merged + len(self._recent)

    def setdefault(self, key: bytes, value: bytes = b"") -> bytes | None:
        """The value stored with ``key``; or None when ``key`` is new, and it is then stored with ``value``.

        ``key`` is ``key_size`` bytes, ``value`` ``value_size`` bytes (checked when they are merged)."""
        found = self._recent.get(key)
        if found is not None:
            return found
        first = key[0]
        starts = self._starts[first >> 4]
        bucket = (first & 15) << 8 | key[1]
        start = starts[bucket]
        end = starts[bucket + 1]
        if start != end:
            records, rest, width = self._records[first >> 4], key[2:], self._width
            at = records.find(rest, start, end)
            while at >= 0:
                if (at - start) % width == 0:  # a record's start, not bytes across two records
                    return records[at + self.key_size - 2 : at + width]
                at = records.find(rest, at + 1, end)
        self._recent[key] = value
        if len(self._recent) >= BUFFER_SIZE:
            self._merge()
        return None

    def _merge(self) -> None:
        """The waiting keys into the byte strings, one part at a time."""
        import numpy as np

        size, width, count = self.key_size + self.value_size, self._width, len(self._recent)
        joined = b"".join([key + value for key, value in self._recent.items()])
        if len(joined) != count * size:
            raise ValueError(f"DigestTable: keys of {self.key_size} bytes and values of {self.value_size} bytes expected")
        new = np.frombuffer(joined, dtype=np.uint8).reshape(count, size)
        buckets = new[:, 0].astype(np.int64) << 8 | new[:, 1]
        order = np.argsort(buckets, kind="stable")
        new, buckets = new[order], buckets[order]
        part_ends = np.searchsorted(buckets, np.arange(1, _PARTS + 1) * _BUCKETS)
        part_start = 0
        for part, part_end in enumerate(part_ends.tolist()):
            if part_end == part_start:
                continue
            old = np.frombuffer(self._records[part], dtype=np.uint8).reshape(-1, width)
            old_counts = (np.diff(np.frombuffer(self._starts[part], dtype=np.uint64)) // width).astype(np.int64)
            added = buckets[part_start:part_end] - part * _BUCKETS
            counts = old_counts + np.bincount(added, minlength=_BUCKETS)
            # old records stay before the new ones of their group (any order within a group would do)
            groups = np.concatenate([np.repeat(np.arange(_BUCKETS), old_counts), added])
            records = np.concatenate([old, new[part_start:part_end, 2:]])[np.argsort(groups, kind="stable")]
            self._records[part] = records.tobytes()
            self._starts[part] = array("Q", (np.concatenate([[0], np.cumsum(counts)]) * width).astype(np.uint64).tobytes())
            part_start = part_end
        self._merged += count
        self._recent = {}


def string_digest(text: str, size: int = 8) -> bytes:
    """``size`` bytes (at most 16) that tell ``text`` from other strings within this process: Python's
    keyed string hash (SipHash) of ``text`` and, past 8 bytes, of ``text`` with a NUL after it. About
    three times cheaper than ``hashlib.blake2b`` on a short string; never to be stored or compared
    across processes (the key changes with each process)."""
    digest = hash(text).to_bytes(8, "little", signed=True)
    if size <= 8:
        return digest[:size]
    return digest + hash(text + "\0").to_bytes(8, "little", signed=True)[: size - 8]


class NumberedStrings:
    """Strings numbered 0, 1, ... in the order they were added, zlib-compressed in blocks of 256.

    For strings that are kept for the rare case they are asked for again (the source of each file
    kept, named when a later file repeats it): reading one decompresses its block."""

    BLOCK = 256

    def __init__(self) -> None:
        self._blocks: list[bytes] = []
        self._pending: list[str] = []

    def __len__(self) -> int:
        return len(self._blocks) * self.BLOCK + len(self._pending)

    def append(self, text: str) -> None:
        if "\0" in text:
            raise ValueError("NumberedStrings: a string with a NUL character")
        self._pending.append(text)
        if len(self._pending) == self.BLOCK:
            self._blocks.append(zlib.compress("\0".join(self._pending).encode("utf-8", "surrogatepass"), 1))
            self._pending = []

    def __getitem__(self, number: int) -> str:
        block, index = divmod(number, self.BLOCK)
        if not 0 <= number < len(self):
            raise IndexError(number)
        if block == len(self._blocks):
            return self._pending[index]
        return zlib.decompress(self._blocks[block]).decode("utf-8", "surrogatepass").split("\0")[index]
