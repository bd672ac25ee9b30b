"""What the access log costs a read, and how fast its chain is verified.

    python benchmarks/access_log.py                       # SQLite in a temporary directory
    python benchmarks/access_log.py postgresql+psycopg://postgres@127.0.0.1:5432/intyg_access_bench

On a fresh database (created on PostgreSQL, dropped afterwards) one certificate is registered, then
GetCertificate is called through the dispatcher in this process (no HTTP), in alternating rounds
with and without the access log, so that the machine's other load falls on both alike: p50 / p99
per call. Then ``--entries`` entries are appended (one call each, one process) and the chain is
verified: appends/s and entries verified/s; and one call disclosing 5,000 patients at once (a large
unit's coordinator list: one entry naming them) is timed.

    python benchmarks/access_log.py --only held [POSTGRESQL_URL]

An entry naming 8,498 patient rows (the benchmark unit's sick-leave list, benchmarks/sick_leave.py)
appended in alternating rounds holding its rows (as it is) and writing them into access_log_patient
at once (as an entry naming at most ``HELD_ABOVE`` does): wall (p50, p99), client CPU and
PostgreSQL CPU (of its session, from /proc: a local server; means) per append; then the indexer's
cost per entry.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO.parent))

from intygstjanst.benchmarks.outbox import cpu_seconds  # noqa: E402
from intygstjanst.contracts.dispatch import Caller, Dispatcher  # noqa: E402
from intygstjanst.persistence import access_log  # noqa: E402
from intygstjanst.persistence.access_log import AccessLog, Asker  # noqa: E402
from intygstjanst.persistence.db import Database  # noqa: E402
from intygstjanst.services import Services  # noqa: E402
from intygstjanst.settings import Settings  # noqa: E402
from intygstjanst.tests.soap import GET, REGISTER, certificate, envelope, get_request  # noqa: E402


BULK = 5_000
HELD = 8_498
ASKER = Asker("GetCertificate", "2.1", "SE-BENCH", None, "5565594230")


@dataclass(frozen=True)
class Patient:
    patient_id: str
    care_giver_id: str = "SE-GIVER"
    care_unit_id: str = "SE-UNIT"
    certificates: int = 1


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def run(url: str, workdir: Path, rounds: int, per_round: int, entries: int) -> None:
    db = Database(url)
    db.upgrade()
    services = Services.build(Settings(data_dir=workdir / "data", database_url=url), db=db)
    with_log = Dispatcher(services, services.parse_limits, recorder=services.record_access)
    without = Dispatcher(services, services.parse_limits)
    register = services.contracts.by_path(REGISTER)
    get = services.contracts.by_path(GET)
    assert register is not None and get is not None
    certificate_id = f"bench-{uuid.uuid4().hex[:8]}"
    assert with_log.handle(register, envelope(certificate(certificate_id)), None, Caller()).status == 200
    request = envelope(get_request(certificate_id))
    samples: dict[str, list[float]] = {"without the access log": [], "with the access log": []}
    for _ in range(rounds):
        for name, dispatcher in (("without the access log", without), ("with the access log", with_log)):
            for _ in range(per_round):
                samples[name].append(timed(lambda d=dispatcher: d.handle(get, request, None, Caller("SE-BENCH"))))
    for name, values in samples.items():
        print(f"  GetCertificate {name:<24} {percentiles(values)} ({len(values)} calls)")
    asker = ASKER

    started = time.perf_counter()
    for n in range(entries):
        services.access_log.append(asker, [Patient("191212121212")], dt.datetime(2026, 1, 1), f"bench{n}")
    appended = time.perf_counter() - started
    print(f"  {entries} appends, one call each: {entries / appended:.0f} appends/s")
    # A large unit's coordinator list discloses thousands of patients in one call: one entry naming them.
    many = [Patient(f"19121212{n:04d}") for n in range(BULK)]
    bulk = [timed(lambda: services.access_log.append(asker, many, dt.datetime(2026, 1, 1), "bulk")) for _ in range(5)]
    print(f"  one call disclosing {BULK} patients: {percentiles(bulk)} (5 calls)")
    started = time.perf_counter()
    verdict = services.access_log.verify()
    took = time.perf_counter() - started
    assert verdict.problem is None, verdict.problem
    print(f"  verify: {verdict.entries} entries in {took:.2f} s, {verdict.entries / took:.0f} entries/s")
    db.dispose()


def held_or_written(url: str, workdir: Path, rounds: int, per_round: int) -> None:
    db = Database(url)
    db.upgrade()
    log = AccessLog.configured(db, Settings(data_dir=workdir / "data", database_url=url))
    many = [Patient(f"19{n:010d}", care_unit_id=f"SE-UNIT-{n % 7}") for n in range(HELD)]
    session = None
    if db.engine.dialect.name == "postgresql":
        with db.transaction() as conn:  # one thread: every append takes this pooled connection
            session = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    forms = {"writing its rows into access_log_patient": HELD, "holding its rows": access_log.HELD_ABOVE}
    spent: dict[str, list[tuple[float, float, float]]] = {name: [] for name in forms}

    def measured(work: Callable[[], object]) -> tuple[float, float, float]:
        server = cpu_seconds(session) if session else 0.0
        cpu, wall = time.process_time(), time.perf_counter()
        work()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return wall, cpu, (cpu_seconds(session) - server if session else 0.0)

    print(f"  load average {os.getloadavg()}")
    for n in range(rounds + 1):  # the first round warms up
        for name, above in forms.items():
            access_log.HELD_ABOVE = above
            for _ in range(per_round):
                took = measured(lambda: log.append(ASKER, many, dt.datetime(2026, 1, 1), "held"))
                if n:
                    spent[name].append(took)
    for name, samples in spent.items():
        walls, cpus, servers = zip(*samples, strict=True)
        # The CPU times as means: /proc counts in ticks of 10 ms.
        print(
            f"  an entry naming {HELD} patient rows, {name:<41} wall {percentiles(list(walls))},"
            f" client CPU {statistics.mean(cpus) * 1000:5.1f} ms, PostgreSQL CPU {statistics.mean(servers) * 1000:5.1f} ms ({len(samples)} appends)"
        )
    pending = (rounds + 1) * per_round
    wall, cpu, server = measured(log.index_pending)
    print(f"  indexing {pending} held entries, per entry: wall {wall / pending * 1000:.1f} ms, client CPU {cpu / pending * 1000:.1f} ms, PostgreSQL CPU {server / pending * 1000:.1f} ms")
    print(f"  load average {os.getloadavg()}")
    assert log.verify().problem is None
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", help="a PostgreSQL URL (its database is created and dropped); default SQLite")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=50)
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--only", choices=["held"], help="held: only the entry naming 8,498 patient rows, held against written at once (--rounds of --per-round appends each)")
    args = parser.parse_args()
    if args.only == "held":
        case: Callable[[str, Path], None] = lambda url, workdir: held_or_written(url, workdir, args.rounds, args.per_round)
    else:
        case = lambda url, workdir: run(url, workdir, args.rounds, args.per_round, args.entries)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if not args.url:
            print("SQLite")
            case(f"sqlite:///{workdir / 'bench.db'}", workdir)
            return
        base = make_url(args.url)
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{base.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{base.database}"'))
        try:
            print(f"PostgreSQL ({base.database})")
            case(args.url, workdir)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{base.database}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
