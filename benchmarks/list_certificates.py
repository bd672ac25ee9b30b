"""Latency of ListCertificatesForCitizen v4 and ListCertificatesForCare v3 for a patient with 20
certificates, over HTTP against the real server, on the database benchmarks/generate_certificates.py
fills (1,000,000 certificates, 100,000 patients, 2,000 care units by default).

    python benchmarks/generate_certificates.py postgresql+psycopg://postgres@127.0.0.1:5432/intyg_bench
    python benchmarks/list_certificates.py postgresql+psycopg://postgres@127.0.0.1:5432/intyg_bench

It starts ``intygstjanst serve`` on that database (or uses --url), warms up, then asks for random
focus patients (the ones the generator gave exactly 20 listable certificates) one request at a
time per connection, and prints p50 / p90 / p99 / max per contract. Care asks with all 20 units of
the patient's care giver, as a journal system does for a logged-in care giver. Every answer is
checked to hold the patient's 20 certificates. --explain prints PostgreSQL's plans for the list
queries, to see that they run on the indexes.
"""

from __future__ import annotations

import argparse
import http.client
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

from generate_certificates import FOCUS_CERTIFICATES, Focus, focus_patients, unit_id
from register_certificate import cpu_seconds, start_server

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
TYPES = "urn:riv:clinicalprocess:healthcond:certificate:types:3"
CORE = "urn:riv:clinicalprocess:healthcond:certificate:3"
CARE_PATH = "/clinicalprocess/healthcond/certificate/ListCertificatesForCare/3/rivtabp21"
CARE_NS = "urn:riv:clinicalprocess:healthcond:certificate:ListCertificatesForCareResponder:3"
CITIZEN_PATH = "/clinicalprocess/healthcond/certificate/ListCertificatesForCitizen/4/rivtabp21"
CITIZEN_NS = "urn:riv:clinicalprocess:healthcond:certificate:ListCertificatesForCitizenResponder:4"
PERSON = "<t:root>1.2.752.129.2.1.3.1</t:root><t:extension>{}</t:extension>"


def envelope(payload: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Header><r:LogicalAddress xmlns:r="urn:riv:itintegration:registry:1">'
        f"SE2321000016-G0000</r:LogicalAddress></soap:Header><soap:Body>{payload}</soap:Body></soap:Envelope>"
    ).encode()


def care_request(focus: Focus) -> bytes:
    units = "".join(
        f"<l:enhets-id><t:root>1.2.752.129.2.1.4.1</t:root><t:extension>{unit_id(u)}</t:extension></l:enhets-id>" for u in focus.units
    )
    return envelope(
        f'<l:ListCertificatesForCare xmlns:l="{CARE_NS}" xmlns:t="{TYPES}">'
        f"<l:person-id>{PERSON.format(focus.patient)}</l:person-id>{units}</l:ListCertificatesForCare>"
    )


def citizen_request(focus: Focus) -> bytes:
    return envelope(
        f'<l:ListCertificatesForCitizen xmlns:l="{CITIZEN_NS}" xmlns:t="{TYPES}">'
        f"<l:person-id>{PERSON.format(focus.patient)}</l:person-id><l:arkiverade>false</l:arkiverade>"
        f"<l:part><t:code>INVANA</t:code><t:codeSystem>769bb12b-bd9f-4203-a5cd-fd14f2eb3b80</t:codeSystem></l:part>"
        "</l:ListCertificatesForCitizen>"
    )


def listed(answer: bytes) -> int:
    root = etree.fromstring(answer)
    if root.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault") is not None:
        raise SystemExit(f"the server answered a Fault: {answer[:500]!r}")
    return len(root.findall(f".//{{*}}intygsLista/{{*}}intyg/{{{CORE}}}intygs-id"))


def run(url: str, path: str, bodies: list[bytes], concurrency: int) -> tuple[list[float], int]:
    """Latencies of POSTing every body (shared out over ``concurrency`` keep-alive connections)."""
    parts = urlsplit(url)
    latencies: list[float] = []
    sizes: list[int] = []
    wrong: list[int] = []
    lock = threading.Lock()
    work = iter(bodies)

    def worker() -> None:
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80)
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        while True:
            with lock:
                body = next(work, None)
            if body is None:
                break
            started = time.perf_counter()
            connection.request("POST", path, body, headers)
            answer = connection.getresponse().read()
            elapsed = time.perf_counter() - started
            count = listed(answer)
            with lock:
                latencies.append(elapsed)
                sizes.append(len(answer))
                if count != FOCUS_CERTIFICATES:
                    wrong.append(count)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if wrong:
        raise SystemExit(f"{len(wrong)} answers did not list {FOCUS_CERTIFICATES} certificates (e.g. {wrong[0]})")
    return latencies, int(statistics.mean(sizes))


def explain(database_url: str, focus: Focus) -> None:
    """The plan of the query the list handlers run (same shape as persistence/certificates.py)."""
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    # The list query joins the certificates with their states, one row per state.
    listed = (
        "SELECT c.id, c.original, c.canonical, s.state, s.target, s.at FROM certificate c "
        "LEFT OUTER JOIN certificate_state s ON s.certificate_id = c.id "
        "WHERE c.patient_id = %s AND c.deleted_by_care_giver IS false AND {} "
        "ORDER BY c.signed_at DESC NULLS LAST, c.id, s.at, s.id"
    )
    units = [unit_id(u) for u in focus.units]
    queries: list[tuple[str, str, tuple[object, ...]]] = [
        ("care", listed.format("c.care_unit_id = ANY(%s)"), (focus.patient, units)),
        ("citizen", listed.format("c.type_code <> ALL(%s)"), (focus.patient, ["DB", "DOI"])),
    ]
    with psycopg.connect(dsn) as conn:
        for name, sql, params in queries:
            plan = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()
            print(f"--- {name}")
            for (line,) in plan:
                print(f"    {line}")


def report(name: str, latencies: list[float], size: int) -> None:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000

    print(
        f"{name:<32} n={len(ordered):<6} p50 {pct(0.50):6.2f} ms   p90 {pct(0.90):6.2f} ms   "
        f"p99 {pct(0.99):6.2f} ms   max {ordered[-1] * 1000:6.2f} ms   answer {size / 1024:.0f} KiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database_url", help="the database generate_certificates.py filled")
    parser.add_argument("-n", type=int, default=2000, help="requests per contract")
    parser.add_argument("-c", "--concurrency", type=int, default=1, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes when starting one")
    parser.add_argument("--url", help="a running server on that database instead of starting one")
    parser.add_argument("--server-pid", type=int, help="PID of the running server, for its CPU time")
    parser.add_argument("--focus", type=int, default=500, help="as given to generate_certificates.py")
    parser.add_argument("--care-units", type=int, default=2_000, help="as given to generate_certificates.py")
    parser.add_argument("--explain", action="store_true", help="print the query plans for one patient")
    args = parser.parse_args()

    rng = random.Random(1)
    patients = focus_patients(args.focus, args.care_units)
    picks = [rng.choice(patients) for _ in range(args.n)]
    if args.explain:
        explain(args.database_url, picks[0])
    process = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.url:
            url, pid = args.url, args.server_pid
        else:
            import socket

            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            process = start_server(port, args.database_url, args.workers, Path(tmp) / "server.log", Path(tmp) / "data")
            url, pid = f"http://127.0.0.1:{port}", process.pid
        try:
            warm = [rng.choice(patients) for _ in range(200)]
            run(url, CITIZEN_PATH, [citizen_request(f) for f in warm], args.concurrency)
            run(url, CARE_PATH, [care_request(f) for f in warm], args.concurrency)
            print(f"{args.n} requests per contract, {args.concurrency} connection(s), {args.workers} server worker(s)")
            for name, path, build in (
                ("ListCertificatesForCitizen v4", CITIZEN_PATH, citizen_request),
                ("ListCertificatesForCare v3", CARE_PATH, care_request),
            ):
                bodies = [build(f) for f in picks]
                cpu_before = cpu_seconds(pid) if pid else None
                latencies, size = run(url, path, bodies, args.concurrency)
                report(name, latencies, size)
                if cpu_before is not None and pid:
                    print(f"{'':<32} server CPU {(cpu_seconds(pid) - cpu_before) / len(latencies) * 1000:.2f} ms per request")
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
