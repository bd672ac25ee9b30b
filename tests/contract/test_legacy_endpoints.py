"""The legacy inbound contracts through the in-process app: RegisterMedicalCertificate v3,
RegisterTSBas v1 and RegisterTSDiabetes v1 store the certificate like RegisterCertificate does."""

from __future__ import annotations

import copy

import pytest
from lxml import etree

from intygstjanst.contracts.xml import CORE, TYPES
from intygstjanst.persistence.models import Certificate, CertificateState
from intygstjanst.transform import carrier
from intygstjanst.transform.formats import inbound, outbound

from intygstjanst.tests.recipient_calls import (
    FK7263_SAMPLE,
    REGISTER_MEDICAL,
    REGISTER_TS_BAS,
    REGISTER_TS_DIABETES,
    TS_BAS_SAMPLE,
    TS_DIABETES_SAMPLE,
    Answer,
    call,
    contract_at,
    legacy_sample,
)
from intygstjanst.tests.soap import GET, OTHER_PERSON, REGISTER, certificate, envelope, get_request, post

LEGACY = [
    ("RegisterMedicalCertificate", REGISTER_MEDICAL, FK7263_SAMPLE, "FK7263"),
    ("RegisterTSBas", REGISTER_TS_BAS, TS_BAS_SAMPLE, "TSTRK1007"),
    ("RegisterTSDiabetes", REGISTER_TS_DIABETES, TS_DIABETES_SAMPLE, "TSTRK1031"),
]
IDS = [folder for folder, *_ in LEGACY]
ALREADY = "Certificate already exists"


pytestmark = pytest.mark.usefixtures("shared")


def _set_patient(payload: etree._Element, patient: str) -> None:
    """Point a legacy request at another patient (FK7263: dashed attribute; TS: personId element)."""
    for person in payload.iter("{urn:riv:insuranceprocess:healthreporting:2}person-id"):
        person.set("extension", f"{patient[:8]}-{patient[8:]}")
        return
    patient_element = next(payload.iter("{*}patient"))
    next(patient_element.iter("{*}extension")).text = patient


@pytest.mark.parametrize(("folder", "path", "name", "type_code"), LEGACY, ids=IDS)
def test_register_stores_original_and_v3_form(client, db, folder: str, path: str, name: str, type_code: str) -> None:
    payload = legacy_sample(folder, name, f"legacy-{folder}")
    assert call(client, path, payload) == Answer("OK", None, None)
    assert call(client, path, payload) == Answer("INFO", None, ALREADY)
    other = copy.deepcopy(payload)
    _set_patient(other, OTHER_PERSON)
    # As nationally (result-codes.md): the legacy registrations answer another patient's id so.
    assert call(client, path, other) == Answer("ERROR", "APPLICATION_ERROR", "Invalid certificate ID")

    with db.session() as session:
        row = session.get(Certificate, f"legacy-{folder}")
        assert row is not None
        assert (row.type_code, row.source, row.patient_id) == (type_code, f"{folder}:{contract_at(path).major}", "191212121212")
        states = [(s.state, s.target) for s in session.query(CertificateState).filter_by(certificate_id=row.id)]
    assert states == [("RECEIVED", "HSVARD")]
    # The request exactly as received, and the v3 form (with what v3 cannot say) as the canonical one.
    assert etree.fromstring(row.original).find(".//{*}Body/*").tag == payload.tag
    stored = etree.fromstring(row.canonical)
    assert carrier.canonical(stored) == carrier.canonical(inbound(payload))
    # ... from which the legacy request comes back exactly.
    assert carrier.canonical(outbound(stored, f"{folder}:{contract_at(path).major}")) == carrier.canonical(payload)


@pytest.mark.parametrize(("folder", "path", "name", "type_code"), LEGACY, ids=IDS)
def test_get_certificate_answers_v3_without_the_carrier(client, services, folder: str, path: str, name: str, type_code: str) -> None:
    payload = legacy_sample(folder, name, f"get-{folder}")
    assert call(client, path, payload).code == "OK"
    response = post(client, GET, envelope(get_request(f"get-{folder}")))
    assert response.status_code == 200, response.text
    answer = etree.fromstring(response.content).find(".//{*}GetCertificateResponse")
    schema = services.contracts.by_path(GET).schema
    assert schema.validate(answer), schema.error_log
    assert carrier.CARRIER.encode() not in response.content
    intyg = answer.find("{*}intyg")
    assert intyg.findtext(f"{{{CORE}}}typ/{{{TYPES}}}code") == type_code
    expected = inbound(payload).find("{*}intyg")
    # Equal to the stored v3 form apart from the statuses GetCertificate adds.
    for status in intyg.findall(f"{{{CORE}}}status"):
        intyg.remove(status)
    expected.tag = intyg.tag
    assert carrier.canonical(intyg) == carrier.canonical(expected)


def test_a_document_the_v3_form_cannot_hold_is_a_validation_error(client, db) -> None:
    payload = legacy_sample("RegisterTSBas", "common__ts-ts-bas-v6-scenarios-transport-programmatic-invalid-wrong-personId-root.xml")
    answer = call(client, REGISTER_TS_BAS, payload)
    assert (answer.code, answer.error_id) == ("ERROR", "VALIDATION_ERROR")
    assert answer.text is not None and "personId: root 'error' is neither personnummer" in answer.text
    with db.session() as session:
        assert session.query(Certificate).count() == 0


def test_the_certificate_type_rules_apply_to_legacy_registrations(client) -> None:
    payload = legacy_sample("RegisterMedicalCertificate", "common__fk7263-Fk7263TransformerTest-fk7263_utanarbetsbegransning.xml")
    answer = call(client, REGISTER_MEDICAL, payload)
    assert (answer.code, answer.error_id) == ("ERROR", "VALIDATION_ERROR")
    assert answer.text  # names the failed rule


def test_person_register_failure_is_an_application_error_in_the_legacy_shape(client, services) -> None:
    """The legacy registrations ask the register only while storing, where the national service's
    failure is an internal one: APPLICATION_ERROR."""
    from intygstjanst.registers.persons import PersonLookupError

    class Down:
        def lookup(self, person_id: str):
            raise PersonLookupError("timeout")

    services.persons = Down()
    answer = call(client, REGISTER_MEDICAL, legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, "pu-down"))
    assert answer == Answer("ERROR", "APPLICATION_ERROR", "Error calling PU Service to validate social security number")
    answer = call(client, REGISTER_TS_BAS, legacy_sample("RegisterTSBas", TS_BAS_SAMPLE, "pu-down-ts"))
    assert (answer.code, answer.error_id) == ("ERROR", "APPLICATION_ERROR")


def test_register_certificate_drops_a_carrier_sent_by_a_client(client, db) -> None:
    """Only this service makes carriers: one in a RegisterCertificate request is not stored in the
    canonical form and never comes out again."""
    legacy_v3 = inbound(legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE))
    forged = carrier.find_carrier(legacy_v3, "RegisterMedicalCertificate:3")
    assert forged is not None
    payload = certificate("v3-with-carrier")
    payload.append(copy.deepcopy(forged))
    body = envelope(payload)
    response = post(client, REGISTER, body)
    assert response.status_code == 200, response.text
    with db.session() as session:
        row = session.get(Certificate, "v3-with-carrier")
        assert row is not None
        assert row.original == body
        assert row.canonical is not None and not carrier.has_carrier(etree.fromstring(row.canonical))
    got = post(client, GET, envelope(get_request("v3-with-carrier")))
    assert got.status_code == 200 and carrier.CARRIER.encode() not in got.content
    # Without a carrier nothing extra is stored.
    assert post(client, REGISTER, envelope(certificate("v3-plain"))).status_code == 200
    with db.session() as session:
        assert session.get(Certificate, "v3-plain").canonical is None
