"""The built-in statistics' cost per event: ``statistics.store.ingest`` of N ``created`` events
(LISJP, one patient each, periods, degrees and diagnoses varied) into a fresh PostgreSQL database,
one transaction each, as ``intygstjanst statistics consume`` applies them.

    python benchmarks/statistics_ingest.py postgresql+psycopg://postgres@127.0.0.1:5432/postgres -n 400

Prints the wall-clock time and the CPU time of this process and of its database session per event
(``/proc`` via psutil, a local PostgreSQL), with the load average: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import time

import psycopg
from sqlalchemy.engine import make_url
from stdnum import luhn

from intygstjanst.benchmarks.outbox import cpu_seconds, drop_postgres, fresh_postgres
from intygstjanst.persistence.db import Database
from intygstjanst.statistics import store
from intygstjanst.tests.statistics_support import created, sources


def patient(number: int) -> str:
    digits = f"{50 + number % 50:02d}{number % 12 + 1:02d}{number % 28 + 1:02d}{number % 1000:03d}"
    return f"19{digits}{luhn.calc_check_digit(digits)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="SQLAlchemy URL of a PostgreSQL server (a database is created there and dropped)")
    parser.add_argument("-n", "--count", type=int, default=400)
    args = parser.parse_args()
    url, name = fresh_postgres(args.url)
    try:
        db = Database(url)
        db.upgrade()
        parts = sources()
        events = [
            created(f"c-{n}", [(n % 20, n % 20 + 13 + n % 40, (25, 50, 75, 100)[n % 4])], patient=patient(n),
                    diagnosis=("M54", "F32", "J06", "S52")[n % 4])
            for n in range(args.count + 1)
        ]
        store.ingest(db, events[0], parts)  # warm-up, and the session opened
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn) as conn:
            sessions = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )]
        started, cpu, database = time.perf_counter(), time.process_time(), sum(cpu_seconds(pid) for pid in sessions)
        for event in events[1:]:
            store.ingest(db, event, parts)
        wall = (time.perf_counter() - started) / args.count * 1000
        cpu = (time.process_time() - cpu) / args.count * 1000
        database = (sum(cpu_seconds(pid) for pid in sessions) - database) / args.count * 1000
        load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
        print(f"{args.count} events: per event {wall:.1f} ms wall-clock, CPU {cpu:.2f} ms + database {database:.2f} ms (load average {load})")
        db.dispose()
    finally:
        drop_postgres(args.url, name)


if __name__ == "__main__":
    main()
