"""Shared fixtures: a migrated database (SQLite, or PostgreSQL when INTYG_TEST_DATABASE_URL is set),
the service wired to it, an in-process client, and a real server in a second process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from intygstjanst.app import create_app
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import Base
from intygstjanst.registers.persons import FilePersonLookup, Person
from intygstjanst.services import Services
from intygstjanst.settings import Settings

from intygstjanst.tests.signing_support import SigningPki
from intygstjanst.tests.soap import TEST_PERSON, VALIDATION_PERSON
from intygstjanst.tests.support import REPO_DIR, START_SECONDS

if TYPE_CHECKING:
    from intygstjanst.tests.tlsserver import Pki

TEST_DATABASE_URL = os.environ.get("INTYG_TEST_DATABASE_URL", "")

TESTS_DIR = Path(__file__).resolve().parent
# The groups, one folder each; every test is marked with its folder's name (pyproject registers them).
GROUPS = ("unit", "contract", "e2e", "differential", "attacks", "browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its group, so that ``-m e2e`` (or ``-m "not e2e"``) selects by kind."""
    ungrouped = []
    for item in items:
        group = item.path.resolve().relative_to(TESTS_DIR).parts[0]
        if group in GROUPS:
            item.add_marker(getattr(pytest.mark, group))
        else:
            ungrouped.append(item.nodeid)
    if ungrouped:
        raise pytest.UsageError(f"tests outside the group folders {', '.join(GROUPS)}: {', '.join(ungrouped)}")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of its own for this test session.

    On PostgreSQL a fresh database is created next to the configured one (and dropped at the end),
    so concurrent test runs on one server never see each other's rows.
    """
    with scratch_database(tmp_path_factory.mktemp("db") / "test.db", "intyg_test") as url:
        yield url


@contextmanager
def scratch_database(sqlite_file: Path, prefix: str) -> Iterator[str]:
    """An empty database of its own: ``sqlite_file``, or on PostgreSQL a database named after
    ``prefix`` created next to the configured one and dropped when the block ends."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{sqlite_file}"
        return
    base = make_url(TEST_DATABASE_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (for migrations): SQLite, or a scratch PostgreSQL database next
    to the test one."""
    with scratch_database(tmp_path / "scratch.db", "intyg_scratch") as url:
        yield url


@pytest.fixture(scope="session")
def migrated_db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def db(migrated_db: Database) -> Database:
    """The session database, emptied before each test."""
    with migrated_db.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())
    return migrated_db




@pytest.fixture
def persons() -> FilePersonLookup:
    return FilePersonLookup({TEST_PERSON: Person(TEST_PERSON, first_name="Tolvan", last_name="Tolvansson")}, [VALIDATION_PERSON])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


@pytest.fixture
def services(settings: Settings, db: Database, persons: FilePersonLookup) -> Services:
    return Services.build(settings, db=db, persons=persons)


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services), raise_server_exceptions=True) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(args: list[str], env: dict[str, str], log_path: Path, health_url: str, verify: object = True) -> subprocess.Popen[bytes]:
    """Start ``intygstjanst <args>`` in a second process and wait until ``health_url`` answers."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "intygstjanst.cli", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **env},
        cwd=REPO_DIR,
    )
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(health_url, timeout=1, verify=verify).status_code == 200:  # type: ignore[arg-type]
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not start in {START_SECONDS} s:\n{log_path.read_text(errors='replace')}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db: Database) -> Iterator[LiveServer]:
    """The real ``intygstjanst serve`` in a second process, plain HTTP, on the test database; one
    per test module (tests using it pick unique certificate ids)."""
    tmp_path = tmp_path_factory.mktemp("server")
    port = free_port()
    log_path = tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    process = start_server(
        ["serve", "--port", str(port), "--database-url", database_url, "--data-dir", str(tmp_path / "data")],
        {"INTYG_TLS_MODE": "off"},
        log_path,
        f"{base}/health",
    )
    try:
        yield LiveServer(base, process, log_path)
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The transport-security tests' PKI (tests/tlsserver.py): consumers in every state, one set per module."""
    from intygstjanst.tests.tlsserver import make_pki  # tlsserver imports this module

    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def signing_pki(tmp_path_factory: pytest.TempPathFactory) -> SigningPki:
    """A development CA whose doctors sign certificates (tests/signing_support.py); trusted by the
    tests that configure it as signature_trust_bundle."""
    return SigningPki.create(tmp_path_factory.mktemp("signing-pki"))


@pytest.fixture(scope="session")
def other_signing_pki(tmp_path_factory: pytest.TempPathFactory) -> SigningPki:
    """Another CA: its doctors' signatures are intact but from an untrusted issuer."""
    return SigningPki.create(tmp_path_factory.mktemp("other-signing-pki"))
