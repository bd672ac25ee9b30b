"""Real mutual TLS handshakes on loopback against uvicorn with the TLS-extension protocols."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from intygstjanst.tls.client import ClientTls, SslContextAdapter
from intygstjanst.tls.errors import TlsConfigError
from intygstjanst.tls.pki import DevCa, DevPki, IssuedCert, create_dev_pki
from intygstjanst.tls.server import ServerTlsFiles, load_server_tls
from intygstjanst.testing.tls import echo_tls_app, serving_mtls
from intygstjanst.tls.uvicorn_mtls import uvicorn_config

VALID = "SE2321000016-A001"
REVOKED = "SE2321000016-R001"
TLS13_SUITES = {0x1301, 0x1302, 0x1303}


@dataclass(frozen=True)
class Pki:
    main: DevPki
    foreign: DevPki
    expired: IssuedCert
    not_yet_valid: IssuedCert
    crl: Path

    def client(self, hsa_id: str) -> IssuedCert:
        return self.main.clients[hsa_id]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    base = tmp_path_factory.mktemp("mtls")
    main = create_dev_pki(base / "main", client_hsa_ids=[VALID, REVOKED])
    foreign = create_dev_pki(base / "foreign", client_hsa_ids=[VALID])
    ca = DevCa.load(main.directory)
    now = datetime.now(UTC)
    expired = ca.issue_client_cert(
        VALID, base / "expired", not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
    )
    not_yet_valid = ca.issue_client_cert(
        VALID, base / "future", not_before=now + timedelta(days=1), not_after=now + timedelta(days=30)
    )
    crl = ca.write_crl([main.clients[REVOKED].cert], main.directory / "crl.pem")
    return Pki(main, foreign, expired, not_yet_valid, crl)


# Each HTTP implementation; native mTLS serves on asyncio's loop (the handshake is ours, tls/handshake.py).
VARIANTS = [("httptools", "asyncio"), ("h11", "asyncio")]


@pytest.fixture(scope="module", params=VARIANTS, ids=[f"{http}-{loop}" for http, loop in VARIANTS])
def server(request: pytest.FixtureRequest, pki: Pki) -> Iterator[int]:
    http, loop = request.param
    context = load_server_tls(pki.main.server.cert, pki.main.server.key, pki.main.ca, pki.crl)
    with serving_mtls(echo_tls_app, context, http=http, loop=loop) as port:
        yield port


def client_context(pki: Pki, cert: IssuedCert | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.main.ca))
    if cert is not None:
        context.load_cert_chain(cert.cert, cert.key)
    return context


def get(tls: ssl.SSLSocket) -> bytes:
    tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    response = b""
    while chunk := tls.recv(65536):
        response += chunk
    return response


def exchange(port: int, context: ssl.SSLContext) -> bytes | None:
    """One GET over a fresh connection: the raw response, or None when the server refused the client.

    Under TLS 1.3 the client finishes its side of the handshake before the server has checked the
    client certificate, so a refusal shows up as an error or end of stream on the first read. The
    server closes without an alert (asyncio does not flush it), hence no specific alert is asserted.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                response = get(tls)
        except (ssl.SSLError, ConnectionError):
            return None
    return response or None


def body_json(response: bytes) -> dict[str, Any]:
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    if b"transfer-encoding: chunked" in head.lower():
        size, _, rest = body.partition(b"\r\n")
        body = rest[: int(size, 16)]
    result: dict[str, Any] = json.loads(body)
    return result


def test_valid_client_reaches_the_app_with_its_hsa_id(server: int, pki: Pki) -> None:
    client_files = pki.client(VALID)
    tls = ClientTls(client_files.cert, client_files.key, pki.main.ca)
    with tls.httpx_client(base_url=f"https://127.0.0.1:{server}") as client:
        # Two requests on one kept-alive connection: the extension is on every request, not just the first.
        first, second = client.get("/"), client.get("/again")
    assert first.status_code == second.status_code == 200
    assert first.json()["hsa_id"] == second.json()["hsa_id"] == VALID
    extension = first.json()["tls"]
    assert extension["tls_version"] == 0x0304
    assert extension["cipher_suite"] in TLS13_SUITES
    assert extension["client_cert_error"] is None
    assert extension["server_cert"] is None
    assert extension["client_cert_name"].startswith(f"2.5.4.5={VALID},CN={VALID},")
    [pem] = extension["client_cert_chain"]
    assert x509.load_pem_x509_certificate(pem.encode()) == x509.load_pem_x509_certificate(client_files.cert.read_bytes())


def test_tls12_connection_reports_version_and_iana_cipher_suite(server: int, pki: Pki) -> None:
    context = client_context(pki, pki.client(VALID))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        socket.create_connection(("127.0.0.1", server), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        negotiated = tls.cipher()
        response = get(tls)
    assert negotiated is not None
    suite_ids = {cipher["name"]: cipher["id"] & 0xFFFF for cipher in context.get_ciphers()}
    extension = body_json(response)["tls"]
    assert extension["tls_version"] == 0x0303
    assert extension["cipher_suite"] == suite_ids[negotiated[0]]


@pytest.mark.parametrize("case", ["no certificate", "other CA", "expired", "not yet valid", "revoked"])
def test_client_is_refused(server: int, pki: Pki, case: str) -> None:
    cert = {
        "no certificate": None,
        "other CA": pki.foreign.clients[VALID],
        "expired": pki.expired,
        "not yet valid": pki.not_yet_valid,
        "revoked": pki.client(REVOKED),
    }[case]
    assert exchange(server, client_context(pki, cert)) is None
    # The same server still serves a valid client, so the refusal is about this certificate.
    assert body_json(exchange(server, client_context(pki, pki.client(VALID))) or b"")["hsa_id"] == VALID


def test_revoked_certificate_is_accepted_without_crl(pki: Pki) -> None:
    """Control for the revocation case: without the CRL the same certificate gets through."""
    context = load_server_tls(pki.main.server.cert, pki.main.server.key, pki.main.ca)
    with serving_mtls(echo_tls_app, context, http="h11", loop="asyncio") as port:
        response = exchange(port, client_context(pki, pki.client(REVOKED)))
    assert body_json(response or b"")["hsa_id"] == REVOKED


def tls11_only(context: ssl.SSLContext) -> ssl.SSLContext:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1/TLSv1_1 members are deprecated
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    # Legacy protocols need OpenSSL's lowest security level on this side of the test.
    context.set_ciphers("ALL:@SECLEVEL=0")
    return context


def test_tls11_is_refused(server: int, pki: Pki) -> None:
    assert exchange(server, tls11_only(client_context(pki, pki.client(VALID)))) is None


def test_tls11_client_works_against_a_permissive_server(pki: Pki) -> None:
    """Control: this OpenSSL can speak TLS 1.1, so the refusal above comes from our minimum version."""
    context = tls11_only(load_server_tls(pki.main.server.cert, pki.main.server.key, pki.main.ca))
    with serving_mtls(echo_tls_app, context, http="h11", loop="asyncio") as port:
        response = exchange(port, tls11_only(client_context(pki, pki.client(VALID))))
    assert body_json(response or b"")["tls"]["tls_version"] == 0x0302


def test_zeep_transport_presents_the_client_certificate(server: int, pki: Pki) -> None:
    client_files = pki.client(VALID)
    transport = ClientTls(client_files.cert, client_files.key, pki.main.ca).zeep_transport()
    try:
        response = transport.get(f"https://localhost:{server}/wsdl", params={}, headers={})
    finally:
        transport.session.close()
    assert response.status_code == 200
    assert response.json()["hsa_id"] == VALID


@pytest.mark.parametrize("verify", [True, False])
def test_requests_session_keeps_its_own_trust_settings(server: int, pki: Pki, verify: bool) -> None:
    """requests' ``verify`` must neither add public CAs to our context nor switch verification off."""
    client_files = pki.client(VALID)
    session = ClientTls(client_files.cert, client_files.key, pki.main.ca).requests_session()
    session.verify = verify
    with session:
        response = session.get(f"https://localhost:{server}/", timeout=10)
    assert response.json()["hsa_id"] == VALID
    adapter = session.get_adapter("https://localhost/")
    assert isinstance(adapter, SslContextAdapter)
    context = adapter.ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert [ca["subject"] for ca in context.get_ca_certs()] == [ssl_subject(pki.main.ca)]


def ssl_subject(path: Path) -> Any:
    """A certificate's subject in the form ``SSLContext.get_ca_certs`` reports it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(path))
    return context.get_ca_certs()[0]["subject"]


def test_requests_session_rejects_a_server_from_another_ca(pki: Pki) -> None:
    foreign_server = load_server_tls(pki.foreign.server.cert, pki.foreign.server.key, pki.main.ca)
    client_files = pki.client(VALID)
    session = ClientTls(client_files.cert, client_files.key, pki.main.ca).requests_session()
    with (
        serving_mtls(echo_tls_app, foreign_server, http="h11", loop="asyncio") as port,
        session,
        pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        session.get(f"https://localhost:{port}/", timeout=10)


@pytest.mark.parametrize("mode", [ssl.CERT_NONE, ssl.CERT_OPTIONAL])
def test_uvicorn_config_requires_client_certificates(pki: Pki, mode: ssl.VerifyMode) -> None:
    context = load_server_tls(pki.main.server.cert, pki.main.server.key, pki.main.ca)
    context.verify_mode = mode
    with pytest.raises(ValueError, match="CERT_REQUIRED"):
        uvicorn_config(echo_tls_app, context)


def test_context_with_several_workers_is_refused(pki: Pki) -> None:
    context = load_server_tls(pki.main.server.cert, pki.main.server.key, pki.main.ca)
    with pytest.raises(ValueError, match="several workers need ServerTlsFiles"):
        uvicorn_config("intygstjanst.testing.tls:echo_tls_app", context, workers=2)


def test_server_tls_files_are_checked_when_the_config_is_built(pki: Pki) -> None:
    files = ServerTlsFiles(pki.main.server.cert, pki.client(VALID).key, pki.main.ca)
    with pytest.raises(TlsConfigError, match="does not belong to certificate"):
        uvicorn_config("intygstjanst.testing.tls:echo_tls_app", files, workers=2)


def test_several_worker_processes_serve_mtls(pki: Pki) -> None:
    """Each worker builds its own context from ServerTlsFiles (an SSLContext cannot be pickled)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    files = ServerTlsFiles(pki.main.server.cert, pki.main.server.key, pki.main.ca, pki.crl)
    script = (
        "import sys; from pathlib import Path; from intygstjanst.tls.server import ServerTlsFiles; "
        "from intygstjanst.tls.uvicorn_mtls import serve; "
        "serve('intygstjanst.testing.tls:echo_tls_app', ServerTlsFiles(*map(Path, sys.argv[2:])), "
        "port=int(sys.argv[1]), workers=2, log_level='warning')"
    )
    args = [str(port), str(files.cert), str(files.key), str(files.ca), str(files.crl)]
    process = subprocess.Popen([sys.executable, "-c", script, *args])
    try:
        deadline = time.monotonic() + 60
        response = None
        while response is None and time.monotonic() < deadline and process.poll() is None:
            try:
                response = exchange(port, client_context(pki, pki.client(VALID)))
            except ConnectionRefusedError:
                time.sleep(0.2)
        assert response is not None, "the multi-worker server did not answer"
        assert body_json(response)["hsa_id"] == VALID
        assert exchange(port, client_context(pki, pki.client(REVOKED))) is None
    finally:
        process.terminate()
        process.wait(30)
