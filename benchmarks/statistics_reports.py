"""The built-in statistics on PostgreSQL: ``statistics rebuild`` from generated certificates, and the
report queries.

    python benchmarks/statistics_reports.py postgresql+psycopg://postgres@127.0.0.1:5432/intyg_statistics_bench

Generates ``--total`` (1,000,000) sick-leave certificates with benchmarks/generate_sick_leave.py
(100 care givers of 20 units over five years; 1 % revoked, 0.5 % test persons), and a message to
care for one certificate in twenty (a third of them completion requests), then:

* rebuilds the de-identified store from them (``statistics.rebuild.rebuild``, as the command does),
  timed;
* asks every report (``statistics.reports.report``: the query and the threshold) ``--calls`` times
  for the twelve months up to now, nationally, for one county and for one care giver, and prints
  p50 / p99 / max per report and scope. Target: every p99 below 50 ms.

Each figure is printed with the load average (``uptime``) at the time: the machine is shared. Beside
the wall-clock times, the CPU time of this process and of its database sessions (``/proc``, a local
PostgreSQL), which other load hardly changes. ``--reuse`` skips the generation (the database from
an earlier run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate_sick_leave  # noqa: E402  (a sibling script)
from sick_leave import ServerCpu  # noqa: E402

SUBJECTS = ("KOMPLT", "KOMPLT", "AVSTMN", "KONTKT", "OVRIGT", "PAMINN")
COUNTY_CODES = ("01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13", "14", "17", "18", "19", "20", "21", "22", "23", "24", "25")
COPY_MESSAGES = (
    "COPY message (id, direction, certificate_id, patient_id, subject, sender, recipient_address, sent_at, received_at, digest, original) "
    "FROM STDIN"
)


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def add_messages(url: str, seed: int) -> int:
    import psycopg
    from sqlalchemy.engine import make_url

    rng = random.Random(seed)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        chosen = cur.execute("SELECT id, patient_id, signed_at FROM certificate WHERE right(id, 2)::int % 20 = 0").fetchall()
        with cur.copy(COPY_MESSAGES) as copy:
            for number, (certificate_id, patient, signed) in enumerate(chosen):
                sent = signed + dt.timedelta(days=rng.randint(1, 30))
                copy.write_row((f"bench-message-{number}", "TO_CARE", certificate_id, patient, rng.choice(SUBJECTS), "FKASSA",
                                "unit", sent, sent, "digest", b"<generated-for-benchmark/>"))
    return len(chosen)


def care_units() -> object:
    from intygstjanst.registers.care_units import parse

    givers = []
    for number in range(100):
        giver = f"SE2321000016-VG{number:02d}"
        units = [{"id": f"SE2321000016-E{number:02d}{u:02d}", "name": f"Enhet {u}"} for u in range(generate_sick_leave.UNITS_PER_GIVER)]
        if number == 0:
            units = [{"id": generate_sick_leave.FOCUS_UNIT, "name": "Fokus",
                      "sub_unit": [{"id": s, "name": s} for s in generate_sick_leave.FOCUS_SUB_UNITS]}]
        givers.append({"id": giver, "name": giver, "county": COUNTY_CODES[number % len(COUNTY_CODES)], "unit": units})
    return parse({"care_giver": givers}, "benchmark")


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {ordered[len(ordered) // 2]:6.1f} ms  p99 {p99:6.1f} ms  max {ordered[-1]:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="SQLAlchemy URL of the database to (re)create")
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=200, help="calls per report and scope")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--reuse", action="store_true", help="use the database of an earlier run")
    parser.add_argument("--skip-rebuild", action="store_true", help="with --reuse: use its store as it is")
    args = parser.parse_args()

    from intygstjanst.certificates.certtypes import CertificateTypes
    from intygstjanst.persistence.db import Database
    from intygstjanst.statistics.rebuild import rebuild
    from intygstjanst.statistics.reports import NATIONAL, REPORTS, Scope, report
    from intygstjanst.statistics.store import Sources

    if not args.reuse:
        started = time.perf_counter()
        generate_sick_leave.generate(
            args.url, args.total, min(50_000, args.total // 20), min(5_000, args.total // 200), args.seed, lists=False
        )
        messages = add_messages(args.url, args.seed)
        print(f"generated {args.total:,} certificates and {messages:,} messages in {time.perf_counter() - started:.0f} s ({load()})")

    database = Database(args.url)
    database.upgrade()  # a database of an earlier run may predate a migration
    sources = Sources(b"benchmark-key", CertificateTypes.load(), care_units())  # type: ignore[arg-type]
    if not args.skip_rebuild:
        with database.read(), database.transaction():
            pass  # the rebuild's two sessions opened, so that their CPU time is read
        cpu = ServerCpu(args.url, os.getpid())
        before = cpu.read()
        started = time.perf_counter()
        done = rebuild(database, sources)
        after = cpu.read()
        print(f"rebuild: {time.perf_counter() - started:.1f} s for {done.certificates:,} certificates, {done.revoked:,} revoked, "
              f"{done.cases:,} cases, {done.messages:,} messages; CPU time {after[0] - before[0]:.1f} s in this process, "
              f"{after[1] - before[1]:.1f} s in the database ({load()})", flush=True)
        # As autovacuum does in a running service: statistics for the planner, and the visibility
        # map that lets the count index answer without reading the table.
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE stat_count, stat_shown")

    today = dt.date.today().replace(day=1)
    first = dt.date(today.year - 1, today.month, 1) + dt.timedelta(days=31)
    first = first.replace(day=1)
    scopes = [NATIONAL, Scope("county", "01"), Scope("care_giver", "SE2321000016-VG00")]
    worst = 0.0
    for scope in scopes:
        for definition in REPORTS:
            samples = []
            with database.read() as conn:
                report(conn, definition.key, scope, first, today)  # warm-up
            cpu = ServerCpu(args.url, os.getpid())
            before = cpu.read()
            for _ in range(args.calls):
                t0 = time.perf_counter()
                with database.read() as conn:
                    report(conn, definition.key, scope, first, today)
                samples.append((time.perf_counter() - t0) * 1000)
            after = cpu.read()
            worst = max(worst, sorted(samples)[min(len(samples) - 1, int(len(samples) * 0.99))])
            print(f"{scope.kind:10} {scope.id:20} {definition.key:13} {percentiles(samples)}  CPU per call "
                  f"{(after[0] - before[0]) / args.calls * 1000:5.1f} ms + database {(after[1] - before[1]) / args.calls * 1000:5.1f} ms"
                  f"  ({load()})", flush=True)
    print(f"worst report p99: {worst:.1f} ms (target < 50 ms: {'met' if worst < 50 else 'NOT met'})")
    page(args, database)
    database.dispose()


def page(args: argparse.Namespace, database: object) -> None:
    """The page (all nine reports, default period) and one report's JSON through the ASGI app in
    this process: the query, the threshold and the rendering, without a network."""
    import tempfile

    from starlette.testclient import TestClient

    from intygstjanst.app import create_app
    from intygstjanst.services import Services
    from intygstjanst.settings import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        services = Services.build(Settings(data_dir=Path(data_dir), database_url=args.url), db=database)
        with TestClient(create_app(services=services)) as client:
            for path in ("/statistik/", "/statistik/api/sjukfall", "/statistik/api/intygstyp.csv"):
                client.get(path)  # warm-up
                samples = []
                for _ in range(max(20, args.calls // 5)):
                    t0 = time.perf_counter()
                    assert client.get(path).status_code == 200
                    samples.append((time.perf_counter() - t0) * 1000)
                print(f"GET {path:30} {percentiles(samples)}  ({load()})", flush=True)


if __name__ == "__main__":
    main()
