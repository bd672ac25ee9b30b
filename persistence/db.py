"""The database: engine set-up for SQLite (WAL) and PostgreSQL, transactions, and migrations."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from intygstjanst.persistence.group_commit import GroupCommit
from intygstjanst.settings import Settings, SettingsError

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def utc_now() -> dt.datetime:
    """Naive UTC, the form every time is stored in the database."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class DatabaseSettingError(SettingsError):
    """The database a setting names cannot be used: a malformed URL, a driver that is not installed,
    or a server that cannot be reached. The message is one line naming the setting."""


class Database:
    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self._prepare_sqlite_dir(url)
            engine_options.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        else:
            engine_options.setdefault("pool_size", 10)
            engine_options.setdefault("max_overflow", 20)
            engine_options.setdefault("pool_pre_ping", True)
        # No statement parameters in exception texts: they hold request data (names, personnummer).
        engine_options.setdefault("hide_parameters", True)
        self.engine: Engine = create_engine(url, **engine_options)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
        elif self.engine.dialect.name == "postgresql":
            event.listen(self.engine, "connect", _postgresql_synchronous_commit)
        # Reads take SQLite's shared lock only (plain BEGIN); writes take the write lock up front.
        self._read_engine = self.engine.execution_options(read_only=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writers: AbstractContextManager[object] = _SqliteWriters(url) if self.is_sqlite else nullcontext()
        self._group = GroupCommit(self.transaction) if self.is_sqlite else None

    @classmethod
    def open(cls, url: str, setting: str = "database_url") -> Database:
        """The database at ``url``, connected once, or :class:`DatabaseSettingError` saying why not."""
        shown = safe_url(url)
        try:
            database = cls(url)
        except ArgumentError as exc:  # also an unknown dialect (NoSuchModuleError)
            raise DatabaseSettingError(f"{setting}: {shown!r} is not a usable database URL: {_first_line(exc)}") from None
        except ImportError as exc:
            raise DatabaseSettingError(
                f"{setting}: the database driver for {shown!r} is not installed ({exc}); "
                "supported: sqlite:///FILE and postgresql+psycopg://USER@HOST/DB"
            ) from None
        except OSError as exc:  # the SQLite file's directory cannot be created
            raise DatabaseSettingError(f"{setting}: cannot use {shown}: {exc}") from None
        try:
            database.ping()
        except DBAPIError as exc:
            database.dispose()
            raise DatabaseSettingError(f"{setting}: cannot connect to {shown}: {_first_line(exc.orig or exc)}") from None
        return database

    @classmethod
    @contextmanager
    def configured(cls, settings: Settings, *, newest_schema: bool = True) -> Iterator[Database]:
        """The database ``settings`` name, for one command: opened (see :meth:`open`), checked to be
        at the newest schema (see :meth:`require_newest_schema`) unless ``newest_schema`` is false,
        and disposed when the block ends."""
        database = cls.open(settings.effective_database_url, settings.database_setting)
        try:
            if newest_schema:
                database.require_newest_schema(settings.database_setting)
            yield database
        finally:
            database.dispose()

    @staticmethod
    def _prepare_sqlite_dir(url: str) -> None:
        path = _sqlite_file(url)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One unit of work: committed when the block ends, rolled back if it raises.

        Repositories work on Core connections: on the request path the ORM's unit-of-work
        bookkeeping cost more than the SQL itself.
        """
        with self._writers, self.engine.begin() as connection:
            yield connection

    def write(self, work: Callable[[Connection], T]) -> T:
        """``work`` in a transaction, durable when this returns (its result), rolled back if it
        raises (its exception). On SQLite, writers of this process that come at the same time
        share one transaction and one sync to disk (``group_commit``), each in a savepoint of its
        own; PostgreSQL commits concurrent transactions side by side (and groups their WAL flushes
        itself)."""
        if self._group is None:
            with self.transaction() as connection:
                return work(connection)
        return self._group.run(work)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._read_engine.connect() as connection:
            yield connection

    @contextmanager
    def session(self) -> Iterator[Session]:
        """An ORM session in one transaction, for tooling and tests that want mapped objects."""
        with self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def require_newest_schema(self, setting: str = "database_url") -> None:
        """:class:`DatabaseSettingError` unless the migrations have brought the schema to the newest
        revision: commands other than ``serve`` and ``db upgrade`` never migrate on their own."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        newest = set(ScriptDirectory.from_config(self.alembic_config()).get_heads())
        with self.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
        if current != newest:
            state = f"is at revision {', '.join(sorted(current))}, not the newest" if current else "has no tables yet"
            raise DatabaseSettingError(
                f"{setting}: the database {safe_url(self.url)} {state}; run 'intygstjanst db upgrade' "
                "(or start 'intygstjanst serve', which does it)"
            )

    def upgrade(self, revision: str = "head") -> None:
        from alembic import command

        command.upgrade(self.alembic_config(), revision)

    def alembic_config(self) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection_url"] = self.url
        config.attributes["engine"] = self.engine
        return config

    def dispose(self) -> None:
        self.engine.dispose()
        if isinstance(self._writers, _SqliteWriters):
            self._writers.close()


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@", 1)[-1] if "@" in url else url


def _sqlite_file(url: str) -> str | None:
    """The file a ``sqlite:///FILE`` URL names, or None for an in-memory database."""
    path = url.split("///", 1)[1] if "///" in url else ""
    return path if path and path != ":memory:" else None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


class _SqliteWriters:
    """Admits one writer transaction at a time, across threads and processes.

    SQLite admits one writer at a time, and a waiting writer polls with sleeps of up to 100 ms
    (busy_timeout): with two worker processes, the loser of every collision slept while the
    database stood free. Queueing the writers on a lock instead hands the database over the moment
    it is free: a thread lock within the process, and an exclusive ``flock`` on a file beside the
    database between processes (the kernel wakes the next waiter at once). Writers that do not
    come through here (migrations, tools) still meet busy_timeout and stay correct.
    """

    def __init__(self, url: str) -> None:
        path = _sqlite_file(url)
        self._path = f"{path}-writer.lock" if path is not None else None
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        if self._path is None:
            return
        try:
            if self._pid != os.getpid():  # a forked child must not share its parent's lock
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
            assert self._fd is not None
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None
        self._pid = 0

    def __exit__(self, *exc: object) -> None:
        try:
            if self._fd is not None and self._path is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is turned off so that BEGIN IMMEDIATE (below) is used:
    # a writer then takes the lock at the start of the transaction instead of failing to upgrade
    # a read lock half-way, which would surface as "database is locked" under concurrency.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # An OK answer promises the certificate is stored: FULL syncs the WAL to disk at every commit,
    # so a power loss cannot take back an acknowledged transaction (NORMAL could lose the last ones).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _postgresql_synchronous_commit(dbapi_connection: Any, _record: Any) -> None:
    # The server's default may have been lowered (synchronous_commit = off, by configuration, role or
    # database): a commit then returns before its WAL record is flushed, and an acknowledged
    # certificate could be lost in a crash. Every connection of ours insists on the flush.
    cursor = dbapi_connection.cursor()
    cursor.execute("SET SESSION synchronous_commit = on")
    cursor.close()
    dbapi_connection.commit()


def _sqlite_begin_immediate(connection: Any) -> None:
    read_only = connection.get_execution_options().get("read_only", False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
