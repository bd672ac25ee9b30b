"""Group commit: writers of one process that come at the same time share one transaction and its
one sync to disk.

SQLite admits one writer at a time, and with ``synchronous=FULL`` every commit waits for the disk
(milliseconds, far more than the statements of a registration). Each writer hands its work to the
queue and waits: whoever finds no commit running takes every queued work, runs each inside a
SAVEPOINT of one transaction (a work that raises is rolled back alone, and its writer gets the
exception; a work alone in its batch needs no savepoint), commits once, and wakes them all. The
writers that queued while that commit was on the disk make up the next batch. A writer returns
only after the commit that holds its work has returned, so what it reports as stored is on disk;
when that commit fails, every writer of the batch gets the error, and nothing of the batch is
stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Connection

T = TypeVar("T")


class _Pending(Generic[T]):
    def __init__(self, work: Callable[[Connection], T]) -> None:
        self.work = work
        self.result: T | None = None
        self.error: BaseException | None = None
        self.done = False

    def run(self, connection: Connection) -> None:
        # The savepoint's statements go straight to the driver: through SQLAlchemy
        # (``begin_nested``) the two of them cost about as much as a registration's INSERTs.
        driver: Any = connection.connection.driver_connection
        driver.execute("SAVEPOINT group_commit")
        try:
            self.result = self.work(connection)
        except Exception as exc:
            self.error = exc
            driver.execute("ROLLBACK TO SAVEPOINT group_commit")
        driver.execute("RELEASE SAVEPOINT group_commit")

    def run_alone(self, connection: Connection) -> None:
        """Without a savepoint: when the work raises, so does the transaction, which rolls back
        just this work (two statements fewer for every write that found no company)."""
        self.result = self.work(connection)


class GroupCommit:
    """Runs works in shared transactions opened by ``transaction`` (committed when its block ends)."""

    def __init__(self, transaction: Callable[[], AbstractContextManager[Connection]]) -> None:
        self._transaction = transaction
        self._queue: list[_Pending[Any]] = []
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    def run(self, work: Callable[[Connection], T]) -> T:
        """``work``'s result once the transaction holding it is committed; its exception if it
        raised (its statements rolled back) or the commit failed."""
        pending = _Pending(work)
        with self._queue_lock:
            self._queue.append(pending)
        with self._commit_lock:
            if not pending.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit(batch)
        if pending.error is not None:
            raise pending.error
        return cast(T, pending.result)  # set, since the work returned

    def _commit(self, batch: list[_Pending[Any]]) -> None:
        try:
            with self._transaction() as connection:
                if len(batch) == 1:
                    batch[0].run_alone(connection)
                else:
                    for pending in batch:
                        pending.run(connection)
        except Exception as exc:
            # The work of a batch of one, the commit, or the transaction around the works failed:
            # nothing of the batch is stored.
            for pending in batch:
                if pending.error is None:
                    pending.error = exc
        finally:
            for pending in batch:
                pending.done = True
