"""The duplicate-registration race, really run: many clients register one certificate id at the same
moment against a server with two worker processes. Exactly one registration is stored and answered
OK; every other one is answered INFO "Certificate already exists" (result-codes.md, case 13), never an
error. On the test database: SQLite by default, PostgreSQL with INTYG_TEST_DATABASE_URL (CI runs both).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import Certificate, CertificateState
from intygstjanst.tests.conftest import free_port
from intygstjanst.tests.soap import REGISTER, certificate, envelope, result
from intygstjanst.tests.support import require_shared
from intygstjanst.tests.tlsserver import Server, running

CLIENTS = 40
ROUNDS = 5
XML = {"content-type": "text/xml; charset=utf-8"}


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db: Database) -> Iterator[Server]:
    require_shared()
    with running(tmp_path_factory.mktemp("race"), database_url, ["--tls-mode", "off", "--workers", "2"], lambda: True, scheme="http") as server:
        yield server


def register_all_at_once(base_url: str, body: bytes) -> list[tuple[str, str | None, str | None]]:
    """Every client on its own connection (warmed up first), released together by a barrier."""
    barrier = threading.Barrier(CLIENTS)

    def client(_: int) -> tuple[str, str | None, str | None]:
        with httpx.Client(base_url=base_url, timeout=60) as http:
            assert http.get("/health").status_code == 200  # connected before the start
            barrier.wait(timeout=60)
            response = http.post(REGISTER, content=body, headers=XML)
        assert response.status_code == 200, response.text
        return result(response.content)

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(client, range(CLIENTS)))


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_concurrent_duplicates_store_exactly_one(two_workers: Server, migrated_db: Database, round_: int) -> None:
    certificate_id = f"race-{round_}-{free_port()}"
    answers = register_all_at_once(two_workers.base_url, envelope(certificate(certificate_id)))
    assert answers.count(("OK", None, None)) == 1, answers
    assert answers.count(("INFO", None, "Certificate already exists")) == CLIENTS - 1, answers
    with migrated_db.read() as connection:
        stored = connection.execute(select(func.count()).where(Certificate.id == certificate_id)).scalar_one()
        states = connection.execute(select(func.count()).where(CertificateState.certificate_id == certificate_id)).scalar_one()
    assert (stored, states) == (1, 1)
