"""delivery.py: the outbound contract table (checked against the official WSDLs), the SOAP request it
builds, how answers are classified, and real calls to the stub recipient over HTTP and mTLS."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from intygstjanst.registers.recipients import Recipient, RecipientKind
from intygstjanst.contracts.xml import REGISTRY, SOAP11, WSA
from intygstjanst.delivery.deliverer import CONTRACTS, Deliverer, classify, envelope
from intygstjanst.delivery.transport import DeliveryConfigError, OutboundTransport
from intygstjanst.settings import Settings
from intygstjanst.tests.delivery_support import RCV, StubRecipient, revoke_payload
from intygstjanst.tests.support import REPO_DIR, require_shared
from intygstjanst.tls.client import ClientTls
from intygstjanst.tls.pki import create_dev_pki

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"

FKASSA = Recipient(
    "FKASSA", "Försäkringskassan", RecipientKind.HUVUDMOTTAGARE, "2021005521", frozenset({"LISJP"}), True, True
)


def deliverer(base_url: str = "", **settings: Any) -> Deliverer:
    return Deliverer(OutboundTransport.from_settings(Settings(delivery_base_url=base_url, **settings)))


# -- the contract table ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(CONTRACTS))
def test_contract_table_agrees_with_the_official_wsdl(key: str) -> None:
    contract = CONTRACTS[key]
    shared = require_shared()
    found = [
        p
        for p in shared.rglob(f"{contract.name}Interaction_{contract.major}.*.wsdl")
        if p.stem.lower().endswith(contract.profile)
    ]
    assert len(found) == 1, found
    wsdl = etree.parse(str(found[0])).getroot()
    # The WSDL namespace is the responder namespace with "<name>Responder:<major>" -> "<name>:<major>:<profile>".
    responder = f"{contract.name}Responder:{contract.major}"
    assert contract.namespace.endswith(responder) and f":{contract.domain}:" in contract.namespace
    assert wsdl.get("targetNamespace") == contract.namespace.replace(responder, f"{contract.name}:{contract.major}:{contract.profile}")
    actions = {op.get("soapAction") for op in wsdl.iter(f"{{{WSDL_SOAP_NS}}}operation")}
    assert actions == {contract.soap_action}

    def element(part: etree._Element) -> str:
        prefix, _, local = part.get("element", "").partition(":")
        return f"{{{part.nsmap[prefix]}}}{local}"

    parts = {element(p) for p in wsdl.iter(f"{{{WSDL_NS}}}part")}
    routing = f"{{{WSA}}}To" if contract.profile == "rivtabp20" else f"{{{REGISTRY}}}LogicalAddress"
    assert parts == {routing, contract.request_tag, f"{{{contract.namespace}}}{contract.response}"}


def test_revoke_payload_used_by_the_delivery_tests_is_schema_valid() -> None:
    schema = etree.XMLSchema(etree.parse(str(REPO_DIR / "xsd" / "interactions" / "RevokeCertificateResponder_2.1.xsd")))
    payload = etree.fromstring(revoke_payload("c-1"))
    assert payload.tag == f"{{{RCV}}}RevokeCertificate"
    assert schema.validate(payload), schema.error_log


# -- the request -----------------------------------------------------------------------------------


def test_envelope_for_profile_21_carries_the_logical_address_and_the_delivery_id() -> None:
    body = envelope(CONTRACTS["RevokeCertificate:2"], "A&B", b'<?xml version="1.0"?>\n<p:X xmlns:p="urn:p"/>', "id-1")
    root = etree.fromstring(body)
    header, soap_body = list(root)
    assert header.findtext(f"{{{REGISTRY}}}LogicalAddress") == "A&B"
    assert header.findtext(f"{{{WSA}}}MessageID") == "urn:uuid:id-1"
    assert header.find(f"{{{WSA}}}To") is None
    assert [child.tag for child in soap_body] == ["{urn:p}X"]


def test_envelope_for_profile_20_uses_wsa_to() -> None:
    root = etree.fromstring(envelope(CONTRACTS["RevokeMedicalCertificate:1"], "FKORG", b"<p:X xmlns:p='urn:p'/>", "id-2"))
    header = root.find(f"{{{SOAP11}}}Header")
    assert header is not None
    assert header.findtext(f"{{{WSA}}}To") == "FKORG"
    assert header.find(f"{{{REGISTRY}}}LogicalAddress") is None


# -- answers ---------------------------------------------------------------------------------------


def soap(inner: str) -> bytes:
    return f'<s:Envelope xmlns:s="{SOAP11}"><s:Body>{inner}</s:Body></s:Envelope>'.encode()


def result(code: str, error_id: str | None = None, ns: str = "urn:riv:clinicalprocess:healthcond:certificate:3", text_tag: str = "resultText") -> bytes:
    parts = f"<c:resultCode>{code}</c:resultCode><c:{text_tag}>why</c:{text_tag}>" + (f"<c:errorId>{error_id}</c:errorId>" if error_id else "")
    return soap(f'<r:XResponse xmlns:r="urn:r" xmlns:c="{ns}"><r:result>{parts}</r:result></r:XResponse>')


HEALTHREPORTING = "urn:riv:insuranceprocess:healthreporting:2"
TS = "urn:local:se:intygstjanster:services:1"


@pytest.mark.parametrize(
    ("status", "body", "outcome", "detail"),
    [
        (200, result("OK"), "delivered", "OK"),
        (200, result("INFO"), "delivered", "INFO"),
        (200, result("ERROR", "TECHNICAL_ERROR"), "retry", "ERROR TECHNICAL_ERROR: why"),
        (200, result("ERROR", "VALIDATION_ERROR"), "permanent", "ERROR VALIDATION_ERROR"),
        (200, result("ERROR", "APPLICATION_ERROR"), "permanent", "APPLICATION_ERROR"),
        (200, result("ERROR", "REVOKED"), "permanent", "REVOKED"),
        (200, result("ERROR", "TRANSFORMATION_ERROR", HEALTHREPORTING, "errorText"), "permanent", "TRANSFORMATION_ERROR: why"),
        (200, result("ERROR", "TECHNICAL_ERROR", HEALTHREPORTING, "errorText"), "retry", "TECHNICAL_ERROR"),
        (200, result("OK", None, TS), "delivered", "OK"),
        (500, soap("<s:Fault><faultcode>s:Server</faultcode><faultstring>db down</faultstring></s:Fault>"), "retry", "SOAP Fault s:Server: db down"),
        (500, soap("<s:Fault><faultcode>soap:Server.Busy</faultcode><faultstring>x</faultstring></s:Fault>"), "retry", "Server.Busy"),
        (500, soap("<s:Fault><faultcode>s:Client</faultcode><faultstring>bad</faultstring></s:Fault>"), "permanent", "s:Client: bad"),
        (500, soap("<s:Fault><faultcode>s:VersionMismatch</faultcode><faultstring>v</faultstring></s:Fault>"), "permanent", "VersionMismatch"),
        (502, b"<html>Bad gateway</html>", "retry", "HTTP 502 without a SOAP answer"),
        (503, b"", "retry", "empty body"),
        (429, b"slow down", "retry", "HTTP 429"),
        (404, b"not here", "permanent", "HTTP 404 without a SOAP answer (not XML"),
        (200, soap('<r:XResponse xmlns:r="urn:r"/>'), "permanent", "holds no resultCode"),
        (200, b"<a/>", "permanent", "not a SOAP 1.1 Envelope"),
        (200, b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', "permanent", "HTTP 200 without a SOAP answer"),
    ],
)
def test_classify(status: int, body: bytes, outcome: str, detail: str) -> None:
    got = classify(status, body, "FKASSA RevokeCertificate:2")
    assert got.verdict == outcome
    assert got.detail.startswith("FKASSA RevokeCertificate:2: ")
    assert detail in got.detail
    assert got.http_status == status


# -- real calls ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StubRecipient]:
    running = StubRecipient(tmp_path_factory.mktemp("stub")).start()
    yield running
    running.stop()


def received_ids(stub: StubRecipient) -> list[str]:
    return [r["delivery_id"] for r in stub.received()["receipts"]]


def test_send_delivers_with_the_delivery_id_to_the_national_path(stub: StubRecipient) -> None:
    sender = deliverer(stub.base_url)
    try:
        got = sender.send(FKASSA, "RevokeCertificate:2", revoke_payload("d-1"), delivery_id="fixed-id-1")
        assert got.delivered and got.result_code == "OK" and got.http_status == 200
        # Without a delivery id the deliverer makes one; with another logical address that one is used.
        assert sender.send(FKASSA, "RevokeCertificate:2", revoke_payload("d-2"), logical_address="OTHER").delivered
    finally:
        sender.close()
    receipts = {r["reference"]: r for r in stub.received()["receipts"]}
    assert receipts["d-1"]["delivery_id"] == "fixed-id-1"
    assert receipts["d-1"]["logical_address"] == "2021005521"
    assert receipts["d-1"]["path"] == "/clinicalprocess/healthcond/certificate/RevokeCertificate/2/rivtabp21"
    assert receipts["d-2"]["logical_address"] == "OTHER"
    uuid.UUID(receipts["d-2"]["delivery_id"])


@pytest.mark.parametrize(
    ("mode", "outcome", "detail"),
    [
        ("technical", "retry", "TECHNICAL_ERROR"),
        ("validation", "permanent", "VALIDATION_ERROR"),
        ("application", "permanent", "APPLICATION_ERROR"),
        ("fault", "retry", "SOAP Fault soap:Server"),
        ("client-fault", "permanent", "SOAP Fault soap:Client"),
        ("refuse", "retry", "connection failed"),
        ("timeout", "retry", "timed out"),
    ],
)
def test_send_classifies_failures(stub: StubRecipient, mode: str, outcome: str, detail: str) -> None:
    stub.fail(mode, 1, delay=3.0)
    sender = deliverer(stub.base_url, delivery_timeout=2.0)
    try:
        got = sender.send(FKASSA, "RevokeCertificate:2", revoke_payload(f"fail-{mode}"))
    finally:
        sender.close()
    assert got.verdict == outcome
    assert detail in got.detail


def test_send_without_a_listener_or_endpoint_or_known_contract() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    got = deliverer(f"http://127.0.0.1:{closed_port}").send(FKASSA, "RevokeCertificate:2", b"<x/>")
    assert got.verdict == "retry" and "connection failed" in got.detail
    got = deliverer("").send(FKASSA, "RevokeCertificate:2", b"<x/>")
    assert got.verdict == "retry" and "no endpoint for FKASSA" in got.detail
    got = deliverer("http://127.0.0.1:1").send(FKASSA, "Fax:1", b"<x/>")
    assert got.verdict == "permanent" and "unknown outbound contract 'Fax:1'" in got.detail


def test_a_recipient_url_wins_over_the_base_url(stub: StubRecipient) -> None:
    direct = Recipient("SKV", "Skatteverket", RecipientKind.HUVUDMOTTAGARE, "SKV-1", frozenset(), True, True, url=stub.base_url)
    sender = deliverer("http://127.0.0.1:1")
    try:
        assert sender.send(direct, "RevokeCertificate:2", revoke_payload("d-url")).delivered
    finally:
        sender.close()


def test_outbound_mutual_tls(tmp_path: Path) -> None:
    pki = create_dev_pki(tmp_path / "pki", hosts=["127.0.0.1"], client_hsa_ids=["SE5565594230-B31"])
    ours = pki.clients["SE5565594230-B31"]
    operator = ClientTls(ours.cert, ours.key, pki.ca).httpx_client()
    stub = StubRecipient(tmp_path / "stub", tls=(pki.server.cert, pki.server.key, pki.ca), client=operator)
    stub.directory.mkdir()
    stub.start()
    sender = deliverer(stub.base_url, outbound_tls_cert=ours.cert, outbound_tls_key=ours.key, outbound_tls_ca=pki.ca)
    try:
        assert sender.send(FKASSA, "RevokeCertificate:2", revoke_payload("d-tls"), delivery_id="tls-1").delivered
        assert received_ids(stub) == ["tls-1"]
        # Without the outbound TLS settings the handshake cannot succeed: a connection failure, retried.
        plain = deliverer(stub.base_url)
        refused = plain.send(FKASSA, "RevokeCertificate:2", revoke_payload("d-tls-2"))
        assert refused.verdict == "retry" and "connection failed" in refused.detail
    finally:
        stub.stop()
        sender.close()
        operator.close()
    with pytest.raises(DeliveryConfigError, match="missing outbound_tls_key, outbound_tls_ca"):
        deliverer("", outbound_tls_cert=ours.cert)


def test_a_connection_closed_by_the_recipient_is_not_reused(tmp_path: Path) -> None:
    stub = StubRecipient(tmp_path)
    stub.start()
    sender = deliverer(stub.base_url)
    try:
        assert sender.send(FKASSA, "RevokeCertificate:2", revoke_payload("d-keep-1")).delivered
        # The recipient restarts: the kept-alive connection is dead, and must not cost a failed attempt.
        stub.stop()
        stub.start()
        assert sender.send(FKASSA, "RevokeCertificate:2", revoke_payload("d-keep-2")).delivered
    finally:
        sender.close()
        stub.stop()
