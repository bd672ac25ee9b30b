"""Behind a real nginx that terminates mutual TLS: the allowed/refused matrix through the proxy, and the
forwarded-certificate header refused from anyone but the proxy.

nginx connects to the service from 127.0.0.2 (``proxy_bind``), the only trusted proxy address; the
tests' direct requests come from 127.0.0.1, so "not the proxy" is a real, different TCP peer.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from lxml import etree

from intygstjanst.persistence.db import Database
from intygstjanst.tls.callers import ORIGINAL_CONSUMER_HEADER

from intygstjanst.tests.conftest import free_port
from intygstjanst.tests.soap import GET, GET_NS, REGISTER, REGISTER_NS, certificate, envelope, fault, get_request, result
from intygstjanst.tests.support import require_shared, unavailable
from intygstjanst.tests.tlsserver import (
    ADDRESS,
    CONSUMER,
    OTHER,
    OTHER_ADDRESS,
    PLATFORM,
    REVOKED,
    Pki,
    Server,
    running,
    soap,
    standard_grants,
)

PROXY_ADDRESS = "127.0.0.2"

NGINX_CONF = """\
daemon off;
master_process off;  # one process running as the test user: no privilege drop, no shared temp dirs
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream intygstjanst {{
        server 127.0.0.1:{upstream};
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {pki}/server.pem;
        ssl_certificate_key {pki}/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_client_certificate {pki}/ca.pem;
        ssl_verify_client on;
        ssl_verify_depth 3;
        ssl_crl {pki}/crl.pem;
        client_max_body_size 10m;
        location / {{
            proxy_pass http://intygstjanst;
            proxy_bind {proxy_address};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).is_file()), None)
    if found is None:
        unavailable("nginx not found on PATH or in /usr/sbin: the proxy-mode tests need a real nginx (apt-get install nginx-light)")
    return found


@dataclass
class Proxied:
    service: Server  # reached directly: plain HTTP on 127.0.0.1
    proxy_url: str  # nginx: https with client certificates

    def via_proxy(self, pki: Pki, hsa_id: str | None) -> httpx.Client:
        cert = pki.client(hsa_id) if hsa_id is not None else None
        return httpx.Client(base_url=self.proxy_url, verify=pki.context(cert), timeout=30)

    def direct(self) -> httpx.Client:
        return httpx.Client(base_url=self.service.base_url, timeout=30)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory, pki: Pki, database_url: str, migrated_db: Database) -> Iterator[Proxied]:
    nginx = nginx_binary()
    tmp = tmp_path_factory.mktemp("proxy")
    authorization = standard_grants(tmp)
    args = [
        "--tls-mode", "proxy",
        "--trusted-proxy", PROXY_ADDRESS,
        "--authorization-file", str(authorization),
        "--platform-consumer", PLATFORM,
        "--workers", "2",  # proxy mode with several workers, as the native tests run it with one
    ]  # fmt: skip
    with running(tmp, database_url, args, lambda: True, scheme="http") as service:
        port = free_port()
        conf = tmp / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(tmp=tmp, upstream=service.port, port=port, pki=pki.main.directory, proxy_address=PROXY_ADDRESS),
            encoding="utf-8",
        )
        log = (tmp / "nginx.out").open("wb")
        process = subprocess.Popen([nginx, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")], stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"https://localhost:{port}"
            _wait_for(process, url, pki, tmp)
            yield Proxied(service, url)
        finally:
            process.terminate()
            process.wait(10)
            log.close()


def _wait_for(process: subprocess.Popen[bytes], url: str, pki: Pki, tmp: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}:\n{(tmp / 'error.log').read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/health", verify=pki.context(pki.client(CONSUMER)), timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"nginx did not proxy /health within 30 s:\n{(tmp / 'error.log').read_text(errors='replace')}")


def refusal(response: httpx.Response) -> str:
    assert response.status_code == 500, response.text
    assert b"Traceback" not in response.content
    return fault(response.content)


def minimal_register(address: str = ADDRESS) -> bytes:
    return envelope(etree.Element(f"{{{REGISTER_NS}}}RegisterCertificate"), logical_address=address)


def register_body(address: str = ADDRESS) -> bytes:
    require_shared()
    return envelope(certificate(f"nginx-{uuid.uuid4().hex[:12]}"), logical_address=address)


@pytest.mark.parametrize("case", ["no certificate", "other CA", "expired", "revoked"])
def test_nginx_refuses_the_client_and_the_service_never_sees_it(proxied: Proxied, pki: Pki, case: str) -> None:
    cert = {"no certificate": None, "other CA": pki.foreign.clients[CONSUMER], "expired": pki.expired, "revoked": pki.client(REVOKED)}[case]
    calls_before = len(proxied.service.audit())
    with httpx.Client(base_url=proxied.proxy_url, verify=pki.context(cert), timeout=30) as http:
        response = soap(http, GET, envelope(get_request("x"), logical_address=ADDRESS))
    assert response.status_code == 400
    assert b"SSL certificate" in response.content  # nginx's own page, not a SOAP answer
    assert len(proxied.service.audit()) == calls_before


def test_granted_consumer_registers_through_the_proxy(proxied: Proxied, pki: Pki) -> None:
    with proxied.via_proxy(pki, CONSUMER) as http:
        response = soap(http, REGISTER, register_body())
    assert result(response.content)[0] == "OK", response.text
    record = proxied.service.audit()[-1]
    assert (record["consumer"], record["authorized"], record["logical_address"]) == (CONSUMER, CONSUMER, ADDRESS)


def test_logical_address_without_grant_is_refused_through_the_proxy(proxied: Proxied, pki: Pki) -> None:
    with proxied.via_proxy(pki, CONSUMER) as http:
        message = refusal(soap(http, REGISTER, minimal_register(OTHER_ADDRESS)))
    assert message == (
        f"consumer {CONSUMER} is not authorized to call RegisterCertificate ({REGISTER_NS}) for logical address {OTHER_ADDRESS}"
    )


def test_contract_without_grant_is_refused_through_the_proxy(proxied: Proxied, pki: Pki) -> None:
    with proxied.via_proxy(pki, OTHER) as http:
        message = refusal(soap(http, GET, envelope(get_request("x"), logical_address=ADDRESS)))
    assert message == f"consumer {OTHER} is not authorized to call GetCertificate ({GET_NS}) for logical address {ADDRESS}"


def test_platform_passes_the_original_consumer_through_the_proxy(proxied: Proxied, pki: Pki) -> None:
    with proxied.via_proxy(pki, PLATFORM) as http:
        response = soap(http, REGISTER, register_body(), **{ORIGINAL_CONSUMER_HEADER: CONSUMER})
    assert result(response.content)[0] == "OK", response.text
    record = proxied.service.audit()[-1]
    assert (record["consumer"], record["original_consumer"], record["authorized"]) == (PLATFORM, CONSUMER, CONSUMER)


def test_original_consumer_from_a_non_platform_is_refused_through_the_proxy(proxied: Proxied, pki: Pki) -> None:
    with proxied.via_proxy(pki, OTHER) as http:
        message = refusal(soap(http, REGISTER, minimal_register(), **{ORIGINAL_CONSUMER_HEADER: CONSUMER}))
    assert message == f"{ORIGINAL_CONSUMER_HEADER} is only accepted from platform consumers; consumer {OTHER} is not one"


def test_a_client_cannot_send_its_own_certificate_header_through_the_proxy(proxied: Proxied, pki: Pki) -> None:
    """nginx replaces the header with the certificate of the connection."""
    borrowed = quote(pki.client(CONSUMER).cert.read_text())
    with proxied.via_proxy(pki, OTHER) as http:
        message = refusal(soap(http, GET, envelope(get_request("x"), logical_address=ADDRESS), **{"X-SSL-Client-Cert": borrowed}))
    assert message.startswith(f"consumer {OTHER} is not authorized")


@pytest.mark.parametrize("claimed_peer", [None, PROXY_ADDRESS], ids=["plain", "with X-Forwarded-For naming the proxy"])
def test_forged_certificate_header_from_a_non_proxy_address_is_refused(
    proxied: Proxied, pki: Pki, claimed_peer: str | None
) -> None:
    headers = {"X-SSL-Client-Cert": quote(pki.client(CONSUMER).cert.read_text())}
    if claimed_peer is not None:
        headers |= {"X-Forwarded-For": claimed_peer, "X-Real-IP": claimed_peer}
    with proxied.direct() as http:
        message = refusal(soap(http, REGISTER, minimal_register(), **headers))
    assert message == "a forwarded client certificate (x-ssl-client-cert) came from 127.0.0.1, which is not a trusted proxy"
    record = proxied.service.audit()[-1]
    assert (record["consumer"], record["authorized"], record["result"]) == (None, None, "FAULT")


def test_direct_call_without_header_is_refused(proxied: Proxied) -> None:
    with proxied.direct() as http:
        message = refusal(soap(http, GET, envelope(get_request("x"), logical_address=ADDRESS)))
    assert message == "calls must come through a trusted proxy that verified the client certificate; 127.0.0.1 is not one"


def test_wsdl_through_the_proxy_names_the_public_https_address(proxied: Proxied, pki: Pki) -> None:
    with proxied.via_proxy(pki, OTHER) as http:
        wsdl = http.get(f"{REGISTER}?wsdl")
    address = etree.fromstring(wsdl.content).find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address is not None and address.get("location") == f"{proxied.proxy_url}{REGISTER}"
