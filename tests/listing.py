"""Storing certificates with a chosen history for the list, relation and receiver tests, and reading
list answers back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from lxml import etree
from sqlalchemy import update

from intygstjanst.contracts.registry import Contract
from intygstjanst.contracts.xml import CORE, SOAP11, TYPES
from intygstjanst.persistence import certificates as repo
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import Certificate

from intygstjanst.tests.soap import LISJP_SAMPLE, TEST_PERSON, certificate

DB_SAMPLE = "common__sos-db-v1-db.xml"
DOI_SAMPLE = "common__sos-doi-v1-doi.xml"
AG7804_SAMPLE = "common__skl-ag7804-v1-transport-ag7804.xml"

_UNIT = f"{{{CORE}}}skapadAv/{{{CORE}}}enhet/{{{CORE}}}enhets-id/{{{TYPES}}}extension"
_CARE_GIVER = f"{{{CORE}}}skapadAv/{{{CORE}}}enhet/{{{CORE}}}vardgivare/{{{CORE}}}vardgivare-id/{{{TYPES}}}extension"


def store(
    db: Database,
    certificate_id: str,
    *,
    patient: str = TEST_PERSON,
    unit: str = "SE-UNIT-1",
    care_giver: str = "SE-GIVER-1",
    signed: str = "2024-01-10T10:00:00",
    sample: str = LISJP_SAMPLE,
    is_test: bool = False,
    erased: bool = False,
    states: Sequence[tuple[str, str]] = (),
    relations: Sequence[repo.RelationEntry] = (),
    received: dt.datetime = dt.datetime(2024, 1, 10, 10, 0, 5),
) -> None:
    """Store a sample certificate as if registered at ``received``, then ``states`` (state, part) one
    minute apart; ``erased`` marks it deleted by the care giver."""
    payload = certificate(certificate_id, patient=patient, name=sample)
    intyg = payload.find("{*}intyg")
    assert intyg is not None
    for path, value in ((_UNIT, unit), (_CARE_GIVER, care_giver), (f"{{{CORE}}}signeringstidpunkt", signed)):
        element = intyg.find(path)
        assert element is not None, f"{sample} has no {path}"
        element.text = value
    type_code = intyg.findtext(f"{{{CORE}}}typ/{{{TYPES}}}code") or ""
    new = repo.NewCertificate(
        id=certificate_id,
        type_code=type_code.upper(),
        type_version=intyg.findtext(f"{{{CORE}}}version") or "",
        patient_id=patient,
        care_unit_id=unit,
        care_unit_name="",
        care_giver_id=care_giver,
        signing_doctor_id="SE-DOCTOR-1",
        signing_doctor_name="",
        signed_at=dt.datetime.fromisoformat(signed),
        valid_from=None,
        valid_to=None,
        is_test=is_test,
        source="RegisterCertificate:3",
        original=etree.tostring(payload),
    )
    with db.transaction() as conn:
        repo.insert_certificate(conn, new, received, relations)
        for minutes, (state, part) in enumerate(states, start=1):
            repo.add_state(conn, certificate_id, state, part, received + dt.timedelta(minutes=minutes))
        if erased:
            conn.execute(update(Certificate).where(Certificate.id == certificate_id).values(deleted_by_care_giver=True))


def payload(body: bytes, contract: Contract | None = None) -> etree._Element:
    """The response payload; checked against ``contract``'s schema when given."""
    soap_body = etree.fromstring(body).find(f"{{{SOAP11}}}Body")
    assert soap_body is not None, body[:300]
    element = soap_body[0]
    if contract is not None:
        contract.schema.assertValid(element)
    return element


def listed(response: etree._Element) -> list[str]:
    """Certificate ids in the order the list answer gives them."""
    return [e.text or "" for e in response.iterfind(f"{{*}}intygsLista/{{*}}intyg/{{{CORE}}}intygs-id/{{{TYPES}}}extension")]


def statuses(response: etree._Element, certificate_id: str) -> list[tuple[str, str]]:
    """(status, part) of one listed certificate, in the answer's order."""
    for intyg in response.iterfind("{*}intygsLista/{*}intyg"):
        if intyg.findtext(f"{{{CORE}}}intygs-id/{{{TYPES}}}extension") == certificate_id:
            return [
                (s.findtext(f"{{{CORE}}}status/{{{TYPES}}}code") or "", s.findtext(f"{{{CORE}}}part/{{{TYPES}}}code") or "")
                for s in intyg.iterfind(f"{{{CORE}}}status")
            ]
    raise AssertionError(f"{certificate_id} is not in the list")
