"""The access log through the in-process app: every answer that discloses patients' data writes one
entry, naming each patient, care giver and unit with the count, before it leaves; a refused call (a Fault, a validation
error, an unknown certificate, an unauthorized caller) writes none; and an answer whose entry cannot
be written is withheld."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select, text
from starlette.testclient import TestClient

from intygstjanst.app import create_app
from intygstjanst.contracts.dispatch import Caller
from intygstjanst.contracts.faults import SoapFault
from intygstjanst.contracts.registry import Contract
from intygstjanst.contracts.xml import SOAP11
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import AccessLogEntry, AccessLogPatient
from intygstjanst.services import Services
from intygstjanst.settings import Settings

from intygstjanst.tests.listing import store
from intygstjanst.tests.recipient_calls import FK7263_SAMPLE, REGISTER_MEDICAL, call, legacy_sample
from intygstjanst.tests.sickleave_support import (
    ACTIVE,
    CARE as SICK_LEAVES_FOR_CARE,
    CARE_GIVER,
    care_unit_settings,
    NOW,
    PERSON,
    UNIT,
    active_request,
    ask,
    care_request as sick_leave_care_request,
    lisjp,
    person_request,
)
from intygstjanst.tests.soap import GET, OTHER_PERSON, REGISTER, TEST_PERSON, certificate, envelope, fault, get_request, post, result

from intygstjanst.tests.contract.test_lists import CARE, CITIZEN_V3, CITIZEN_V4, care_request, citizen_request

LEGACY_GET = "/clinicalprocess/healthcond/certificate/GetMedicalCertificate/1/rivtabp21"
LEGACY_LIST = "/insuranceprocess/healthreporting/ListCertificates/1/rivtabp20"
GMC = "urn:riv:clinicalprocess:healthcond:certificate:GetMedicalCertificateResponder:1"
LCR = "urn:riv:insuranceprocess:healthreporting:ListCertificatesResponder:1"
GET_V1 = "/insuranceprocess/healthreporting/GetCertificate/1/rivtabp20"
GCR = "urn:riv:insuranceprocess:healthreporting:GetCertificateResponder:1"


pytestmark = pytest.mark.usefixtures("shared")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return care_unit_settings(tmp_path)


def entries(db: Database) -> list[Any]:
    with db.read() as conn:
        return list(conn.execute(select(AccessLogEntry.__table__).order_by(AccessLogEntry.seq)))


def named(db: Database) -> list[Any]:
    """Each patient row of each entry, with the entry's columns, in entry order."""
    entry, patient = AccessLogEntry.__table__, AccessLogPatient.__table__
    query = select(entry, *(c for c in patient.c if c.name != "seq")).join(patient, patient.c.seq == entry.c.seq)
    with db.read() as conn:
        return list(conn.execute(query.order_by(entry.c.seq, patient.c.care_unit_id)))


def summary(services: Services) -> list[tuple[str, str, str, str, int]]:
    """(contract, patient, care giver, unit, certificates) of each patient of each entry, the patient by name."""
    names = {services.access_log.patient_key(p): p for p in (TEST_PERSON, OTHER_PERSON, ANOTHER_PERSON)}
    return [(e.contract, names.get(e.patient_key, "?"), e.care_giver_id, e.care_unit_id, e.certificates) for e in named(services.db)]


def register(client: TestClient, certificate_id: str, patient: str = TEST_PERSON) -> tuple[str, str]:
    payload = certificate(certificate_id, patient=patient)
    response = post(client, REGISTER, envelope(payload))
    assert result(response.content)[0] == "OK", response.text
    unit = payload.findtext(".//{*}skapadAv/{*}enhet/{*}enhets-id/{*}extension") or ""
    giver = payload.findtext(".//{*}skapadAv/{*}enhet/{*}vardgivare/{*}vardgivare-id/{*}extension") or ""
    return giver, unit


def body_of(response: Any) -> etree._Element:
    element = etree.fromstring(response.content).find(f"{{{SOAP11}}}Body")
    assert element is not None
    return element[0]


# ------------------------------------------------------------------------------ GetCertificate


def test_get_certificate_writes_one_entry_naming_who_asked(client, services) -> None:
    giver, unit = register(client, "al-1")
    assert entries(services.db) == []  # storing discloses nothing
    response = post(client, GET, envelope(get_request("al-1"), logical_address="SE-ADDRESS-1"))
    assert response.status_code == 200 and b"al-1" in response.content
    [entry] = named(services.db)
    assert (entry.contract, entry.version, entry.logical_address) == ("GetCertificate", "2.1", "SE-ADDRESS-1")
    assert (entry.care_giver_id, entry.care_unit_id, entry.certificates) == (giver, unit, 1)
    assert entry.patient_key == services.access_log.patient_key(TEST_PERSON)
    assert entry.consumer is None and entry.original_consumer is None  # plain HTTP: no certificate
    assert entry.at is not None and len(entry.call_id) == 32
    # The personnummer is in no column.
    assert TEST_PERSON not in repr(tuple(entry))


def test_refused_calls_write_no_entry(client, services) -> None:
    register(client, "al-2")
    # Unknown certificate: a Fault, nothing disclosed.
    assert "does not exist" in fault(post(client, GET, envelope(get_request("nothing"))).content)
    # Schema violation: a Fault.
    assert "Unmarshalling Error" in fault(post(client, GET, envelope(b'<g:GetCertificate xmlns:g="urn:riv:clinicalprocess:healthcond:certificate:GetCertificateResponder:2"/>')).content)
    # Not a SOAP call at all.
    assert post(client, GET, b"<not-soap/>").status_code == 500
    assert entries(services.db) == []


def test_an_unauthorized_caller_writes_no_entry(services) -> None:
    register_client = TestClient(create_app(services=services))
    register(register_client, "al-3")

    def refuse(caller: Caller, contract: Contract, logical_address: str) -> str | None:
        raise SoapFault(f"{caller.consumer} may not call {contract.name}")

    refusing = TestClient(create_app(services=services, caller_resolver=lambda _r: Caller("SE-CONSUMER"), authorizer=refuse))
    response = post(refusing, GET, envelope(get_request("al-3")))
    assert response.status_code == 500 and "may not call" in fault(response.content)
    assert entries(services.db) == []


def test_the_caller_and_the_original_consumer_are_recorded(services) -> None:
    register(TestClient(create_app(services=services)), "al-4")
    platform = TestClient(create_app(services=services, caller_resolver=lambda _r: Caller("SE-PLATFORM", "SE-JOURNAL")))
    assert post(platform, GET, envelope(get_request("al-4"))).status_code == 200
    [entry] = entries(services.db)
    assert (entry.consumer, entry.original_consumer) == ("SE-PLATFORM", "SE-JOURNAL")


# --------------------------------------------------------------------------- certificate lists


def test_lists_write_an_entry_naming_each_unit_with_the_count(client, services, db) -> None:
    store(db, "l-1", unit="SE-UNIT-1")
    store(db, "l-2", unit="SE-UNIT-1", signed="2024-02-01T08:00:00")
    store(db, "l-3", unit="SE-UNIT-2", care_giver="SE-GIVER-2")
    store(db, "l-other", patient=OTHER_PERSON)
    assert post(client, CARE, care_request(units=("SE-UNIT-1",))).status_code == 200
    assert summary(services) == [("ListCertificatesForCare", TEST_PERSON, "SE-GIVER-1", "SE-UNIT-1", 2)]
    assert post(client, CITIZEN_V4, citizen_request(version=4)).status_code == 200
    assert sorted(summary(services)[1:]) == [
        ("ListCertificatesForCitizen", TEST_PERSON, "SE-GIVER-1", "SE-UNIT-1", 2),
        ("ListCertificatesForCitizen", TEST_PERSON, "SE-GIVER-2", "SE-UNIT-2", 1),
    ]
    # One call, one entry.
    assert len(entries(db)) == 2


def test_an_empty_list_or_a_refused_one_writes_no_entry(client, services, db) -> None:
    store(db, "e-test", is_test=True)
    assert post(client, CARE, care_request(units=("SE-UNIT-9",))).status_code == 200  # nothing there
    # A part that may not see test certificates: v3 answers ERROR with an empty list, v4 the rewrite.
    assert result(post(client, CITIZEN_V3, citizen_request(version=3, part="FKASSA")).content)[0] == "ERROR"
    assert b"ERROR" in post(client, CITIZEN_V4, citizen_request(version=4, part="FKASSA")).content
    assert entries(db) == []


# ------------------------------------------------------------------------------- legacy reads


def test_legacy_reads_write_entries_a_revoked_certificate_too(client, services, db) -> None:
    assert call(client, REGISTER_MEDICAL, legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, "lg-1")).code == "OK"
    request = (
        f'<g:GetMedicalCertificateRequest xmlns:g="{GMC}"><g:certificateId>lg-1</g:certificateId>'
        f"<g:nationalIdentityNumber>{TEST_PERSON}</g:nationalIdentityNumber><g:part>FKASSA</g:part></g:GetMedicalCertificateRequest>"
    )
    assert post(client, LEGACY_GET, envelope(request.encode())).status_code == 200
    assert [s[:2] for s in summary(services)] == [("GetMedicalCertificate", TEST_PERSON)]
    # Another patient's id: ERROR, nothing disclosed.
    assert b"does not exist for user" in post(client, LEGACY_GET, envelope(request.replace(TEST_PERSON, OTHER_PERSON).encode())).content
    assert len(entries(db)) == 1
    # Revoked: ERROR / REVOKED, answered with the content, so logged.
    with db.transaction() as conn:
        from intygstjanst.persistence import certificates as repo

        repo.add_state(conn, "lg-1", "CANCELLED", "HSVARD", dt.datetime(2030, 1, 1))
    assert b"REVOKED" in post(client, LEGACY_GET, envelope(request.encode())).content
    assert len(entries(db)) == 2
    # GetCertificate v1 (insuranceprocess): the revoked certificate is answered INFO without content.
    v1 = f'<g:GetCertificateRequest xmlns:g="{GCR}"><g:certificateId>lg-1</g:certificateId><g:nationalIdentityNumber>{TEST_PERSON}</g:nationalIdentityNumber></g:GetCertificateRequest>'
    assert b"has been revoked" in post(client, GET_V1, envelope(v1.encode(), wsa_to="5565594230")).content
    assert len(entries(db)) == 2
    assert call(client, REGISTER_MEDICAL, legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, "lg-2")).code == "OK"
    assert b"lg-2" in post(client, GET_V1, envelope(v1.replace("lg-1", "lg-2").encode(), wsa_to="5565594230")).content
    assert [s[:2] for s in summary(services)][-1] == ("GetCertificate", TEST_PERSON)
    assert entries(db)[-1].version == "1.0"
    listing = f'<l:ListCertificatesRequest xmlns:l="{LCR}"><l:nationalIdentityNumber>{TEST_PERSON}</l:nationalIdentityNumber></l:ListCertificatesRequest>'
    assert post(client, LEGACY_LIST, envelope(listing.encode(), wsa_to="5565594230")).status_code == 200
    assert summary(services)[-1][:2] == ("ListCertificates", TEST_PERSON) and summary(services)[-1][-1] == 2


# ---------------------------------------------------------------------------------- sick leave


ANOTHER_PERSON = "199001012385"  # a patient with sick leave besides Tolvan


@pytest.fixture
def sick_leave(client, services) -> Iterator[None]:  # type: ignore[no-untyped-def]
    services.clock = lambda: NOW
    for certificate_id, patient in (("sl-1", TEST_PERSON), ("sl-2", ANOTHER_PERSON)):
        response = post(client, REGISTER, envelope(lisjp(certificate_id, [(-10, 10, 100)], patient=patient)))
        assert result(response.content)[0] == "OK", response.text
    yield


@pytest.mark.usefixtures("sick_leave")
def test_sick_leave_contracts_write_an_entry_naming_each_patient(client, services) -> None:
    ask(client, ACTIVE, active_request())
    assert sorted(summary(services)) == [
        ("ListActiveSickLeavesForCareUnit", TEST_PERSON, CARE_GIVER, UNIT, 1),
        ("ListActiveSickLeavesForCareUnit", ANOTHER_PERSON, CARE_GIVER, UNIT, 1),
    ]
    ask(client, PERSON, person_request(TEST_PERSON))
    assert summary(services)[2:] == [("ListSickLeavesForPerson", TEST_PERSON, CARE_GIVER, UNIT, 1)]
    ask(client, SICK_LEAVES_FOR_CARE, sick_leave_care_request(5))
    assert sorted(summary(services)[3:]) == [
        ("ListSickLeavesForCare", TEST_PERSON, CARE_GIVER, UNIT, 1),
        ("ListSickLeavesForCare", ANOTHER_PERSON, CARE_GIVER, UNIT, 1),
    ]
    # A unit with nothing: no entry.
    ask(client, ACTIVE, active_request(unit="SE-NOBODY"))
    assert [e.contract for e in entries(services.db)] == ["ListActiveSickLeavesForCareUnit", "ListSickLeavesForPerson", "ListSickLeavesForCare"]


# ------------------------------------------------------------------------ a log that cannot be written


@contextmanager
def log_out_of_reach(db: Database) -> Iterator[None]:
    """The access-log table out of reach (renamed) meanwhile, as a full disk or a lost privilege
    would put it."""
    with db.transaction() as conn:
        conn.execute(text("ALTER TABLE access_log RENAME TO access_log_away"))
    try:
        yield
    finally:
        with db.transaction() as conn:
            conn.execute(text("ALTER TABLE access_log_away RENAME TO access_log"))


def test_without_the_log_nothing_is_disclosed(client, db, caplog) -> None:
    register(client, "wf-1")
    with log_out_of_reach(db):
        response = post(client, GET, envelope(get_request("wf-1")))
        assert response.status_code == 500
        assert "access log could not be written" in fault(response.content)
        assert b"wf-1" not in response.content
        # A contract whose faults the national service answers as ERROR: an empty list.
        answer = body_of(post(client, CITIZEN_V4, citizen_request(version=4)))
        assert len(answer.find("{*}intygsLista")) == 0 and b"ERROR" in etree.tostring(answer)
    assert "the access log could not be written for GetCertificate, so the answer is withheld" in caplog.text
    assert TEST_PERSON not in caplog.text
    # Back: the same call discloses, and is logged.
    assert b"wf-1" in post(client, GET, envelope(get_request("wf-1"))).content
    assert [e.contract for e in entries(db)] == ["GetCertificate"]
