"""The access log of a real ``intygstjanst serve`` with two worker processes over native mutual TLS:
concurrent reads from both processes chain without a gap, each entry names the HSA-id of the
client certificate (and the original consumer a platform passes), a refused call writes nothing,
and the personnummer is in neither the server's log nor the table."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from intygstjanst.persistence.access_log import AccessLog
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import AccessLogEntry, AccessLogPatient
from intygstjanst.tls.callers import ORIGINAL_CONSUMER_HEADER

from intygstjanst.tests.soap import GET, REGISTER, TEST_PERSON, certificate, envelope, get_request, result
from intygstjanst.tests.support import require_shared
from intygstjanst.tests.tlsserver import ADDRESS, CONSUMER, OTHER, PLATFORM, Pki, Server, running_native, soap

KEY = b"e2e-access-log-key"
READS = 16


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pki: Pki, database_url: str, migrated_db: Database) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("access-log")
    key_file = tmp / "access-log.key"
    key_file.write_bytes(KEY)
    with running_native(tmp, database_url, pki, "--workers", "2", "--access-log-key-file", str(key_file)) as live:
        yield live


def client(server: Server, pki: Pki, hsa_id: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, verify=pki.context(pki.client(hsa_id)), timeout=60)


def new_entries(db: Database, after: int) -> list[Any]:
    """The entries after ``after``, each joined with its patient rows (one each here)."""
    entry, patient = AccessLogEntry.__table__, AccessLogPatient.__table__
    query = select(entry, *(c for c in patient.c if c.name != "seq")).join(patient, patient.c.seq == entry.c.seq)
    with db.read() as conn:
        return list(conn.execute(query.where(entry.c.seq > after).order_by(entry.c.seq)))


def test_two_worker_processes_log_every_read_in_one_chain(server: Server, pki: Pki, migrated_db: Database) -> None:
    require_shared()
    log = AccessLog(migrated_db, KEY)
    certificate_id = f"al-e2e-{uuid.uuid4().hex[:10]}"
    with client(server, pki, CONSUMER) as http:
        assert result(soap(http, REGISTER, envelope(certificate(certificate_id), logical_address=ADDRESS)).content)[0] == "OK"
    before = log.verify()
    assert before.problem is None

    def read(_n: int) -> int:
        # A connection each, so that the calls spread over both worker processes.
        with client(server, pki, CONSUMER) as http:
            return soap(http, GET, envelope(get_request(certificate_id), logical_address=ADDRESS)).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(read, range(READS))) == {200}
    with client(server, pki, PLATFORM) as http:
        via = soap(http, GET, envelope(get_request(certificate_id), logical_address=ADDRESS), **{ORIGINAL_CONSUMER_HEADER: CONSUMER})
        assert via.status_code == 200, via.text
    with client(server, pki, OTHER) as http:  # no grant: refused, nothing disclosed
        assert soap(http, GET, envelope(get_request(certificate_id), logical_address=ADDRESS)).status_code == 500

    entries = new_entries(migrated_db, before.head_seq)
    assert [(e.consumer, e.original_consumer) for e in entries] == [(CONSUMER, None)] * READS + [(PLATFORM, CONSUMER)]
    assert {(e.contract, e.logical_address, e.certificates) for e in entries} == {("GetCertificate", ADDRESS, 1)}
    assert {e.patient_key for e in entries} == {log.patient_key(TEST_PERSON)}
    after = log.verify()
    assert after.problem is None and after.head_seq == before.head_seq + READS + 1
    assert len(log.extract(TEST_PERSON)) >= READS + 1
    assert TEST_PERSON not in server.log()
