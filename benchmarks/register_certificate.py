"""Register N distinct LISJP certificates over HTTP and print throughput and latency.

    python benchmarks/register_certificate.py -n 20000 -c 16            # starts its own server (SQLite)
    python benchmarks/register_certificate.py --url http://host:8080 --server-pid PID

It also measures, in the same run, what lxml parse + XSD validation of the same message costs, and
the server's CPU time per request (from the server process), and prints their ratio: how much the
whole request costs compared with the unavoidable XML work.

The load generator is a minimal asyncio HTTP/1.1 client on keep-alive connections, so that the
client spends as little of the machine's two cores as possible.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from lxml import etree

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "riv-contracts"
SAMPLE = SHARED / "samples/RegisterCertificate/common__fk-lisjp-module-bootstrap-certificate-lisjp__2_locked.1.xml"
PATH = "/clinicalprocess/healthcond/certificate/RegisterCertificate/3/rivtabp21"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
REGISTRY = "urn:riv:itintegration:registry:1"


def messages(n: int, prefix: str) -> list[bytes]:
    template = etree.parse(str(SAMPLE)).getroot()
    extension = template.find("{*}intyg/{*}intygs-id/{*}extension")
    bodies = []
    for i in range(n):
        extension.text = f"{prefix}-{i:08d}"
        bodies.append(
            f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Header><r:LogicalAddress xmlns:r="{REGISTRY}">5565594230'
            "</r:LogicalAddress></soap:Header><soap:Body>".encode()
            + etree.tostring(template)
            + b"</soap:Body></soap:Envelope>"
        )
    return bodies


def parse_validate_cost(body: bytes, rounds: int = 2000) -> float:
    """Seconds per lxml parse + XSD validation of one message, with the project's schema."""
    from intygstjanst.contracts.registry import ContractRegistry

    schema = ContractRegistry.load().by_path(PATH).schema  # type: ignore[union-attr]
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds // 5):
            root = etree.fromstring(body, parser)
            assert schema.validate(root[1][0])
        best = min(best, (time.perf_counter() - started) / (rounds // 5))
    return best


async def run_load(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float], dict[str, int]]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    queue = iter(bodies)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for body in queue:
                request = (
                    f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/xml; charset=utf-8\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode() + body
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
                )
                answer = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                outcome = "OK" if b"<resultCode>OK<" in answer or b":resultCode>OK<" in answer else answer[-300:].decode(errors="replace")
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, outcomes


def start_server(port: int, database_url: str, workers: int, log: Path) -> subprocess.Popen[bytes]:
    # The server's log (one audit line per call) goes to a file: a pipe nobody reads would fill
    # up and stall the server.
    process = subprocess.Popen(
        [sys.executable, "-m", "intygstjanst.cli", "serve", "--port", str(port), "--database-url", database_url, "--workers", str(workers)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "INTYG_TLS_MODE": "off"},
    )
    import httpx

    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server did not start:\n{log.read_text(errors='replace')}")


def cpu_seconds(pid: int) -> float:
    process = psutil.Process(pid)
    total = sum(process.cpu_times()[:2])
    for child in process.children(recursive=True):
        total += sum(child.cpu_times()[:2])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20000, help="certificates to register")
    parser.add_argument("-c", type=int, default=16, help="concurrent connections")
    parser.add_argument("--url", help="a running server; default: start one on a temporary SQLite database")
    parser.add_argument("--server-pid", type=int, help="PID of the running server, for its CPU time")
    parser.add_argument("--database-url", help="database for the server this script starts")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes when starting one")
    args = parser.parse_args()

    if not SAMPLE.is_file():
        raise SystemExit(f"sample not found: {SAMPLE} (../shared/riv-contracts must be beside the repository)")
    bodies = messages(args.n, f"bench-{int(time.time())}")
    process = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.url:
            url, pid = args.url, args.server_pid
        else:
            import socket

            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            database_url = args.database_url or f"sqlite:///{tmp}/bench.db"
            process = start_server(port, database_url, args.workers, Path(tmp) / "server.log")
            url, pid = f"http://127.0.0.1:{port}", process.pid
        try:
            asyncio.run(run_load(url, messages(200, f"warmup-{int(time.time())}"), 4))
            cpu_before = cpu_seconds(pid) if pid else None
            elapsed, latencies, outcomes = asyncio.run(run_load(url, bodies, args.c))
            cpu_after = cpu_seconds(pid) if pid else None
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=10)
    cost = parse_validate_cost(bodies[0])
    latencies.sort()
    print(f"registrations:        {len(latencies)} ({args.c} concurrent connections, {args.workers} server worker(s))")
    print(f"outcomes:             {outcomes}")
    print(f"throughput:           {len(latencies) / elapsed:8.0f} registrations/s")
    print(f"latency p50 / p99:    {statistics.median(latencies) * 1000:8.2f} / {latencies[int(len(latencies) * 0.99)] * 1000:.2f} ms")
    print(f"parse + validate:     {cost * 1e6:8.0f} µs per message ({len(bodies[0])} bytes, lxml + project XSD)")
    if cpu_before is not None and cpu_after is not None:
        per_request = (cpu_after - cpu_before) / len(latencies)
        print(f"server CPU / request: {per_request * 1e6:8.0f} µs")
        print(f"ratio server / parse+validate: {per_request / cost:.2f}")


if __name__ == "__main__":
    main()
