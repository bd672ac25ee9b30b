"""Drain N queued deliveries to the stub recipient and report deliveries per second.

    python benchmarks/outbox.py                                   # SQLite, 1 and 2 workers
    python benchmarks/outbox.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    python benchmarks/outbox.py -n 10000 --workers 1 2 --concurrency 16 --sqlite --postgres URL

Every run uses a fresh database (a new SQLite file, or a new PostgreSQL database next to the one
given, dropped afterwards) and a fresh stub recipient with its fsync'ed record. The workers are
started first and wait on an empty outbox, so their start-up is not measured; then N
RevokeCertificate v2 messages are committed in one transaction and the clock runs until the last
one is marked delivered. Afterwards the stub's record is checked: N receipts, no repeats.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import OutboxItem
from intygstjanst.tests.delivery_support import StubRecipient, enqueue_revokes, receipt_ids, start_worker, wait_until


def delivered(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).where(OutboxItem.status == "DELIVERED")).scalar_one()


@dataclass
class Result:
    seconds: float
    worker_cpu: float  # CPU seconds of all worker processes
    stub_cpu: float


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def run(database_url: str, workers: int, count: int, concurrency: int, work: Path) -> Result:
    db = Database(database_url)
    db.upgrade()
    stub = StubRecipient(work / "stub")
    stub.directory.mkdir(parents=True)
    stub.start()
    logs = [work / f"worker-{i}.log" for i in range(workers)]
    running = [
        start_worker(database_url, stub.base_url, log, concurrency=concurrency, env={"INTYG_DELIVERY_TIMEOUT": "30", "INTYG_OUTBOX_LEASE": "0"})
        for log in logs
    ]
    try:
        wait_until(lambda: all("delivering the outbox" in log.read_text() for log in logs), 60, "the workers to start")
        enqueue_revokes(db, count, prefix=f"bench-{uuid.uuid4().hex[:6]}")
        assert stub.process is not None
        cpu_before = [cpu_seconds(w.process.pid) for w in running], cpu_seconds(stub.process.pid)
        started = time.perf_counter()
        wait_until(lambda: delivered(db) == count, 600, "the outbox to drain", interval=0.05)
        seconds = time.perf_counter() - started
        worker_cpu = sum(cpu_seconds(w.process.pid) for w in running) - sum(cpu_before[0])
        stub_cpu = cpu_seconds(stub.process.pid) - cpu_before[1]
        received = stub.received()
    finally:
        for worker in running:
            worker.terminate()
        stub.stop()
        db.dispose()
    ids = receipt_ids(received)
    if len(ids) != count or len(set(ids)) != count:
        raise SystemExit(f"the stub received {len(ids)} ({len(set(ids))} distinct), expected {count}")
    return Result(seconds, worker_cpu, stub_cpu)


def fresh_postgres(base_url: str) -> tuple[str, str]:
    base = make_url(base_url)
    name = f"intyg_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False), name


def drop_postgres(base_url: str, name: str) -> None:
    admin = create_engine(make_url(base_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--count", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, default=16, help="senders per worker process")
    parser.add_argument("--sqlite", action="store_true", help="run on SQLite (the default when --postgres is not given)")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("INTYG_TEST_DATABASE_URL"), help="PostgreSQL server to create scratch databases on")
    args = parser.parse_args()
    backends = (["sqlite"] if args.sqlite or not args.postgres else []) + (["postgresql"] if args.postgres else [])
    print(
        f"{'database':<11}{'workers':>8}{'senders':>9}{'messages':>10}{'seconds':>9}{'deliveries/s':>14}"
        f"{'worker CPU ms/msg':>19}{'stub CPU ms/msg':>17}"
    )
    with tempfile.TemporaryDirectory(prefix="outbox-bench-") as tmp:
        for backend in backends:
            for workers in args.workers:
                work = Path(tmp) / f"{backend}-{workers}"
                if backend == "sqlite":
                    result = run(f"sqlite:///{work / 'outbox.db'}", workers, args.count, args.concurrency, work)
                else:
                    url, name = fresh_postgres(args.postgres)
                    try:
                        result = run(url, workers, args.count, args.concurrency, work)
                    finally:
                        drop_postgres(args.postgres, name)
                print(
                    f"{backend:<11}{workers:>8}{args.concurrency:>9}{args.count:>10}{result.seconds:>9.2f}"
                    f"{args.count / result.seconds:>14.0f}{1000 * result.worker_cpu / args.count:>19.2f}"
                    f"{1000 * result.stub_cpu / args.count:>17.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
