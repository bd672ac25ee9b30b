"""The real ``intygstjanst serve`` over mutual TLS for the transport-security tests: a test PKI with
consumers in every state, grant files, and reading the server's audit lines."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from intygstjanst.tls.pki import DevCa, DevPki, IssuedCert, create_dev_pki

from intygstjanst.tests.conftest import free_port, stop_server
from intygstjanst.tests.soap import GET_NS, REGISTER_NS
from intygstjanst.tests.support import REPO_DIR, START_SECONDS

CONSUMER = "SE2321000016-C001"  # granted RegisterCertificate and GetCertificate for ADDRESS
PLATFORM = "SE2321000016-P001"  # a configured platform consumer without grants of its own
OTHER = "SE2321000016-O001"  # a valid certificate without grants
REVOKED = "SE2321000016-R001"  # granted, but its certificate is on the CRL
ADDRESS = "5565594230"
OTHER_ADDRESS = "SE2321000016-9XYZ"


@dataclass(frozen=True)
class Pki:
    main: DevPki
    foreign: DevPki  # same HSA-ids, another CA
    expired: IssuedCert  # CONSUMER's HSA-id, expired yesterday
    crl: Path

    def client(self, hsa_id: str) -> IssuedCert:
        return self.main.clients[hsa_id]

    def context(self, cert: IssuedCert | None) -> ssl.SSLContext:
        """A client context trusting the main CA and presenting ``cert`` (None: no certificate).

        Plain ``ssl`` rather than ``ClientTls``, which would refuse to present an expired certificate.
        """
        context = ssl.create_default_context(cafile=str(self.main.ca))
        if cert is not None:
            context.load_cert_chain(cert.cert, cert.key)
        return context


def make_pki(base: Path) -> Pki:
    main = create_dev_pki(base / "main", client_hsa_ids=[CONSUMER, PLATFORM, OTHER, REVOKED])
    foreign = create_dev_pki(base / "foreign", client_hsa_ids=[CONSUMER])
    ca = DevCa.load(main.directory)
    now = datetime.now(UTC)
    expired = ca.issue_client_cert(
        CONSUMER, base / "expired", not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
    )
    crl = ca.write_crl([main.clients[REVOKED].cert], main.directory / "crl.pem")
    return Pki(main, foreign, expired, crl)


def grants(*rows: tuple[str, str, str]) -> str:
    """An authorization file granting (consumer, logical address, contract namespace) rows."""
    return "".join(
        f'[[grant]]\nconsumer = "{consumer}"\nlogical_address = "{address}"\ncontract = "{contract}"\n'
        "valid_from = 2000-01-01\nvalid_to = 2099-12-31\n\n"
        for consumer, address, contract in rows
    )


STANDARD_GRANTS = grants(
    (CONSUMER, ADDRESS, REGISTER_NS),
    (CONSUMER, ADDRESS, GET_NS),
    (REVOKED, "*", "*"),
)


@dataclass
class Server:
    base_url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def audit(self) -> list[dict[str, Any]]:
        """The server's audit records so far, oldest first."""
        return audit_lines(self.log())


def audit_lines(log: str) -> list[dict[str, Any]]:
    """The audit records among a server's log lines (each line one JSON object)."""
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [record for record in records if record["logger"] == "intygstjanst.audit"]


@contextmanager
def running(
    tmp: Path,
    database_url: str,
    args: list[str],
    health: Callable[[], ssl.SSLContext | bool],
    scheme: str = "https",
    data_dir: Path | None = None,
) -> Iterator[Server]:
    """``intygstjanst serve`` with ``args`` on a free port, once its /health answers.

    ``health`` gives the probe's ``verify`` (the client context for mTLS); it is called for every
    attempt because with the embedded default the client certificate only appears once the server
    has created it.
    """
    port = free_port()
    data_dir = data_dir or tmp / "data"
    log_path = tmp / f"server-{port}.log"
    base = f"{scheme}://localhost:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "intygstjanst.cli", "serve", "--port", str(port), "--database-url", database_url,
             "--data-dir", str(data_dir), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            # Whatever the surrounding environment says, these tests choose the mode by their flags.
            env={**os.environ, "INTYG_TLS_MODE": "auto"},
            cwd=REPO_DIR,
        )  # fmt: skip
    try:
        _wait_for_health(process, f"{base}/health", health, log_path)
        yield Server(base, port, process, log_path, data_dir)
    finally:
        stop_server(process)


def _wait_for_health(
    process: subprocess.Popen[bytes], url: str, health: Callable[[], ssl.SSLContext | bool], log_path: Path
) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=2, verify=health()).status_code == 200:
                return
        except (httpx.HTTPError, OSError):  # OSError: the client certificate is not written yet
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer {url} within {START_SECONDS} s:\n{log_path.read_text(errors='replace')}")


def standard_grants(tmp: Path) -> Path:
    """An authorization file in ``tmp`` holding STANDARD_GRANTS."""
    authorization = tmp / "authorization.toml"
    authorization.write_text(STANDARD_GRANTS, encoding="utf-8")
    return authorization


@contextmanager
def running_native(tmp: Path, database_url: str, pki: Pki, *extra: str) -> Iterator[Server]:
    """``running`` with native mutual TLS, the standard grants and ``extra`` flags; healthy once
    CONSUMER's handshake and /health succeed."""
    args = [*native_args(pki, standard_grants(tmp)), *extra]
    with running(tmp, database_url, args, lambda: pki.context(pki.client(CONSUMER))) as server:
        yield server


def native_args(pki: Pki, authorization: Path) -> list[str]:
    return [
        "--tls-cert", str(pki.main.server.cert),
        "--tls-key", str(pki.main.server.key),
        "--tls-ca", str(pki.main.ca),
        "--tls-crl", str(pki.crl),
        "--authorization-file", str(authorization),
        "--platform-consumer", PLATFORM,
    ]  # fmt: skip


def soap(client: httpx.Client, path: str, body: bytes, **headers: str) -> httpx.Response:
    return client.post(path, content=body, headers={"content-type": "text/xml; charset=utf-8", **headers})


def handshake_refused(port: int, context: ssl.SSLContext) -> bool:
    """True when the server refuses the client during (or, under TLS 1.3, right after) the handshake.

    Under TLS 1.3 the client's side of the handshake completes before the server has checked the
    client certificate, so the refusal shows up on the first read as an error or end of stream.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                return tls.recv(65536) == b""
        except (ssl.SSLError, ConnectionError):
            return True
