"""An OK answer means the certificate is on disk: every connection the service uses commits durably.

SQLite: WAL with ``synchronous=FULL`` (the WAL is synced at each commit). PostgreSQL: synchronous
commit on, even where the database's own default says off. The PostgreSQL case runs on the test
database (``INTYG_TEST_DATABASE_URL``); the SQLite case always runs, on a file of its own.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from intygstjanst.persistence.db import Database

from intygstjanst.tests.support import postgresql_only

SQLITE_FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def durability(connection: Connection, sqlite: bool) -> tuple[object, ...]:
    if sqlite:
        return (
            connection.exec_driver_sql("PRAGMA journal_mode").scalar(),
            connection.exec_driver_sql("PRAGMA synchronous").scalar(),
        )
    return (connection.exec_driver_sql("SHOW synchronous_commit").scalar(),)


def every_kind_of_connection(db: Database) -> list[tuple[object, ...]]:
    """What the writers (transaction), the readers and tooling (session) see, on several pooled
    connections at once so that more than one is opened."""
    seen = []
    with db.transaction() as first, db.read() as second, db.read() as third:
        for connection in (first, second, third):
            seen.append(durability(connection, db.is_sqlite))
    with db.session() as session:
        seen.append(durability(session.connection(), db.is_sqlite))
    return seen


def test_sqlite_connections_sync_the_wal_at_every_commit(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'durable.db'}")
    try:
        assert set(every_kind_of_connection(db)) == {("wal", SQLITE_FULL)}
    finally:
        db.dispose()


def test_the_test_database_commits_durably(migrated_db: Database) -> None:
    expected = ("wal", SQLITE_FULL) if migrated_db.is_sqlite else ("on",)
    assert set(every_kind_of_connection(migrated_db)) == {expected}


def test_postgresql_commits_synchronously_even_when_the_database_says_off(migrated_db: Database) -> None:
    """Where an operator lowered the database's default, the service's connections still wait for
    the WAL flush; a plain connection to the same database shows the lowered default."""
    postgresql_only(migrated_db.is_sqlite)
    url = make_url(migrated_db.url)
    # Without a pool: a database's defaults apply to sessions started after they are set.
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{url.database}" SET synchronous_commit = off'))
    try:
        with admin.connect() as plain:
            assert durability(plain, sqlite=False) == ("off",)
        db = Database(migrated_db.url)
        try:
            assert set(every_kind_of_connection(db)) == {("on",)}
        finally:
            db.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{url.database}" RESET synchronous_commit'))
        admin.dispose()
