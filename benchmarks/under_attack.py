"""Legitimate RegisterCertificate latency with and without a concurrent stream of the worst payloads.

    python benchmarks/under_attack.py                      # starts its own server (SQLite, plain HTTP)
    python benchmarks/under_attack.py -n 400 --attackers 2 --url http://127.0.0.1:8080

One client registers ``-n`` distinct certificates (examples/RegisterCertificate-3.xml under fresh
ids), one request at a time, first on a quiet server and then while ``--attackers`` threads keep
sending the worst payloads of issue 12 (a LISJP with 60,000 supplementary answers, the official
DOI sample with question 9 repeated 8,000 times, 200,000 namespace declarations, an attribute flood,
an external DTD in UTF-16; needs ../shared for the DOI sample). It prints p50 and p99 of both runs, the ratio of the p99s (target: under 3) and how many
attack requests were answered meanwhile. Each attacker is a process of its own, as an attacker is
another machine: as threads of this process they made the legitimate client wait for this
interpreter's lock while they wrote their megabytes, which counted against the server.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier as BarrierType, Event as EventType
from pathlib import Path

import httpx

from intygstjanst.contracts.xml import SOAP11
from intygstjanst.tests.attacks.siege import (
    XML,
    attribute_flood,
    legitimate_registration,
    namespace_flood,
    repeated_question_9,
    supplementary_flood,
)
from intygstjanst.tests.conftest import free_port
from intygstjanst.tests.soap import REGISTER as PATH

REPO = Path(__file__).resolve().parents[1]


def worst_payloads() -> dict[str, bytes]:
    dtd = f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x SYSTEM "file:///dev/stdin"><soap:Envelope xmlns:soap="{SOAP11}"><soap:Body/></soap:Envelope>'
    return {
        "LISJP with 60,000 supplementary answers": supplementary_flood(60_000),
        "DOI with question 9 repeated 8,000 times": repeated_question_9(8_000),
        "200,000 namespace declarations": namespace_flood(200_000),
        "500,000 attributes": attribute_flood(500_000),
        "external DTD in UTF-16": dtd.encode("utf-16"),
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def legitimate_run(url: str, n: int, prefix: str) -> list[float]:
    seconds = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for i in range(n):
            body = legitimate_registration(f"{prefix}-{i}")
            started = time.perf_counter()
            response = client.post(PATH, content=body, headers=XML)
            seconds.append(time.perf_counter() - started)
            if b"<resultCode>OK</resultCode>" not in response.content and b"resultCode>OK<" not in response.content:
                raise SystemExit(f"a legitimate registration was not OK: {response.content[:300]!r}")
    return seconds


def attack(url: str, ready: BarrierType, stop: EventType, answered: Queue[list[str]]) -> None:
    """One attacker process: the worst payloads in turn until ``stop``; what was answered goes to
    ``answered`` at the end."""
    names: list[str] = []
    payloads = worst_payloads()
    ready.wait()
    with httpx.Client(base_url=url, timeout=300) as client:
        while not stop.is_set():
            for name, body in payloads.items():
                if stop.is_set():
                    break
                client.post(PATH, content=body, headers=XML)
                names.append(name)
    answered.put(names)


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "intygstjanst.cli", "serve", "--port", str(port), "--tls-mode", "off", "--data-dir", str(workdir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ},
        cwd=REPO,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=300, help="legitimate registrations per run (default 300)")
    parser.add_argument("--attackers", type=int, default=2, help="processes sending the worst payloads (default 2)")
    parser.add_argument("--url", help="a running server (default: start one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        process = None
        url = args.url
        if url is None:
            process, url = start_server(Path(tmp))
        try:
            run = uuid.uuid4().hex[:8]
            legitimate_run(url, 20, f"warm-{run}")
            quiet = legitimate_run(url, args.n, f"quiet-{run}")
            context = multiprocessing.get_context("spawn")
            ready = context.Barrier(args.attackers + 1)
            stop = context.Event()
            results: Queue[list[str]] = context.Queue()
            attackers = [context.Process(target=attack, args=(url, ready, stop, results)) for _ in range(args.attackers)]
            for attacker in attackers:
                attacker.start()
            ready.wait(timeout=120)  # each has imported and built its payloads
            time.sleep(1.0)  # let the attack start
            loud = legitimate_run(url, args.n, f"loud-{run}")
            stop.set()
            answered = [name for _ in attackers for name in results.get()]
            for attacker in attackers:
                attacker.join()
        finally:
            if process is not None:
                process.terminate()
                process.wait()
    print(f"{'':28} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'without attack':28} {percentile(quiet, 0.5) * 1000:8.1f} {percentile(quiet, 0.99) * 1000:8.1f}")
    print(f"{'under attack':28} {percentile(loud, 0.5) * 1000:8.1f} {percentile(loud, 0.99) * 1000:8.1f}")
    print(f"p99 under attack / p99 without: {percentile(loud, 0.99) / percentile(quiet, 0.99):.2f} (target < 3)")
    print(f"attack requests answered meanwhile: {len(answered)} ({', '.join(sorted(set(answered)))})")


if __name__ == "__main__":
    main()
