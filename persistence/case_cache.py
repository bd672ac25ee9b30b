"""The stored cases' answers kept in a serving process, by their SHA-256 (``sick_leave_case.digest``).

A unit's list names thousands of cases whose answer (the certificates' ``intygsData``, a few kB
each) rarely changes between two calls of its coordinators: with the answers at hand, a list reads
only the cases' small columns and their digests, and fetches the answers of the cases that changed
since. The digest is of the answer itself, so an entry can never be stale: a case that changes gets
another digest, and an old one is only ever looked up by a list that read that old digest. Entries
leave least recently used first once their bytes exceed the capacity; capacity 0 keeps nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence


class CaseCache:
    """Answers of stored cases by digest, at most ``capacity`` bytes of them; safe across threads."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """Bytes of answers held."""
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
                found.append(answer)
        return found

    def put_many(self, answers: Iterable[tuple[bytes, bytes]]) -> None:
        """Keep (digest, answer) pairs, dropping the least recently used beyond the capacity."""
        if self.capacity <= 0:
            return
        entries = self._entries
        with self._lock:
            for digest, answer in answers:
                if len(answer) > self.capacity or digest in entries:
                    continue
                entries[digest] = answer
                self._size += len(answer)
            while self._size > self.capacity:
                _, dropped = entries.popitem(last=False)
                self._size -= len(dropped)
