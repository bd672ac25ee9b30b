"""End to end with three real processes over mutual TLS: ``intygstjanst serve``, ``intygstjanst
worker`` and ``intygstjanst stub-recipient``.

Care registers a certificate and sends it to Försäkringskassan: the stub has it, and the
certificate shows SENT. Care revokes it: the revoke reaches the stub through the outbox and the
worker. Both for a LISJP (RegisterCertificate v3 / RevokeCertificate v2 on the wire) and for an
FK7263 that came in and goes out in the legacy format (RegisterMedicalCertificate v3 /
RevokeMedicalCertificate v1). The calls are made by zeep clients built from the WSDLs the service
serves, over the mutual TLS a journal system uses; only set-up registrations are posted directly.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import zeep
from intygstjanst.contracts.xml import CORE, PART_CODE_SYSTEM, STATUS_CODE_SYSTEM
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import Base, OutboxItem
from intygstjanst.tests.delivery_support import (
    StubRecipient,
    WorkerProcess,
    start_worker,
    wait_until,
)
from intygstjanst.tests.recipient_calls import (
    FK7263_SAMPLE,
    REGISTER_MEDICAL,
    REGISTER_TS_BAS,
    REGISTER_TS_DIABETES,
    REVOKE,
    REVOKE_MEDICAL,
    SEND,
    SEND_MEDICAL,
    SET_STATUS,
    SET_STATUS_V1,
    TS_BAS_SAMPLE,
    TS_DIABETES_SAMPLE,
    contract_at,
    legacy_person,
    legacy_revoke_request,
    legacy_sample,
    legacy_send_request,
    revoke_request,
)
from intygstjanst.tests.soap import GET, REGISTER, certificate, envelope
from intygstjanst.tests.support import require_shared
from intygstjanst.tests.tlsserver import Server, grants, running
from intygstjanst.tls.client import ClientTls
from intygstjanst.tls.pki import DevPki, create_dev_pki
from intygstjanst.transform import carrier
from lxml import etree
from sqlalchemy import select

CARE = "SE2321000016-JOUR"  # the journal system calling the service
HUB = "SE2321000016-HUB1"  # the service itself, calling recipients
ADDRESS = "5565594230"


@dataclass
class Stack:
    pki: DevPki
    service: Server
    stub: StubRecipient
    worker: WorkerProcess
    db: Database
    transport: zeep.Transport

    def care_tls(self) -> ClientTls:
        client = self.pki.clients[CARE]
        return ClientTls(client.cert, client.key, self.pki.ca)

    def zeep(self, path: str, plugins: list[zeep.Plugin] | None = None) -> zeep.Client:
        return zeep.Client(f"{self.service.base_url}{path}?wsdl", transport=self.transport, plugins=plugins or [])

    def receipts(self, reference: str) -> list[dict[str, Any]]:
        return [r for r in self.stub.received()["receipts"] if r["reference"] == reference]

    def payload_of(self, receipt: dict[str, Any]) -> str:
        assert self.stub.client is not None
        listed = self.stub.client.get(f"{self.stub.base_url}/stub/received", params={"payload": 1}).json()["receipts"]
        return next(r["payload"] for r in listed if r["delivery_id"] == receipt["delivery_id"])

    def logs(self) -> str:
        return f"--- service\n{self.service.log()}\n--- worker\n{self.worker.log()}\n--- stub\n{self.stub.log_path.read_text()}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db: Database) -> Iterator[Stack]:
    require_shared()
    tmp = tmp_path_factory.mktemp("e2e")
    with migrated_db.transaction() as conn:  # rows left by earlier modules are not this module's
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    pki = create_dev_pki(tmp / "pki", client_hsa_ids=[CARE, HUB])
    hub = pki.clients[HUB]
    outbound = {"INTYG_OUTBOUND_TLS_CERT": str(hub.cert), "INTYG_OUTBOUND_TLS_KEY": str(hub.key), "INTYG_OUTBOUND_TLS_CA": str(pki.ca)}
    stub_client = ClientTls(hub.cert, hub.key, pki.ca).httpx_client()
    (tmp / "stub").mkdir()
    stub = StubRecipient(tmp / "stub", tls=(pki.server.cert, pki.server.key, pki.ca), client=stub_client).start()
    authorization = tmp / "authorization.toml"
    authorization.write_text(grants((CARE, "*", "*")), encoding="utf-8")
    args = ["--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key), "--tls-ca", str(pki.ca), "--authorization-file", str(authorization)]
    care = pki.clients[CARE]
    context = ClientTls(care.cert, care.key, pki.ca).ssl_context()
    worker = start_worker(database_url, stub.base_url, tmp / "worker.log", env=outbound)
    try:
        # The service sends synchronously (SendCertificateToRecipient): it calls the stub like the worker.
        with pytest.MonkeyPatch.context() as environment:
            for name, value in {**outbound, "INTYG_DELIVERY_BASE_URL": stub.base_url}.items():
                environment.setenv(name, value)
            with running(tmp, database_url, args, lambda: context) as service:
                transport = ClientTls(care.cert, care.key, pki.ca).zeep_transport()
                try:
                    yield Stack(pki, service, stub, worker, migrated_db, transport)
                finally:
                    transport.session.close()  # open keep-alive connections would hold up the server's shutdown
    finally:
        worker.terminate()
        stub_client.close()  # before stopping the stub, which waits for open connections
        stub.stop()


class RawPayload(zeep.Plugin):
    """Sends ``payload`` as the body element: certificates are signed XML whose ``delsvar`` content
    zeep's object model cannot carry, so zeep builds the call from a skeleton and this puts the
    exact document in (the recipe in the README)."""

    def __init__(self, payload: etree._Element) -> None:
        self.payload = payload

    def egress(self, envelope, http_headers, operation, binding_options):
        body = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
        body[0].getparent().replace(body[0], copy.deepcopy(self.payload))
        return envelope, http_headers


def _header() -> dict[str, str]:
    # Both profiles name the routing header part LogicalAddress (rivtabp20: element wsa:To).
    return {"LogicalAddress": ADDRESS}


def _typed(client: zeep.Client, payload: etree._Element) -> dict[str, Any]:
    """The payload as zeep keyword arguments (its element children, parsed by the WSDL types)."""
    parsed = client.get_element(payload.tag).parse(payload, client.wsdl.types)
    return {name: parsed[name] for name in parsed if parsed[name] is not None}


def _result(answer: Any) -> tuple[str, str | None]:
    result = answer.result if hasattr(answer, "result") else answer
    return result.resultCode, getattr(result, "errorId", None)


def _statuses(stack: Stack, certificate_id: str) -> list[tuple[str, str]]:
    got = stack.zeep(GET).service.GetCertificate(
        _soapheaders=_header(),
        **{"intygs-id": {"root": "SE5565594230-B31", "extension": certificate_id}, "part": {"code": "HSVARD", "codeSystem": PART_CODE_SYSTEM}},
    )
    return [(s.status.code, s.part.code) for s in got.intyg.status]


def _outbox(stack: Stack, certificate_id: str) -> list[tuple[str, str, str]]:
    with stack.db.read() as conn:
        rows = conn.execute(select(OutboxItem.recipient, OutboxItem.contract, OutboxItem.status).where(OutboxItem.reference == certificate_id))
        return [tuple(row) for row in rows]


def test_lisjp_register_send_to_fkassa_revoke(stack: Stack) -> None:
    payload = certificate("e2e-lisjp")
    register = stack.zeep(REGISTER, [RawPayload(payload)])
    skeleton = copy.deepcopy(payload)
    for svar in skeleton.findall("{*}intyg/{*}svar"):
        svar.getparent().remove(svar)
    assert _result(register.service.RegisterCertificate(_soapheaders=_header(), **_typed(register, skeleton))) == ("OK", None)

    send = stack.zeep(SEND)
    answer = send.service.SendCertificateToRecipient(
        _soapheaders=_header(),
        skickatTidpunkt="2026-11-20T10:00:00",
        **{
            "intygs-id": {"root": "SE5565594230-B31", "extension": "e2e-lisjp"},
            "patientPerson-id": {"root": "1.2.752.129.2.1.3.1", "extension": "191212121212"},
        },
        mottagare={"code": "FKASSA", "codeSystem": PART_CODE_SYSTEM},
        skickatAv={"person-id": {"root": "1.2.752.129.2.1.3.1", "extension": "191212121212"}},
    )
    assert _result(answer) == ("OK", None), stack.logs()
    [receipt] = stack.receipts("e2e-lisjp")
    assert (receipt["contract"], receipt["logical_address"]) == ("RegisterCertificate:3", "2021005521")
    assert ("SENTTO", "FKASSA") in _statuses(stack, "e2e-lisjp")

    revoke = stack.zeep(REVOKE)
    assert _result(revoke.service.RevokeCertificate(_soapheaders=_header(), **_typed(revoke, revoke_request("e2e-lisjp")))) == ("OK", None)
    wait_until(lambda: len(stack.receipts("e2e-lisjp")) == 2, 30, "the revoke at the stub")
    contracts = [r["contract"] for r in stack.receipts("e2e-lisjp")]
    assert contracts == ["RegisterCertificate:3", "RevokeCertificate:2"], stack.logs()
    assert _outbox(stack, "e2e-lisjp") == [("FKASSA", "RevokeCertificate:2", "DELIVERED")]
    assert ("CANCEL", "HSVARD") in _statuses(stack, "e2e-lisjp")


def test_fk7263_in_the_legacy_format_register_send_revoke(stack: Stack) -> None:
    original = legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, "e2e-fk7263")
    patient = legacy_person(original)
    # Without a SOAPAction header: see test_zeep_reaches_register_medical_certificate for why.
    registered = _post(stack, REGISTER_MEDICAL, original)
    assert registered.findtext(".//{*}resultCode") == "OK", etree.tostring(registered)

    send = stack.zeep(SEND_MEDICAL)
    answer = send.service.SendMedicalCertificate(
        _soapheaders=_header(), **_typed(send, etree.fromstring(legacy_send_request("e2e-fk7263", patient)))
    )
    assert _result(answer) == ("OK", None), stack.logs()
    [receipt] = stack.receipts("e2e-fk7263")
    assert receipt["contract"] == "RegisterMedicalCertificate:3"
    # What Försäkringskassan gets is what care registered, to the last attribute.
    assert carrier.canonical(etree.fromstring(stack.payload_of(receipt).encode())) == carrier.canonical(original)
    assert ("SENTTO", "FKASSA") in _statuses(stack, "e2e-fk7263")

    revoke = stack.zeep(REVOKE_MEDICAL)
    request = etree.fromstring(legacy_revoke_request("e2e-fk7263", patient))
    assert _result(revoke.service.RevokeMedicalCertificate(_soapheaders=_header(), **_typed(revoke, request))) == ("OK", None)
    # Recorded (a second revoke is told so), and, as nationally, Försäkringskassan is not told by
    # this contract: nothing is queued for it (the queue is written with the revocation).
    again = revoke.service.RevokeMedicalCertificate(_soapheaders=_header(), **_typed(revoke, request))
    assert _result(again)[0] == "INFO"
    assert _outbox(stack, "e2e-fk7263") == []
    assert [r["contract"] for r in stack.receipts("e2e-fk7263")] == ["RegisterMedicalCertificate:3"]


def _post(stack: Stack, path: str, payload: etree._Element) -> etree._Element:
    """A call over mTLS without zeep (and without SOAPAction); the answer's payload element."""
    routing = {"logical_address": None, "wsa_to": ADDRESS} if contract_at(path).uses_wsa_to else {"logical_address": ADDRESS}
    with stack.care_tls().httpx_client() as client:
        response = client.post(
            f"{stack.service.base_url}{path}",
            content=envelope(payload, **routing),
            headers={"content-type": "text/xml; charset=utf-8"},
        )
    return etree.fromstring(response.content)[0][0]


def _register_lisjp(stack: Stack, certificate_id: str) -> None:
    registered = _post(stack, REGISTER, certificate(certificate_id))
    assert registered.findtext(f".//{{{CORE}}}resultCode") == "OK", etree.tostring(registered)


def test_zeep_reaches_set_certificate_status(stack: Stack) -> None:
    _register_lisjp(stack, "e2e-status")
    v2 = stack.zeep(SET_STATUS)
    answer = v2.service.SetCertificateStatus(
        _soapheaders=_header(),
        **{"intygs-id": {"root": "SE5565594230-B31", "extension": "e2e-status"}},
        part={"code": "INVANA", "codeSystem": PART_CODE_SYSTEM},
        status={"code": "DELETE", "codeSystem": STATUS_CODE_SYSTEM},
        tidpunkt="2030-01-01T10:00:00",
    )
    assert _result(answer) == ("OK", None)
    v1 = stack.zeep(SET_STATUS_V1)
    answer = v1.service.SetCertificateStatus(
        _soapheaders=_header(),
        certificateId="e2e-status",
        nationalIdentityNumber="19121212-1212",
        target="FKASSA",
        status="RECEIVED",
    )
    assert _result(answer) == ("OK", None)
    assert ("RECEIV", "FKASSA") in _statuses(stack, "e2e-status")


@pytest.mark.parametrize(
    ("folder", "path", "name", "operation"),
    [
        ("RegisterTSBas", REGISTER_TS_BAS, TS_BAS_SAMPLE, "RegisterTSBas"),
        ("RegisterTSDiabetes", REGISTER_TS_DIABETES, TS_DIABETES_SAMPLE, "RegisterTSDiabetes"),
    ],
)
def test_zeep_reaches_the_transportstyrelsen_endpoints(stack: Stack, folder: str, path: str, name: str, operation: str) -> None:
    payload = legacy_sample(folder, name, f"e2e-{folder}")
    client = stack.zeep(path, [RawPayload(payload)])
    answer = getattr(client.service, operation)(_soapheaders=_header(), **_typed(client, payload))
    assert answer.resultat.resultCode == "OK"


def test_zeep_reaches_register_medical_certificate(stack: Stack) -> None:
    payload = legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, "e2e-zeep-fk7263")
    client = stack.zeep(REGISTER_MEDICAL, [RawPayload(payload)])
    answer = client.service.RegisterMedicalCertificate(_soapheaders=_header(), **_typed(client, payload))
    assert answer.result.resultCode == "OK"
