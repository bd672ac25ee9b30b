"""What the sick-leave lists have read of the stored cases, kept in a serving process.

A unit's coordinators list the same few thousand cases all day, and between two calls few of them
change. Two kinds of entries share one budget of bytes, least recently used out first:

* a case's **answer** (its certificates' ``intygsData``, a few kB) by its SHA-256
  (``sick_leave_case.digest``). The digest is of the answer itself, so an entry is never stale: a
  case that changes gets another digest, and an old one is only looked up by a list that read it.
* a unit's **listing** (what ``persistence.sickleave.unit_list`` made of the unit's stored cases for
  a window of days) with the revisions of the rows it was made from (``sick_leave_case.revision``,
  new with every row written). A list whose rows have exactly those revisions now would make the
  same listing again, so it takes the kept one; any row written, added or removed since changes
  the set, and the listing is made anew. Its size counts the answers it holds, even where the
  answers are kept on their own too.

Capacity 0 keeps nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, NamedTuple


class _Listing(NamedTuple):
    revisions: Sequence[int]  # sorted
    value: Any
    size: int


class CaseCache:
    """Answers of stored cases by digest and listings by key, at most ``capacity`` bytes of them;
    safe across threads."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Hashable, bytes | _Listing] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._size

    def get_many(self, digests: Sequence[bytes]) -> list[bytes | None]:
        """The answer of each digest (None where not held); those found become the most recent."""
        entries = self._entries
        found: list[bytes | None] = []
        with self._lock:
            for digest in digests:
                answer = entries.get(digest)
                if answer is not None:
                    entries.move_to_end(digest)
                found.append(answer)  # type: ignore[arg-type]  # digests name answers only
        return found

    def put_many(self, answers: Iterable[tuple[bytes, bytes]]) -> None:
        """Keep (digest, answer) pairs, dropping the least recently used beyond the capacity."""
        with self._lock:
            for digest, answer in answers:
                self._put(digest, answer, len(answer))

    def get_listing(self, key: Hashable, revisions: Sequence[int]) -> Any | None:
        """The listing kept under ``key`` if it was made from rows of exactly ``revisions`` (sorted)."""
        with self._lock:
            listing = self._entries.get(key)
            if not isinstance(listing, _Listing) or listing.revisions != revisions:
                return None
            self._entries.move_to_end(key)
            return listing.value

    def put_listing(self, key: Hashable, revisions: Sequence[int], value: Any, size: int) -> None:
        """Keep ``value``, made from rows of ``revisions`` (sorted) and holding ``size`` bytes,
        under ``key`` (replacing what was kept there)."""
        with self._lock:
            dropped = self._entries.pop(key, None)
            if dropped is not None:
                self._size -= _size_of(dropped)
            self._put(key, _Listing(revisions, value, size), size)

    def _put(self, key: Hashable, entry: bytes | _Listing, size: int) -> None:
        if self.capacity <= 0 or size > self.capacity or key in self._entries:
            return
        self._entries[key] = entry
        self._size += size
        while self._size > self.capacity:
            _, dropped = self._entries.popitem(last=False)
            self._size -= _size_of(dropped)


def _size_of(entry: bytes | _Listing) -> int:
    return len(entry) if isinstance(entry, bytes) else entry.size
