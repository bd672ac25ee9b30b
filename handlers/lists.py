"""ListCertificatesForCare v3 and ListCertificatesForCitizen v3/v4: a patient's certificates, as care
and as the citizen see them, refused only where the national service refuses: a patient id that is
not a personnummer's form gives care an empty list and the citizen's lists the national service's
APPLICATION_ERROR; a part other than the citizen or care may list, unless the list holds a test
certificate.

Both answer with the stored ``intyg`` elements (the certificate as signed) and a status list
filtered for the asking part, exactly as GetCertificate would answer for each one. A list is one
indexed query whatever its length: the patient's certificates together with their states.
"""

from __future__ import annotations

import datetime as dt

from lxml import etree

from intygstjanst.contracts.call import Answer, Call
from intygstjanst.certificates.certtypes import CertificateTypes, normalize_code
from intygstjanst.contracts.faults import SoapFault
from intygstjanst.contracts.result import OK, ErrorId, Outcome, ResultCode, result_element
from intygstjanst.contracts.naming import ContractName
from intygstjanst.contracts.xml import CORE, TYPES, sub, text_of
from intygstjanst.persistence import certificates as repo
from intygstjanst.registers.persons import parse_personnummer
from intygstjanst.handlers.certificate import disclosed, set_statuses, stored_intyg
from intygstjanst.certificates.status import CARE, CITIZEN, is_archived, status_elements, visible_states
from intygstjanst.services import Services

# Death certificates (dödsbevis, dödsorsaksintyg) concern a deceased person and are never shown in
# the citizen's own view.
NOT_FOR_CITIZEN = ("DB", "DOI")
# The parts that may see test certificates in the citizen's lists: the citizen, and care acting
# with the citizen (the national service refuses a list holding one to any other part).
CITIZEN_LIST_PARTS = (CITIZEN, CARE)


# The national service's texts.
INVALID_PATIENT = "Invalid/missing civicRegistrationNumber"


class Refusal(ValueError):
    """A list the citizen's contracts refuse (v4: the fault rewrite's APPLICATION_ERROR; v3: ERROR /
    VALIDATION_ERROR with an empty list)."""


def list_certificates_for_care(call: Call[Services]) -> Answer:
    """Care sees every certificate of the patient from the named units (or the whole care giver),
    revoked and archived ones included, with the citizen's archiving left out of the statuses.
    Certificates erased by the care giver are gone. Test certificates are listed: care units keep
    test patients for their own testing and see what they issued."""
    ns = call.contract.namespace
    patient = _patient(call.request, ns)
    units = [u for u in (text_of(e, "types:extension") for e in call.request.iterfind(f"{{{ns}}}enhets-id")) if u]
    care_giver = text_of(call.request, f"{{{ns}}}vardgivar-id/types:extension")
    listed: list[repo.Listed] = []
    if patient is not None:  # an id of another form is no one's: an empty list, as nationally
        with call.services.db.read() as conn:
            if units:
                listed = repo.list_for_care_units(conn, patient, units)
            else:
                listed = repo.list_for_care_giver(conn, patient, care_giver or "")
    response = _response(call)
    intygs_lista = sub(response, f"{{{ns}}}intygsLista")
    for certificate in reversed(listed):  # oldest signing first, the national service's order for care
        intygs_lista.append(_intyg(certificate, CARE, ns))
    return Answer(response, OK, disclosed(listed))


def list_certificates_for_citizen(call: Call[Services]) -> Answer:
    """v4: the list; a refusal is a fault, which the national service rewrites as APPLICATION_ERROR
    (contracts.rewrite, ``citizen_fault_answer``)."""
    try:
        response, shown = _citizen_list(call)
        return Answer(response, OK, disclosed(shown))
    except Refusal as exc:
        raise SoapFault(str(exc), "Server") from None


def list_certificates_for_citizen_v3(call: Call[Services]) -> Answer:
    """v3: the list with an OK result, or an empty list with ERROR / VALIDATION_ERROR."""
    ns = call.contract.namespace
    shown: list[repo.Listed] = []
    try:
        (response, shown), outcome = _citizen_list(call), OK
    except Refusal as exc:
        response, outcome = _response(call), Outcome(ResultCode.ERROR, str(exc), ErrorId.VALIDATION_ERROR)
        sub(response, f"{{{ns}}}intygsLista")
    response.append(result_element(ns, outcome.code, outcome.text, outcome.error_id))
    return Answer(response, outcome, disclosed(shown))


def citizen_fault_answer(contract: ContractName, outcome: Outcome) -> etree._Element:
    """ListCertificatesForCitizen's answer to a fault (contracts.rewrite): an empty list and the
    result. v4 declares no result; the national service writes it anyway, in the responder namespace,
    which the v4 schema refuses. Here it goes in the extension slot after the list, as a ``result``
    of the core namespace, so that the answer stays valid (README: Differences)."""
    response = contract.response_element(types=TYPES)
    sub(response, f"{{{contract.namespace}}}intygsLista")
    namespace = contract.namespace if contract.major == 3 else CORE
    response.append(result_element(namespace, outcome.code, outcome.text, outcome.error_id))
    return response


def _citizen_list(call: Call[Services]) -> tuple[etree._Element, list[repo.Listed]]:
    """Every certificate about the citizen except death certificates and erased ones, archived or
    not as asked, optionally limited to some types and to a signing-date range (both ends
    inclusive); revoked ones are listed with their CANCELLED status. The response, and the
    certificates it holds."""
    ns = call.contract.namespace
    request = call.request
    part = text_of(request, f"{{{ns}}}part/types:code") or ""
    patient = _patient(request, ns)
    if patient is None:
        raise SoapFault(INVALID_PATIENT, "Server")  # the national service's fault, rewritten
    codes = [c for c in (text_of(e, "types:code") for e in request.iterfind(f"{{{ns}}}intygTyp")) if c]
    signed_from = _date(request, ns, "fromDatum")
    signed_to = _date(request, ns, "tomDatum")  # after fromDatum: nothing is signed in between
    archived = (text_of(request, f"{{{ns}}}arkiverade") or "false") in ("true", "1")

    with call.services.db.read() as conn:
        listed = repo.list_for_citizen(
            conn,
            patient,
            excluded_types=NOT_FOR_CITIZEN,
            types=sorted({main_type_code(call.services.certificate_types, c) for c in codes}) if codes else None,
            signed_from=_midnight(signed_from),
            signed_before=_midnight(signed_to + dt.timedelta(days=1)) if signed_to else None,
        )
    shown = [c for c in listed if is_archived(c.states) == archived]
    if part not in CITIZEN_LIST_PARTS and any(c.is_test for c in shown):
        raise Refusal(f"Failed to retrieve certificates because it is flagged as test certificate and part is set as: {part}")
    response = _response(call)
    intygs_lista = sub(response, f"{{{ns}}}intygsLista")
    for certificate in shown:
        intygs_lista.append(_intyg(certificate, part, ns))
    return response, shown


def _patient(request: etree._Element, ns: str) -> str | None:
    """The 12 digits of ``person-id``, or None when it is not of a personnummer's form (the national
    service reads the form only, whatever the root)."""
    return parse_personnummer(text_of(request, f"{{{ns}}}person-id/types:extension") or "")


def _date(request: etree._Element, ns: str, name: str) -> dt.date | None:
    value = text_of(request, f"{{{ns}}}{name}")
    return dt.date.fromisoformat(value) if value else None  # the schema has checked the format


def _midnight(day: dt.date | None) -> dt.datetime | None:
    return dt.datetime.combine(day, dt.time()) if day else None


def main_type_code(types: CertificateTypes, code: str) -> str:
    """The code a certificate of type ``code`` is stored under: its type's main code, whatever alias
    (``AG114`` for ``AG1-14``) or letter case the caller used; an unknown code stays as given
    (upper case)."""
    wanted = normalize_code(code)
    for certificate_type in types.all():
        if any(normalize_code(c) == wanted for c in certificate_type.codes):
            return normalize_code(certificate_type.code)
    return wanted


def _response(call: Call[Services]) -> etree._Element:
    return call.contract.response_element(types=TYPES)


def _intyg(certificate: repo.Listed, part: str, ns: str) -> etree._Element:
    intyg = stored_intyg(certificate.document)
    intyg.tag = f"{{{ns}}}intyg"  # the element belongs to the answering contract
    set_statuses(intyg, status_elements(visible_states(certificate.states, part)))
    return intyg
