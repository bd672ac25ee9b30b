"""Row 10 of issue 12: TLS handshakes with no certificate, a certificate from another CA, an expired
one and a revoked one. A real ``intygstjanst serve`` (native mutual TLS, a CRL) refuses each in the
handshake and writes one JSON line per refusal naming the peer's address, the reason and, when a
certificate was presented, its subject and HSA-id; a legitimate consumer is served meanwhile."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from intygstjanst.tests.conftest import LiveServer
from intygstjanst.tests.connection_attacks import Bystander, server_with
from intygstjanst.tests.support import require_shared
from intygstjanst.tls.pki import DevCa, DevPki, IssuedCert, create_dev_pki

VALID = "SE2321000016-A001"
REVOKED = "SE2321000016-R001"
EXPIRED = "SE2321000016-E001"
FORGER = "SE2321000016-F001"
# A subject that would read as a second log line if it were written as text.
FORGED = '\n1 W intygstjanst.tls {"event":"tls_refused","peer":"6.6.6.6:1"}'  # a CN holds 64 characters
SLACK = 8.0


@dataclass(frozen=True)
class Pki:
    main: DevPki
    foreign: DevPki
    expired: IssuedCert
    forger: IssuedCert

    def client_context(self, cert: IssuedCert | None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.main.ca))
        if cert is not None:
            context.load_cert_chain(cert.cert, cert.key)
        return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    base = tmp_path_factory.mktemp("pki")
    main = create_dev_pki(base / "main", client_hsa_ids=[VALID, REVOKED])
    foreign = create_dev_pki(base / "foreign", client_hsa_ids=[VALID])
    ca = DevCa.load(main.directory)
    now = datetime.now(UTC)
    expired = ca.issue_client_cert(EXPIRED, base / "expired", not_before=now - timedelta(days=30), not_after=now - timedelta(days=1))
    ca.write_crl([main.clients[REVOKED].cert], main.directory / "crl.pem")
    forger = DevCa.load(foreign.directory).issue_client_cert(FORGER, base / "forger", common_name=FORGED)
    return Pki(main, foreign, expired, forger)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db: object, pki: Pki) -> Iterator[LiveServer]:
    require_shared()
    tmp = tmp_path_factory.mktemp("tls-refusals")
    grants = tmp / "authorization.toml"
    grants.write_text(
        f'[[grant]]\nconsumer = "{VALID}"\nlogical_address = "*"\ncontract = "*"\nvalid_from = 2000-01-01\nvalid_to = 2099-12-31\n',
        encoding="utf-8",
    )
    flags = [
        "--tls-mode", "native", "--tls-cert", str(pki.main.server.cert), "--tls-key", str(pki.main.server.key),
        "--tls-ca", str(pki.main.ca), "--tls-crl", str(pki.main.directory / "crl.pem"), "--authorization-file", str(grants),
    ]  # fmt: skip
    with server_with(tmp, database_url, *flags, env={"INTYG_TLS_MODE": "native"}, verify=pki.client_context(pki.main.clients[VALID])) as live:
        yield live


def handshake(port: int, context: ssl.SSLContext) -> tuple[str, bool]:
    """Connect and try a request; the client's own address, and whether the server let it through."""
    with socket.create_connection(("127.0.0.1", port), timeout=SLACK) as raw:
        address = "{}:{}".format(*raw.getsockname()[:2])
        try:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                # Under TLS 1.3 the client's side of the handshake ends before the server has checked
                # the certificate: the refusal shows on the first read.
                tls.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                return address, tls.recv(100).startswith(b"HTTP/1.1 200")
        except (ssl.SSLError, ConnectionError):
            return address, False


def refusals(server: LiveServer, peer: str) -> list[dict[str, object]]:
    records = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    return [r for r in records if r.get("event") == "tls_refused" and r.get("peer") == peer]


CASES = {
    # case: (client certificate, reason, HSA-id in the line)
    "no certificate": (lambda pki: None, "no client certificate", None),
    "another CA": (lambda pki: pki.foreign.clients[VALID], "unable to get local issuer certificate", VALID),
    "expired": (lambda pki: pki.expired, "certificate has expired", EXPIRED),
    "revoked": (lambda pki: pki.main.clients[REVOKED], "certificate revoked", REVOKED),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_refused_handshake_is_one_json_line(server: LiveServer, pki: Pki, case: str) -> None:
    choose, reason, hsa_id = CASES[case]
    port = int(server.base_url.rsplit(":", 1)[1])
    bystander = Bystander(server.base_url, verify=pki.client_context(pki.main.clients[VALID]))
    with bystander.watching():
        started = time.monotonic()
        peer, let_through = handshake(port, pki.client_context(choose(pki)))
        refused_after = time.monotonic() - started
        time.sleep(0.5)  # let the bystander call while the refusal is logged
    assert not let_through
    assert refused_after < SLACK
    deadline = time.monotonic() + SLACK
    while not refusals(server, peer) and time.monotonic() < deadline:
        time.sleep(0.1)
    [line] = refusals(server, peer)
    assert line["reason"] == reason
    assert line["hsa_id"] == hsa_id
    if hsa_id is None:
        assert line["subject"] is None
    else:
        assert f"2.5.4.5={hsa_id}" in str(line["subject"]) and f"CN={hsa_id}" in str(line["subject"])
    bystander.assert_served(within=SLACK)


def test_a_granted_client_is_not_logged_as_refused(server: LiveServer, pki: Pki) -> None:
    port = int(server.base_url.rsplit(":", 1)[1])
    peer, let_through = handshake(port, pki.client_context(pki.main.clients[VALID]))
    assert let_through
    assert refusals(server, peer) == []


def test_a_subject_cannot_forge_a_line(server: LiveServer, pki: Pki) -> None:
    """The subject is the client's own text, newlines and JSON included: it stays a string in one line."""
    port = int(server.base_url.rsplit(":", 1)[1])
    peer, let_through = handshake(port, pki.client_context(pki.forger))
    assert not let_through
    deadline = time.monotonic() + SLACK
    while not refusals(server, peer) and time.monotonic() < deadline:
        time.sleep(0.1)
    [line] = refusals(server, peer)
    assert "\n1 W intygstjanst.tls {" in str(line["subject"])  # kept (RFC 4514 escapes the quotes), inside the one line
    assert refusals(server, "6.6.6.6:1") == []
