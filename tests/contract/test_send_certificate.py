"""SendCertificateToRecipient v2 through the in-process app, with a recording deliverer."""

from __future__ import annotations

import copy

import pytest
from lxml import etree
from sqlalchemy import select

from intygstjanst.contracts.xml import CORE, TYPES
from intygstjanst.delivery.deliverer import DeliveryResult
from intygstjanst.persistence import certificates as repo
from intygstjanst.persistence.models import OutboxItem
from intygstjanst.registers.persons import FilePersonLookup, Person, PersonLookupError
from intygstjanst.transform import carrier
from intygstjanst.transform.formats import inbound

from intygstjanst.tests.recipient_calls import (
    REVOKE,
    revoke_request,
    legacy_send_request,
    REGISTER_MEDICAL,
    REGISTER_TS_BAS,
    REGISTER_TS_DIABETES,
    SEND,
    Answer,
    FakeDeliverer,
    call,
    contract_at,
    legacy_person,
    recipient,
    send_request,
    with_recipients,
)
from intygstjanst.tests.soap import GET, OTHER_PERSON, REGISTER, TEST_PERSON, VALIDATION_PERSON, certificate, envelope, get_request, post, result
from intygstjanst.tests.support import payload_of, shared_dir


pytestmark = pytest.mark.usefixtures("shared")


@pytest.fixture
def deliverer(services) -> FakeDeliverer:
    fake = FakeDeliverer()
    services.deliverer = fake
    return fake


def register(client, certificate_id: str, patient: str = TEST_PERSON) -> etree._Element:
    payload = certificate(certificate_id, patient=patient)
    if patient == VALIDATION_PERSON:
        payload.find(f".//{{{CORE}}}person-id/{{{TYPES}}}root").text = "1.2.752.129.2.1.3.3"
    assert result(post(client, REGISTER, envelope(payload)).content)[0] == "OK"
    return payload


def NOT_SENT(certificate_id: str) -> Answer:
    return Answer("ERROR", "TECHNICAL_ERROR", f"Certificate '{certificate_id}' couldn't be sent to recipient")


def states(db, certificate_id: str) -> list[tuple[str, str]]:
    with db.read() as conn:
        return [(s.state, s.target) for s in repo.states(conn, certificate_id)]


def test_send_delivers_the_stored_certificate_and_records_sent(client, db, deliverer) -> None:
    payload = register(client, "send-1")
    assert call(client, SEND, send_request("send-1", "FKASSA")) == Answer("OK", None, None)
    [delivery] = deliverer.sent
    assert (delivery.recipient, delivery.contract, delivery.logical_address) == ("FKASSA", "RegisterCertificate:3", "2021005521")
    assert carrier.canonical(etree.fromstring(delivery.payload)) == carrier.canonical(payload)
    assert states(db, "send-1") == [("RECEIVED", "HSVARD"), ("SENT", "FKASSA")]
    # The recipient sees its own SENT entry.
    got = post(client, GET, envelope(get_request("send-1", "FKASSA")))
    intyg = etree.fromstring(got.content).find(".//{*}GetCertificateResponse/{*}intyg")
    assert [s.findtext(f"{{{CORE}}}status/{{{TYPES}}}code") for s in intyg.findall(f"{{{CORE}}}status")] == ["SENTTO", "RECEIV"]

    again = call(client, SEND, send_request("send-1", "FKASSA", by_citizen=True))
    assert again == Answer("INFO", None, "Certificate 'send-1' already sent to 'FKASSA'.")
    assert len(deliverer.sent) == 1


def test_unknown_certificate_or_another_patient(client, db, deliverer) -> None:
    register(client, "send-2")
    expected = Answer("ERROR", "APPLICATION_ERROR", "Unknown certificate ID: nope")
    assert call(client, SEND, send_request("nope", "FKASSA")) == expected
    other = call(client, SEND, send_request("send-2", "FKASSA", patient=OTHER_PERSON))
    assert (other.code, other.error_id) == ("ERROR", "APPLICATION_ERROR")
    assert deliverer.sent == []


def test_the_order_of_checks(client, db, services, deliverer) -> None:
    """Revoked and already-sent are answered before the test-certificate and recipient checks."""
    register(client, "send-test", patient=VALIDATION_PERSON)
    test_answer = call(client, SEND, send_request("send-test", "FKASSA", patient=VALIDATION_PERSON))
    expected = Answer("ERROR", "VALIDATION_ERROR", "Certificate 'send-test' couldn't be sent to recipient because it is a test certificate")
    assert test_answer == expected
    with db.transaction() as conn:
        repo.add_state(conn, "send-test", "CANCELLED", "HSVARD", services.clock())
    revoked = call(client, SEND, send_request("send-test", "NOSUCH", patient=VALIDATION_PERSON))
    assert revoked == Answer("INFO", None, "Certificate 'send-test' has been revoked.")

    register(client, "send-3")
    with db.transaction() as conn:
        repo.add_state(conn, "send-3", "SENT", "TRANSP", services.clock())
    # TRANSP does not take LISJP, but the certificate is already there: nothing to do.
    assert call(client, SEND, send_request("send-3", "TRANSP")).code == "INFO"
    assert deliverer.sent == []


@pytest.mark.parametrize(
    ("recipient_id", "text"),
    [
        ("NOSUCH", "'NOSUCH' is not a recipient known to this service"),
        ("HSVARD", "HSVARD (Hälso- och sjukvården) is a part, never a recipient to send to"),
        ("INVANA", "INVANA (Invånaren) is a part, never a recipient to send to"),
        ("TRANSP", "recipient TRANSP (Transportstyrelsen) does not receive LISJP certificates"),
        ("SLEEPY", "recipient SLEEPY (Recipient SLEEPY) is not active"),
    ],
)
def test_recipients_that_cannot_take_it_are_technical_errors(client, services, deliverer, caplog, recipient_id: str, text: str) -> None:
    """The national answer (TECHNICAL_ERROR, no reason); the reason is in the log."""
    services.recipients = with_recipients(services.recipients, recipient("SLEEPY", {"LISJP"}, active=False))
    register(client, "send-4")
    assert call(client, SEND, send_request("send-4", recipient_id)) == NOT_SENT("send-4")
    assert text in caplog.text
    assert deliverer.sent == []


def test_protected_identity_goes_to_trusted_recipients_only(client, db, services, deliverer) -> None:
    services.recipients = with_recipients(services.recipients, recipient("OPEN", {"LISJP"}, trusted=False))
    services.persons = FilePersonLookup({TEST_PERSON: Person(TEST_PERSON, protected=True)})
    register(client, "send-5")
    assert call(client, SEND, send_request("send-5", "OPEN")) == NOT_SENT("send-5")
    assert call(client, SEND, send_request("send-5", "FKASSA")).code == "OK"  # trusted
    services.persons = FilePersonLookup({})
    assert call(client, SEND, send_request("send-5", "OPEN")).code == "OK"
    assert [d.recipient for d in deliverer.sent] == ["FKASSA", "OPEN"]


def test_person_register_down_when_it_matters_is_a_technical_error(client, services, deliverer) -> None:
    services.recipients = with_recipients(services.recipients, recipient("OPEN", {"LISJP"}, trusted=False))
    register(client, "send-6")

    class Down:
        def lookup(self, person_id: str) -> Person:
            raise PersonLookupError("timeout")

    services.persons = Down()
    assert call(client, SEND, send_request("send-6", "OPEN")).error_id == "TECHNICAL_ERROR"
    # A trusted recipient needs no lookup.
    assert call(client, SEND, send_request("send-6", "FKASSA")).code == "OK"


@pytest.mark.parametrize(
    ("delivery", "error_id", "text"),
    [
        (
            DeliveryResult("retry", "FKASSA RegisterCertificate:3: timed out"),
            "TECHNICAL_ERROR",
            "Certificate 'send-7' couldn't be sent to recipient",
        ),
        (
            DeliveryResult("permanent", "FKASSA RegisterCertificate:3: ERROR VALIDATION_ERROR: bad", "ERROR", "VALIDATION_ERROR"),
            "TECHNICAL_ERROR",
            "Certificate 'send-7' couldn't be sent to recipient",
        ),
    ],
)
def test_sent_is_recorded_only_when_the_recipient_accepted(client, db, deliverer, delivery: DeliveryResult, error_id: str, text: str) -> None:
    register(client, "send-7")
    deliverer.results.append(delivery)
    assert call(client, SEND, send_request("send-7", "FKASSA")) == Answer("ERROR", error_id, text)
    assert states(db, "send-7") == [("RECEIVED", "HSVARD")]
    assert call(client, SEND, send_request("send-7", "FKASSA")).code == "OK"
    assert states(db, "send-7") == [("RECEIVED", "HSVARD"), ("SENT", "FKASSA")]


def test_revoked_while_on_its_way_the_recipient_is_told(client, db, services, deliverer) -> None:
    """A revoke that commits while the certificate is being delivered cannot know this recipient:
    the send stores SENT and queues the revoke for it."""
    register(client, "send-race")

    def revoke_meanwhile() -> None:
        assert call(client, REVOKE, revoke_request("send-race")).code == "OK"

    deliverer.during = revoke_meanwhile
    assert call(client, SEND, send_request("send-race", "FKASSA")) == Answer("OK", None, None)
    assert states(db, "send-race") == [("RECEIVED", "HSVARD"), ("CANCELLED", "HSVARD"), ("SENT", "FKASSA")]
    with db.session() as session:
        [item] = session.scalars(select(OutboxItem)).all()
    assert (item.recipient, item.contract, item.dedupe_key) == ("FKASSA", "RevokeCertificate:2", "revoke:send-race:FKASSA")
    revocation = etree.fromstring(item.payload)
    schema = contract_at(REVOKE).schema
    assert schema.validate(revocation), schema.error_log
    # Written from the certificate: revoked by its issuer.
    author = certificate("send-race").find(f"{{*}}intyg/{{{CORE}}}skapadAv")
    assert author is not None
    sender = revocation.find("{*}skickatAv")
    assert [carrier.canonical(child) for child in sender] == [carrier.canonical(child) for child in author]
    assert revocation.findtext(f"{{*}}intygs-id/{{{TYPES}}}extension") == "send-race"


def test_a_format_that_cannot_carry_the_certificate_is_not_sent(client, services, deliverer, caplog) -> None:
    """TRANSP takes TSTRK1007 as RegisterTSBas v1, which carries version 6 only."""
    v7 = [p for p in sorted((shared_dir() / "samples/RegisterCertificate").glob("*ts-bas-v7-scenarios-rivtav3-valid-maximal.xml"))]
    assert v7, "no TSTRK1007 v7 sample"
    payload = payload_of(v7[0])
    payload.find(f"{{*}}intyg/{{{CORE}}}intygs-id/{{{TYPES}}}extension").text = "send-ts7"
    response = post(client, REGISTER, envelope(payload))
    assert result(response.content)[0] == "OK", response.text
    patient = payload.findtext(f".//{{{CORE}}}patient/{{{CORE}}}person-id/{{{TYPES}}}extension") or ""
    answer = call(client, SEND, send_request("send-ts7", "TRANSP", patient=patient))
    assert answer == NOT_SENT("send-ts7")
    assert "recipient TRANSP takes TSTRK1007 certificates as RegisterTSBas:1, and this one cannot be written so:" in caplog.text
    assert deliverer.sent == []


# -- legacy certificates go out exactly as they came in -----------------------------------------

LEGACY = [
    ("RegisterMedicalCertificate", REGISTER_MEDICAL, "FKASSA", "RegisterMedicalCertificate:3"),
    ("RegisterTSBas", REGISTER_TS_BAS, "TRANSP", "RegisterTSBas:1"),
    ("RegisterTSDiabetes", REGISTER_TS_DIABETES, "TRANSP", "RegisterTSDiabetes:1"),
]


def test_legacy_registrations_are_forwarded_unchanged(client, db, deliverer) -> None:
    """Every legacy sample that the contract schema accepts and the certificate-type rules pass goes
    in through its legacy endpoint and out to its recipient, in the recipient's legacy format,
    equal to what came in (carrier.canonical: every element, attribute and value)."""
    forwarded = refused = 0
    for folder, path, recipient_id, contract in LEGACY:
        schema = contract_at(path).schema
        for index, sample_path in enumerate(sorted((shared_dir() / "samples" / folder).glob("*.xml"))):
            original = payload_of(sample_path)
            if etree.QName(original).localname != folder or not schema.validate(original):
                continue
            certificate_id = f"rt-{folder}-{index}"
            next(original.iter("{*}lakarutlatande-id", "{*}intygsId")).text = certificate_id
            registered = call(client, path, copy.deepcopy(original))
            if registered.code != "OK":
                # Refused content (a broken type rule, an identifier v3 cannot hold) is a validation error.
                assert registered.error_id == "VALIDATION_ERROR", (sample_path.name, registered)
                refused += 1
                continue
            patient = inbound(original).findtext(f".//{{{CORE}}}patient/{{{CORE}}}person-id/{{{TYPES}}}extension") or ""
            assert call(client, SEND, send_request(certificate_id, recipient_id, patient=patient)).code == "OK", sample_path.name
            delivery = deliverer.sent[-1]
            assert (delivery.recipient, delivery.contract) == (recipient_id, contract)
            assert carrier.canonical(etree.fromstring(delivery.payload)) == carrier.canonical(original), sample_path.name
            forwarded += 1
    # 37 schema-valid legacy samples: 2 name the patient with an identifier v3 cannot hold, 5 break
    # a certificate-type rule (as in test_transform_formats), 1 fails the national service's FK7263
    # checks (a diagnosis without codeSystemName, an Annat referens without kommentar; see
    # test_legacy_validation); all others make the round trip.
    assert (forwarded, refused) == (31, 8)


def test_send_medical_certificate_v1_sends_to_fkassa(client, db, deliverer) -> None:
    from intygstjanst.tests.recipient_calls import FK7263_SAMPLE, SEND_MEDICAL, legacy_sample

    original = legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, "smc-1")
    assert call(client, REGISTER_MEDICAL, copy.deepcopy(original)).code == "OK"
    request = legacy_send_request("smc-1", legacy_person(original))
    assert call(client, SEND_MEDICAL, request) == Answer("OK", None, None)
    [delivery] = deliverer.sent
    assert (delivery.recipient, delivery.contract) == ("FKASSA", "RegisterMedicalCertificate:3")
    assert carrier.canonical(etree.fromstring(delivery.payload)) == carrier.canonical(original)
    assert states(db, "smc-1") == [("RECEIVED", "HSVARD"), ("SENT", "FKASSA")]
    assert call(client, SEND_MEDICAL, request) == Answer("INFO", None, "Certificate 'smc-1' is already sent.")
    unknown = call(client, SEND_MEDICAL, legacy_send_request("smc-nope", legacy_person(original)))
    assert (unknown.code, unknown.error_id) == ("ERROR", "VALIDATION_ERROR")
    assert (unknown.text or "").startswith("No certificate 'smc-nope' found to send for patient '")
