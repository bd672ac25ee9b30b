"""The statistics feed end to end, with the real RabbitMQ on this machine and real worker processes.

Care registers a certificate and sends it to Försäkringskassan, Försäkringskassan asks for a
completion (SendMessageToCare), care revokes the certificate: four events, each written to the
outbox with its change and published by ``intygstjanst worker`` to a queue of this test's own.
On the way the broker closes the worker's connection (``rabbitmqctl close_connection``), the
worker is killed with SIGKILL and a second one takes over, and one event is published a second
time as after a crash between the broker's confirm and the outbox's bookkeeping. The consumer then
sees each of the four events exactly once, with the headers and bodies the national statistics
service reads. On the consuming side, the broker closes the consumer's connection in the middle of
a stream of events and a second consumer takes over from a stopped one: every event is handed on
exactly once. ``intygstjanst statistics consume`` reads them into the built-in statistics. A test
certificate (a validation person) gives no event at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
from lxml import etree
from pika import exceptions as pika_errors
from sqlalchemy import func, select, update

from intygstjanst.contracts.xml import CORE, TYPES
from intygstjanst.handlers.messages import payload_digest
from intygstjanst.delivery.statistics import StatisticsPublisher
from intygstjanst.persistence import statistics as store_tables
from intygstjanst.persistence.outbox import Claimed
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import OutboxItem
from intygstjanst.settings import Settings
from intygstjanst.statistics import amqp, feed
from intygstjanst.statistics.consumer import Consumer
from intygstjanst.statistics.events import EventError, StatisticsEvent
from intygstjanst.transform import carrier

from intygstjanst.tests.delivery_support import WorkerProcess, start_worker, wait_until
from intygstjanst.tests.messages_support import CARE_UNIT, TO_CARE, to_care
from intygstjanst.tests.recipient_calls import REVOKE, SEND, FakeDeliverer, call, contract_at, revoke_request, send_request
from intygstjanst.tests.soap import REGISTER, TEST_PERSON, VALIDATION_PERSON, certificate, envelope, post, result
from intygstjanst.tests.support import REPO_DIR, require_shared, unavailable

BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"
CERTIFICATE = "stat-feed-1"
MESSAGE = "stat-msg-1"
WAIT = 180.0  # a bound for a loaded machine, not a timing under test


def _broker_channel() -> Any:
    try:
        connection = pika.BlockingConnection(pika.URLParameters(BROKER))
    except pika_errors.AMQPError as exc:
        unavailable(f"RabbitMQ at {BROKER} cannot be reached: {exc!r}")
    return connection, connection.channel()


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue of this test's own, deleted afterwards."""
    name = f"test.statistics.{uuid.uuid4().hex[:12]}"
    connection, channel = _broker_channel()
    channel.queue_declare(queue=name, durable=True)
    connection.close()
    yield name
    connection, channel = _broker_channel()
    channel.queue_delete(queue=name)
    connection.close()


@pytest.fixture
def settings(tmp_path: Path, queue: str) -> Settings:
    return Settings(data_dir=tmp_path, statistics_feed=True, statistics_queue=queue, statistics_amqp_url=BROKER)


@pytest.fixture
def deliverer(services: Any) -> FakeDeliverer:
    """Försäkringskassan, answering OK to the certificate sent to it."""
    fake = FakeDeliverer()
    services.deliverer = fake
    return fake


def waiting(queue: str) -> int:
    """Messages in the queue (confirmed by the broker, not yet consumed)."""
    connection, channel = _broker_channel()
    try:
        return int(channel.queue_declare(queue=queue, durable=True, passive=True).method.message_count)
    finally:
        connection.close()


def close_from_server(queue: str, role: str = "publisher") -> int:
    """Close the broker connections of the workers' publishers (or of a ``role`` "consumer") of
    ``queue`` from the broker's side; how many were closed."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "client_properties"], capture_output=True, text=True, timeout=120, check=True
    )
    wanted = f'{{"connection_name","intygstjanst {role} {queue}"}}'
    pids = [line.split("\t", 1)[0] for line in listed.stdout.splitlines() if wanted in line]
    for pid in pids:
        subprocess.run(["rabbitmqctl", "close_connection", pid, "test: broker interruption"], capture_output=True, timeout=120, check=True)
    return len(pids)


def worker(database_url: str, queue: str, log: Path) -> WorkerProcess:
    return start_worker(database_url, "", log, concurrency=2, env={"INTYG_STATISTICS_QUEUE": queue, "INTYG_STATISTICS_AMQP_URL": BROKER})


def statistics_rows(db: Database) -> list[tuple[str, str]]:
    with db.read() as conn:
        rows = conn.execute(select(OutboxItem.contract, OutboxItem.status).where(OutboxItem.recipient == feed.CHANNEL).order_by(OutboxItem.id))
        return [(contract, status) for contract, status in rows]


def published(db: Database, queue: str, count: int, what: str, in_queue: int | None = None) -> None:
    """Wait until ``count`` statistics rows are marked delivered: each confirmed by the broker at least
    once (a worker killed between a confirm and its bookkeeping publishes that event again)."""
    wait_until(lambda: [status for _, status in statistics_rows(db)] == ["DELIVERED"] * count, WAIT, f"{what} published")
    assert waiting(queue) >= (count if in_queue is None else in_queue)


def test_register_send_message_revoke_reach_the_queue_once_each_across_interruptions(
    client: Any, db: Database, database_url: str, deliverer: FakeDeliverer, queue: str, tmp_path: Path
) -> None:
    require_shared()
    registered = certificate(CERTIFICATE)
    assert result(post(client, REGISTER, envelope(registered)).content)[0] == "OK"
    assert call(client, SEND, send_request(CERTIFICATE, "FKASSA")).code == "OK"

    first = worker(database_url, queue, tmp_path / "worker-1.log")
    second: WorkerProcess | None = None
    try:
        published(db, queue, 2, "created and sent")

        # The broker drops the worker's connection: the next event is published over a new one.
        if shutil.which("rabbitmqctl"):
            assert close_from_server(queue) >= 1  # one per sender thread that published
        message = to_care(MESSAGE, CERTIFICATE)
        assert result(post(client, TO_CARE, envelope(message)).content)[0] == "OK"
        published(db, queue, 3, "message-sent")

        # The worker dies (perhaps after a confirm it had not yet recorded: the next worker then
        # publishes that event again); the revocation waits in the outbox for the next worker.
        first.kill9()
        assert call(client, REVOKE, revoke_request(CERTIFICATE)).code == "OK"
        second = worker(database_url, queue, tmp_path / "worker-2.log")
        published(db, queue, 4, "revoked")

        # A worker that died after the broker's confirm but before marking its row, for certain: the
        # row is due again and the event is published a second time, with the same message id.
        before = waiting(queue)
        with db.transaction() as conn:
            conn.execute(update(OutboxItem).where(OutboxItem.contract == "statistics:sent").values(status="PENDING", claim_token=None))
        published(db, queue, 4, "the repeated sent event")
        wait_until(lambda: waiting(queue) > before, WAIT, "the repeated sent event in the queue")
        in_queue = waiting(queue)
    finally:
        for process in (first, second):
            if process is not None and process.process.poll() is None:
                process.terminate()

    events: list[StatisticsEvent] = []
    consumer = Consumer(amqp.Destination(BROKER, "", queue), events.append)
    stats = consumer.run(until_idle=True)
    # Each event once; everything else in the queue was a repeat, recognised by its message id.
    assert (stats.handled, stats.repeats, stats.rejected) == (4, in_queue - 4, 0)
    assert stats.repeats >= 1
    assert waiting(queue) == 0

    # Two senders publish side by side: the order within the queue is not the order of the changes.
    by_action = {event.action: event for event in events}
    assert sorted(by_action) == ["created", "message-sent", "revoked", "sent"]
    created, sent, message_sent, revoked = (by_action[action] for action in ("created", "sent", "message-sent", "revoked"))
    type_code = "LISJP"
    assert created.headers() == {"action": "created", "certificate-id": CERTIFICATE, "certificate-type": type_code}
    assert sent.headers() == {"action": "sent", "certificate-id": CERTIFICATE, "certificate-type": type_code, "certificate-recipient": "FKASSA"}
    assert message_sent.headers() == {
        "action": "message-sent", "certificate-id": CERTIFICATE, "certificate-type": type_code,
        "certificate-recipient": "FKASSA", "message-id": MESSAGE,
    }
    assert revoked.headers() == {"action": "revoked", "certificate-id": CERTIFICATE, "certificate-type": type_code}

    schema = contract_at(REGISTER).schema
    for event in (created, revoked):
        assert event.body is not None
        body = etree.fromstring(event.body)
        assert schema.validate(body), schema.error_log
        assert body.findtext(f"{{*}}intyg/{{{CORE}}}intygs-id/{{{TYPES}}}extension") == CERTIFICATE
        assert carrier.canonical(body) == carrier.canonical(registered)
    assert sent.body is None
    assert message_sent.body is not None
    received_message = etree.fromstring(message_sent.body)
    assert contract_at(TO_CARE).schema.validate(received_message)
    assert payload_digest(received_message) == payload_digest(message)
    assert received_message.findtext("{*}logiskAdressMottagare") == CARE_UNIT


def test_test_certificates_give_no_events(client: Any, db: Database, deliverer: FakeDeliverer) -> None:
    require_shared()
    payload = certificate("stat-test-1", patient=VALIDATION_PERSON)
    payload.find(f".//{{{CORE}}}person-id/{{{TYPES}}}root").text = "1.2.752.129.2.1.3.3"
    assert result(post(client, REGISTER, envelope(payload)).content)[0] == "OK"
    assert call(client, SEND, send_request("stat-test-1", "FKASSA", patient=VALIDATION_PERSON)).code == "ERROR"
    assert call(client, REVOKE, revoke_request("stat-test-1", patient=VALIDATION_PERSON)).code == "OK"
    assert statistics_rows(db) == []
    # The same steps for a real patient do queue events: the feed is on.
    assert result(post(client, REGISTER, envelope(certificate("stat-real-1", patient=TEST_PERSON))).content)[0] == "OK"
    assert statistics_rows(db) == [("statistics:created", "PENDING")]


def consume(database_url: str, queue: str, data_dir: Path) -> str:
    """``intygstjanst statistics consume --until-idle`` as a process of its own; its log."""
    done = subprocess.run(
        [sys.executable, "-m", "intygstjanst.cli", "statistics", "consume", "--until-idle", "--database-url", database_url],
        env={**os.environ, "INTYG_STATISTICS_QUEUE": queue, "INTYG_STATISTICS_AMQP_URL": BROKER, "INTYG_DATA_DIR": str(data_dir)},
        cwd=REPO_DIR, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def stored(db: Database) -> tuple[int, int]:
    """(certificates, messages) in the built-in statistics."""
    with db.read() as conn:
        return (
            int(conn.execute(select(func.count()).select_from(store_tables.CERTIFICATES)).scalar_one()),
            int(conn.execute(select(func.count()).select_from(store_tables.MESSAGES)).scalar_one()),
        )


def test_the_consume_command_feeds_the_built_in_statistics(
    client: Any, db: Database, database_url: str, deliverer: FakeDeliverer, queue: str, tmp_path: Path
) -> None:
    require_shared()
    assert result(post(client, REGISTER, envelope(certificate(CERTIFICATE))).content)[0] == "OK"
    assert call(client, SEND, send_request(CERTIFICATE, "FKASSA")).code == "OK"
    assert result(post(client, TO_CARE, envelope(to_care(MESSAGE, CERTIFICATE))).content)[0] == "OK"
    publisher = worker(database_url, queue, tmp_path / "worker.log")
    try:
        published(db, queue, 3, "created, sent and message-sent")
        log = consume(database_url, queue, tmp_path / "consumer")
        assert "consumed 3 events" in log, log
        assert stored(db) == (1, 1)
        assert waiting(queue) == 0

        assert call(client, REVOKE, revoke_request(CERTIFICATE)).code == "OK"
        published(db, queue, 4, "revoked", in_queue=1)  # the other three were consumed
        consume(database_url, queue, tmp_path / "consumer")
        assert stored(db)[0] == 0
    finally:
        publisher.terminate()


def _claimed(event: StatisticsEvent, delivery_id: str) -> Claimed:
    return Claimed(1, delivery_id, feed.CHANNEL, f"statistics:{event.action}", None, event.certificate_id, feed.encode(event), 1, "t")


def test_a_connection_the_broker_closed_is_replaced_within_the_attempt(queue: str) -> None:
    """As when an idle connection missed the broker's heartbeats: the next event does not wait for a retry."""
    if not shutil.which("rabbitmqctl"):
        unavailable("rabbitmqctl is needed to close a connection from the broker's side")
    publisher = StatisticsPublisher(amqp.Destination(BROKER, "", queue), timeout=30)
    try:
        assert publisher.send(_claimed(StatisticsEvent("sent", "c-1", "LISJP", "FKASSA"), "d-1")).verdict == "delivered"
        assert close_from_server(queue) == 1
        assert publisher.send(_claimed(StatisticsEvent("sent", "c-2", "LISJP", "FKASSA"), "d-2")).verdict == "delivered"
    finally:
        publisher.close()
    assert waiting(queue) == 2


def test_the_consumer_acknowledges_only_what_its_callable_took(queue: str) -> None:
    connection, channel = _broker_channel()
    channel.basic_publish("", queue, b"<x/>", pika.BasicProperties(message_id="junk", headers={"action": "nonsense"}))
    connection.close()
    publisher = StatisticsPublisher(amqp.Destination(BROKER, "", queue), timeout=30)
    try:
        for number in (1, 2):
            event = StatisticsEvent("created", f"c-{number}", "LISJP", body=b"<x/>")
            assert publisher.send(_claimed(event, f"d-{number}")).verdict == "delivered"
    finally:
        publisher.close()

    taken: list[str] = []

    def once_failing(event: StatisticsEvent) -> None:
        if event.certificate_id == "c-1" and "failed" not in taken:
            taken.append("failed")
            raise RuntimeError("the store is away")
        if event.certificate_id == "c-2":
            raise EventError("not readable")
        taken.append(event.certificate_id)

    consumer = Consumer(amqp.Destination(BROKER, "", queue), once_failing, retry_seconds=0.1)
    stats = consumer.run(until_idle=True)
    # The failed event came back and was taken; the junk and the refused event were rejected.
    assert taken == ["failed", "c-1"]
    assert (stats.handled, stats.failures, stats.rejected) == (1, 1, 2)
    assert waiting(queue) == 0


def test_the_consumer_takes_every_event_once_across_a_broken_connection_and_a_restart(queue: str) -> None:
    """Mid-stream the broker closes the consumer's connection (the acknowledgement of the event just
    handled is lost with it, and so are the prefetched deliveries), and later the consumer stops
    and a new one takes over: every event is handed on exactly once, none is lost."""
    if not shutil.which("rabbitmqctl"):
        unavailable("rabbitmqctl is needed to close a connection from the broker's side")
    total = 300
    publisher = StatisticsPublisher(amqp.Destination(BROKER, "", queue), timeout=30)
    try:
        for number in range(total):
            event = StatisticsEvent("sent", f"c-{number}", "LISJP", "FKASSA")
            assert publisher.send(_claimed(event, f"d-{number}")).verdict == "delivered"
    finally:
        publisher.close()
    assert waiting(queue) == total

    taken: list[str] = []
    closed: list[int] = []

    def interrupting(event: StatisticsEvent) -> None:
        taken.append(event.certificate_id)
        if len(taken) == 100:
            closed.append(close_from_server(queue, "consumer"))
        if len(taken) == 200:
            first.stop()

    first = Consumer(amqp.Destination(BROKER, "", queue), interrupting, retry_seconds=0.1)
    first_stats = first.run()
    assert closed == [1]
    assert len(taken) == 200 and first_stats.handled == 200
    # The event whose acknowledgement was lost came back and was recognised by its message id.
    assert first_stats.repeats >= 1
    # What it had prefetched goes back to the queue as its connection closes.
    wait_until(lambda: waiting(queue) == total - 200, WAIT, "the unhandled events back in the queue")

    second = Consumer(amqp.Destination(BROKER, "", queue), lambda event: taken.append(event.certificate_id))
    second_stats = second.run(until_idle=True)
    assert second_stats.handled == total - 200
    assert sorted(taken) == sorted(f"c-{number}" for number in range(total))
    assert waiting(queue) == 0
