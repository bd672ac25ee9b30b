"""A message thread end to end, over mutual TLS between real processes: ``intygstjanst serve``,
``intygstjanst worker`` and ``intygstjanst stub-recipient`` (standing in for the national
platform, which routes every call on its logical address).

Care registers a certificate and sends it to Försäkringskassan. Försäkringskassan asks for a
completion (SendMessageToCare): the service stores it and the worker forwards it to the care unit's
logical address. Försäkringskassan reminds; care answers (SendMessageToRecipient), the answer is
checked against the question and forwarded to Försäkringskassan, through one failed attempt.
Every rejection the two contracts know is then answered with its error, and none is forwarded.
Each party calls with its own client certificate, through a zeep client built from the served WSDL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import zeep
from lxml import etree
from sqlalchemy import select, update

from intygstjanst.contracts.registry import Contract, ContractRegistry
from intygstjanst.contracts.xml import PART_CODE_SYSTEM, SOAP11
from intygstjanst.persistence import certificates
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import Base, Certificate, Message, OutboxItem
from intygstjanst.tls.client import ClientTls
from intygstjanst.tls.pki import DevPki, create_dev_pki

from intygstjanst.tests.delivery_support import StubRecipient, WorkerProcess, start_worker, wait_until
from intygstjanst.tests.messages_support import (
    CARE_UNIT,
    CERT,
    FK_ADDRESS,
    OTHER_CERT,
    STATE_REJECTIONS,
    STATIC_REJECTIONS,
    TEST_CERT,
    TO_CARE,
    TO_CARE_NS,
    TO_RECIPIENT,
    UNSENT_CERT,
    referred_thread,
    to_care,
    to_recipient,
)
from intygstjanst.registers.persons import SAMORDNINGSNUMMER_ROOT
from intygstjanst.tests.soap import REGISTER, VALIDATION_PERSON, certificate, envelope
from intygstjanst.tests.support import require_shared
from intygstjanst.tests.tlsserver import Server, grants, running

JOURNAL = "SE2321000016-JOUR"  # care's journal system
FK = "SE2021005521-FK01"  # Försäkringskassan's system, calling SendMessageToCare
HUB = "SE2321000016-HUB1"  # this service, calling onwards
HUB_ADDRESS = "5565594230"  # the logical address callers use for this service
SEND = "/clinicalprocess/healthcond/certificate/SendCertificateToRecipient/2/rivtabp21"


@dataclass
class Thread:
    pki: DevPki
    service: Server
    stub: StubRecipient
    worker: WorkerProcess
    db: Database
    contracts: ContractRegistry
    # One zeep transport per caller: its keep-alive connections are closed before the server stops.
    transports: dict[str, zeep.transports.Transport] = field(default_factory=dict)

    def tls(self, hsa_id: str) -> ClientTls:
        client = self.pki.clients[hsa_id]
        return ClientTls(client.cert, client.key, self.pki.ca)

    def zeep(self, path: str, caller: str, plugins: list[zeep.Plugin] | None = None) -> zeep.Client:
        if caller not in self.transports:
            self.transports[caller] = self.tls(caller).zeep_transport()
        return zeep.Client(f"{self.service.base_url}{path}?wsdl", transport=self.transports[caller], plugins=plugins or [])

    def close_clients(self) -> None:
        for transport in self.transports.values():
            transport.session.close()

    def receipts(self, contract: str) -> list[dict[str, Any]]:
        assert self.stub.client is not None
        listed = self.stub.client.get(f"{self.stub.base_url}/stub/received", params={"payload": 1}).json()
        return [r for r in listed["receipts"] if r["contract"] == contract]

    def outbox(self) -> list[tuple[str, str, str, int]]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(OutboxItem.dedupe_key, OutboxItem.recipient, OutboxItem.status, OutboxItem.attempts).order_by(OutboxItem.id)
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]

    def logs(self) -> str:
        return f"--- service\n{self.service.log()}\n--- worker\n{self.worker.log()}\n--- stub\n{self.stub.log_path.read_text()}"


@pytest.fixture(scope="module")
def thread(tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db: Database) -> Iterator[Thread]:
    require_shared()
    tmp = tmp_path_factory.mktemp("e2e-messages")
    with migrated_db.transaction() as conn:  # rows left by earlier modules are not this module's
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    pki = create_dev_pki(tmp / "pki", client_hsa_ids=[JOURNAL, FK, HUB])
    hub = pki.clients[HUB]
    outbound = {
        "INTYG_OUTBOUND_TLS_CERT": str(hub.cert),
        "INTYG_OUTBOUND_TLS_KEY": str(hub.key),
        "INTYG_OUTBOUND_TLS_CA": str(pki.ca),
    }
    stub_client = ClientTls(hub.cert, hub.key, pki.ca).httpx_client()
    (tmp / "stub").mkdir()
    stub = StubRecipient(tmp / "stub", tls=(pki.server.cert, pki.server.key, pki.ca), client=stub_client).start()
    worker = start_worker(database_url, stub.base_url, tmp / "worker.log", env=outbound)
    # Försäkringskassan may only send messages to care; the journal system may call anything.
    authorization = tmp / "authorization.toml"
    authorization.write_text(grants((JOURNAL, "*", "*"), (FK, HUB_ADDRESS, TO_CARE_NS)), encoding="utf-8")
    args = ["--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key), "--tls-ca", str(pki.ca),
            "--authorization-file", str(authorization)]  # fmt: skip
    journal = pki.clients[JOURNAL]
    context = ClientTls(journal.cert, journal.key, pki.ca).ssl_context()
    try:
        # SendCertificateToRecipient delivers synchronously, so the service calls the stub too.
        with pytest.MonkeyPatch.context() as environment:
            for name, value in {**outbound, "INTYG_DELIVERY_BASE_URL": stub.base_url}.items():
                environment.setenv(name, value)
            with running(tmp, database_url, args, lambda: context) as service:
                thread = Thread(pki, service, stub, worker, migrated_db, ContractRegistry.load())
                try:
                    for certificate_id in (CERT, OTHER_CERT):
                        _register_and_send_to_fk(thread, certificate_id)
                    _register(thread, certificate(UNSENT_CERT))
                    # A test certificate (flagged here: this service's person register does not list
                    # the validation person) is never sent to a recipient: its SENT is recorded directly.
                    test = certificate(TEST_CERT, patient=VALIDATION_PERSON)
                    test.find(".//{*}patient/{*}person-id/{*}root").text = SAMORDNINGSNUMMER_ROOT
                    _register(thread, test)
                    with migrated_db.transaction() as conn:
                        conn.execute(update(Certificate).where(Certificate.id == TEST_CERT).values(is_test=True))
                        certificates.add_state(conn, TEST_CERT, "SENT", "FKASSA", dt.datetime(2030, 1, 2, 8, 0))
                    yield thread
                finally:
                    thread.close_clients()
    finally:
        worker.terminate()
        stub_client.close()
        stub.stop()


class RawPayload(zeep.Plugin):
    """Puts ``payload`` in as the body element: a certificate's ``delsvar`` are mixed content that
    zeep's object model drops, so zeep sends a skeleton and this swaps in the signed document."""

    def __init__(self, payload: etree._Element) -> None:
        self.payload = payload

    def egress(self, envelope, http_headers, operation, binding_options):  # type: ignore[no-untyped-def]
        body = envelope.find(f"{{{SOAP11}}}Body")
        body.replace(body[0], self.payload)
        return envelope, http_headers


def _header() -> dict[str, str]:
    return {"LogicalAddress": HUB_ADDRESS}


def _typed(client: zeep.Client, payload: etree._Element) -> dict[str, Any]:
    """The payload's children as zeep keyword arguments, parsed by the WSDL's own types."""
    parsed = client.get_element(payload.tag).parse(payload, client.wsdl.types)
    return {name: parsed[name] for name in parsed if parsed[name] is not None}


def _register(thread: Thread, payload: etree._Element) -> None:
    skeleton = etree.fromstring(etree.tostring(payload))
    for svar in skeleton.findall("{*}intyg/{*}svar"):
        svar.getparent().remove(svar)
    register = thread.zeep(REGISTER, JOURNAL, [RawPayload(payload)])
    assert register.service.RegisterCertificate(_soapheaders=_header(), **_typed(register, skeleton)).result.resultCode == "OK"


def _register_and_send_to_fk(thread: Thread, certificate_id: str) -> None:
    _register(thread, certificate(certificate_id))
    answer = thread.zeep(SEND, JOURNAL).service.SendCertificateToRecipient(
        _soapheaders=_header(),
        skickatTidpunkt="2030-01-02T08:00:00",
        **{
            "intygs-id": {"root": CARE_UNIT, "extension": certificate_id},
            "patientPerson-id": {"root": "1.2.752.129.2.1.3.1", "extension": "191212121212"},
        },
        mottagare={"code": "FKASSA", "codeSystem": PART_CODE_SYSTEM},
        skickatAv={"person-id": {"root": "1.2.752.129.2.1.3.1", "extension": "191212121212"}},
    )
    assert answer.result.resultCode == "OK", thread.logs()


def _message(thread: Thread, payload: etree._Element) -> tuple[str, str | None, str | None]:
    """Send a message as its author would (Försäkringskassan or the journal system) with zeep."""
    to_care_message = etree.QName(payload).localname == "SendMessageToCare"
    client = thread.zeep(TO_CARE if to_care_message else TO_RECIPIENT, FK if to_care_message else JOURNAL)
    operation = getattr(client.service, etree.QName(payload).localname)
    result = operation(_soapheaders=_header(), **_typed(client, payload)).result
    return result.resultCode, result.errorId, result.resultText


def _received_as_sent(receipt: dict[str, Any], payload: etree._Element) -> bool:
    sent = etree.fromstring(receipt["payload"].encode())
    canonical = {"with_comments": False, "strip_text": True, "rewrite_prefixes": True}
    return etree.canonicalize(sent, **canonical) == etree.canonicalize(payload, **canonical)


def test_question_reminder_and_answer_reach_the_other_side(thread: Thread) -> None:
    question = to_care("e2e-q", CERT)
    assert _message(thread, question) == ("OK", None, None), thread.logs()
    wait_until(lambda: len(thread.receipts("SendMessageToCare:2")) == 1, 30, "the question at the care unit")
    [delivered] = thread.receipts("SendMessageToCare:2")
    assert delivered["logical_address"] == CARE_UNIT
    assert _received_as_sent(delivered, question)

    reminder = to_care("e2e-r", CERT, subject="PAMINN", reminder_of="e2e-q", last_answer_date="2030-02-20")
    assert _message(thread, reminder) == ("OK", None, None)
    wait_until(lambda: len(thread.receipts("SendMessageToCare:2")) == 2, 30, "the reminder at the care unit")
    assert _received_as_sent(thread.receipts("SendMessageToCare:2")[1], reminder)

    # The first attempt to forward the answer meets a technical error; the outbox tries again.
    thread.stub.fail("technical", 1)
    answer = to_recipient("e2e-a", CERT, answer_to="e2e-q")
    assert _message(thread, answer) == ("OK", None, None)
    wait_until(lambda: len(thread.receipts("SendMessageToRecipient:2")) == 1, 30, "the answer at Försäkringskassan")
    [forwarded] = thread.receipts("SendMessageToRecipient:2")
    assert forwarded["logical_address"] == FK_ADDRESS
    assert _received_as_sent(forwarded, answer)

    wait_until(lambda: all(row[2] == "DELIVERED" for row in thread.outbox()), 30, "the outbox to settle")
    assert thread.outbox() == [
        ("message:e2e-q", "HSVARD", "DELIVERED", 1),
        ("message:e2e-r", "HSVARD", "DELIVERED", 1),
        ("message:e2e-a", "FKASSA", "DELIVERED", 2),
    ], thread.logs()
    with thread.db.read() as conn:
        stored = conn.execute(select(Message.id, Message.direction).order_by(Message.received_at)).all()
    assert [tuple(row) for row in stored] == [("e2e-q", "TO_CARE"), ("e2e-r", "TO_CARE"), ("e2e-a", "TO_RECIPIENT")]

    # The same question again (a lost answer on Försäkringskassan's side) is refused as a used id,
    # as nationally, and changes nothing.
    assert _message(thread, to_care("e2e-q", CERT))[:2] == ("ERROR", "VALIDATION_ERROR")


def test_a_recipient_may_not_write_to_itself(thread: Thread) -> None:
    """Authorization is per contract: Försäkringskassan's certificate does not open SendMessageToRecipient."""
    with thread.tls(FK).httpx_client() as client:
        response = client.post(
            f"{thread.service.base_url}{TO_RECIPIENT}",
            content=envelope(to_recipient("e2e-fk-self", CERT)),
            headers={"content-type": "text/xml; charset=utf-8"},
        )
    assert response.status_code == 500 and b"Fault" in response.content


def test_every_rejection_is_answered_with_its_error_and_nothing_is_forwarded(thread: Thread) -> None:
    for payload in referred_thread():
        assert _message(thread, payload) == ("OK", None, None), etree.tostring(payload)
    wait_until(lambda: all(row[2] == "DELIVERED" for row in thread.outbox()), 30, "the thread to be forwarded")
    queued = thread.outbox()

    checked = 0
    with thread.tls(FK).httpx_client() as fk, thread.tls(JOURNAL).httpx_client() as journal:
        for name, build, error_id, text in [*STATIC_REJECTIONS, *STATE_REJECTIONS]:
            payload = build()
            to_care_message = etree.QName(payload).localname == "SendMessageToCare"
            path = TO_CARE if to_care_message else TO_RECIPIENT
            client = fk if to_care_message else journal
            response = client.post(
                f"{thread.service.base_url}{path}", content=envelope(payload), headers={"content-type": "text/xml; charset=utf-8"}
            )
            assert response.status_code == 200, (name, response.text)
            assert _result(thread.contracts.by_path(path), response) == ("ERROR", error_id, text), name
            checked += 1
    assert checked == len(STATIC_REJECTIONS) + len(STATE_REJECTIONS)
    assert thread.outbox() == queued


def _result(contract: Contract | None, response: httpx.Response) -> tuple[str | None, str | None, str | None]:
    """The ResultType of a schema-valid answer of ``contract``."""
    assert contract is not None
    answer = etree.fromstring(response.content).find(f"{{{SOAP11}}}Body")[0]
    assert contract.schema.validate(answer), contract.schema.error_log
    result = answer.find("{*}result")
    return result.findtext("{*}resultCode"), result.findtext("{*}errorId"), result.findtext("{*}resultText")

