"""The national answers of the change contracts, row by row: each row of
../shared/specs/result-codes.md ("Change contracts") for RevokeCertificate v2,
RevokeMedicalCertificate v1, SendMedicalCertificate v1 and SendCertificateToRecipient v2 is one row of
the table below, a situation built on our server and the exact answer (resultCode, errorId, text)
the national service gives in it. Runs on SQLite and on PostgreSQL (INTYG_TEST_DATABASE_URL)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select, update

from intygstjanst.delivery.deliverer import DeliveryResult
from intygstjanst.persistence import certificates as repo
from intygstjanst.persistence.models import Certificate, OutboxItem
from intygstjanst.registers.persons import pseudonym
from intygstjanst.tests.recipient_calls import (
    FK7263_SAMPLE,
    REGISTER_MEDICAL,
    REVOKE,
    REVOKE_MEDICAL,
    SEND,
    SEND_MEDICAL,
    Answer,
    FakeDeliverer,
    call,
    legacy_person,
    legacy_revoke_request,
    legacy_sample,
    legacy_send_request,
    recipient,
    revoke_request,
    send_request,
    with_recipients,
)
from intygstjanst.tests.soap import OTHER_PERSON, REGISTER, TEST_PERSON, certificate, envelope, post, result
from intygstjanst.tests.support import require_shared

ID = "rc-1"
UNKNOWN = "rc-unknown"


@dataclass
class Situation:
    client: Any
    db: Any
    services: Any
    deliverer: FakeDeliverer
    patient: str = TEST_PERSON

    def user(self, patient: str | None = None) -> str:
        """The national pseudonym of ``patient`` (default: the certificate's) in error texts."""
        return pseudonym(self.services.settings.pseudonym_salt, patient or self.patient)


# -- building situations -----------------------------------------------------------------------------


def lisjp(s: Situation) -> None:
    assert result(post(s.client, REGISTER, envelope(certificate(ID))).content)[0] == "OK"


def fk7263(s: Situation) -> None:
    original = legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, ID)
    s.patient = legacy_person(original)
    assert call(s.client, REGISTER_MEDICAL, copy.deepcopy(original)).code == "OK"


def state(name: str, target: str) -> Callable[[Situation], None]:
    def add(s: Situation) -> None:
        with s.db.transaction() as conn:
            repo.add_state(conn, ID, name, target, s.services.clock())

    return add


def flagged_as_test(s: Situation) -> None:
    with s.db.transaction() as conn:
        conn.execute(update(Certificate).where(Certificate.id == ID).values(is_test=True))


def sleepy_recipient(s: Situation) -> None:
    s.services.recipients = with_recipients(s.services.recipients, recipient("SLEEPY", {"LISJP"}, active=False))


def delivery_fails(s: Situation) -> None:
    s.deliverer.results.append(DeliveryResult("retry", "FKASSA: timed out"))


# -- requests ------------------------------------------------------------------------------------------


def revoke(certificate_id: str = ID, other_patient: bool = False) -> Callable[[Situation], Answer]:
    return lambda s: call(s.client, REVOKE, revoke_request(certificate_id, patient=OTHER_PERSON if other_patient else s.patient))


def revoke_fk(certificate_id: str = ID, patient: str | None = None, root: str | None = None) -> Callable[[Situation], Answer]:
    def run(s: Situation) -> Answer:
        request = etree.fromstring(legacy_revoke_request(certificate_id, patient or s.patient))
        if root is not None:
            next(request.iter("{*}person-id")).set("root", root)
        return call(s.client, REVOKE_MEDICAL, request)

    return run


def send_fk(certificate_id: str = ID, patient: str | None = None) -> Callable[[Situation], Answer]:
    return lambda s: call(s.client, SEND_MEDICAL, legacy_send_request(certificate_id, patient or s.patient))


def send(recipient_id: str = "FKASSA", certificate_id: str = ID, patient: str | None = None) -> Callable[[Situation], Answer]:
    return lambda s: call(s.client, SEND, send_request(certificate_id, recipient_id, patient=patient or s.patient))


def twice(first: Callable[[Situation], Answer]) -> Callable[[Situation], None]:
    return lambda s: None if first(s).code == "OK" else pytest.fail("the first call was not OK")


# -- the table ----------------------------------------------------------------------------------------

Expected = Answer | Callable[[Situation], Answer]
NOT_SENT = Answer("ERROR", "TECHNICAL_ERROR", f"Certificate '{ID}' couldn't be sent to recipient")
TEST_REFUSED = Answer("ERROR", "VALIDATION_ERROR", f"Certificate '{ID}' couldn't be sent to recipient because it is a test certificate")


@dataclass(frozen=True)
class Row:
    id: str
    setup: tuple[Callable[[Situation], None], ...]
    request: Callable[[Situation], Answer]
    expected: Expected


OK = Answer("OK", None, None)
ROWS = [
    # RevokeCertificate v2
    Row("revoke-ok", (lisjp,), revoke(), OK),
    Row("revoke-unknown", (), revoke(UNKNOWN), Answer("ERROR", "APPLICATION_ERROR", f"Certificate {UNKNOWN} does not exist for patient.")),
    Row("revoke-other-patient", (lisjp,), revoke(other_patient=True), Answer("ERROR", "APPLICATION_ERROR", f"Certificate {ID} does not exist for patient.")),
    Row("revoke-already", (lisjp, twice(revoke())), revoke(), Answer("INFO", None, f"Certificate {ID} is already revoked.")),
    # RevokeMedicalCertificate v1
    Row(
        "revoke-medical-validation",
        (),
        revoke_fk(UNKNOWN, root="1.2.3"),
        Answer(
            "ERROR",
            "VALIDATION_ERROR",
            "Validation Error(s) found: Wrong o.i.d. for Patient Id! Should be 1.2.752.129.2.1.3.1 or 1.2.752.129.2.1.3.3",
        ),
    ),
    Row(
        "revoke-medical-unknown",
        (),
        revoke_fk(UNKNOWN),
        lambda s: Answer("ERROR", "VALIDATION_ERROR", f"No certificate '{UNKNOWN}' found to revoke for patient '{s.user()}'."),
    ),
    Row(
        "revoke-medical-other-patient",
        (fk7263,),
        revoke_fk(patient=OTHER_PERSON),
        lambda s: Answer("ERROR", "VALIDATION_ERROR", f"No certificate '{ID}' found to revoke for patient '{s.user(OTHER_PERSON)}'."),
    ),
    Row("revoke-medical-already", (fk7263, twice(revoke_fk())), revoke_fk(), Answer("INFO", None, f"Certificate '{ID}' is already revoked.")),
    # SendMedicalCertificate v1 (always to FKASSA)
    Row("send-medical-ok", (fk7263,), send_fk(), OK),
    Row("send-medical-already", (fk7263, twice(send_fk())), send_fk(), Answer("INFO", None, f"Certificate '{ID}' is already sent.")),
    Row(
        "send-medical-unknown",
        (),
        send_fk(UNKNOWN, patient=TEST_PERSON),
        lambda s: Answer("ERROR", "VALIDATION_ERROR", f"No certificate '{UNKNOWN}' found to send for patient '{s.user(TEST_PERSON)}'."),
    ),
    Row(
        "send-medical-other-patient",
        (fk7263,),
        send_fk(patient=OTHER_PERSON),
        lambda s: Answer("ERROR", "VALIDATION_ERROR", f"No certificate '{ID}' found to send for patient '{s.user(OTHER_PERSON)}'."),
    ),
    Row("send-medical-revoked", (fk7263, state("CANCELLED", "HSVARD")), send_fk(), Answer("INFO", None, f"Certificate '{ID}' has been revoked.")),
    Row("send-medical-test-certificate", (fk7263, flagged_as_test), send_fk(), TEST_REFUSED),
    Row("send-medical-delivery-fails", (fk7263, delivery_fails), send_fk(), Answer("ERROR", "APPLICATION_ERROR", "Certificate couldn't be sent to recipient")),
    # SendCertificateToRecipient v2
    Row("send-ok", (lisjp,), send(), OK),
    Row("send-already", (lisjp, twice(send())), send(), Answer("INFO", None, f"Certificate '{ID}' already sent to 'FKASSA'.")),
    Row("send-unknown", (), send(certificate_id=UNKNOWN), Answer("ERROR", "APPLICATION_ERROR", f"Unknown certificate ID: {UNKNOWN}")),
    Row("send-other-patient", (lisjp,), send(patient=OTHER_PERSON), Answer("ERROR", "APPLICATION_ERROR", f"Unknown certificate ID: {ID}")),
    Row("send-revoked", (lisjp, state("CANCELLED", "HSVARD")), send(), Answer("INFO", None, f"Certificate '{ID}' has been revoked.")),
    Row("send-test-certificate", (lisjp, flagged_as_test), send(), TEST_REFUSED),
    Row("send-recipient-unknown", (lisjp,), send("NOSUCH"), NOT_SENT),
    Row("send-recipient-inactive", (lisjp, sleepy_recipient), send("SLEEPY"), NOT_SENT),
    Row("send-recipient-not-for-the-type", (lisjp,), send("TRANSP"), NOT_SENT),
    Row("send-delivery-fails", (lisjp, delivery_fails), send(), NOT_SENT),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_change_contract_answers(client, db, services, row: Row) -> None:
    require_shared()
    deliverer = FakeDeliverer()
    services.deliverer = deliverer
    situation = Situation(client, db, services, deliverer)
    for step in row.setup:
        step(situation)
    expected = row.expected(situation) if callable(row.expected) else row.expected
    assert row.request(situation) == expected


def test_send_certificate_with_an_unparsable_patient_id(client, services) -> None:
    """Twelve digits that are no personnummer (month 13): the national fault rewrite's APPLICATION_ERROR
    (its text is an exception message; ours the unknown certificate's)."""
    require_shared()
    services.deliverer = FakeDeliverer()
    answer = call(client, SEND, send_request(ID, "FKASSA", patient="191213131212"))
    assert (answer.code, answer.error_id) == ("ERROR", "APPLICATION_ERROR")


def test_revoke_medical_certificate_never_tells_fkassa(client, db, services) -> None:
    """"FKASSA is never informed here": the revocation is stored, nothing is queued for FKASSA."""
    require_shared()
    situation = Situation(client, db, services, FakeDeliverer())
    fk7263(situation)
    state("SENT", "FKASSA")(situation)
    assert revoke_fk()(situation) == OK
    with db.read() as conn:
        assert [s.state for s in repo.states(conn, ID)][-1] == "CANCELLED"
    with db.session() as session:
        assert session.scalars(select(OutboxItem)).all() == []
