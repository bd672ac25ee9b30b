"""Database.write: concurrent writers of one process (threads, as with handler_threads) each get
their own result or exception, a work that raises leaves nothing behind while the others of its
batch are stored, and on SQLite they share commits (group commit). On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Connection, event, func, insert, select
from sqlalchemy.exc import IntegrityError

from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import ApprovedReceiver

from intygstjanst.tests.support import sqlite_only

TABLE = ApprovedReceiver.__table__
WRITERS = 48


def row(certificate_id: str) -> dict[str, object]:
    return {
        "certificate_id": certificate_id,
        "receiver_id": "FKASSA",
        "certificate_type": "LISJP",
        "approval": "YES",
        "registered_at": dt.datetime(2026, 12, 3),
    }


def stored(db: Database) -> set[str]:
    with db.read() as conn:
        return set(conn.execute(select(TABLE.c.certificate_id)).scalars())


def test_concurrent_writers_each_get_their_result_and_failures_stay_their_own(db: Database) -> None:
    start = threading.Barrier(WRITERS)

    def writer(i: int) -> str:
        def work(conn: Connection) -> str:
            conn.execute(insert(TABLE), row(f"gc-{i}"))
            if i % 7 == 0:
                # A duplicate key: this writer's statements are rolled back, nobody else's.
                conn.execute(insert(TABLE), row(f"gc-{i}"))
            return f"stored gc-{i}"

        start.wait()
        try:
            return db.write(work)
        except IntegrityError:
            return "refused"

    with ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(writer, range(WRITERS)))
    assert results == ["refused" if i % 7 == 0 else f"stored gc-{i}" for i in range(WRITERS)]
    assert stored(db) == {f"gc-{i}" for i in range(WRITERS) if i % 7 != 0}


def test_a_write_returns_only_once_committed(db: Database) -> None:
    """What a writer reports as stored is visible to a new connection as soon as write returns."""

    def writer(i: int) -> bool:
        db.write(lambda conn: conn.execute(insert(TABLE), row(f"seen-{i}")))
        with db.read() as conn:
            return conn.execute(select(func.count()).where(TABLE.c.certificate_id == f"seen-{i}")).scalar_one() == 1

    with ThreadPoolExecutor(16) as pool:
        assert all(pool.map(writer, range(64)))


def test_writers_share_commits_on_sqlite(db: Database) -> None:
    sqlite_only(db.is_sqlite)  # PostgreSQL groups concurrent commits itself
    commits: list[object] = []
    listener = commits.append
    event.listen(db.engine, "commit", listener)
    try:
        start = threading.Barrier(32)

        def writer(i: int) -> None:
            start.wait()
            db.write(lambda conn: conn.execute(insert(TABLE), row(f"shared-{i}")))

        with ThreadPoolExecutor(32) as pool:
            list(pool.map(writer, range(32)))
    finally:
        event.remove(db.engine, "commit", listener)
    assert len({i for i in stored(db) if i.startswith("shared-")}) == 32
    assert len(commits) < 32, "every writer committed on its own"


def test_a_sqlite_writer_holds_the_lock_file_other_processes_queue_on(db: Database) -> None:
    """Writers of other processes queue on a file lock beside the database (woken when it is free)
    instead of polling SQLite's busy_timeout; taking that lock without waiting is refused while a
    write transaction is open, and granted once it has ended."""
    sqlite_only(db.is_sqlite)
    lock_path = db.url.split("///", 1)[1] + "-writer.lock"

    def free() -> bool:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)
        return True

    with db.transaction() as conn:
        conn.execute(insert(TABLE).values(row("held")))
        assert not free()
    assert free()
    assert "held" in stored(db)
