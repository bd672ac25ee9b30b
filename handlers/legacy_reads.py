"""The read contracts of the legacy families: GetMedicalCertificate v1 (an FK 7263 in the
lakarutlatande form), ListCertificates v1 (a citizen's certificates as insuranceprocess metadata),
GetCertificate v1 (one of them, with the document as it was registered), GetTSBas v1 and
GetTSDiabetes v1 (Transportstyrelsen's certificates in their version 1 form).

They answer from the stored certificates: the legacy document is the stored v3 form converted back
with the same conversions delivery uses (``transform.formats.outbound``), so a certificate that
arrived through a legacy contract reads back as it was sent. Situations and texts are the national
service's (../shared/specs/result-codes.md, "Read contracts").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree
from sqlalchemy.engine import Row

from intygstjanst.certificates.status import CARE, is_archived, is_revoked
from intygstjanst.contracts.call import Answer, Call
from intygstjanst.contracts.result import CERTIFICATE_1, OK, ErrorId, LogicalError, Outcome, ResultCode, info, result_payload
from intygstjanst.contracts.xml import HEALTHREPORTING, SOAP11, TS_SERVICES, sub, text_of
from intygstjanst.handlers.certificate import disclosed, stored_payload
from intygstjanst.persistence import certificates as repo
from intygstjanst.persistence.certificates import StateEntry
from intygstjanst.registers.persons import parse_personnummer, pseudonym
from intygstjanst.services import Services
from intygstjanst.transform import formats
from intygstjanst.transform.formats import Format

INSURANCE_CERTIFICATE = "urn:riv:insuranceprocess:certificate:1"
TS_TYPES = "urn:local:se:intygstjanster:services:types:1"
FK7263 = "FK7263"

# The national service names types by its internal ids in these answers; ours are the external
# codes in lower case, except where the internal id is another word.
_INTERNAL_TYPES = {"TSTRK1007": "ts-bas", "TSTRK1031": "ts-diabetes", "AG1-14": "ag114"}
def internal_type(type_code: str) -> str:
    code = type_code.strip().upper()
    return _INTERNAL_TYPES.get(code, code.lower())


def _patient(text: str | None, call: Call[Services]) -> str | None:
    """The 12-digit patient id a legacy request names, or None when absent or unparsable."""
    return parse_personnummer(text or "", call.services.clock().date())


@dataclass(frozen=True)
class Found:
    certificate: Row[Any]
    states: list[StateEntry]


def _find(call: Call[Services], certificate_id: str, patient: str | None, type_codes: frozenset[str]) -> Found:
    """The stored certificate of one of ``type_codes``, checked against the patient when one is
    given; refusals as the national service words them (a certificate of another type is unknown
    to the contract; with a patient, an unknown one is "not that patient's")."""
    with call.services.db.read() as conn:
        certificate = repo.get(conn, certificate_id)
        states = repo.states(conn, certificate_id) if certificate is not None else []
    unknown = LogicalError(ErrorId.VALIDATION_ERROR, f"Unknown certificate ID: {certificate_id}")
    if certificate is not None and certificate.type_code.upper() not in type_codes:
        raise unknown
    if patient is None:
        if certificate is None:
            raise unknown
    elif certificate is None or certificate.patient_id != patient:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR, f"Certificate '{certificate_id}' does not exist for user '{pseudonym(call.services.settings.pseudonym_salt, patient)}'"
        )
    return Found(certificate, states)


def _with_document(call: Call[Services], response: etree._Element, found: Found, fmt: Format, local: str) -> Answer:
    """``response`` completed with the certificate in the legacy form ``fmt`` (its ``local``
    element, renamed into the answering contract) and the result: OK, or ERROR / REVOKED for a
    revoked certificate, which is answered with its content all the same."""
    document = formats.outbound(stored_payload(found.certificate), fmt).find(f"{{*}}{local}")
    assert document is not None  # every legacy conversion writes its certificate element
    document.tag = f"{{{call.contract.namespace}}}{local}"
    response.append(document)
    outcome = OK
    if is_revoked(found.states):
        outcome = Outcome(ResultCode.ERROR, f"Certificate '{found.certificate.id}' has been revoked", ErrorId.REVOKED)
    response.append(_result_block(call, outcome))
    return Answer(response, outcome, disclosed([found.certificate]))  # a revoked one's content too


def _timestamp(at: dt.datetime) -> str:
    return at.replace(microsecond=0, tzinfo=None).isoformat()


def _states_newest_first(states: Sequence[StateEntry]) -> list[StateEntry]:
    return sorted(states, key=lambda s: s.at, reverse=True)


def _write_statuses(parent: etree._Element, ns: str, states: Sequence[StateEntry]) -> None:
    for state in _states_newest_first(states):
        status = sub(parent, f"{{{ns}}}status")
        sub(status, f"{{{ns}}}target", state.target)
        sub(status, f"{{{ns}}}type", state.state)
        sub(status, f"{{{ns}}}timestamp", _timestamp(state.at))


def _result_block(call: Call[Services], outcome: Outcome) -> etree._Element:
    """The contract's result element (its ``result`` shape in contracts.toml) holding ``outcome``."""
    contract = call.contract
    block = result_payload(contract, outcome).find(f"{{{contract.namespace}}}{contract.result.element}")
    assert block is not None  # result_payload always writes it
    return block


def _available(states: Sequence[StateEntry]) -> str:
    return "false" if is_archived(states) else "true"


# -- GetMedicalCertificate v1 -----------------------------------------------------------------------


def get_medical_certificate(call: Call[Services]) -> Answer:
    ns = call.contract.namespace
    certificate_id = (text_of(call.request, f"{{{ns}}}certificateId") or "").strip()
    part = (text_of(call.request, f"{{{ns}}}part") or "").strip()
    patient = _patient(text_of(call.request, f"{{{ns}}}nationalIdentityNumber"), call)
    found = _find(call, certificate_id, patient, frozenset({FK7263}))
    certificate = found.certificate
    if part == CARE and certificate.deleted_by_care_giver:
        raise LogicalError(ErrorId.APPLICATION_ERROR, f"Certificate '{certificate_id}' has been deleted by care giver")
    response = call.contract.response_element(c1=CERTIFICATE_1)
    meta = sub(response, f"{{{ns}}}meta")
    sub(meta, f"{{{CERTIFICATE_1}}}certificateId", certificate.id)
    sub(meta, f"{{{CERTIFICATE_1}}}certificateType", internal_type(certificate.type_code))
    if certificate.valid_from is not None:
        sub(meta, f"{{{CERTIFICATE_1}}}validFrom", certificate.valid_from.isoformat())
    if certificate.valid_to is not None:
        sub(meta, f"{{{CERTIFICATE_1}}}validTo", certificate.valid_to.isoformat())
    sub(meta, f"{{{CERTIFICATE_1}}}issuerName", certificate.signing_doctor_name)
    sub(meta, f"{{{CERTIFICATE_1}}}facilityName", certificate.care_unit_name)
    sub(meta, f"{{{CERTIFICATE_1}}}signDate", _timestamp(certificate.signed_at or certificate.received_at))
    sub(meta, f"{{{CERTIFICATE_1}}}available", _available(found.states))
    _write_statuses(meta, CERTIFICATE_1, found.states)
    return _with_document(call, response, found, Format.REGISTER_MEDICAL_CERTIFICATE_3, "lakarutlatande")


# -- ListCertificates v1 ----------------------------------------------------------------------------


def list_certificates(call: Call[Services]) -> Answer:
    """The citizen's certificates as metadata, newest first; with ``certificateType`` only those
    types, and then without archived or revoked ones. Erased certificates are never listed."""
    ns = call.contract.namespace
    patient = _patient(text_of(call.request, f"{{{ns}}}nationalIdentityNumber"), call)
    if patient is None:
        raise LogicalError(ErrorId.APPLICATION_ERROR, "Could not parse passed personnummer")
    wanted = {t.strip().lower() for t in (e.text or "" for e in call.request.iterfind(f"{{{ns}}}certificateType")) if t.strip()}
    response = call.contract.response_element(cert=INSURANCE_CERTIFICATE, hr=HEALTHREPORTING)
    shown: list[Row[Any]] = []
    with call.services.db.read() as conn:
        for listed in repo.list_for_citizen(conn, patient, excluded_types=()):
            certificate = repo.get(conn, listed.id)
            if certificate is None:  # erased between the two reads
                continue
            if wanted:
                if {internal_type(certificate.type_code), certificate.type_code.lower()}.isdisjoint(wanted):
                    continue
                if is_archived(listed.states) or is_revoked(listed.states):
                    continue
            _insurance_meta(response, ns, certificate, listed.states)
            shown.append(certificate)
    response.append(_result_block(call, OK))
    return Answer(response, OK, disclosed(shown))


def _insurance_meta(response: etree._Element, ns: str, certificate: Row[Any], states: Sequence[StateEntry]) -> None:
    """One ``meta`` (insuranceprocess:certificate:1): statuses as target/type/timestamp with their
    internal names, archiving (DELETED / RESTORED) left out. The schema asks for a validity
    period: a certificate stating none is valid from the day it was signed."""
    signed = (certificate.signed_at or certificate.received_at).date()
    meta = sub(response, f"{{{ns}}}meta")
    for name, value in (
        ("certificateId", certificate.id),
        ("certificateType", internal_type(certificate.type_code)),
        ("validFrom", (certificate.valid_from or signed).isoformat()),
        ("validTo", (certificate.valid_to or certificate.valid_from or signed).isoformat()),
        ("issuerName", certificate.signing_doctor_name),
        ("facilityName", certificate.care_unit_name),
        ("signDate", signed.isoformat()),
        ("available", _available(states)),
    ):
        sub(meta, f"{{{INSURANCE_CERTIFICATE}}}{name}", value)
    _write_statuses(meta, INSURANCE_CERTIFICATE, [s for s in states if s.state not in ("DELETED", "RESTORED")])


# -- GetCertificate v1 (insuranceprocess) -----------------------------------------------------------


def get_certificate(call: Call[Services]) -> Answer:
    """The citizen's certificate (any type) as insuranceprocess metadata and the document as it was
    registered; a revoked one is answered INFO without either, as nationally."""
    ns = call.contract.namespace
    certificate_id = (text_of(call.request, f"{{{ns}}}certificateId") or "").strip()
    number = (text_of(call.request, f"{{{ns}}}nationalIdentityNumber") or "").strip()
    for name, value in (("certificateId", certificate_id), ("nationalIdentityNumber", number)):
        if not value:
            raise LogicalError(ErrorId.VALIDATION_ERROR, f"Validation error: missing {name}")
    patient = _patient(number, call)
    with call.services.db.read() as conn:
        certificate = repo.get(conn, certificate_id)
        states = repo.states(conn, certificate_id) if certificate is not None else []
    if certificate is None or certificate.deleted_by_care_giver or patient is None or certificate.patient_id != patient:
        user = pseudonym(call.services.settings.pseudonym_salt, patient)
        raise LogicalError(ErrorId.VALIDATION_ERROR, f"Certificate '{certificate_id}' does not exist for user '{user}'")
    if is_revoked(states):
        revoked = info(f"Certificate '{certificate_id}' has been revoked")
        return Answer(result_payload(call.contract, revoked), revoked)
    response = call.contract.response_element(cert=INSURANCE_CERTIFICATE, hr=HEALTHREPORTING)
    _insurance_meta(response, ns, certificate, states)
    sub(response, f"{{{ns}}}certificate").append(_registered_document(certificate))
    response.append(_result_block(call, OK))
    return Answer(response, OK, disclosed([certificate]))


def _registered_document(certificate: Row[Any]) -> etree._Element:
    """The payload of the registration as received (RegisterCertificate, RegisterMedicalCertificate,
    RegisterTSBas, ...), the certificate's document in its own namespace."""
    root = etree.fromstring(certificate.original)
    body = root.find(f"{{{SOAP11}}}Body")
    return root if body is None or len(body) == 0 else body[0]


# -- GetTSBas v1, GetTSDiabetes v1 ------------------------------------------------------------------

_TS_FORMATS = {"GetTSBas": Format.REGISTER_TS_BAS_1, "GetTSDiabetes": Format.REGISTER_TS_DIABETES_1}


def get_ts_certificate(call: Call[Services]) -> Answer:
    """GetTSBas v1 and GetTSDiabetes v1: the certificate in the version 1 form with its metadata;
    a revoked one is answered with both and ERROR / REVOKED."""
    ns = call.contract.namespace
    fmt = _TS_FORMATS[call.contract.name]
    certificate_id = (text_of(call.request, f"{{{ns}}}intygsId") or "").strip()
    if not certificate_id:
        raise LogicalError(ErrorId.APPLICATION_ERROR, "non-existing certificateId")
    person = call.request.find(f"{{{ns}}}personId")
    extension = None if person is None else text_of(person, f"{{{TS_TYPES}}}extension")
    patient = _patient(extension, call)
    found = _find(call, certificate_id, patient, formats.legacy_type_codes(fmt))
    certificate = found.certificate
    if certificate.deleted_by_care_giver:
        raise LogicalError(ErrorId.APPLICATION_ERROR, f"Certificate '{certificate_id}' has been deleted by care giver")
    response = call.contract.response_element(ts=TS_SERVICES)
    meta = sub(response, f"{{{ns}}}meta")
    _write_statuses(meta, TS_SERVICES, found.states)
    sub(meta, f"{{{TS_SERVICES}}}available", _available(found.states))
    return _with_document(call, response, found, fmt, "intyg")
