"""Row 9: an unknown SOAP header with mustUnderstand="1" gets the SOAP 1.1 MustUnderstand Fault and
nothing is stored; the routing headers we process may carry it, and headers for another actor or
without it are ignored."""

from __future__ import annotations

import uuid

import httpx
import pytest
from lxml import etree

from intygstjanst.contracts.xml import REGISTRY, SOAP11, WSA
from intygstjanst.tests.attacks.siege import XML, assert_bystanders_served, attack, legitimate_registration
from intygstjanst.tests.soap import REGISTER, fault, result

_ADDRESS = b'<ns0:LogicalAddress xmlns:ns0="urn:riv:itintegration:registry:1">5565594230</ns0:LogicalAddress>'


def _with_headers(headers: str, certificate_id: str) -> bytes:
    body = legitimate_registration(certificate_id)
    assert _ADDRESS in body
    return body.replace(_ADDRESS, _ADDRESS + headers.encode(), 1)


def _faultcode(body: bytes) -> str | None:
    return etree.fromstring(body).findtext(f".//{{{SOAP11}}}Fault/faultcode")


UNKNOWN = f'<sec:Security xmlns:sec="urn:example:security" xmlns:s="{SOAP11}" s:mustUnderstand="1"><sec:Token>x</sec:Token></sec:Security>'


def test_unknown_must_understand_header_is_a_must_understand_fault_and_nothing_is_stored(live_server) -> None:
    certificate_id = f"mu-{uuid.uuid4().hex[:10]}"
    body = _with_headers(UNKNOWN, certificate_id)
    siege = attack(live_server, lambda client: client.post(live_server.base_url + REGISTER, content=body, headers=XML))
    assert siege.answer.status_code == 500
    assert _faultcode(siege.answer.content) == "soap:MustUnderstand"
    assert "{urn:example:security}Security" in fault(siege.answer.content)
    assert siege.seconds < 2.0
    assert_bystanders_served(siege)
    # Not stored: the same certificate without the header is new (OK), not "already exists" (INFO).
    again = httpx.post(live_server.base_url + REGISTER, content=legitimate_registration(certificate_id), headers=XML, timeout=10)
    assert result(again.content)[0] == "OK"


@pytest.mark.parametrize(
    "header",
    [
        f'<sec:Security xmlns:sec="urn:example:security" xmlns:s="{SOAP11}" s:mustUnderstand="0"/>',
        f'<sec:Security xmlns:sec="urn:example:security" xmlns:s="{SOAP11}" s:mustUnderstand="1" s:actor="urn:example:another-node"/>',
        f'<wsa:Action xmlns:wsa="{WSA}" xmlns:s="{SOAP11}" s:mustUnderstand="1">urn:example:action</wsa:Action>',
        f'<wsa:MessageID xmlns:wsa="{WSA}" xmlns:s="{SOAP11}" s:mustUnderstand="1">urn:uuid:1</wsa:MessageID>',
    ],
    ids=["mustUnderstand 0", "another actor", "wsa:Action", "wsa:MessageID"],
)
def test_headers_we_understand_or_need_not_understand_are_fine(live_server, header: str) -> None:
    body = _with_headers(header, f"mu-ok-{uuid.uuid4().hex[:10]}")
    response = httpx.post(live_server.base_url + REGISTER, content=body, headers=XML, timeout=10)
    assert result(response.content)[0] == "OK", response.content[:400]


def test_logical_address_with_must_understand_is_understood(live_server) -> None:
    marked = f'<ns0:LogicalAddress xmlns:ns0="{REGISTRY}" xmlns:s="{SOAP11}" s:mustUnderstand="1">5565594230</ns0:LogicalAddress>'
    body = legitimate_registration().replace(_ADDRESS, marked.encode(), 1)
    response = httpx.post(live_server.base_url + REGISTER, content=body, headers=XML, timeout=10)
    assert result(response.content)[0] == "OK", response.content[:400]
