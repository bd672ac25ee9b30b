"""The stub recipient as a real process: answers per contract family, a durable record that
recognises redeliveries (also across a crash of the stub), failure modes, and mutual TLS."""

from __future__ import annotations

import json
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from intygstjanst.contracts.xml import SOAP11
from intygstjanst.delivery.deliverer import CONTRACTS, DELIVERY_ID_HEADER, envelope
from intygstjanst.tests.delivery_support import StubRecipient, revoke_payload, wait_until
from intygstjanst.tls.client import ClientTls
from intygstjanst.tls.pki import create_dev_pki

REVOKE = CONTRACTS["RevokeCertificate:2"]


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StubRecipient]:
    running = StubRecipient(tmp_path_factory.mktemp("stub")).start()
    yield running
    running.stop()


def post(stub: StubRecipient, body: bytes, delivery_id: str | None = None, path: str = REVOKE.path) -> httpx.Response:
    headers = {"content-type": "text/xml; charset=utf-8"}
    if delivery_id:
        headers[DELIVERY_ID_HEADER] = delivery_id
    return httpx.post(f"{stub.base_url}{path}", content=body, headers=headers, timeout=10)


def answer(response: httpx.Response) -> dict[str, str]:
    """Local name -> text of every leaf in the answer's Body."""
    root = etree.fromstring(response.content)
    body = root.find(f"{{{SOAP11}}}Body")
    assert body is not None
    return {etree.QName(e).localname: (e.text or "") for e in body.iter() if isinstance(e.tag, str) and len(e) == 0}


def revoke(certificate_id: str, delivery_id: str) -> bytes:
    return envelope(REVOKE, "2021005521", revoke_payload(certificate_id), delivery_id)


def test_receipt_then_redelivery_is_recognised(stub: StubRecipient) -> None:
    delivery_id = str(uuid.uuid4())
    first = post(stub, revoke("stub-a", delivery_id), delivery_id)
    assert first.status_code == 200 and answer(first)["resultCode"] == "OK"
    again = post(stub, revoke("stub-a", delivery_id), delivery_id)
    assert again.status_code == 200
    assert answer(again) == {"resultCode": "OK", "resultText": "already received"}
    got = stub.received()
    receipts = [r for r in got["receipts"] if r["delivery_id"] == delivery_id]
    duplicates = [r for r in got["duplicates"] if r["delivery_id"] == delivery_id]
    assert len(receipts) == 1 and len(duplicates) == 1
    assert receipts[0]["contract"] == "RevokeCertificate:2"
    assert receipts[0]["reference"] == "stub-a"
    assert receipts[0]["logical_address"] == "2021005521"
    assert receipts[0]["path"] == "/clinicalprocess/healthcond/certificate/RevokeCertificate/2/rivtabp21"


def test_the_ws_addressing_message_id_identifies_a_delivery_without_the_header(stub: StubRecipient) -> None:
    delivery_id = str(uuid.uuid4())
    for _ in range(2):
        assert post(stub, revoke("stub-b", delivery_id)).status_code == 200
    got = stub.received()
    assert [r["delivery_id"] for r in got["receipts"]].count(delivery_id) == 1
    assert [r["delivery_id"] for r in got["duplicates"]].count(delivery_id) == 1


@pytest.mark.parametrize("key", sorted(CONTRACTS))
def test_every_outbound_contract_is_answered_in_its_own_family(stub: StubRecipient, key: str) -> None:
    contract = CONTRACTS[key]
    payload = f'<x:{contract.request} xmlns:x="{contract.namespace}"/>'.encode()
    response = post(stub, envelope(contract, "LA", payload, str(uuid.uuid4())), path=contract.path)
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    element = root.find(f"{{{SOAP11}}}Body/{{{contract.namespace}}}{contract.response}/{{{contract.namespace}}}{contract.result.element}")
    assert element is not None, response.text
    assert element.findtext(f"{{{contract.result.namespace}}}resultCode") == "OK"


@pytest.mark.parametrize(
    ("mode", "status", "expected"),
    [
        ("technical", 200, {"resultCode": "ERROR", "errorId": "TECHNICAL_ERROR"}),
        ("validation", 200, {"resultCode": "ERROR", "errorId": "VALIDATION_ERROR"}),
        ("application", 200, {"resultCode": "ERROR", "errorId": "APPLICATION_ERROR"}),
        ("fault", 500, {"faultcode": "soap:Server"}),
        ("client-fault", 500, {"faultcode": "soap:Client"}),
    ],
)
def test_failure_modes_last_for_count_calls_and_record_nothing(
    stub: StubRecipient, mode: str, status: int, expected: dict[str, str]
) -> None:
    stub.fail(mode, 2)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    responses = [post(stub, revoke(f"stub-{mode}", i), i) for i in ids]
    for response in responses[:2]:
        assert response.status_code == status
        assert expected.items() <= answer(response).items()
    assert answer(responses[2])["resultCode"] == "OK"
    recorded = {r["delivery_id"] for r in stub.received()["receipts"]}
    assert ids[0] not in recorded and ids[1] not in recorded and ids[2] in recorded


def test_refuse_drops_the_connection(stub: StubRecipient) -> None:
    stub.fail("refuse", 1)
    delivery_id = str(uuid.uuid4())
    with pytest.raises(httpx.TransportError):
        post(stub, revoke("stub-refused", delivery_id), delivery_id)
    assert delivery_id not in {r["delivery_id"] for r in stub.received()["receipts"]}
    assert post(stub, revoke("stub-refused", delivery_id), delivery_id).status_code == 200


def test_timeout_answers_late_but_processes_the_call(stub: StubRecipient) -> None:
    stub.fail("timeout", 1, delay=1.5)
    delivery_id = str(uuid.uuid4())
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{stub.base_url}{REVOKE.path}",
            content=revoke("stub-late", delivery_id),
            headers={"content-type": "text/xml", DELIVERY_ID_HEADER: delivery_id},
            timeout=0.5,
        )
    # Like a real slow recipient, the stub went on and processed the call the sender gave up on.
    wait_until(lambda: delivery_id in {r["delivery_id"] for r in stub.received()["receipts"]}, 10, "the late receipt")


def test_bad_requests_and_bad_operator_calls(stub: StubRecipient) -> None:
    not_soap = post(stub, b"<hello/>")
    assert not_soap.status_code == 500 and "not a SOAP 1.1 request" in not_soap.text
    unknown = post(stub, f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><x:Y xmlns:x="urn:x"/></soap:Body></soap:Envelope>'.encode())
    assert unknown.status_code == 500 and "does not take {urn:x}Y" in unknown.text
    assert httpx.post(f"{stub.base_url}/stub/fail", params={"mode": "explode"}).status_code == 400


def test_the_record_survives_a_crash_and_still_recognises_redeliveries(tmp_path: Path) -> None:
    stub = StubRecipient(tmp_path).start()
    try:
        delivery_id = str(uuid.uuid4())
        assert post(stub, revoke("stub-crash", delivery_id), delivery_id).status_code == 200
        stub.kill()
        # A crash in the middle of a write leaves a torn line; it was never answered, so it is dropped.
        with stub.record.open("ab") as f:
            f.write(b'{"event": "receipt", "delivery_id": "torn')
        stub.start()
        assert post(stub, revoke("stub-crash", delivery_id), delivery_id).status_code == 200
        got = stub.received()
        assert [r["delivery_id"] for r in got["receipts"]] == [delivery_id]
        assert [r["delivery_id"] for r in got["duplicates"]] == [delivery_id]
        lines = stub.record.read_text().splitlines()
        assert [json.loads(line)["event"] for line in lines] == ["receipt", "duplicate"]
    finally:
        stub.stop()


def test_mutual_tls(tmp_path: Path) -> None:
    pki = create_dev_pki(tmp_path / "pki", hosts=["127.0.0.1"], client_hsa_ids=["SE5565594230-B31"])
    client_cert = pki.clients["SE5565594230-B31"]
    with ClientTls(client_cert.cert, client_cert.key, pki.ca).httpx_client() as client:
        stub = StubRecipient(tmp_path / "stub", tls=(pki.server.cert, pki.server.key, pki.ca), client=client)
        stub.directory.mkdir()
        stub.start()
        try:
            delivery_id = str(uuid.uuid4())
            response = client.post(f"{stub.base_url}{REVOKE.path}", content=revoke("stub-tls", delivery_id), headers={"content-type": "text/xml"})
            assert response.status_code == 200
            assert [r["delivery_id"] for r in stub.received()["receipts"]] == [delivery_id]
            with pytest.raises(httpx.HTTPError):  # no client certificate: refused in the handshake
                with httpx.Client(verify=ssl.create_default_context(cafile=str(pki.ca))) as anonymous:
                    anonymous.get(f"{stub.base_url}/health")
        finally:
            stub.stop()
