"""Register N distinct LISJP certificates over HTTP and print throughput and latency.

    python benchmarks/register_certificate.py -n 20000 -c 16 --workers 2  # starts its own server (SQLite)
    python benchmarks/register_certificate.py --url http://host:8080 --server-pid PID
    python benchmarks/register_certificate.py --tls -n 4000              # mutual TLS versus plain HTTP

It also measures, in the same run, what lxml parse + XSD validation of the same message costs, and
the server's CPU time per request (from the server process), and prints their ratio: how much the
whole request costs compared with the unavoidable XML work. Only OK answers count as registrations.
The client's own CPU per request is printed too: with the server's, it is what a registration costs
the machine whatever else runs on it, and ``2 cores / (server + client CPU)`` is the rate the two
cores would give with nothing else running (the load average is printed beside the figures).

Each certificate is for another patient, as in a real load (``--one-patient``: all for the
sample's patient, whose sick-leave case then grows with every registration).

``--tls`` starts a plain-HTTP server and then a native mutual-TLS server (a throw-away PKI and a grant
for the benchmark's client certificate, so every call also passes call authorization) and registers
N certificates on each twice: on keep-alive connections, and with a new connection (TCP and, for
mTLS, a full handshake with client certificate) for every request.

The load generator is a minimal asyncio HTTP/1.1 client, so that the client spends as little of the
machine's two cores as possible.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
from lxml import etree
from stdnum import luhn

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "riv-contracts"
SAMPLE = SHARED / "samples/RegisterCertificate/common__fk-lisjp-module-bootstrap-certificate-lisjp__2_locked.1.xml"
PATH = "/clinicalprocess/healthcond/certificate/RegisterCertificate/3/rivtabp21"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
REGISTRY = "urn:riv:itintegration:registry:1"
BENCH_CONSUMER = "SE5565594230-BENCH"


def personnummer(i: int) -> str:
    """The ``i``-th of 25,000,000 distinct valid personnummer (born 1930-1998, serials 000-999)."""
    born = dt.date(1930, 1, 1) + dt.timedelta(days=i // 1000 % 25000)
    digits = f"{born:%y%m%d}{i % 1000:03d}"
    return f"{born.year // 100}{digits}{luhn.calc_check_digit(digits)}"


def messages(n: int, prefix: str, one_patient: bool = False) -> list[bytes]:
    """``n`` LISJP registrations, each for another patient unless ``one_patient``. ``prefix`` makes
    the ids and patients of one call distinct from those of another."""
    template = etree.parse(str(SAMPLE)).getroot()
    extension = template.find("{*}intyg/{*}intygs-id/{*}extension")
    patient = template.find("{*}intyg/{*}patient/{*}person-id/{*}extension")
    assert extension is not None and patient is not None, f"{SAMPLE} has no intyg/intygs-id/extension or patient id"
    first_patient = zlib.crc32(prefix.encode()) % 1000 * 25000
    bodies = []
    for i in range(n):
        extension.text = f"{prefix}-{i:08d}"
        if not one_patient:
            patient.text = personnummer(first_patient + i)
        bodies.append(
            f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Header><r:LogicalAddress xmlns:r="{REGISTRY}">5565594230'
            "</r:LogicalAddress></soap:Header><soap:Body>".encode()
            + etree.tostring(template)
            + b"</soap:Body></soap:Envelope>"
        )
    return bodies


def parse_validate_cost(body: bytes, rounds: int = 2000) -> float:
    """CPU seconds per lxml parse + XSD validation of one message, with the project's schema (CPU
    time, like the server's figure, so that other load on the machine does not count)."""
    from intygstjanst.contracts.registry import ContractRegistry

    contract = ContractRegistry.load().by_path(PATH)
    assert contract is not None, f"no contract served at {PATH}"
    schema = contract.schema
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(rounds // 5):
            root = etree.fromstring(body, parser)
            assert schema.validate(root[1][0])
        best = min(best, (time.process_time() - started) / (rounds // 5))
    return best



async def run_load(
    url: str, bodies: list[bytes], concurrency: int, tls: ssl.SSLContext | None = None, keep_alive: bool = True
) -> tuple[float, list[float], dict[str, int]]:
    """Send ``bodies`` from ``concurrency`` clients. Without ``keep_alive`` every request has its own
    connection, and its latency includes connecting (and the TLS handshake)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    queue = iter(bodies)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    connection_header = "" if keep_alive else "Connection: close\r\n"

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if tls is None:
            return await asyncio.open_connection(host, port)
        return await asyncio.open_connection(host, port, ssl=tls, server_hostname="localhost")

    async def worker() -> None:
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            for body in queue:
                request = (
                    f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/xml; charset=utf-8\r\n"
                    f"{connection_header}Content-Length: {len(body)}\r\n\r\n"
                ).encode() + body
                started = time.perf_counter()
                if connection is None:
                    connection = await connect()
                reader, writer = connection
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
                )
                answer = await reader.readexactly(length)
                if not keep_alive:
                    writer.close()
                    connection = None
                latencies.append(time.perf_counter() - started)
                outcome = "OK" if b"<resultCode>OK<" in answer or b":resultCode>OK<" in answer else answer[-300:].decode(errors="replace")
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        finally:
            if connection is not None:
                connection[1].close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, outcomes


@dataclass(frozen=True)
class Mtls:
    """A throw-away PKI for ``--tls``: the server's flags and a granted client's context."""

    server_args: list[str]
    client: ssl.SSLContext

    @classmethod
    def create(cls, directory: Path) -> Mtls:
        from intygstjanst.tls.pki import create_dev_pki

        pki = create_dev_pki(directory, client_hsa_ids=[BENCH_CONSUMER])
        grants = directory / "authorization.toml"
        grants.write_text(
            f'[[grant]]\nconsumer = "{BENCH_CONSUMER}"\nlogical_address = "*"\ncontract = "*"\n'
            "valid_from = 2000-01-01\nvalid_to = 2099-12-31\n",
            encoding="utf-8",
        )
        client = ssl.create_default_context(cafile=str(pki.ca))
        client.load_cert_chain(pki.clients[BENCH_CONSUMER].cert, pki.clients[BENCH_CONSUMER].key)
        server_args = [
            "--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key), "--tls-ca", str(pki.ca),
            "--authorization-file", str(grants),
        ]  # fmt: skip
        return cls(server_args, client)


def start_server(
    port: int, database_url: str, workers: int, log: Path, data_dir: Path, mtls: Mtls | None = None
) -> subprocess.Popen[bytes]:
    # The server's log (one audit line per call) goes to a file: a pipe nobody reads would fill
    # up and stall the server.
    command = [
        sys.executable, "-m", "intygstjanst.cli", "serve", "--port", str(port), "--database-url", database_url,
        "--workers", str(workers), "--data-dir", str(data_dir), *(mtls.server_args if mtls else ["--tls-mode", "off"]),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env={**os.environ, "INTYG_TLS_MODE": "auto"})
    health = f"{'https' if mtls else 'http'}://localhost:{port}/health"
    for _ in range(300):
        try:
            if httpx.get(health, verify=mtls.client if mtls else True).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server did not start:\n{log.read_text(errors='replace')}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    process = psutil.Process(pid)
    total = sum(process.cpu_times()[:2])
    for child in process.children(recursive=True):
        total += sum(child.cpu_times()[:2])
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Run:
    elapsed: float
    latencies: list[float]  # sorted
    outcomes: dict[str, int]
    cpu_per_request: float | None  # seconds of server CPU, when its PID is known
    client_cpu_per_request: float  # seconds of this process's CPU (the load generator)

    @property
    def throughput(self) -> float:
        """OK answers per second: an error or INFO answer is no registration."""
        return self.outcomes.get("OK", 0) / self.elapsed

    @property
    def p50(self) -> float:
        return self.latencies[len(self.latencies) // 2]

    @property
    def p99(self) -> float:
        return self.latencies[int(len(self.latencies) * 0.99)]


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_average() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def measure(
    url: str, pid: int | None, bodies: list[bytes], concurrency: int, tls: ssl.SSLContext | None = None, keep_alive: bool = True
) -> Run:
    cpu_before = cpu_seconds(pid) if pid else None
    client_before = own_cpu_seconds()
    elapsed, latencies, outcomes = asyncio.run(run_load(url, bodies, concurrency, tls, keep_alive))
    client_cpu = own_cpu_seconds() - client_before
    cpu_after = cpu_seconds(pid) if pid else None
    per_request = (cpu_after - cpu_before) / len(latencies) if cpu_before is not None and cpu_after is not None else None
    return Run(elapsed, sorted(latencies), outcomes, per_request, client_cpu / len(latencies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, help="certificates to register (default 20000; with --tls, 4000 per run)")
    parser.add_argument("-c", type=int, default=16, help="concurrent connections")
    parser.add_argument("--url", help="a running server; default: start one on a temporary SQLite database")
    parser.add_argument("--server-pid", type=int, help="PID of the running server, for its CPU time")
    parser.add_argument("--database-url", help="database for the server this script starts")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes when starting one")
    parser.add_argument(
        "--one-patient", action="store_true", help="register every certificate for the sample's patient (default: one patient each)"
    )
    parser.add_argument("--tls", action="store_true", help="compare mutual TLS with plain HTTP, keep-alive and new connections")
    args = parser.parse_args()

    if not SAMPLE.is_file():
        raise SystemExit(f"sample not found: {SAMPLE} (../shared/riv-contracts must be beside the repository)")
    if args.tls:
        if args.url:
            raise SystemExit("--tls starts its own plain and mTLS servers; it cannot be combined with --url")
        compare_tls(args.n or 4000, args.c, args.workers, args.database_url, args.one_patient)
    else:
        single(args.n or 20000, args)


def single(n: int, args: argparse.Namespace) -> None:
    bodies = messages(n, f"bench-{int(time.time())}", args.one_patient)
    process = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.url:
            url, pid = args.url, args.server_pid
        else:
            port = free_port()
            database_url = args.database_url or f"sqlite:///{tmp}/bench.db"
            process = start_server(port, database_url, args.workers, Path(tmp) / "server.log", Path(tmp) / "data")
            url, pid = f"http://127.0.0.1:{port}", process.pid
        try:
            asyncio.run(run_load(url, messages(200, f"warmup-{int(time.time())}", args.one_patient), 4))
            load_before = load_average()
            run = measure(url, pid, bodies, args.c)
            load_after = load_average()
        finally:
            if process is not None:
                stop(process)
    cost = parse_validate_cost(bodies[0])
    patients = "one patient" if args.one_patient else "one patient each"
    print(f"registrations:        {len(run.latencies)} ({patients}, {args.c} concurrent connections, {args.workers} server worker(s))")
    print(f"load average:         {load_before} before, {load_after} after (1, 5, 15 min; {os.cpu_count()} cores)")
    print(f"outcomes:             {run.outcomes}")
    print(f"throughput:           {run.throughput:8.0f} registrations/s (OK answers)")
    print(f"latency p50 / p99:    {run.p50 * 1000:8.2f} / {run.p99 * 1000:.2f} ms")
    print(f"parse + validate:     {cost * 1e6:8.0f} µs per message ({len(bodies[0])} bytes, lxml + project XSD)")
    print(f"client CPU / request: {run.client_cpu_per_request * 1e6:8.0f} µs")
    if run.cpu_per_request is not None:
        print(f"server CPU / request: {run.cpu_per_request * 1e6:8.0f} µs")
        print(f"ratio server / parse+validate: {run.cpu_per_request / cost:.2f}")
        machine = run.cpu_per_request + run.client_cpu_per_request
        print(f"two idle cores at this CPU cost: {2 / machine:.0f} registrations/s (2 / (server + client CPU))")


def compare_tls(n: int, concurrency: int, workers: int, database_url: str | None, one_patient: bool) -> None:
    """Plain HTTP and native mutual TLS, each on keep-alive connections and with one connection per request."""
    results: list[tuple[str, str, Run]] = []
    stamp = int(time.time())
    with tempfile.TemporaryDirectory() as tmp:
        for label, mtls in (("plain HTTP", None), ("mutual TLS", Mtls.create(Path(tmp) / "pki"))):
            name = "mtls" if mtls else "plain"
            port = free_port()
            # A database per server, so that both runs start from the same (empty) state.
            db = database_url or f"sqlite:///{tmp}/bench-{name}.db"
            process = start_server(port, db, workers, Path(tmp) / f"server-{name}.log", Path(tmp) / f"data-{name}", mtls)
            url = f"{'https' if mtls else 'http'}://127.0.0.1:{port}"
            context = mtls.client if mtls else None
            try:
                asyncio.run(run_load(url, messages(200, f"warmup-{name}-{stamp}", one_patient), 4, context))
                for keep_alive in (True, False):
                    bodies = messages(n, f"bench-{name}-{'ka' if keep_alive else 'nc'}-{stamp}", one_patient)
                    connections = "keep-alive" if keep_alive else "new connection per request"
                    results.append((label, connections, measure(url, process.pid, bodies, concurrency, context, keep_alive)))
            finally:
                stop(process)
    print(f"{n} registrations per run, {concurrency} concurrent clients, {workers} server worker(s); load average {load_average()}")
    print(f"{'transport':<11} {'connections':<27} {'reg/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'server CPU/req':>15}  outcomes")
    for label, connections, run in results:
        cpu = f"{run.cpu_per_request * 1e6:.0f} µs" if run.cpu_per_request is not None else "-"
        print(
            f"{label:<11} {connections:<27} {run.throughput:6.0f} {run.p50 * 1000:7.2f} {run.p99 * 1000:7.2f} {cpu:>15}  {run.outcomes}"
        )


if __name__ == "__main__":
    main()
