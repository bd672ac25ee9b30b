"""Durability with real processes: the outbox never loses a message and the recipient's record shows
each one exactly once, through a recipient outage and ``kill -9`` of the workers mid-delivery, with
one worker or two at once (run the suite with INTYG_TEST_DATABASE_URL for PostgreSQL).

The revokes are real RevokeCertificate v2 calls to ``intygstjanst serve`` for certificates
registered through it; the service queues one notification per certificate for Försäkringskassan,
to which the certificates were sent (their SENT state is written directly: sending needs the
recipient, which is down for the whole run, and the send path has its own end-to-end test)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from lxml import etree
from sqlalchemy import func, select

from intygstjanst.persistence import certificates
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import OutboxItem
from intygstjanst.services import utc_now
from intygstjanst.tests.conftest import LiveServer
from intygstjanst.tests.delivery_support import (
    StubRecipient,
    WorkerProcess,
    enqueue_revokes,
    receipt_ids,
    start_worker,
    wait_until,
)
from intygstjanst.tests.recipient_calls import REVOKE, revoke_request
from intygstjanst.tests.soap import REGISTER, certificate, envelope, result
from intygstjanst.tests.support import require_shared

COUNT = 1000


def revoke_through_the_service(server: LiveServer, db: Database, prefix: str) -> None:
    """Register COUNT certificates, mark them sent to FKASSA, revoke each through the service."""
    require_shared()
    ids = [f"{prefix}-{i}" for i in range(COUNT)]
    registrations = [envelope(certificate(i)) for i in ids]
    revocations = [envelope(etree.tostring(revoke_request(i))) for i in ids]
    with httpx.Client(base_url=server.base_url, timeout=60) as client, ThreadPoolExecutor(4) as pool:

        def call(path: str, body: bytes) -> str:
            response = client.post(path, content=body, headers={"content-type": "text/xml; charset=utf-8"})
            assert response.status_code == 200, response.text
            return result(response.content)[0]

        assert set(pool.map(lambda body: call(REGISTER, body), registrations)) == {"OK"}
        with db.transaction() as conn:
            for certificate_id in ids:
                certificates.add_state(conn, certificate_id, "SENT", "FKASSA", utc_now())
        assert set(pool.map(lambda body: call(REVOKE, body), revocations)) == {"OK"}


def status_counts(db: Database) -> dict[str, int]:
    with db.read() as conn:
        return dict(conn.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status)).all())


def attempted(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).where(OutboxItem.attempts > 0)).scalar_one()


def claimed(db: Database) -> int:
    """Rows a worker holds right now (claimed, not yet marked)."""
    with db.read() as conn:
        return conn.execute(
            select(func.count()).where(OutboxItem.status == "PENDING", OutboxItem.claim_token.is_not(None))
        ).scalar_one()


def outbox_delivery_ids(db: Database) -> set[str]:
    with db.read() as conn:
        return set(conn.execute(select(OutboxItem.delivery_id)).scalars())


def workers(count: int, database_url: str, stub: StubRecipient, tmp_path: Path, round_: str) -> list[WorkerProcess]:
    return [start_worker(database_url, stub.base_url, tmp_path / f"worker-{round_}-{i}.log") for i in range(count)]


@pytest.mark.parametrize("worker_count", [1, 2])
def test_outage_and_kill_9_mid_delivery_every_revoke_arrives_exactly_once(
    db: Database, database_url: str, live_server: LiveServer, tmp_path: Path, worker_count: int
) -> None:
    stub = StubRecipient(tmp_path / "stub")  # its port is chosen, nothing listens yet: the recipient is down
    stub.directory.mkdir()
    revoke_through_the_service(live_server, db, prefix=f"durable{worker_count}")
    assert status_counts(db) == {"PENDING": COUNT}
    running = workers(worker_count, database_url, stub, tmp_path, "first")
    try:
        # Every revoke is tried against the dead recipient and scheduled for a retry.
        wait_until(lambda: attempted(db) == COUNT, 60, "every revoke to fail once while the recipient is down")
        assert status_counts(db) == {"PENDING": COUNT}

        stub.start()
        # A slow recipient (50 ms a call) keeps many calls in flight when the workers are killed.
        stub.fail("timeout", 10 * COUNT, delay=0.05)
        wait_until(lambda: len(stub.received()["receipts"]) >= COUNT // 4, 60, "a quarter of the revokes to arrive")
        in_flight = claimed(db)
        for worker in running:
            worker.kill9()
        delivered_before_restart = status_counts(db).get("DELIVERED", 0)
        assert in_flight > 0 and delivered_before_restart < COUNT, "the kill must come in the middle of delivery"

        stub.fail("none", 0)
        running = workers(worker_count, database_url, stub, tmp_path, "second")
        wait_until(lambda: status_counts(db) == {"DELIVERED": COUNT}, 90, "every revoke to be marked delivered")
    finally:
        for worker in running:
            if worker.process.poll() is None:
                worker.kill9()
        received = stub.received() if stub.process and stub.process.poll() is None else None
        stub.stop()

    assert received is not None
    ids = receipt_ids(received)
    assert len(ids) == COUNT, "every revoke arrived"
    assert len(set(ids)) == COUNT, "no delivery id was recorded as received twice"
    assert set(ids) == outbox_delivery_ids(db)
    assert {r["reference"] for r in received["receipts"]} == {f"durable{worker_count}-{i}" for i in range(COUNT)}
    assert {r["contract"] for r in received["receipts"]} == {"RevokeCertificate:2"}
    assert {r["logical_address"] for r in received["receipts"]} == {"2021005521"}
    # The workers died between the recipient's answer and their bookkeeping for some revokes; those
    # were sent again and the recipient recognised them by their delivery id.
    duplicates = [r["delivery_id"] for r in received["duplicates"]]
    assert duplicates, "the crash window between 'accepted' and 'marked delivered' was exercised"
    assert set(duplicates) <= set(ids)


def test_two_workers_at_once_never_send_an_item_twice(db: Database, database_url: str, tmp_path: Path) -> None:
    stub = StubRecipient(tmp_path / "stub")
    stub.directory.mkdir()
    stub.start()
    enqueue_revokes(db, 2 * COUNT, prefix="pair")
    running = workers(2, database_url, stub, tmp_path, "pair")
    try:
        wait_until(lambda: status_counts(db) == {"DELIVERED": 2 * COUNT}, 90, "every revoke to be delivered")
        received = stub.received()
    finally:
        for worker in running:
            worker.terminate()
        stub.stop()
    assert all("delivered" in w.log() for w in running)
    ids = receipt_ids(received)
    assert len(ids) == 2 * COUNT and len(set(ids)) == 2 * COUNT
    # Without a crash not even a recognised repeat: the claims of the two workers never overlapped.
    assert received["duplicates"] == []
    delivered_by = [int(w.log().rsplit("delivered ", 1)[1].split(",", 1)[0]) for w in running]
    assert sum(delivered_by) == 2 * COUNT and min(delivered_by) > 0, delivered_by
