"""The statistics feed's throughput: N events from the outbox into RabbitMQ, and back out.

    python benchmarks/statistics_feed.py                           # SQLite, 5,000 events
    python benchmarks/statistics_feed.py -n 20000 --concurrency 8 --sqlite --postgres URL

Each run uses a fresh database and a fresh queue on the broker (``--broker``, default the local
RabbitMQ), deleted afterwards. One worker is started first and waits on an empty outbox; then N
``created`` events (each carrying the LISJP sample certificate, about 8 kB) are committed in one
transaction and the clock runs until the last is marked delivered (publisher confirms: the broker
has each one in its durable queue). Then a consumer takes them all with a callable that does
nothing, acknowledging each. Afterwards: N distinct message ids consumed, the queue empty.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

import pika
from sqlalchemy import func, select

from intygstjanst.benchmarks.outbox import cpu_seconds, drop_postgres, fresh_postgres
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import OutboxItem
from intygstjanst.settings import Settings
from intygstjanst.statistics import amqp, feed
from intygstjanst.statistics.consumer import Consumer
from intygstjanst.statistics.events import StatisticsEvent
from intygstjanst.tests.delivery_support import start_worker, wait_until
from intygstjanst.tests.soap import certificate


def delivered(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).where(OutboxItem.recipient == feed.CHANNEL, OutboxItem.status == "DELIVERED")).scalar_one())


def run(database_url: str, broker: str, count: int, concurrency: int, work: Path) -> tuple[float, float, float, int]:
    """(publish seconds, worker CPU seconds, consume seconds, events consumed)."""
    queue = f"bench.statistics.{uuid.uuid4().hex[:8]}"
    destination = amqp.Destination(broker, "", queue)
    settings = Settings(data_dir=work, statistics_feed=True, statistics_amqp_url=broker, statistics_queue=queue)
    body = feed.certificate_body(certificate("bench"))
    db = Database(database_url)
    db.upgrade()
    log = work / "worker.log"
    env = {"INTYG_STATISTICS_AMQP_URL": broker, "INTYG_STATISTICS_QUEUE": queue, "INTYG_DELIVERY_TIMEOUT": "30", "INTYG_OUTBOX_LEASE": "0"}
    worker = start_worker(database_url, "", log, concurrency=concurrency, env=env)
    try:
        wait_until(lambda: "delivering the outbox" in log.read_text(), 60, "the worker to start")
        with db.transaction() as conn:
            for number in range(count):
                feed.record(conn, settings, StatisticsEvent("created", f"bench-{number}", "LISJP", body=body))
        cpu_before = cpu_seconds(worker.process.pid)
        started = time.perf_counter()
        wait_until(lambda: delivered(db) == count, 1800, "the events to be published", interval=0.05)
        publish_seconds = time.perf_counter() - started
        worker_cpu = cpu_seconds(worker.process.pid) - cpu_before
    finally:
        worker.terminate()
        db.dispose()
    seen: set[str] = set()
    started = time.perf_counter()
    stats = Consumer(destination, lambda event: seen.add(event.certificate_id)).run(until_idle=True)
    consume_seconds = time.perf_counter() - started - 0.5  # the idle wait that ends the run
    connection = pika.BlockingConnection(pika.URLParameters(broker))
    try:
        left = connection.channel().queue_delete(queue=queue).method.message_count
    finally:
        connection.close()
    if len(seen) != count or stats.handled != count or left:
        raise SystemExit(f"consumed {stats.handled} events ({len(seen)} distinct, {left} left), expected {count}")
    return publish_seconds, worker_cpu, consume_seconds, stats.handled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--count", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=8, help="senders of the worker")
    parser.add_argument("--broker", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--sqlite", action="store_true", help="run on SQLite (the default when --postgres is not given)")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("INTYG_TEST_DATABASE_URL"))
    args = parser.parse_args()
    backends = (["sqlite"] if args.sqlite or not args.postgres else []) + (["postgresql"] if args.postgres else [])
    print(f"{'database':<11}{'senders':>8}{'events':>8}{'published/s':>13}{'worker CPU ms/event':>21}{'consumed/s':>12}")
    with tempfile.TemporaryDirectory(prefix="feed-bench-") as tmp:
        for backend in backends:
            work = Path(tmp) / backend
            work.mkdir()
            if backend == "sqlite":
                result = run(f"sqlite:///{work / 'feed.db'}", args.broker, args.count, args.concurrency, work)
            else:
                url, name = fresh_postgres(args.postgres)
                try:
                    result = run(url, args.broker, args.count, args.concurrency, work)
                finally:
                    drop_postgres(args.postgres, name)
            publish, cpu, consume, consumed = result
            print(
                f"{backend:<11}{args.concurrency:>8}{args.count:>8}{args.count / publish:>13.0f}"
                f"{1000 * cpu / args.count:>21.2f}{consumed / consume:>12.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
