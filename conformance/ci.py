"""The project's own conformance gate: ``python -m intygstjanst.conformance.ci``.

Starts a fresh ``intygstjanst serve`` over mutual TLS, the way an operator would (a development PKI
from ``intygstjanst tls init``, an authorization file granting the kit's consumer its own logical
addresses only, a stub recipient behind ``delivery_base_url``, also over mutual TLS, so that
certificates can really be sent), runs every suite against it with ``--require-all``, and exits
with the kit's status: 0 only when no case failed. The not-authorized cases run too, against a
logical address the grant leaves out. Everything goes into a temporary directory unless
``--work-dir`` is given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from intygstjanst.tls.client import ClientTls
from intygstjanst.conformance import data as test_data

CONSUMER = "SE5565594230-KONFORMANS"
SERVICE = "SE5565594230-INTYGSTJANST"  # the service's own client certificate, towards the recipient
UNAUTHORIZED_ADDRESS = "SE5565594230-EJBEHORIG"
START_TIMEOUT = 60.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m intygstjanst.conformance.ci", description=__doc__)
    parser.add_argument("--junit", type=Path, help="write the kit's JUnit XML here")
    parser.add_argument("--failures-dir", type=Path, help="save failed cases here (default: in the work directory)")
    parser.add_argument("--work-dir", type=Path, help="keep PKI, database and logs here instead of a temporary directory")
    parser.add_argument("--database-url", default=os.environ.get("INTYG_DATABASE_URL", ""), help="default: SQLite in the work directory (or INTYG_DATABASE_URL)")
    args = parser.parse_args(argv)
    if args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        return _gate(args, args.work_dir.resolve())
    with tempfile.TemporaryDirectory(prefix="intyg-conformance-") as work:
        return _gate(args, Path(work))


def _gate(args: argparse.Namespace, work: Path) -> int:
    pki = _cli_json("tls", "init", "--out", str(work / "pki"), "--client", CONSUMER, "--client", SERVICE, "--json")
    ca, server, clients = Path(pki["ca"]), pki["server"], pki["clients"]
    kit_tls = ClientTls(Path(clients[CONSUMER]["cert"]), Path(clients[CONSUMER]["key"]), ca)
    service_tls = ClientTls(Path(clients[SERVICE]["cert"]), Path(clients[SERVICE]["key"]), ca)
    server_tls = ["--tls-cert", server["cert"], "--tls-key", server["key"], "--tls-ca", str(ca)]

    authorization = work / "authorization.toml"
    values = test_data.load().values
    # The kit addresses its calls to logicalAddress, and ListSickLeavesForPerson to the care giver.
    authorization.write_text(_grants(CONSUMER, [values["logicalAddress"], values["careGiverId"]]), encoding="utf-8")
    stub_port, port = _free_port(), _free_port()
    stub = ["stub-recipient", "--port", str(stub_port), "--record", str(work / "recipient.jsonl"), *server_tls]
    serve = [
        "serve", "--port", str(port), "--data-dir", str(work / "data"), *server_tls,
        "--authorization-file", str(authorization),
    ]
    if args.database_url:
        serve += ["--database-url", args.database_url]
    delivery = {
        "INTYG_DELIVERY_BASE_URL": f"https://localhost:{stub_port}",
        "INTYG_OUTBOUND_TLS_CERT": str(service_tls.cert),
        "INTYG_OUTBOUND_TLS_KEY": str(service_tls.key),
        "INTYG_OUTBOUND_TLS_CA": str(ca),
    }
    endpoint = f"https://localhost:{port}"
    with _running(stub, work / "recipient.log", f"https://localhost:{stub_port}/health", service_tls), _running(
        serve, work / "server.log", f"{endpoint}/ready", kit_tls, delivery
    ):
        kit = [
            "conformance", "run", "--endpoint", endpoint,
            "--cert", str(kit_tls.cert), "--key", str(kit_tls.key), "--ca", str(ca),
            "--set", f"unauthorizedLogicalAddress={UNAUTHORIZED_ADDRESS}",
            "--require-all", "--failures-dir", str(args.failures_dir or work / "failures"),
        ]
        if args.junit:
            kit += ["--junit", str(args.junit.resolve())]
        return subprocess.call(_intygstjanst(*kit))


def _grants(consumer: str, logical_addresses: list[str]) -> str:
    """Every contract, for the kit's logical addresses only, valid around today."""
    today = dt.date.today()
    lines = ["# Written by intygstjanst.conformance.ci for one run of the conformance kit."]
    for address in logical_addresses:
        lines += [
            "[[grant]]",
            f'consumer = "{consumer}"',
            f'logical_address = "{address}"',
            'contract = "*"',
            f"valid_from = {today - dt.timedelta(days=1)}",
            f"valid_to = {today + dt.timedelta(days=1)}",
        ]
    return "\n".join(lines) + "\n"


def _intygstjanst(*args: str) -> list[str]:
    return [sys.executable, "-m", "intygstjanst.cli", *args]


def _cli_json(*args: str) -> dict[str, Any]:
    output = subprocess.run(_intygstjanst(*args), check=True, capture_output=True, text=True).stdout
    parsed: dict[str, Any] = json.loads(output)
    return parsed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _running(args: list[str], log_path: Path, ready_url: str, tls: ClientTls, env: dict[str, str] | None = None) -> Iterator[None]:
    """``intygstjanst <args>`` running until the block ends; its log is shown if it does not start."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(_intygstjanst(*args), stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        _wait_ready(process, ready_url, tls, log_path)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen[bytes], url: str, tls: ClientTls, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with tls.httpx_client(timeout=httpx.Timeout(2.0)) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"{log_path.stem} exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise SystemExit(f"{log_path.stem} was not ready within {START_TIMEOUT:.0f} s:\n{log_path.read_text(errors='replace')}")

if __name__ == "__main__":
    raise SystemExit(main())
