"""Hostile and malformed requests: each gets a SOAP Fault quickly and the server keeps serving.

These run against the real server in a second process, so a crash, a hang or runaway memory in
the parser would show as a failed or slow answer, or a dead process.
"""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from lxml import etree

from intygstjanst.contracts.xml import SOAP11, SOAP12
from intygstjanst.tests.soap import REGISTER, certificate, envelope, fault, result
from intygstjanst.tests.support import require_shared

from intygstjanst.tests.attacks.siege import HEALTH_SECONDS

XML = {"content-type": "text/xml; charset=utf-8"}

LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
    + b"]><soap:Envelope xmlns:soap=\"" + SOAP11.encode() + b"\"><soap:Body><x>&lol9;</x></soap:Body></soap:Envelope>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<soap:Envelope xmlns:soap="' + SOAP11.encode() + b'"><soap:Body><x>&xxe;</x></soap:Body></soap:Envelope>'
)
DTD_ONLY = b'<?xml version="1.0"?><!DOCTYPE soap:Envelope SYSTEM "http://example.invalid/x.dtd"><soap:Envelope xmlns:soap="' + SOAP11.encode() + b'"/>'
DEEP = b'<soap:Envelope xmlns:soap="' + SOAP11.encode() + b'"><soap:Body>' + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</soap:Body></soap:Envelope>"
SOAP_12 = f'<env:Envelope xmlns:env="{SOAP12}"><env:Body><x/></env:Body></env:Envelope>'.encode()
BAD_UTF8 = b'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="' + SOAP11.encode() + b'"><soap:Body><x>\xff\xfe\xc3</x></soap:Body></soap:Envelope>'
UNKNOWN_BODY = f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><x:Nothing xmlns:x="urn:nothing"/></soap:Body></soap:Envelope>'.encode()


def _big_body() -> bytes:
    filler = b"<x>" + b"a" * (50 * 1024 * 1024) + b"</x>"
    return b'<soap:Envelope xmlns:soap="' + SOAP11.encode() + b'"><soap:Body>' + filler + b"</soap:Body></soap:Envelope>"


CASES = {
    "xxe": (XXE, XML, "DTD"),
    "billion laughs": (LAUGHS, XML, "DTD"),
    "dtd": (DTD_ONLY, XML, "DTD"),
    "10000 deep": (DEEP, XML, "deep"),
    "soap 1.2 envelope": (SOAP_12, XML, "SOAP 1.2"),
    "soap 1.2 content type": (SOAP_12, {"content-type": "application/soap+xml"}, "SOAP 1.2"),
    "wrong content type": (b"{}", {"content-type": "application/json"}, "text/xml"),
    "no content type": (b"<x/>", {}, "text/xml"),
    "malformed utf-8": (BAD_UTF8, XML, "not well-formed"),
    "not xml": (b"hello", XML, "not well-formed"),
    "unknown body element": (UNKNOWN_BODY, XML, "expects the body element"),
    "empty body": (f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body/></soap:Envelope>'.encode(), XML, "empty"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_gets_a_fault_fast(live_server, name: str) -> None:
    body, headers, expected = CASES[name]
    started = time.monotonic()
    response = httpx.post(live_server.base_url + REGISTER, content=body, headers=headers, timeout=10)
    elapsed = time.monotonic() - started
    assert response.status_code == 500
    assert expected in fault(response.content)
    # A refusal is answered in the time a health check is, whatever the payload would have cost.
    assert elapsed < HEALTH_SECONDS, f"{name} took {elapsed:.2f} s"
    assert httpx.get(live_server.base_url + "/health").status_code == 200


def test_50_mb_body_is_refused_without_reading_it_all(live_server) -> None:
    """Only the head and the first kilobyte are sent: the refusal must come from the announced
    length alone, since the rest of the body never arrives."""
    host, port = live_server.base_url.removeprefix("http://").split(":")
    body = _big_body()
    head = (
        f"POST {REGISTER} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/xml; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(head + body[:1024])
        answer = b""
        # Until the Fault's last tag (the server may keep the connection open): a server waiting
        # for the rest of the body would time this out instead.
        while not answer.rstrip().endswith(b"Envelope>"):
            chunk = connection.recv(65536)
            assert chunk, f"connection closed without a complete answer: {answer[:200]!r}"
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 500 " in status_line, status_line
    assert "limit" in fault(rest.partition(b"\r\n\r\n")[2])
    assert live_server.process.poll() is None


def test_50_mb_body_without_content_length_is_cut_off(live_server) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        data = _big_body()
        for i in range(0, len(data), 1 << 20):
            yield data[i : i + (1 << 20)]

    response = httpx.post(live_server.base_url + REGISTER, content=chunks(), headers=XML, timeout=10)
    assert response.status_code == 500
    assert "limit" in fault(response.content)


def test_server_still_registers_after_the_abuse(live_server) -> None:
    require_shared()
    for name in CASES:
        httpx.post(live_server.base_url + REGISTER, content=CASES[name][0], headers=CASES[name][1], timeout=10)
    response = httpx.post(live_server.base_url + REGISTER, content=envelope(certificate("after-abuse")), headers=XML)
    assert result(response.content)[0] == "OK"


def test_schema_violation_answer_names_path_and_rule(live_server) -> None:
    """RegisterCertificate answers a schema violation with VALIDATION_ERROR, as the national service does."""
    require_shared()
    payload = certificate("bad-schema")
    intyg = payload.find("{*}intyg")
    intyg.remove(intyg.find("{*}typ"))
    response = httpx.post(live_server.base_url + REGISTER, content=envelope(payload), headers=XML)
    assert response.status_code == 200
    code, error_id, message = result(response.content)
    assert (code, error_id) == ("ERROR", "VALIDATION_ERROR")
    assert message is not None and message.startswith("Unmarshalling Error:")
    assert "schema violation" in message and "intyg" in message and "typ" in message


def test_missing_logical_address_and_wrong_soap_action(live_server) -> None:
    require_shared()
    body = envelope(certificate("no-address"), logical_address=None)
    assert "LogicalAddress" in fault(httpx.post(live_server.base_url + REGISTER, content=body, headers=XML).content)
    body = envelope(certificate("wrong-action"))
    response = httpx.post(live_server.base_url + REGISTER, content=body, headers={**XML, "SOAPAction": '"urn:other:Action"'})
    assert "SOAPAction" in fault(response.content)


def test_unknown_path_is_a_404_fault(live_server) -> None:
    response = httpx.post(live_server.base_url + "/no/such/Service/1/rivtabp21", content=b"<x/>", headers=XML)
    assert response.status_code == 404
    assert etree.fromstring(response.content).find(f".//{{{SOAP11}}}Fault") is not None
