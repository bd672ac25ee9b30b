"""ListCertificatesForCare v3 and ListCertificatesForCitizen v3/v4 through the in-process app; every
answer is checked against the contract's own response schema."""

from __future__ import annotations

import pytest
from lxml import etree

from intygstjanst.contracts.xml import SOAP11, TYPES

from intygstjanst.tests.listing import AG7804_SAMPLE, DB_SAMPLE, DOI_SAMPLE, listed, payload, statuses, store
from intygstjanst.tests.soap import OTHER_PERSON, TEST_PERSON, envelope, post, result

CARE = "/clinicalprocess/healthcond/certificate/ListCertificatesForCare/3/rivtabp21"
CITIZEN_V3 = "/clinicalprocess/healthcond/certificate/ListCertificatesForCitizen/3/rivtabp21"
CITIZEN_V4 = "/clinicalprocess/healthcond/certificate/ListCertificatesForCitizen/4/rivtabp21"
CARE_NS = "urn:riv:clinicalprocess:healthcond:certificate:ListCertificatesForCareResponder:3"
CITIZEN_NS = "urn:riv:clinicalprocess:healthcond:certificate:ListCertificatesForCitizenResponder:{}"
PERSONNUMMER = "1.2.752.129.2.1.3.1"
PART_SYSTEM = "769bb12b-bd9f-4203-a5cd-fd14f2eb3b80"

pytestmark = pytest.mark.usefixtures("shared")


def care_request(patient: str = TEST_PERSON, units: tuple[str, ...] = ("SE-UNIT-1",), care_giver: str | None = None) -> bytes:
    scope = (
        f"<l:vardgivar-id><t:root>1.2.752.129.2.1.4.1</t:root><t:extension>{care_giver}</t:extension></l:vardgivar-id>"
        if care_giver
        else "".join(f"<l:enhets-id><t:root>1.2.752.129.2.1.4.1</t:root><t:extension>{u}</t:extension></l:enhets-id>" for u in units)
    )
    return envelope(
        f'<l:ListCertificatesForCare xmlns:l="{CARE_NS}" xmlns:t="{TYPES}">'
        f"<l:person-id><t:root>{PERSONNUMMER}</t:root><t:extension>{patient}</t:extension></l:person-id>{scope}"
        "</l:ListCertificatesForCare>".encode()
    )


def citizen_request(
    version: int = 4,
    patient: str = TEST_PERSON,
    part: str = "INVANA",
    archived: bool = False,
    types: tuple[str, ...] = (),
    from_date: str | None = None,
    to_date: str | None = None,
) -> bytes:
    ns = CITIZEN_NS.format(version)
    kinds = "".join(f"<l:intygTyp><t:code>{t}</t:code><t:codeSystem>KV_INTYGSTYP</t:codeSystem></l:intygTyp>" for t in types)
    dates = (f"<l:fromDatum>{from_date}</l:fromDatum>" if from_date else "") + (f"<l:tomDatum>{to_date}</l:tomDatum>" if to_date else "")
    return envelope(
        f'<l:ListCertificatesForCitizen xmlns:l="{ns}" xmlns:t="{TYPES}">'
        f"<l:person-id><t:root>{PERSONNUMMER}</t:root><t:extension>{patient}</t:extension></l:person-id>"
        f"{kinds}<l:arkiverade>{'true' if archived else 'false'}</l:arkiverade>{dates}"
        f"<l:part><t:code>{part}</t:code><t:codeSystem>{PART_SYSTEM}</t:codeSystem></l:part>"
        "</l:ListCertificatesForCitizen>".encode()
    )


def call(client, services, path: str, body: bytes) -> etree._Element:  # type: ignore[no-untyped-def]
    response = post(client, path, body)
    assert response.status_code == 200, response.text
    return payload(response.content, services.contracts.by_path(path))


# ---------------------------------------------------------------------------------------- care


def test_care_lists_the_patients_certificates_of_the_units_oldest_first(client, services, db) -> None:
    store(db, "old", signed="2023-05-01T08:00:00")
    store(db, "new", signed="2024-02-01T08:00:00")
    store(db, "other-unit", unit="SE-UNIT-9")
    store(db, "other-patient", patient=OTHER_PERSON)
    store(db, "erased", erased=True)
    answer = call(client, services, CARE, care_request())
    assert listed(answer) == ["old", "new"]  # the national service's order for care


def test_care_includes_revoked_archived_and_test_certificates_with_care_statuses(client, services, db) -> None:
    store(db, "revoked", signed="2024-01-03T08:00:00", states=[("SENT", "FKASSA"), ("CANCELLED", "HSVARD")])
    store(db, "archived", signed="2024-01-02T08:00:00", states=[("DELETED", "INVANA")])
    store(db, "test", signed="2024-01-01T08:00:00", is_test=True)
    answer = call(client, services, CARE, care_request())
    assert listed(answer) == ["test", "archived", "revoked"]
    assert statuses(answer, "revoked") == [("CANCEL", "HSVARD"), ("SENTTO", "FKASSA"), ("RECEIV", "HSVARD")]  # newest first
    # The citizen's archiving is private: care sees the certificate but not the DELETED entry.
    assert statuses(answer, "archived") == [("RECEIV", "HSVARD")]


def test_care_with_many_units_and_with_a_care_giver(client, services, db) -> None:
    store(db, "a", unit="SE-UNIT-1", signed="2024-01-03T08:00:00")
    store(db, "b", unit="SE-UNIT-2", signed="2024-01-02T08:00:00")
    store(db, "c", unit="SE-UNIT-3", care_giver="SE-GIVER-2", signed="2024-01-01T08:00:00")
    assert listed(call(client, services, CARE, care_request(units=("SE-UNIT-1", "SE-UNIT-3")))) == ["c", "a"]
    assert listed(call(client, services, CARE, care_request(care_giver="SE-GIVER-1"))) == ["b", "a"]
    assert listed(call(client, services, CARE, care_request(units=("SE-NOWHERE",)))) == []


def test_care_answers_the_stored_certificate_in_its_own_namespace(client, services, db) -> None:
    store(db, "full")
    answer = call(client, services, CARE, care_request())
    intyg = answer.find(f"{{{CARE_NS}}}intygsLista/{{{CARE_NS}}}intyg")
    assert intyg is not None
    assert len(intyg.findall("{*}svar")) > 5  # the answers themselves, not a summary


# The schema admits 12 digits only; of those, the national service reads 19xx and 20xx numbers.
@pytest.mark.parametrize("patient", ["181212121212", "191212121213"])
def test_care_answers_an_id_that_is_no_ones_with_an_empty_list(client, services, db, patient: str) -> None:
    store(db, "c")
    assert listed(call(client, services, CARE, care_request(patient=patient))) == []


# ------------------------------------------------------------------------------------- citizen


def test_citizen_never_sees_death_certificates_or_erased_ones(client, services, db) -> None:
    store(db, "lisjp", signed="2024-01-03T08:00:00")
    store(db, "db", sample=DB_SAMPLE)
    store(db, "doi", sample=DOI_SAMPLE)
    store(db, "erased", erased=True)
    assert listed(call(client, services, CITIZEN_V4, citizen_request())) == ["lisjp"]
    assert listed(call(client, services, CITIZEN_V4, citizen_request(types=("DB", "DOI")))) == []


def test_citizen_archived_or_not(client, services, db) -> None:
    store(db, "active", signed="2024-01-04T08:00:00")
    store(db, "archived", signed="2024-01-03T08:00:00", states=[("DELETED", "INVANA")])
    store(db, "restored", signed="2024-01-02T08:00:00", states=[("DELETED", "INVANA"), ("RESTORED", "INVANA")])
    store(db, "revoked", signed="2024-01-01T08:00:00", states=[("CANCELLED", "HSVARD")])
    assert listed(call(client, services, CITIZEN_V4, citizen_request())) == ["active", "restored", "revoked"]
    archived = call(client, services, CITIZEN_V4, citizen_request(archived=True))
    assert listed(archived) == ["archived"]
    # The citizen sees their own archiving.
    assert statuses(archived, "archived") == [("DELETE", "INVANA"), ("RECEIV", "HSVARD")]


def test_citizen_type_filter_takes_any_letter_case(client, services, db) -> None:
    store(db, "lisjp", signed="2024-01-02T08:00:00")
    store(db, "ag7804", sample=AG7804_SAMPLE, signed="2024-01-01T08:00:00")
    assert listed(call(client, services, CITIZEN_V4, citizen_request(types=("lisjp",)))) == ["lisjp"]
    assert listed(call(client, services, CITIZEN_V4, citizen_request(types=("AG7804", "LISJP")))) == ["lisjp", "ag7804"]
    assert listed(call(client, services, CITIZEN_V4, citizen_request(types=("LUSE",)))) == []


def test_citizen_signing_date_range_includes_both_days(client, services, db) -> None:
    store(db, "before", signed="2024-01-09T23:59:59")
    store(db, "first-day", signed="2024-01-10T00:00:00")
    store(db, "last-day", signed="2024-01-20T23:59:59")
    store(db, "after", signed="2024-01-21T00:00:00")
    both = citizen_request(from_date="2024-01-10", to_date="2024-01-20")
    assert listed(call(client, services, CITIZEN_V4, both)) == ["last-day", "first-day"]
    assert listed(call(client, services, CITIZEN_V4, citizen_request(from_date="2024-01-21"))) == ["after"]
    assert listed(call(client, services, CITIZEN_V4, citizen_request(to_date="2024-01-09"))) == ["before"]


def test_citizen_statuses_follow_the_asking_part(client, services, db) -> None:
    store(db, "c", states=[("SENT", "FKASSA"), ("DELETED", "INVANA"), ("RESTORED", "INVANA")])
    everything = call(client, services, CITIZEN_V4, citizen_request(part="INVANA"))
    assert [s for s, _ in statuses(everything, "c")] == ["RESTOR", "DELETE", "SENTTO", "RECEIV"]
    care = call(client, services, CITIZEN_V4, citizen_request(part="HSVARD"))
    assert [s for s, _ in statuses(care, "c")] == ["SENTTO", "RECEIV"]


def test_citizen_sees_test_certificates(client, services, db) -> None:
    store(db, "test", is_test=True)
    assert listed(call(client, services, CITIZEN_V4, citizen_request())) == ["test"]


@pytest.mark.parametrize("patient", ["181212121212", "000000000000"])
def test_citizen_an_id_that_is_not_a_personnummer(client, services, db, patient: str) -> None:
    """The national service's fault, rewritten: APPLICATION_ERROR and an empty list, v3 and v4."""
    for path, version in ((CITIZEN_V4, 4), (CITIZEN_V3, 3)):
        response = post(client, path, citizen_request(version, patient=patient))
        assert response.status_code == 200, response.text
        assert listed(payload(response.content, services.contracts.by_path(path))) == []
        assert result(response.content) == ("ERROR", "APPLICATION_ERROR", "Invalid/missing civicRegistrationNumber")


def test_citizen_lenient_where_the_national_service_is(client, services, db) -> None:
    store(db, "c", signed="2024-01-15T08:00:00")
    # Any part may list (and sees what its part may see); a wrong check digit finds no one; from
    # after tom finds nothing.
    assert listed(call(client, services, CITIZEN_V4, citizen_request(part="FKASSA"))) == ["c"]
    assert listed(call(client, services, CITIZEN_V4, citizen_request(patient="191212121213"))) == []
    assert listed(call(client, services, CITIZEN_V4, citizen_request(from_date="2024-02-01", to_date="2024-01-01"))) == []


def test_citizen_a_test_certificate_is_refused_to_other_parts(client, services, db) -> None:
    store(db, "test", is_test=True)
    text = "Failed to retrieve certificates because it is flagged as test certificate and part is set as: FKASSA"
    v4 = post(client, CITIZEN_V4, citizen_request(4, part="FKASSA"))
    assert v4.status_code == 200 and listed(payload(v4.content, services.contracts.by_path(CITIZEN_V4))) == []
    assert result(v4.content) == ("ERROR", "APPLICATION_ERROR", text)
    v3 = post(client, CITIZEN_V3, citizen_request(3, part="FKASSA"))
    assert listed(payload(v3.content, services.contracts.by_path(CITIZEN_V3))) == []
    assert result(v3.content) == ("ERROR", "VALIDATION_ERROR", text)
    assert listed(call(client, services, CITIZEN_V4, citizen_request(part="HSVARD"))) == ["test"]


def test_citizen_v3_answers_the_list_with_ok(client, services, db) -> None:
    store(db, "c")
    response = post(client, CITIZEN_V3, citizen_request(3))
    answer = payload(response.content, services.contracts.by_path(CITIZEN_V3))
    assert listed(answer) == ["c"]
    assert result(response.content) == ("OK", None, None)


def test_list_answers_are_soap_11_envelopes(client, db) -> None:
    response = post(client, CITIZEN_V4, citizen_request())
    assert etree.fromstring(response.content).tag == f"{{{SOAP11}}}Envelope"
    assert response.headers["content-type"].startswith("text/xml")
