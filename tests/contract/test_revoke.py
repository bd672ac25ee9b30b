"""RevokeCertificate v2 and the legacy RevokeMedicalCertificate v1 through the in-process app: the
CANCELLED state and the outbox notifications written with it."""

from __future__ import annotations

import copy
import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest
from lxml import etree
from sqlalchemy import select

from intygstjanst.persistence import certificates as repo
from intygstjanst.persistence import outbox
from intygstjanst.persistence.models import OutboxItem
from intygstjanst.transform import carrier
from intygstjanst.transform.formats import Format, inbound, outbound_revoke

from intygstjanst.tests.recipient_calls import (
    FK7263_SAMPLE,
    REGISTER_MEDICAL,
    REVOKE,
    REVOKE_MEDICAL,
    RMR,
    Answer,
    call,
    contract_at,
    legacy_person,
    legacy_revoke_request,
    legacy_sample,
    recipient,
    revoke_request,
    with_recipients,
)
from intygstjanst.tests.soap import OTHER_PERSON, REGISTER, TEST_PERSON, VALIDATION_PERSON, certificate, envelope, post, result


pytestmark = pytest.mark.usefixtures("shared")


def register(client, certificate_id: str, patient: str = TEST_PERSON) -> None:
    payload = certificate(certificate_id, patient=patient)
    if patient == VALIDATION_PERSON:
        payload.find(".//{*}patient/{*}person-id/{*}root").text = "1.2.752.129.2.1.3.3"
    assert result(post(client, REGISTER, envelope(payload)).content)[0] == "OK"


def mark_sent(db, services, certificate_id: str, *recipients: str) -> None:
    with db.transaction() as conn:
        for recipient_id in recipients:
            repo.add_state(conn, certificate_id, "SENT", recipient_id, services.clock())


def states(db, certificate_id: str) -> list[tuple[str, str]]:
    with db.read() as conn:
        return [(s.state, s.target) for s in repo.states(conn, certificate_id)]


def queued(db) -> list[OutboxItem]:
    with db.session() as session:
        return list(session.scalars(select(OutboxItem).order_by(OutboxItem.recipient)))


def test_unknown_certificate_or_another_patient(client, db) -> None:
    register(client, "rv-1")
    expected = Answer("ERROR", "APPLICATION_ERROR", "Certificate nope does not exist for patient.")
    assert call(client, REVOKE, revoke_request("nope")) == expected
    assert call(client, REVOKE, revoke_request("rv-1", patient=OTHER_PERSON)).error_id == "APPLICATION_ERROR"
    assert states(db, "rv-1") == [("RECEIVED", "HSVARD")]


def test_revoke_once_without_recipients(client, db) -> None:
    register(client, "rv-2")
    assert call(client, REVOKE, revoke_request("rv-2")) == Answer("OK", None, None)
    assert call(client, REVOKE, revoke_request("rv-2")) == Answer("INFO", None, "Certificate rv-2 is already revoked.")
    assert states(db, "rv-2") == [("RECEIVED", "HSVARD"), ("CANCELLED", "HSVARD")]
    assert queued(db) == []


def test_every_recipient_it_was_sent_to_is_told_once(client, db, services) -> None:
    register(client, "rv-3")
    mark_sent(db, services, "rv-3", "FKASSA", "TRANSP", "FKASSA")
    request = revoke_request("rv-3")
    assert call(client, REVOKE, request).code == "OK"
    items = queued(db)
    assert [(i.recipient, i.contract, i.dedupe_key, i.logical_address, i.reference, i.status) for i in items] == [
        ("FKASSA", "RevokeCertificate:2", "revoke:rv-3:FKASSA", "2021005521", "rv-3", outbox.PENDING),
        ("TRANSP", "RevokeCertificate:2", "revoke:rv-3:TRANSP", "2021006099", "rv-3", outbox.PENDING),
    ]
    # The recipients get the revocation as care sent it.
    for item in items:
        assert carrier.canonical(etree.fromstring(item.payload)) == carrier.canonical(request)
    assert call(client, REVOKE, request).code == "INFO"
    assert len(queued(db)) == 2


def test_fk7263_in_the_legacy_format_gets_revoke_medical_certificate(client, db, services) -> None:
    original = legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, "rv-fk")
    assert call(client, REGISTER_MEDICAL, copy.deepcopy(original)).code == "OK"
    mark_sent(db, services, "rv-fk", "FKASSA")
    request = revoke_request("rv-fk", patient=legacy_person(original))
    assert call(client, REVOKE, request).code == "OK"
    [item] = queued(db)
    assert (item.recipient, item.contract) == ("FKASSA", "RevokeMedicalCertificate:1")
    legacy = etree.fromstring(item.payload)
    schema = contract_at(REVOKE_MEDICAL).schema
    assert schema.validate(legacy), schema.error_log
    expected = outbound_revoke(request, inbound(original), Format.REGISTER_MEDICAL_CERTIFICATE_3)
    assert carrier.canonical(legacy) == carrier.canonical(expected)


def test_test_certificates_are_never_forwarded(client, db, services) -> None:
    register(client, "rv-test", patient=VALIDATION_PERSON)
    mark_sent(db, services, "rv-test", "FKASSA")  # cannot happen through the contracts; guarded anyway
    assert call(client, REVOKE, revoke_request("rv-test", patient=VALIDATION_PERSON)).code == "OK"
    assert states(db, "rv-test")[-1] == ("CANCELLED", "HSVARD")
    assert queued(db) == []


def test_deactivated_and_removed_recipients_are_still_told(client, db, services) -> None:
    seed = services.recipients
    services.recipients = with_recipients(seed, FKASSA={"active": False})
    register(client, "rv-4")
    mark_sent(db, services, "rv-4", "FKASSA", "GONE")
    assert call(client, REVOKE, revoke_request("rv-4")).code == "OK"
    assert [(i.recipient, i.contract, i.logical_address) for i in queued(db)] == [
        ("FKASSA", "RevokeCertificate:2", "2021005521"),
        ("GONE", "RevokeCertificate:2", None),  # dead-letters in the outbox, where operators see it
    ]


def test_state_and_notifications_commit_together(client, db, services, monkeypatch) -> None:
    register(client, "rv-5")
    mark_sent(db, services, "rv-5", "FKASSA")

    def broken(*args, **kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(outbox, "enqueue", broken)
    response = post(client, REVOKE, envelope(revoke_request("rv-5")))
    # The national service's fault rewrite: APPLICATION_ERROR, nothing stored.
    assert response.status_code == 200
    assert result(response.content)[:2] == ("ERROR", "APPLICATION_ERROR")
    assert ("CANCELLED", "HSVARD") not in states(db, "rv-5")
    monkeypatch.undo()
    assert call(client, REVOKE, revoke_request("rv-5")).code == "OK"
    assert [i.recipient for i in queued(db)] == ["FKASSA"]


def test_concurrent_revokes_cancel_and_notify_once(client, db, services) -> None:
    register(client, "rv-6")
    mark_sent(db, services, "rv-6", "FKASSA")
    body = envelope(revoke_request("rv-6"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: result(post(client, REVOKE, body).content)[0], range(16)))
    assert sorted(codes) == ["INFO"] * 15 + ["OK"]
    assert states(db, "rv-6").count(("CANCELLED", "HSVARD")) == 1
    assert len(queued(db)) == 1


# -- RevokeMedicalCertificate v1 ------------------------------------------------------------------


def test_legacy_revoke_passes_the_request_on_to_legacy_recipients(client, db, services) -> None:
    original = legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, "rmc-1")
    patient = legacy_person(original)
    assert call(client, REGISTER_MEDICAL, copy.deepcopy(original)).code == "OK"
    # LEGACY takes FK7263 in the legacy format; V3FK takes it as RegisterCertificate v3; FKASSA is
    # never told through this contract (as nationally).
    services.recipients = with_recipients(
        services.recipients,
        recipient("V3FK", {"FK7263"}),
        dataclasses.replace(services.recipients.get("FKASSA"), id="LEGACY", logical_address="LA-LEGACY"),
    )
    mark_sent(db, services, "rmc-1", "FKASSA", "V3FK", "LEGACY")
    request = legacy_revoke_request("rmc-1", patient)
    assert call(client, REVOKE_MEDICAL, request) == Answer("OK", None, None)
    assert states(db, "rmc-1")[-1] == ("CANCELLED", "HSVARD")
    legacy, v3fk = queued(db)
    assert (legacy.recipient, legacy.contract) == ("LEGACY", "RevokeMedicalCertificate:1")
    assert carrier.canonical(etree.fromstring(legacy.payload)) == carrier.canonical(etree.fromstring(request))
    assert (v3fk.recipient, v3fk.contract) == ("V3FK", "RevokeCertificate:2")
    v2 = etree.fromstring(v3fk.payload)
    schema = contract_at(REVOKE).schema
    assert schema.validate(v2), schema.error_log
    assert v2.findtext("{*}intygs-id/{*}extension") == "rmc-1"
    assert v2.findtext("{*}patientPerson-id/{*}extension") == patient
    assert v2.findtext("{*}skickatTidpunkt") == "2024-05-01T10:00:00"
    assert v2.findtext("{*}meddelande") == "Fel patient"
    assert v2.findtext("{*}skickatAv/{*}fullstandigtNamn") == "Doktor Thompson"
    assert v2.findtext("{*}skickatAv/{*}enhet/{*}vardgivare/{*}vardgivarnamn") == "Vårdgivaren"

    again = call(client, REVOKE_MEDICAL, request)
    assert again == Answer("INFO", None, "Certificate 'rmc-1' is already revoked.")


def test_legacy_revoke_of_an_unknown_certificate(client) -> None:
    answer = call(client, REVOKE_MEDICAL, legacy_revoke_request("rmc-nope"))
    assert (answer.code, answer.error_id) == ("ERROR", "VALIDATION_ERROR")
    assert (answer.text or "").startswith("No certificate 'rmc-nope' found to revoke for patient '")


def test_legacy_revoke_with_an_identifier_that_is_no_person_id(client) -> None:
    request = etree.fromstring(legacy_revoke_request("rmc-x"))
    next(request.iter("{*}person-id")).set("root", "1.2.3")
    answer = call(client, REVOKE_MEDICAL, request)
    assert (answer.code, answer.error_id) == ("ERROR", "VALIDATION_ERROR")
    assert answer.text == "Validation Error(s) found: Wrong o.i.d. for Patient Id! Should be 1.2.752.129.2.1.3.1 or 1.2.752.129.2.1.3.3"


def test_v3_registered_fk7263_revoked_through_the_legacy_contract(client, db, services) -> None:
    """A certificate registered as RegisterCertificate v3 and revoked through the legacy contract:
    a recipient taking the legacy format still gets the request as care sent it."""
    legacy_v3 = inbound(legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, "rmc-v3"))
    payload = carrier.strip_carrier(legacy_v3)
    assert result(post(client, REGISTER, envelope(payload)).content)[0] == "OK"
    services.recipients = with_recipients(
        services.recipients, dataclasses.replace(services.recipients.get("FKASSA"), id="LEGACY", logical_address="LA-LEGACY")
    )
    mark_sent(db, services, "rmc-v3", "LEGACY")
    request = legacy_revoke_request("rmc-v3")
    assert call(client, REVOKE_MEDICAL, request).code == "OK"
    [item] = queued(db)
    assert etree.fromstring(item.payload).tag == f"{{{RMR}}}RevokeMedicalCertificateRequest"
