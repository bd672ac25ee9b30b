"""Row 11: odd paths never get a 500, HEAD on a SOAP path is answered as GET, other methods get 405,
and a client hanging up in the middle of its body costs one short log line, no traceback. (The
CDATA text holding ``<!DOCTYPE`` is in test_dtd_any_encoding.)"""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from intygstjanst.tests.attacks.siege import XML, assert_bystanders_served, attack
from intygstjanst.tests.soap import REGISTER

PATHS = [
    "/xsd/core/x%00.txt",
    "/xsd/%00",
    "/xsd/interactions/RegisterCertificateResponder_3.1.xsd%00.txt",
    "/xsd/" + "a" * 5000 + ".xsd",
    "/xsd/../../../../etc/passwd",
    "/xsd/%2e%2e/%2e%2e/etc/passwd",
    "/xsd/",
    "/" + "b" * 5000,
    "/%00",
    "/clinicalprocess/healthcond/certificate/RegisterCertificate/3/rivtabp21%00",
]


@pytest.mark.parametrize("path", PATHS, ids=[p[:40] for p in PATHS])
def test_odd_paths_are_never_a_500(live_server, path: str) -> None:
    for method in ("GET", "HEAD", "POST"):
        response = httpx.request(method, live_server.base_url + path, content=b"<x/>" if method == "POST" else None, headers=XML, timeout=10)
        assert response.status_code in (200, 404, 405), (method, path, response.status_code)
    assert "Traceback" not in live_server.log()


def test_head_on_a_soap_path_is_answered_as_get(live_server) -> None:
    get = httpx.get(live_server.base_url + REGISTER, timeout=10)
    head = httpx.head(live_server.base_url + REGISTER, timeout=10)
    assert get.status_code == head.status_code == 200
    assert head.content == b""
    wsdl = httpx.head(live_server.base_url + REGISTER + "?wsdl", timeout=10)
    assert wsdl.status_code == 200 and wsdl.headers["content-type"].startswith("text/xml")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_on_a_soap_path_are_405(live_server, method: str) -> None:
    response = httpx.request(method, live_server.base_url + REGISTER, content=b"<x/>", headers=XML, timeout=10)
    assert response.status_code == 405


def _hang_up(base_url: str) -> None:
    """Announce a 100 kB body, send 1 kB of it, and close the connection."""
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as connection:
        connection.sendall(
            f"POST {REGISTER} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: text/xml\r\nContent-Length: 100000\r\n\r\n".encode()
            + b"<" * 1000
        )
        time.sleep(0.2)


def test_a_client_hanging_up_mid_body_costs_one_short_line(live_server) -> None:
    before = live_server.log()
    siege = attack(live_server, lambda _client: (_hang_up(live_server.base_url), httpx.Response(499))[1])
    assert_bystanders_served(siege)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "closed the connection" not in live_server.log()[len(before) :]:
        time.sleep(0.1)
    new = live_server.log()[len(before) :]
    lines = [line for line in new.splitlines() if "closed the connection" in line]
    assert len(lines) == 1, new[-2000:]
    assert len(lines[0]) < 400
    assert "Traceback" not in new and '"traceback"' not in new
