"""The outbox worker against the stub recipient: retries with backoff and jitter, dead letters and
their revival, recognised redeliveries, registry problems, graceful SIGTERM, operator commands and
metrics."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from intygstjanst.cli import main
from intygstjanst.registers.recipients import Recipients
from intygstjanst.metrics import render
from intygstjanst.persistence import outbox
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import OutboxItem
from intygstjanst.services import Services
from intygstjanst.tests.delivery_support import StubRecipient, enqueue_revokes, start_worker, wait_until
from intygstjanst.delivery.cli import parse_duration
from intygstjanst.delivery.transport import OutboundTransport
from intygstjanst.delivery.worker import Worker


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StubRecipient]:
    running = StubRecipient(tmp_path_factory.mktemp("stub")).start()
    yield running
    running.stop()


@pytest.fixture
def fast(services: Services, stub: StubRecipient) -> Services:
    """The test's services delivering to the stub, with retries after a fraction of a second."""
    stub.fail("none", 0)
    services.settings = services.settings.replace(
        delivery_base_url=stub.base_url, retry_base_delay=0.2, retry_max_delay=0.5, delivery_timeout=2.0
    )
    services.transport = OutboundTransport.from_settings(services.settings)
    return services


@contextmanager
def running(worker: Worker) -> Iterator[None]:
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        worker.stop()
        thread.join(30)
        assert not thread.is_alive()


def items(db: Database) -> list[outbox.ItemView]:
    with db.read() as conn:
        return sorted(outbox.list_items(conn, limit=10_000), key=lambda i: i.id)


def all_delivered(db: Database) -> bool:
    return all(i.status == "DELIVERED" for i in items(db))


def counts(db: Database) -> dict[tuple[str, str], int]:
    with db.read() as conn:
        return {(c.recipient, c.outcome): c.count for c in outbox.counters(conn)}


def receipts_for(stub: StubRecipient, reference: str) -> tuple[int, int]:
    got = stub.received()
    return (
        sum(r["reference"] == reference for r in got["receipts"]),
        sum(r["reference"] == reference for r in got["duplicates"]),
    )


def test_technical_failures_are_retried_until_delivered(fast: Services, stub: StubRecipient) -> None:
    enqueue_revokes(fast.db, 1, prefix="w-tech")
    stub.fail("technical", 2)
    with running(Worker(fast, concurrency=2)):
        wait_until(lambda: all_delivered(fast.db), 20, "the revoke to be delivered")
    (item,) = items(fast.db)
    assert item.attempts == 3 and item.last_error is None
    assert counts(fast.db) == {("FKASSA", "retry"): 2, ("FKASSA", "delivered"): 1}
    assert receipts_for(stub, "w-tech-0") == (1, 0)


def test_a_retry_is_scheduled_with_backoff_and_the_reason(fast: Services, stub: StubRecipient) -> None:
    fast.settings = fast.settings.replace(retry_base_delay=20.0, retry_max_delay=600.0)
    enqueue_revokes(fast.db, 1, prefix="w-sched")
    stub.fail("fault", 1)
    before = fast.clock()
    Worker(fast).run(once=True)  # one attempt; the retry is not due yet, so the run ends
    (item,) = items(fast.db)
    assert item.status == "PENDING" and item.attempts == 1
    assert "SOAP Fault soap:Server" in (item.last_error or "")
    delay = (item.due_at - before).total_seconds()
    assert 10 <= delay <= 21  # 50-100 % of the first step (20 s)


def test_backoff_doubles_per_attempt_is_jittered_and_capped(services: Services) -> None:
    services.settings = services.settings.replace(retry_base_delay=1.0, retry_max_delay=30.0)
    worker = Worker(services)
    random.seed(7)
    for attempts, step in [(1, 1), (2, 2), (3, 4), (5, 16), (6, 30), (40, 30)]:
        samples = [worker.backoff(attempts) for _ in range(50)]
        assert all(step * 0.5 <= s <= step for s in samples), (attempts, min(samples), max(samples))
        assert len(set(samples)) > 40  # jittered, not one fixed value


def test_permanent_failure_is_dead_lettered_and_outbox_retry_revives_it(
    fast: Services, stub: StubRecipient, capsys: pytest.CaptureFixture[str]
) -> None:
    enqueue_revokes(fast.db, 1, prefix="w-dead")
    stub.fail("validation", 1)
    Worker(fast).run(once=True)
    (item,) = items(fast.db)
    assert item.status == "DEAD" and item.attempts == 1
    assert "ERROR VALIDATION_ERROR: stub told to fail with validation" in (item.last_error or "")
    text = render(fast.db)
    assert 'intyg_outbox_dead{recipient="FKASSA"} 1' in text
    assert 'intyg_outbox_failures_total{recipient="FKASSA",kind="dead"} 1' in text

    url = fast.db.url
    assert main(["outbox", "list", "--status", "DEAD", "--json", "--database-url", url]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(i["id"], i["status"]) for i in listed] == [(item.id, "DEAD")]
    assert main(["outbox", "retry", "--all-dead", "--database-url", url]) == 0
    assert "1 dead item(s) queued again" in capsys.readouterr().out

    Worker(fast).run(once=True)
    assert [i.status for i in items(fast.db)] == ["DELIVERED"]
    text = render(fast.db)
    assert 'intyg_outbox_deliveries_total{recipient="FKASSA"} 1' in text
    assert "intyg_outbox_queue_depth 0" in text
    assert 'intyg_outbox_dead{recipient="FKASSA"}' not in text


def test_a_redelivery_after_a_timeout_is_recognised_by_the_recipient(fast: Services, stub: StubRecipient) -> None:
    # The stub processes the call but answers after our timeout: the worker must send it again,
    # with the same delivery id, and the stub must not count it twice.
    enqueue_revokes(fast.db, 1, prefix="w-late")
    stub.fail("timeout", 1, delay=3.0)
    with running(Worker(fast, concurrency=2)):
        wait_until(lambda: all_delivered(fast.db), 20, "the revoke to be delivered")
    (item,) = items(fast.db)
    assert item.attempts >= 2
    wait_until(lambda: receipts_for(stub, "w-late-0") == (1, 1), 10, "the late receipt and the recognised duplicate")


def test_connection_drops_are_retried(fast: Services, stub: StubRecipient) -> None:
    enqueue_revokes(fast.db, 3, prefix="w-drop")
    stub.fail("refuse", 3)
    with running(Worker(fast, concurrency=1)):
        wait_until(lambda: all_delivered(fast.db), 20, "the revokes to be delivered")
    assert counts(fast.db)[("FKASSA", "delivered")] == 3
    # At least the three dropped calls (a busy machine may add a timeout of its own).
    assert counts(fast.db)[("FKASSA", "retry")] >= 3


def test_unknown_recipients_are_dead_and_inactive_ones_wait(fast: Services, tmp_path: Path) -> None:
    registry = tmp_path / "recipients.toml"
    registry.write_text(
        '[[recipient]]\nid = "PAUSED"\nname = "Paused"\nkind = "MOTTAGARE"\nlogical_address = "P"\n'
        "certificate_types = []\nactive = false\ntrusted = false\n",
        encoding="utf-8",
    )
    fast.recipients = Recipients.load(registry)
    enqueue_revokes(fast.db, 1, recipient="NOBODY", prefix="w-nobody")
    enqueue_revokes(fast.db, 1, recipient="PAUSED", prefix="w-paused")
    Worker(fast).run(once=True)
    nobody, paused = items(fast.db)
    assert nobody.status == "DEAD" and nobody.last_error == "recipient NOBODY is not in the recipient registry"
    assert paused.status == "PENDING" and paused.last_error == "recipient PAUSED is inactive in the recipient registry"


def test_sigterm_finishes_what_is_in_flight_and_gives_back_the_rest(
    db: Database, database_url: str, stub: StubRecipient, tmp_path: Path
) -> None:
    stub.fail("timeout", 1000, delay=1.0)  # every call takes a second
    enqueue_revokes(db, 40, prefix="w-term")
    worker = start_worker(database_url, stub.base_url, tmp_path / "worker.log", concurrency=4)
    try:
        wait_until(lambda: sum(i.attempts > 0 for i in items(db)) >= 8, 30, "the worker to claim rows")
        worker.process.terminate()
        assert worker.process.wait(15) == 0, worker.log()
    finally:
        if worker.process.poll() is None:
            worker.kill9()
        stub.fail("none", 0)
    assert "SIGTERM received" in worker.log()
    with db.read() as conn:
        rows = conn.execute(select(OutboxItem.status, OutboxItem.claim_token, OutboxItem.attempts)).all()
    # Nothing is left claimed: rows were delivered, or given back due now with the attempt undone.
    assert all(token is None for _, token, _ in rows)
    assert {(status, attempts) for status, _, attempts in rows} <= {("DELIVERED", 1), ("PENDING", 0)}
    assert sum(status == "DELIVERED" for status, _, _ in rows) >= 4
    assert sum(status == "PENDING" for status, _, _ in rows) >= 1


def test_operator_commands(fast: Services, stub: StubRecipient, capsys: pytest.CaptureFixture[str]) -> None:
    enqueue_revokes(fast.db, 2, prefix="w-cli")
    url = fast.db.url
    assert main(["outbox", "status", "--json", "--database-url", url]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [(q["recipient"], q["pending"], q["dead"]) for q in status["queues"]] == [("FKASSA", 2, 0)]
    Worker(fast).run(once=True)
    first, second = items(fast.db)
    assert main(["outbox", "status", "--database-url", url]) == 0
    table = capsys.readouterr().out
    assert "FKASSA" in table and "delivered" in table
    assert main(["outbox", "retry", str(first.id), "999999", "--database-url", url]) == 1
    assert f"not retried (unknown, delivered or in flight): {first.id}, 999999" in capsys.readouterr().out
    assert main(["outbox", "retry", "--database-url", url]) == 2
    assert main(["outbox", "purge-delivered", "--older-than", "1h", "--database-url", url]) == 0
    assert "0 delivered item(s) purged" in capsys.readouterr().out
    time.sleep(0.01)
    assert main(["outbox", "purge-delivered", "--older-than", "0s", "--database-url", url]) == 0
    assert "2 delivered item(s) purged" in capsys.readouterr().out
    assert items(fast.db) == []
    # Purging does not reset the counters Prometheus reads.
    assert counts(fast.db) == {("FKASSA", "delivered"): 2}


def test_parse_duration() -> None:
    assert parse_duration("90s") == dt.timedelta(seconds=90)
    assert parse_duration("7d") == dt.timedelta(days=7)
    assert parse_duration("2w") == dt.timedelta(weeks=2)
    with pytest.raises(Exception, match="not a duration like 30m"):
        parse_duration("7 days")


def test_metrics_endpoint(client: TestClient, db: Database) -> None:
    enqueue_revokes(db, 2, recipient="SKV", prefix="w-metrics")
    time.sleep(0.05)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = response.text.splitlines()
    assert "intyg_outbox_queue_depth 2" in lines
    assert "# TYPE intyg_outbox_deliveries_total counter" in lines
    assert 'intyg_outbox_pending{recipient="SKV"} 2' in lines
    (age,) = [line for line in lines if line.startswith("intyg_outbox_oldest_undelivered_age_seconds ")]
    assert float(age.split()[1]) > 0
