"""The read contracts of the legacy families through the in-process app: GetMedicalCertificate v1,
ListCertificates v1, GetTSBas v1 and GetTSDiabetes v1 answer from stored certificates, in the
national service's words (../shared/specs/result-codes.md, "Read contracts"); every answer is
checked against the contract's response schema."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import pytest
from lxml import etree

from intygstjanst.contracts.xml import SOAP11
from intygstjanst.registers.persons import parse_personnummer
from intygstjanst.persistence import certificates as repo
from intygstjanst.persistence.models import Certificate
from intygstjanst.transform import carrier

from intygstjanst.tests.listing import store
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
from intygstjanst.tests.soap import OTHER_PERSON, TEST_PERSON, envelope, post

GET_MEDICAL = "/clinicalprocess/healthcond/certificate/GetMedicalCertificate/1/rivtabp21"
LIST = "/insuranceprocess/healthreporting/ListCertificates/1/rivtabp20"
GET_TS_BAS = "/local/se/intygstjanster/services/GetTSBas/1/rivtabp21"
GET_TS_DIABETES = "/local/se/intygstjanster/services/GetTSDiabetes/1/rivtabp21"
GMC = "urn:riv:clinicalprocess:healthcond:certificate:GetMedicalCertificateResponder:1"
LCR = "urn:riv:insuranceprocess:healthreporting:ListCertificatesResponder:1"
C1 = "urn:riv:clinicalprocess:healthcond:certificate:1"
CERT = "urn:riv:insuranceprocess:certificate:1"
TS = "urn:local:se:intygstjanster:services:1"
TS_TYPES = "urn:local:se:intygstjanster:services:types:1"
TS_GETS = {GET_TS_BAS: (REGISTER_TS_BAS, "RegisterTSBas", TS_BAS_SAMPLE), GET_TS_DIABETES: (REGISTER_TS_DIABETES, "RegisterTSDiabetes", TS_DIABETES_SAMPLE)}


pytestmark = pytest.mark.usefixtures("shared")


def answer_of(client, path: str, request: str) -> tuple[Answer, etree._Element]:  # type: ignore[no-untyped-def]
    """(result, payload) of a call; the payload is checked against the contract's schema by ``call``."""
    contract = contract_at(path)
    result = call(client, path, request.encode())
    body = envelope(request.encode(), wsa_to="5565594230") if contract.uses_wsa_to else envelope(request.encode())
    payload = etree.fromstring(post(client, path, body).content).find(f"{{{SOAP11}}}Body/*")
    assert payload is not None
    return result, payload


def hashed(patient: str, salt: str = "") -> str:
    return hashlib.sha256((salt + patient).encode()).hexdigest()


def register_fk7263(client, certificate_id: str) -> etree._Element:  # type: ignore[no-untyped-def]
    payload = legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, certificate_id)
    assert call(client, REGISTER_MEDICAL, payload).code == "OK"
    return payload


def add_state(db, certificate_id: str, state: str, target: str, minutes: int = 10) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as conn:
        repo.add_state(conn, certificate_id, state, target, dt.datetime(2030, 1, 1) + dt.timedelta(minutes=minutes))


def erase(db, certificate_id: str) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        row = session.get(Certificate, certificate_id)
        assert row is not None
        row.deleted_by_care_giver = True
        session.commit()


# ------------------------------------------------------------------------- GetMedicalCertificate


def get_medical(client, certificate_id: str, patient: str = TEST_PERSON, part: str = "FKASSA") -> tuple[Answer, etree._Element]:  # type: ignore[no-untyped-def]
    request = (
        f'<g:GetMedicalCertificateRequest xmlns:g="{GMC}"><g:certificateId>{certificate_id}</g:certificateId>'
        f"<g:nationalIdentityNumber>{patient}</g:nationalIdentityNumber><g:part>{part}</g:part></g:GetMedicalCertificateRequest>"
    )
    return answer_of(client, GET_MEDICAL, request)


def test_get_medical_certificate_answers_the_fk7263_as_registered(client) -> None:
    registered = register_fk7263(client, "gmc-1")
    answer, payload = get_medical(client, "gmc-1", patient="19121212-1212")
    assert answer == Answer("OK", None, None)
    meta = payload.find(f"{{{GMC}}}meta")
    assert [meta.findtext(f"{{{C1}}}{name}") for name in ("certificateId", "certificateType", "available")] == ["gmc-1", "fk7263", "true"]
    assert [(s.findtext(f"{{{C1}}}target"), s.findtext(f"{{{C1}}}type")) for s in meta.iterfind(f"{{{C1}}}status")] == [("HSVARD", "RECEIVED")]
    # The lakarutlatande is the one registered (the legacy conversion restores it exactly).
    returned = payload.find(f"{{{GMC}}}lakarutlatande")
    original = registered.find("{*}lakarutlatande")
    returned.tag = original.tag
    assert carrier.canonical(returned) == carrier.canonical(original)


def test_get_medical_certificate_of_another_patient_or_unknown_names_the_pseudonym(client) -> None:
    register_fk7263(client, "gmc-2")
    expected = Answer("ERROR", "VALIDATION_ERROR", f"Certificate 'gmc-2' does not exist for user '{hashed(OTHER_PERSON)}'")
    assert get_medical(client, "gmc-2", patient=OTHER_PERSON)[0] == expected
    assert get_medical(client, "nothing", patient=OTHER_PERSON)[0].text == f"Certificate 'nothing' does not exist for user '{hashed(OTHER_PERSON)}'"


def test_the_pseudonym_salt_is_configurable(client, services) -> None:
    services.settings = dataclasses.replace(services.settings, pseudonym_salt="s3cret")
    assert get_medical(client, "nothing")[0].text == f"Certificate 'nothing' does not exist for user '{hashed(TEST_PERSON, 's3cret')}'"


@pytest.mark.usefixtures("db")
def test_get_medical_certificate_without_a_patient_or_of_another_type_is_unknown(client, db) -> None:
    store(db, "a-lisjp")
    assert get_medical(client, "a-lisjp")[0] == Answer("ERROR", "VALIDATION_ERROR", "Unknown certificate ID: a-lisjp")
    assert get_medical(client, "nothing", patient="")[0] == Answer("ERROR", "VALIDATION_ERROR", "Unknown certificate ID: nothing")


def test_get_medical_certificate_erased_is_refused_to_care(client, db) -> None:
    register_fk7263(client, "gmc-3")
    erase(db, "gmc-3")
    assert get_medical(client, "gmc-3", part="HSVARD")[0] == Answer("ERROR", "APPLICATION_ERROR", "Certificate 'gmc-3' has been deleted by care giver")


def test_get_medical_certificate_revoked_comes_with_its_content(client, db) -> None:
    register_fk7263(client, "gmc-4")
    add_state(db, "gmc-4", "CANCELLED", "HSVARD")
    add_state(db, "gmc-4", "DELETED", "INVANA", minutes=20)
    answer, payload = get_medical(client, "gmc-4")
    assert answer == Answer("ERROR", "REVOKED", "Certificate 'gmc-4' has been revoked")
    assert payload.find(f"{{{GMC}}}lakarutlatande") is not None
    meta = payload.find(f"{{{GMC}}}meta")
    # Every state with its internal name, newest first; archived means not available.
    assert [s.findtext(f"{{{C1}}}type") for s in meta.iterfind(f"{{{C1}}}status")] == ["DELETED", "CANCELLED", "RECEIVED"]
    assert meta.findtext(f"{{{C1}}}available") == "false"


# ------------------------------------------------------------------------------ ListCertificates


def list_certificates(client, patient: str = TEST_PERSON, types: tuple[str, ...] = ()) -> tuple[Answer, etree._Element]:  # type: ignore[no-untyped-def]
    wanted = "".join(f"<l:certificateType>{t}</l:certificateType>" for t in types)
    request = f'<l:ListCertificatesRequest xmlns:l="{LCR}"><l:nationalIdentityNumber>{patient}</l:nationalIdentityNumber>{wanted}</l:ListCertificatesRequest>'
    return answer_of(client, LIST, request)


def metas(payload: etree._Element) -> list[tuple[str | None, ...]]:
    return [
        (m.findtext(f"{{{CERT}}}certificateId"), m.findtext(f"{{{CERT}}}certificateType"), m.findtext(f"{{{CERT}}}available"))
        for m in payload.iterfind(f"{{{LCR}}}meta")
    ]


def test_list_certificates_lists_the_citizens_certificates_as_metadata(client, db) -> None:
    register_fk7263(client, "lc-fk")
    store(db, "lc-lisjp", signed="2020-01-01T10:00:00")
    store(db, "lc-archived", signed="2019-01-01T10:00:00", states=[("DELETED", "INVANA")])
    store(db, "lc-revoked", signed="2018-01-01T10:00:00", states=[("CANCELLED", "HSVARD")])
    store(db, "lc-erased", erased=True)
    store(db, "lc-other", patient=OTHER_PERSON)
    answer, payload = list_certificates(client)
    assert answer == Answer("OK", None, None)
    assert sorted(metas(payload)) == [
        ("lc-archived", "lisjp", "false"),
        ("lc-fk", "fk7263", "true"),
        ("lc-lisjp", "lisjp", "true"),
        ("lc-revoked", "lisjp", "true"),
    ]
    revoked = next(m for m in payload.iterfind(f"{{{LCR}}}meta") if m.findtext(f"{{{CERT}}}certificateId") == "lc-revoked")
    assert [s.findtext(f"{{{CERT}}}type") for s in revoked.iterfind(f"{{{CERT}}}status")] == ["CANCELLED", "RECEIVED"]
    # Archiving is not a legacy status.
    archived = next(m for m in payload.iterfind(f"{{{LCR}}}meta") if m.findtext(f"{{{CERT}}}certificateId") == "lc-archived")
    assert [s.findtext(f"{{{CERT}}}type") for s in archived.iterfind(f"{{{CERT}}}status")] == ["RECEIVED"]


def test_list_certificates_of_a_type_leaves_out_archived_and_revoked(client, db) -> None:
    store(db, "lt-lisjp")
    store(db, "lt-archived", states=[("DELETED", "INVANA")])
    store(db, "lt-revoked", states=[("CANCELLED", "HSVARD")])
    register_fk7263(client, "lt-fk")
    assert [m[0] for m in metas(list_certificates(client, types=("lisjp",))[1])] == ["lt-lisjp"]
    assert sorted(m[0] for m in metas(list_certificates(client, types=("fk7263", "LISJP"))[1])) == ["lt-fk", "lt-lisjp"]


def test_list_certificates_with_an_unparsable_patient_is_an_application_error(client) -> None:
    answer, payload = list_certificates(client, patient="abc")
    assert answer == Answer("ERROR", "APPLICATION_ERROR", "Could not parse passed personnummer")
    assert payload.find(f"{{{LCR}}}meta") is None


# ------------------------------------------------------------------------- GetTSBas, GetTSDiabetes


def get_ts(client, path: str, certificate_id: str, patient: str | None = TEST_PERSON) -> tuple[Answer, etree._Element]:  # type: ignore[no-untyped-def]
    contract = contract_at(path)
    person = "" if patient is None else (
        f"<g:personId><tt:root>1.2.752.129.2.1.3.1</tt:root><tt:extension>{patient}</tt:extension></g:personId>"
    )
    request = f'<g:{contract.request} xmlns:g="{contract.namespace}" xmlns:tt="{TS_TYPES}"><g:intygsId>{certificate_id}</g:intygsId>{person}</g:{contract.request}>'
    return answer_of(client, path, request)


def register_ts(client, path: str, certificate_id: str) -> etree._Element:  # type: ignore[no-untyped-def]
    register, folder, name = TS_GETS[path]
    payload = legacy_sample(folder, name, certificate_id)
    assert call(client, register, payload).code == "OK"
    return payload


@pytest.mark.parametrize("path", sorted(TS_GETS), ids=lambda p: p.split("/")[-3])
def test_get_ts_answers_the_certificate_as_registered(client, path: str) -> None:
    registered = register_ts(client, path, "ts-1")
    for patient in (TEST_PERSON, None):
        answer, payload = get_ts(client, path, "ts-1", patient)
        assert answer == Answer("OK", None, None)
        meta = payload.find("{*}meta")
        assert [(s.findtext(f"{{{TS}}}target"), s.findtext(f"{{{TS}}}type")) for s in meta.iterfind(f"{{{TS}}}status")] == [("HSVARD", "RECEIVED")]
        assert meta.findtext(f"{{{TS}}}available") == "true"
        returned = payload.find("{*}intyg")
        original = registered.find("{*}intyg")
        returned.tag = original.tag
        assert carrier.canonical(returned) == carrier.canonical(original)


@pytest.mark.parametrize("path", sorted(TS_GETS), ids=lambda p: p.split("/")[-3])
def test_get_ts_refusals(client, db, path: str) -> None:
    register_ts(client, path, "ts-2")
    assert get_ts(client, path, "")[0] == Answer("ERROR", "APPLICATION_ERROR", "non-existing certificateId")
    assert get_ts(client, path, "nothing", None)[0] == Answer("ERROR", "VALIDATION_ERROR", "Unknown certificate ID: nothing")
    assert get_ts(client, path, "nothing", "not-a-number")[0] == Answer("ERROR", "VALIDATION_ERROR", "Unknown certificate ID: nothing")
    other = Answer("ERROR", "VALIDATION_ERROR", f"Certificate 'ts-2' does not exist for user '{hashed(OTHER_PERSON)}'")
    assert get_ts(client, path, "ts-2", OTHER_PERSON)[0] == other
    # The other Transportstyrelsen contract does not know it.
    sibling = next(p for p in TS_GETS if p != path)
    assert get_ts(client, sibling, "ts-2", None)[0] == Answer("ERROR", "VALIDATION_ERROR", "Unknown certificate ID: ts-2")
    add_state(db, "ts-2", "CANCELLED", "HSVARD")
    answer, payload = get_ts(client, path, "ts-2")
    assert answer == Answer("ERROR", "REVOKED", "Certificate 'ts-2' has been revoked")
    assert payload.find("{*}intyg") is not None and payload.find("{*}meta") is not None
    erase(db, "ts-2")
    assert get_ts(client, path, "ts-2")[0] == Answer("ERROR", "APPLICATION_ERROR", "Certificate 'ts-2' has been deleted by care giver")


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("191212121212", "191212121212"),
        ("19121212-1212", "191212121212"),
        ("121212-1212", "201212121212"),
        ("121212+1212", "191212121212"),
        ("4401011234", "194401011234"),
        ("", None),
        ("abc", None),
        ("181212121212", None),
    ],
)
def test_legacy_patient_ids(text: str, digits: str | None) -> None:
    assert parse_personnummer(text, dt.date(2026, 12, 3)) == digits


# ---------------------------------------------------------------------- GetCertificate v1 (legacy)

GET_V1 = "/insuranceprocess/healthreporting/GetCertificate/1/rivtabp20"
GCR = "urn:riv:insuranceprocess:healthreporting:GetCertificateResponder:1"


def get_v1(client, certificate_id: str, patient: str = TEST_PERSON, path: str = GET_V1) -> tuple[Answer, etree._Element]:  # type: ignore[no-untyped-def]
    request = (
        f'<g:GetCertificateRequest xmlns:g="{GCR}"><g:certificateId>{certificate_id}</g:certificateId>'
        f"<g:nationalIdentityNumber>{patient}</g:nationalIdentityNumber></g:GetCertificateRequest>"
    )
    return answer_of(client, path, request)


def test_get_certificate_v1_answers_metadata_and_the_document_as_registered(client, db) -> None:
    registered = register_fk7263(client, "gc1-fk")
    add_state(db, "gc1-fk", "SENT", "FKASSA")
    add_state(db, "gc1-fk", "DELETED", "INVANA", minutes=20)
    answer, payload = get_v1(client, "gc1-fk", patient="19121212-1212")
    assert answer == Answer("OK", None, None)
    meta = payload.find(f"{{{GCR}}}meta")
    assert [meta.findtext(f"{{{CERT}}}{name}") for name in ("certificateId", "certificateType", "available")] == ["gc1-fk", "fk7263", "false"]
    # Legacy statuses: internal names, newest first, archiving left out.
    assert [(s.findtext(f"{{{CERT}}}target"), s.findtext(f"{{{CERT}}}type")) for s in meta.iterfind(f"{{{CERT}}}status")] == [
        ("FKASSA", "SENT"),
        ("HSVARD", "RECEIVED"),
    ]
    [document] = payload.find(f"{{{GCR}}}certificate")
    assert carrier.canonical(document) == carrier.canonical(registered)
    # A certificate of any type, here one stored as RegisterCertificate v3.
    store(db, "gc1-lisjp")
    answer, payload = get_v1(client, "gc1-lisjp")
    assert answer.code == "OK"
    assert etree.QName(payload.find(f"{{{GCR}}}certificate")[0]).localname == "RegisterCertificate"


GET_V1_ROWS = [
    # (row of result-codes.md, certificate id, patient, expected answer)
    ("missing certificateId", "", TEST_PERSON, Answer("ERROR", "VALIDATION_ERROR", "Validation error: missing certificateId")),
    ("missing nationalIdentityNumber", "gc1-row", "", Answer("ERROR", "VALIDATION_ERROR", "Validation error: missing nationalIdentityNumber")),
    ("unknown", "gc1-nothing", TEST_PERSON, Answer("ERROR", "VALIDATION_ERROR", f"Certificate 'gc1-nothing' does not exist for user '{hashed(TEST_PERSON)}'")),
    ("other patient", "gc1-row", OTHER_PERSON, Answer("ERROR", "VALIDATION_ERROR", f"Certificate 'gc1-row' does not exist for user '{hashed(OTHER_PERSON)}'")),
    ("revoked", "gc1-revoked", TEST_PERSON, Answer("INFO", None, "Certificate 'gc1-revoked' has been revoked")),
]


@pytest.mark.parametrize(("row", "certificate_id", "patient", "expected"), GET_V1_ROWS, ids=[r[0] for r in GET_V1_ROWS])
def test_get_certificate_v1_national_answers(client, db, row: str, certificate_id: str, patient: str, expected: Answer) -> None:
    store(db, "gc1-row")
    store(db, "gc1-revoked", states=[("CANCELLED", "HSVARD")])
    answer, payload = get_v1(client, certificate_id, patient=patient)
    assert answer == expected
    # Refused and revoked: no certificate, no metadata.
    assert [etree.QName(child).localname for child in payload] == ["result"]


def test_get_certificate_v1_at_the_national_address(client, db) -> None:
    store(db, "gc1-national")
    assert get_v1(client, "gc1-national", path="/inera-certificate/get-certificate/v1.0")[0].code == "OK"
