"""Rehab coordination at a large care unit: ListActiveSickLeavesForCareUnit through the real HTTP
server, and the case computation for the same unit, on PostgreSQL.

    python benchmarks/generate_sick_leave.py postgresql+psycopg://postgres@127.0.0.1:5432/intyg_sickleave_bench
    python benchmarks/sick_leave.py postgresql+psycopg://postgres@127.0.0.1:5432/intyg_sickleave_bench

The generator builds 1,000,000 sick-leave certificates, 50,000 of them at the focus unit (with its
sub-units) where about 5,000 patients are on sick leave today. This script starts ``intygstjanst
serve`` (one worker, plain HTTP) on that database with a care-unit register holding the focus
unit, and reports, each as p50 / p99 / max over ``--calls`` sequential calls after a warm-up:

* ``ListActiveSickLeavesForCareUnit`` for the focus unit: the whole call as a client sees it
  (request sent to last byte of the answer received, on a keep-alive connection), with the
  answer's size and content; then with the contract's filter, ``max-dagar-sedan-avslut`` 14 (also
  the sick leaves ended during the last two weeks); both again on a server keeping no answers of
  stored cases (``sick_leave_cache_mb`` 0: every answer read from the database on every call, as on
  a process's first call of a unit);
* ``ListSickLeavesForCare`` for the focus unit (gap 5 days), the same way;
* where the server's time goes: the same ListActive call through the dispatcher in this process
  (no HTTP), and its database read alone;
* the case computation for the focus unit in this process: the stored rows of the patients on
  sick leave (read once), cut to their current chains, turned into engine records and merged into
  cases; and the engine's ``compute_cases`` alone on prepared records;
* what keeping the cases at write time costs a registration: RegisterCertificate (LISJP, each for
  another patient of the focus unit) through the dispatcher in this process, in alternating rounds
  with and without the case upkeep (the case bounds, the stored case and the answer's rendering), so that
  the machine's other load falls on both alike. The registered certificates are deleted afterwards.

``--only registration`` runs the last part alone (no server, no lists), e.g. to compare two
versions of the upkeep in turns; ``--only http`` the first (the server keeping what it reads).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import subprocess
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from lxml import etree

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from generate_sick_leave import FOCUS_GIVER, FOCUS_UNIT, care_units_toml  # noqa: E402

ACTIVE = "/clinicalprocess/healthcond/rehabilitation/ListActiveSickLeavesForCareUnit/1/rivtabp21"
CARE = "/clinicalprocess/healthcond/certificate/ListSickLeavesForCare/1/rivtabp21"
ACTIVE_NS = "urn:riv:clinicalprocess:healthcond:rehabilitation:ListActiveSickLeavesForCareUnitResponder:1"
CARE_NS = "urn:riv:clinicalprocess:healthcond:certificate:ListSickLeavesForCareResponder:1"
T2 = "urn:riv:clinicalprocess:healthcond:certificate:types:2"
T3 = "urn:riv:clinicalprocess:healthcond:certificate:types:3"
HSA = "1.2.752.129.2.1.4.1"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
REGISTRY = "urn:riv:itintegration:registry:1"
MAX_GAP = 5


def envelope(payload: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Header><r:LogicalAddress xmlns:r="{REGISTRY}">{FOCUS_GIVER}'
        f"</r:LogicalAddress></soap:Header><soap:Body>{payload}</soap:Body></soap:Envelope>"
    ).encode()


def active_request(extra: str = "") -> bytes:
    return envelope(
        f'<a:ListActiveSickLeavesForCareUnit xmlns:a="{ACTIVE_NS}" xmlns:t="{T2}">'
        f"<a:enhets-id><t:root>{HSA}</t:root><t:extension>{FOCUS_UNIT}</t:extension></a:enhets-id>{extra}"
        "</a:ListActiveSickLeavesForCareUnit>"
    )


ACTIVE_REQUEST = active_request()
ACTIVE_RECENT_REQUEST = active_request("<a:max-dagar-sedan-avslut>14</a:max-dagar-sedan-avslut>")
CARE_REQUEST = envelope(
    f'<c:ListSickLeavesForCare xmlns:c="{CARE_NS}" xmlns:t="{T3}">'
    f"<c:enhets-id><t:root>{HSA}</t:root><t:extension>{FOCUS_UNIT}</t:extension></c:enhets-id>"
    f"<c:maxDagarMellanIntyg>{MAX_GAP}</c:maxDagarMellanIntyg></c:ListSickLeavesForCare>"
)


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms   max {ordered[-1] * 1000:7.1f} ms"


def timed(action: Callable[[], object], calls: int, warmup: int) -> tuple[list[float], object]:
    result = None
    for _ in range(warmup):
        result = action()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        result = action()
        samples.append(time.perf_counter() - started)
    return samples, result


def start_server(url: str, workdir: Path, port: int, cache_mb: int | None = None) -> subprocess.Popen[bytes]:
    units = workdir / "care_units.toml"
    units.write_text(care_units_toml(), encoding="utf-8")
    env = {**os.environ, "INTYG_TLS_MODE": "off", "INTYG_CARE_UNITS_FILE": str(units)}
    if cache_mb is not None:
        env["INTYG_SICK_LEAVE_CACHE_MB"] = str(cache_mb)
    log = (workdir / "server.log").open("wb")  # a pipe nobody reads would stall the server
    process = subprocess.Popen(
        [sys.executable, "-m", "intygstjanst.cli", "serve", "--port", str(port), "--database-url", url,
         "--data-dir", str(workdir / "data")],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited:\n{(workdir / 'server.log').read_text(errors='replace')}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not start within 60 s")


def _post(connection: http.client.HTTPConnection, path: str, body: bytes) -> bytes:
    connection.request("POST", path, body=body, headers={"content-type": "text/xml; charset=utf-8"})
    response = connection.getresponse()
    content = response.read()
    assert response.status == 200, content[:500]
    return content


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerCpu:
    """The CPU time the server and its database sessions spend on a series of calls: unlike the
    wall-clock times, hardly changed by other load on the machine (this assumes a local PostgreSQL
    whose processes ``/proc`` shows)."""

    def __init__(self, url: str, server_pid: int) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        target = make_url(url)
        dsn = target.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn) as conn:
            self.backends = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )]
        self.server_pid = server_pid

    def read(self) -> tuple[float, float]:
        return _cpu_seconds(self.server_pid), sum(_cpu_seconds(pid) for pid in self.backends)


def over_http(port: int, calls: int, warmup: int, url: str, server_pid: int, cached: bool = True) -> None:
    # http.client reads a large answer at C speed; a heavier client would add its own time.
    note = "" if cached else " (no cache)"
    for label, request in (("", ACTIVE_REQUEST), (", ended <= 14 days", ACTIVE_RECENT_REQUEST)):
        label += note
        # A connection per series: reading the last answer may outlast the server's keep-alive.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        timed(lambda: _post(connection, ACTIVE, request), 0, warmup)
        cpu = ServerCpu(url, server_pid)  # after the warm-up, which opened the server's sessions
        before = cpu.read()
        samples, content = timed(lambda: _post(connection, ACTIVE, request), calls, 0)
        after = cpu.read()
        assert isinstance(content, bytes)
        body = etree.fromstring(content).find(f"{{{SOAP}}}Body")
        assert body is not None, content[:300]
        answer = body[0]
        data = answer.findall(f"{{{ACTIVE_NS}}}intygsLista/{{*}}intygsData")
        patients = {d.findtext(f"{{*}}patient/{{*}}personId/{{{T2}}}extension") for d in data}
        assert answer.findtext(f"{{{ACTIVE_NS}}}resultCode") == "OK"
        print(f"ListActiveSickLeavesForCareUnit{label:19} {percentiles(samples)}")
        print(f"    answer: {len(data):,} certificates of {len(patients):,} patients, {len(content) / 1e6:.1f} MB")
        print(f"    CPU time per call: server {(after[0] - before[0]) / calls * 1000:.1f} ms, "
              f"its database sessions {(after[1] - before[1]) / calls * 1000:.1f} ms")
        connection.close()
    if not cached:
        return
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    samples, content = timed(lambda: _post(connection, CARE, CARE_REQUEST), calls, warmup)
    assert isinstance(content, bytes)
    cases = etree.fromstring(content).findall(f".//{{{CARE_NS}}}sjukfall")
    print(f"ListSickLeavesForCare (gap {MAX_GAP})    {percentiles(samples)}")
    print(f"    answer: {len(cases):,} cases, {len(content) / 1e6:.2f} MB")
    connection.close()


def in_process(url: str, workdir: Path, calls: int, warmup: int) -> None:
    """Where the server's time goes: the same call through the dispatcher without HTTP, and the
    database read alone."""
    from intygstjanst.contracts.dispatch import Caller, Dispatcher
    from intygstjanst.handlers.sickleave import today
    from intygstjanst.persistence import sickleave as repo
    from intygstjanst.services import Services
    from intygstjanst.settings import Settings

    from generate_sick_leave import FOCUS_SUB_UNITS

    services = Services.build(
        Settings(data_dir=workdir / "data", database_url=url, care_units_file=workdir / "care_units.toml")
    )
    contract = services.contracts.by_path(ACTIVE)
    assert contract is not None
    # The server writes the access-log entry naming the listed patients before answering: with and without.
    for label, recorder in (("", None), (", access log", services.record_access)):
        dispatcher = Dispatcher(services, services.parse_limits, recorder=recorder)
        cpu = time.process_time()
        samples, _ = timed(lambda: dispatcher.handle(contract, ACTIVE_REQUEST, None, Caller()), calls, warmup)
        cpu = (time.process_time() - cpu) / (calls + warmup)
        print(f"  in process, whole dispatch{label:12} {percentiles(samples)}   (CPU time {cpu * 1000:.1f} ms per call)")
    active_date = today(services)

    # Every answer read, and the answers taken from the process's cache (the server's steady state).
    for label, cache in (("", None), (", held", services.case_cache)):

        def read() -> object:
            with services.db.read() as conn:
                units = (FOCUS_UNIT, *FOCUS_SUB_UNITS)
                return repo.unit_list(conn, units, since=active_date, until=active_date, cache=cache)

        samples, _ = timed(read, calls, warmup)
        print(f"  in process, database read{label:7}{percentiles(samples)}")

    # The list's rows as before the stored cases (every patient's whole history at the units, each
    # certificate rendered on every call) and as now, in alternating calls so that other load on
    # the machine falls on both alike.
    from intygstjanst.certificates.sickleave import current_chains
    from intygstjanst.certificates.sickleave_answer import intygs_data

    units = (FOCUS_UNIT, *FOCUS_SUB_UNITS)

    def before() -> int:
        with services.db.read() as conn:
            by_patient = repo.in_window_at_units(conn, units, active_date, active_date, max_gap=repo.CASE_GAP + 1)
        return len(b"".join(intygs_data(r) for r in current_chains(by_patient, active_date, repo.CASE_GAP, 0)))

    def rows() -> int:
        with services.db.read() as conn:
            by_patient = repo.listed_at_units(conn, units, active_date, active_date)
        return len(b"".join(r.fragment or b"" for r in current_chains(by_patient, active_date, repo.CASE_GAP, 0)))

    def cases() -> int:
        with services.db.read() as conn:
            found = repo.unit_list(conn, units, active_date, active_date)
        chained = current_chains(found.rows, active_date, repo.CASE_GAP, 0)
        return sum(len(c.fragments) for c in found.cases.values()) + sum(len(r.fragment or b"") for r in chained)

    assert before() == rows() == cases()
    with services.db.read() as conn:
        found = repo.unit_list(conn, units, active_date, active_date)
    print(f"  {len(found.cases):,} patients answered from their stored case, {len(found.rows):,} from their rows")
    timings: dict[str, list[float]] = {"before": [], "rows": [], "cases": []}
    cpu_of: dict[str, float] = {"before": 0.0, "rows": 0.0, "cases": 0.0}
    for _ in range(calls):
        for name, action in (("before", before), ("rows", rows), ("cases", cases)):
            cpu = time.process_time()
            timings[name].extend(timed(action, 1, 0)[0])
            cpu_of[name] += time.process_time() - cpu
    print(f"  rows to answer, whole history   {percentiles(timings['before'])}   (CPU {cpu_of['before'] / calls * 1000:.1f} ms)")
    print(f"  rows to answer, stored bounds   {percentiles(timings['rows'])}   (CPU {cpu_of['rows'] / calls * 1000:.1f} ms)")
    print(f"  rows to answer, stored cases    {percentiles(timings['cases'])}   (CPU {cpu_of['cases'] / calls * 1000:.1f} ms)")
    print(f"    stored cases {statistics.median(timings['rows']) / statistics.median(timings['cases']):.1f} times faster "
          "than the rows with their bounds (medians)")
    services.db.dispose()


def computation(url: str, calls: int, warmup: int) -> None:
    from zoneinfo import ZoneInfo

    from intygstjanst.certificates.sickleave import current_chains
    from intygstjanst.certificates.sickleave_view import engine_record
    from intygstjanst.certificates.sickleave import compute_cases
    from intygstjanst.persistence import sickleave as repo
    from intygstjanst.persistence.db import Database

    from generate_sick_leave import FOCUS_SUB_UNITS

    today = dt.datetime.now(ZoneInfo("Europe/Stockholm")).date()
    database = Database(url)
    with database.read() as conn:
        started = time.perf_counter()
        by_patient = repo.in_window_at_units(conn, (FOCUS_UNIT, *FOCUS_SUB_UNITS), since=today, until=today)
        read = time.perf_counter() - started
    database.dispose()

    def cases_from_rows() -> object:
        return compute_cases(map(engine_record, current_chains(by_patient, today, MAX_GAP, 0)), today, MAX_GAP)

    samples, cases = timed(cases_from_rows, calls, warmup)
    assert isinstance(cases, list)
    records = [engine_record(r) for r in current_chains(by_patient, today, MAX_GAP, 0)]
    print(f"case computation, rows -> cases   {percentiles(samples)}")
    print(f"    {sum(map(len, by_patient.values())):,} stored rows read in {read * 1000:.0f} ms; {len(records):,} in current chains; {len(cases):,} cases")
    samples, _ = timed(lambda: compute_cases(records, today, MAX_GAP), calls, warmup)
    print(f"compute_cases alone               {percentiles(samples)}")


REGISTER = "/clinicalprocess/healthcond/certificate/RegisterCertificate/3/rivtabp21"
# Registrations per round, with and without the upkeep in turns: short rounds, so that what drifts
# on the machine over seconds (checkpoints, the disk's sync times) falls on both alike.
ROUND = 5


def registration_cost(url: str, workdir: Path, rounds: int, per_round: int) -> None:
    """RegisterCertificate through the dispatcher with and without the case upkeep, alternating."""
    import uuid

    from sqlalchemy import text

    import intygstjanst.handlers.sickleave as handler
    import intygstjanst.persistence.sickleave as repo
    from intygstjanst.app import freeze_start_up
    from intygstjanst.contracts.dispatch import Caller, Dispatcher
    from intygstjanst.services import Services
    from intygstjanst.settings import Settings

    from register_certificate import messages

    services = Services.build(
        Settings(data_dir=workdir / "data", database_url=url, care_units_file=workdir / "care_units.toml")
    )
    dispatcher = Dispatcher(services, services.parse_limits)
    contract = services.contracts.by_path(REGISTER)
    assert contract is not None
    freeze_start_up()  # as a serving process does once its app is built
    prefix = f"regbench-{uuid.uuid4().hex[:8]}"
    total = 2 * rounds * per_round + 20
    with services.db.read() as conn:
        patients = list(conn.execute(
            text("SELECT DISTINCT patient_id FROM sick_leave_certificate WHERE care_unit_id = :unit LIMIT :n"),
            {"unit": FOCUS_UNIT, "n": total},
        ).scalars())
    bodies = iter(
        body.replace(b">191212121212<", f">{patients[i % len(patients)]}<".encode())
        for i, body in enumerate(messages(total, prefix, one_patient=True))
    )
    kept = repo._refresh_cases, repo._store_listed, handler.intygs_data, repo.first_reads

    def upkeep(on: bool) -> None:
        """With the case upkeep as registrations run it, or without it: the row written alone (as
        before the cases were kept), with no case lock or read sent with the certificate's insert,
        no answer rendered."""
        if on:
            repo._refresh_cases, repo._store_listed, handler.intygs_data, repo.first_reads = kept  # type: ignore[assignment]
            return
        repo._refresh_cases = lambda conn, owners, leaving: None  # type: ignore[assignment]
        repo._store_listed = lambda conn, new, read=(): repo._insert(conn, new)  # type: ignore[assignment]
        handler.intygs_data = lambda row: None  # type: ignore[assignment]
        repo.first_reads = lambda conn, new, supersedes=(): []  # type: ignore[assignment]

    def register() -> None:
        answer = dispatcher.handle(contract, next(bodies), None, Caller())
        assert b">OK<" in answer.body, answer.body[-400:]

    samples: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, float] = {True: 0.0, False: 0.0}  # this process's CPU time in each mode
    try:
        for _ in range(20):
            register()  # warm-up
        for number in range(rounds):
            for on in (number % 2 == 0, number % 2 != 0):
                upkeep(on)
                started = time.process_time()
                samples[on].extend(timed(register, per_round, 0)[0])
                cpu[on] += time.process_time() - started
    finally:
        upkeep(True)
        with services.db.transaction() as conn:
            # The patients' cases (bounds and stored cases) are recomputed without the removed rows,
            # so that the next run lists what the generator made.
            owners = {(row[0], row[1]) for row in conn.execute(
                text("SELECT DISTINCT patient_id, care_giver_id FROM sick_leave_certificate WHERE certificate_id LIKE :p"),
                {"p": f"{prefix}-%"},
            )}
            conn.execute(text("DELETE FROM certificate WHERE id LIKE :p"), {"p": f"{prefix}-%"})
            repo._refresh_cases(conn, owners, leaving=True)
        # Their dead row versions would otherwise stay in the indexes the next run reads (the
        # patients' rows), slowing its upkeep's read more with every run.
        with services.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(
                "VACUUM certificate, certificate_state, certificate_signature, sick_leave_certificate, sick_leave_case"
            ))
        services.db.dispose()
    calls = len(samples[True])
    print(f"RegisterCertificate with case upkeep    {percentiles(samples[True])}   CPU here {cpu[True] / calls * 1000:.2f} ms")
    print(f"RegisterCertificate without it          {percentiles(samples[False])}   CPU here {cpu[False] / calls * 1000:.2f} ms")
    increase = statistics.median(samples[True]) / statistics.median(samples[False]) - 1
    halves = [
        statistics.median(samples[True][part]) / statistics.median(samples[False][part]) - 1
        for part in (slice(0, calls // 2), slice(calls // 2, None))
    ]
    print(f"    cost of the case upkeep: {increase * 100:+.1f} % of a registration (medians, {calls} calls each, "
          f"rounds of {per_round} in turns; first / second half {halves[0] * 100:+.1f} / {halves[1] * 100:+.1f} %), "
          f"{(cpu[True] / cpu[False] - 1) * 100:+.1f} % CPU time in this process")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="SQLAlchemy URL of a database filled by generate_sick_leave.py")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--registrations", type=int, default=400, help="per mode, for the cost of the case upkeep")
    parser.add_argument("--only", choices=("registration", "http"), help="run only this part (http: the calls over HTTP, with the cache)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sickleave-bench-") as tmp:
        if args.only == "registration":
            (Path(tmp) / "care_units.toml").write_text(care_units_toml(), encoding="utf-8")
            registration_cost(args.url, Path(tmp), rounds=max(2, args.registrations // ROUND), per_round=ROUND)
            return
        server = start_server(args.url, Path(tmp), args.port)
        try:
            over_http(args.port, args.calls, args.warmup, args.url, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        if args.only == "http":
            return
        # Every answer read from the database on every call, as a process's first call of a unit.
        server = start_server(args.url, Path(tmp), args.port, cache_mb=0)
        try:
            over_http(args.port, max(10, args.calls // 4), args.warmup, args.url, server.pid, cached=False)
        finally:
            server.terminate()
            server.wait(timeout=30)
        in_process(args.url, Path(tmp), max(10, args.calls // 4), 2)
        registration_cost(args.url, Path(tmp), rounds=max(2, args.registrations // ROUND), per_round=ROUND)
    computation(args.url, args.calls, args.warmup)


if __name__ == "__main__":
    main()
