"""RegisterCertificate v3 and GetCertificate v2: storing a signed certificate once, reading it back."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from lxml import etree
from sqlalchemy.engine import Connection, Row

from intygstjanst.contracts.call import Answer, Call, Disclosure
from intygstjanst.contracts.faults import SoapFault
from intygstjanst.contracts.result import OK, ErrorId, LogicalError, Outcome, info, listed
from intygstjanst.contracts.xml import CORE, TYPES, text_of
from intygstjanst.certificates.signature import Signed
from intygstjanst.persistence import certificates as repo
from intygstjanst.persistence import signatures
from intygstjanst.persistence.models import Certificate, SickLeaveCertificate
from intygstjanst.persistence.models import overlong as overlong_values
from intygstjanst.contracts.logs import mask
from intygstjanst.registers.persons import Person, PersonLookupError, parse_personnummer
from intygstjanst.statistics import feed
from intygstjanst.statistics.events import StatisticsEvent
from intygstjanst.transform import formats
from intygstjanst.transform.formats import Format
from intygstjanst.handlers import sickleave
from intygstjanst.certificates.status import CARE, status_elements, visible_states

if TYPE_CHECKING:
    from intygstjanst.services import Services

log = logging.getLogger(__name__)

ALREADY_EXISTS = "Certificate already exists"  # consumers match on this exact text
RELATION_KINDS = frozenset({"ERSATT", "KOMPLT", "FRLANG", "KOPIA"})

# ``intyg`` is declared in each responder's namespace; its content is in the core namespace.
_INTYG = "{*}intyg"


@dataclass(frozen=True)
class IntygView:
    """The fields of an ``intyg`` element that storage and checks need, each read once (a
    registration asks for some of them several times)."""

    element: etree._Element

    def text(self, path: str) -> str:
        return text_of(self.element, path) or ""

    @cached_property
    def id(self) -> str:
        return self.text("core:intygs-id/types:extension")

    @cached_property
    def type_code(self) -> str:
        return self.text("core:typ/types:code")

    @cached_property
    def version(self) -> str:
        return self.text("core:version")

    @cached_property
    def patient_root(self) -> str:
        return self.text("core:patient/core:person-id/types:root")

    @cached_property
    def patient_id(self) -> str:
        return self.text("core:patient/core:person-id/types:extension")

    @cached_property
    def signed_at(self) -> dt.datetime | None:
        value = self.text("core:signeringstidpunkt")
        return dt.datetime.fromisoformat(value) if value else None

    def relations(self) -> list[repo.RelationEntry]:
        return list(self._relations)

    @cached_property
    def _relations(self) -> tuple[repo.RelationEntry, ...]:
        out = []
        for relation in self.element.iterfind("core:relation", _NS):
            kind = text_of(relation, "core:typ/types:code") or ""
            target = text_of(relation, "core:intygs-id/types:extension") or ""
            out.append(repo.RelationEntry(kind, target))
        return tuple(out)


_NS = {"core": CORE, "types": TYPES}
_REGISTER = "{urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3}RegisterCertificate"


def register_certificate(call: Call[Services]) -> Answer:
    # Only this service may make a legacy carrier (transform.carrier): one sent by a client is
    # dropped, and the certificate as stored (without it) is kept next to the original request.
    stored = formats.inbound(call.request)
    canonical = None if stored is call.request else etree.tostring(stored)
    return Answer.result(call.contract, store_certificate(call, stored, canonical, register_v3=True))


def store_certificate(call: Call[Services], stored: etree._Element, canonical: bytes | None, register_v3: bool = False) -> Outcome:
    """Check and store a certificate in its RegisterCertificate v3 form, once.

    ``stored`` is the v3 payload (legacy contracts convert theirs first, see ``formats.inbound``);
    ``canonical`` is its serialised form when it is not the request itself. The original request
    bytes are always kept. Returns OK, or INFO for a repeated registration; raises LogicalError.

    The checks come in the national service's order: type and version, the patient id's form, the
    person register, the type's rules, duplicates. ``register_v3`` (RegisterCertificate v3) holds
    the version to the type's exact list and answers the person register's verdict as the national
    service does (the legacy forms carry no such version, and there a person the register does not
    know, or a register that cannot be asked, is an APPLICATION_ERROR, as nationally).
    """
    services = call.services
    element = stored.find(_INTYG)
    assert element is not None  # required by the schema and by every conversion
    intyg = IntygView(element)

    certificate_type = services.certificate_types.find(intyg.type_code, intyg.version)
    if certificate_type is None or (register_v3 and not certificate_type.supports(intyg.version)):
        # The national service's words, for an unknown type as for an unsupported version.
        raise LogicalError(
            ErrorId.VALIDATION_ERROR, f"Certificate with type: {intyg.type_code} does not support version: {intyg.version}"
        )
    # The form only: whether such a person exists (a wrong check digit, an impossible date) is the
    # person register's decision, as with the national service; a test person's number may be one.
    patient_id = parse_personnummer(intyg.patient_id)
    if patient_id is None:
        raise LogicalError(ErrorId.VALIDATION_ERROR, "Social security number is not of correct format.")
    person = _registered_person(services, patient_id, register_v3)
    rule_violations, facts = certificate_type.check(intyg.element)
    violations: list[object] = [*rule_violations]
    if services.schematron is not None:
        violations += services.schematron.validate(stored)
    if violations:
        raise LogicalError(ErrorId.VALIDATION_ERROR, listed(violations, services.settings.max_listed_violations))
    _check_relations(intyg)

    # A repeated registration is answered as such before the checks below: instead of a read before
    # every registration, the insert finds it (the primary key) and a refusal (a LogicalError) looks
    # for it first. Only a refusal: an unexpected error stays one, whatever is stored.
    received_at = services.clock()
    try:
        doctor_id = intyg.text("core:skapadAv/core:personal-id/types:extension")
        signed = Signed(intyg.id, doctor_id, intyg.signed_at)
        # Only a certificate that arrived as itself can carry a signature: a converted legacy one cannot.
        signature = services.signatures.check(intyg.element, signed, received_at, can_be_signed=canonical is None)
        refusal = services.signatures.refusal(signature, certificate_type.code)
        if refusal is not None:
            raise LogicalError(ErrorId.VALIDATION_ERROR, refusal)

        new = repo.NewCertificate(
            id=intyg.id,
            type_code=certificate_type.code,
            type_version=intyg.version,
            patient_id=patient_id,
            care_unit_id=intyg.text("core:skapadAv/core:enhet/core:enhets-id/types:extension"),
            care_unit_name=intyg.text("core:skapadAv/core:enhet/core:enhetsnamn"),
            care_giver_id=intyg.text("core:skapadAv/core:enhet/core:vardgivare/core:vardgivare-id/types:extension"),
            signing_doctor_id=doctor_id,
            signing_doctor_name=intyg.text("core:skapadAv/core:fullstandigtNamn"),
            signed_at=intyg.signed_at,
            valid_from=min((p.start for p in facts.sick_leave if p.start), default=None),
            valid_to=max((p.end for p in facts.sick_leave if p.end), default=None),
            is_test=person.is_test,
            source=f"{call.contract.name}:{call.contract.major}",
            original=call.body,
            canonical=canonical,
        )
        sick_leave = sickleave.prepare(certificate_type, intyg.element, new, intyg.relations(), facts)
        overlong = [(_FIELD_NAMES.get(name, name), length, limit) for name, length, limit in overlong_values(Certificate, new)]
        if sick_leave.record is not None:
            overlong += [
                (_SICK_LEAVE_FIELD_NAMES.get(name, name), length, limit)
                for name, length, limit in overlong_values(SickLeaveCertificate, sick_leave.record)
            ]
        if overlong:
            raise LogicalError(
                ErrorId.VALIDATION_ERROR,
                "; ".join(f"{element} is {length} characters, more than {limit}" for element, length, limit in dict.fromkeys(overlong)),
            )
        # Written before the transaction, which it would otherwise lengthen; never for a test certificate.
        statistics = None
        if services.settings.statistics_feed and not new.is_test:
            statistics = StatisticsEvent("created", new.id, new.type_code, body=feed.certificate_body(stored))
        relations = intyg.relations()
    except LogicalError:
        duplicate = _stored_duplicate(services, intyg.id, patient_id, register_v3)
        if duplicate is None:
            raise
        return duplicate

    def write(conn: Connection) -> None:
        # The sick-leave case's first reads go with the certificate's insert, saving their round trip.
        read = repo.insert_certificate(conn, new, received_at, relations, along=sickleave.first_reads(conn, sick_leave))
        signatures.insert(conn, new.id, signature, received_at)
        sickleave.apply(conn, sick_leave, read)
        if statistics is not None:
            feed.record(conn, services.settings, statistics)

    try:
        # Registrations at the same time share a commit (persistence.group_commit); OK once on disk.
        services.db.write(write)
    except repo.AlreadyStored:
        # Stored before, or by a concurrent registration of the same id: answer as for any duplicate.
        return _stored_duplicate(services, intyg.id, patient_id, register_v3) or _duplicate_answer("", patient_id, register_v3)
    return OK


# The national service's texts for the person register's verdicts on a registration.
NO_SUCH_PERSON = "No person exists in PU Service with the social security number"
REGISTER_UNREACHABLE = "Error calling PU Service to validate social security number"


def lookup_person(services: Services, patient_id: str) -> Person:
    """The person register's answer; unreachable is a TECHNICAL_ERROR, the caller should retry."""
    try:
        return services.persons.lookup(patient_id)
    except PersonLookupError as exc:
        log.warning("person lookup failed for %s: %s", mask(patient_id), exc)
        raise LogicalError(ErrorId.TECHNICAL_ERROR, REGISTER_UNREACHABLE) from None


def _registered_person(services: Services, patient_id: str, register_v3: bool) -> Person:
    """The patient as the person register knows them; refused when it does not (RegisterCertificate
    v3: VALIDATION_ERROR, or TECHNICAL_ERROR when it cannot be asked; the legacy registrations:
    APPLICATION_ERROR, the national service's internal failure)."""
    try:
        person = lookup_person(services, patient_id)
    except LogicalError as exc:
        if register_v3:
            raise
        raise LogicalError(ErrorId.APPLICATION_ERROR, exc.text) from None
    if not person.exists:
        raise LogicalError(ErrorId.VALIDATION_ERROR if register_v3 else ErrorId.APPLICATION_ERROR, NO_SUCH_PERSON)
    return person


# Where each stored column comes from in the certificate, for error texts a sender can act on.
_FIELD_NAMES = {
    "id": "intygs-id/extension",
    "type_code": "typ/code",
    "type_version": "version",
    "care_unit_id": "skapadAv/enhet/enhets-id/extension",
    "care_unit_name": "skapadAv/enhet/enhetsnamn",
    "care_giver_id": "skapadAv/enhet/vardgivare/vardgivare-id/extension",
    "signing_doctor_id": "skapadAv/personal-id/extension",
    "signing_doctor_name": "skapadAv/fullstandigtNamn",
}
_SICK_LEAVE_FIELD_NAMES = {
    "certificate_id": "intygs-id/extension",
    "patient_name": "patient/fornamn, mellannamn and efternamn",
    "care_unit_id": "skapadAv/enhet/enhets-id/extension",
    "care_unit_name": "skapadAv/enhet/enhetsnamn",
    "care_giver_id": "skapadAv/enhet/vardgivare/vardgivare-id/extension",
    "care_giver_name": "skapadAv/enhet/vardgivare/vardgivarnamn",
    "doctor_id": "skapadAv/personal-id/extension",
    "doctor_name": "skapadAv/fullstandigtNamn",
    "diagnosis_code": "the main diagnosis code",
    "diagnosis_code_system": "the main diagnosis code system",
}


def _check_relations(intyg: IntygView) -> None:
    for relation in intyg.relations():
        if relation.kind not in RELATION_KINDS:
            raise LogicalError(
                ErrorId.VALIDATION_ERROR,
                f"relation type {relation.kind} is not one of {', '.join(sorted(RELATION_KINDS))}",
            )
        if relation.to_id == intyg.id:
            raise LogicalError(ErrorId.VALIDATION_ERROR, f"relation {relation.kind}: certificate {intyg.id} refers to itself")
        if len(relation.to_id) > repo.ID_LENGTH:
            raise LogicalError(
                ErrorId.VALIDATION_ERROR,
                f"relation {relation.kind}: intygs-id/extension is {len(relation.to_id)} characters, more than {repo.ID_LENGTH}",
            )


def _stored_duplicate(services: Services, certificate_id: str, patient_id: str, register_v3: bool) -> Outcome | None:
    """The answer to a registration of an id already stored; None when it is not stored."""
    with services.db.read() as conn:
        stored_patient = repo.patient_of(conn, certificate_id)
    return None if stored_patient is None else _duplicate_answer(stored_patient, patient_id, register_v3)


def _duplicate_answer(stored_patient: str, patient_id: str, register_v3: bool) -> Outcome:
    """The same patient's certificate again: INFO; another patient's id: RegisterCertificate v3
    ``VALIDATION_ERROR`` ``Certificate already exists``, the legacy registrations
    ``APPLICATION_ERROR`` ``Invalid certificate ID`` (result-codes.md)."""
    if stored_patient == patient_id:
        return info(ALREADY_EXISTS)
    if register_v3:
        raise LogicalError(ErrorId.VALIDATION_ERROR, ALREADY_EXISTS)
    raise LogicalError(ErrorId.APPLICATION_ERROR, "Invalid certificate ID")


def get_certificate(call: Call[Services]) -> Answer:
    certificate_id = text_of(call.request, "{*}intygs-id/types:extension") or ""
    part = text_of(call.request, "{*}part/types:code") or ""
    with call.services.db.read() as conn:
        certificate = repo.get(conn, certificate_id)
        # The national service's Faults (this contract reports "not found" as one), in its words.
        if certificate is None:
            raise SoapFault(f"Certificate with id {certificate_id} is invalid or does not exist", "Server")
        if certificate.deleted_by_care_giver:
            raise SoapFault(f"Certificate with id {certificate_id} is deleted from intygstjansten", "Server")
        if certificate.is_test and part.upper() != CARE:
            raise SoapFault(
                f"Failed to retrieve certificate: {certificate_id} because it is flagged as test certificate and part is set as: {part}",
                "Server",
            )
        states = repo.states(conn, certificate_id)
    # Through the v3 outbound conversion, so that nothing internal (a legacy carrier) leaks.
    intyg = formats.outbound(stored_payload(certificate), Format.REGISTER_CERTIFICATE_3).find(_INTYG)
    assert intyg is not None  # every stored certificate has one
    intyg.tag = f"{{{call.contract.namespace}}}intyg"  # the element belongs to the answering contract
    set_statuses(intyg, status_elements(visible_states(states, part)))
    response = call.contract.response_element()
    response.append(intyg)
    return Answer(response, OK, disclosed([certificate]))


def disclosed(certificates: Iterable[Any]) -> tuple[Disclosure, ...]:
    """What answering with ``certificates`` (stored rows, or listed ones: anything with the
    patient's, care giver's and care unit's ids) discloses, for the access log."""
    return Disclosure.counted((c.patient_id, c.care_giver_id, c.care_unit_id) for c in certificates)


def stored_payload(certificate: Row[Any]) -> etree._Element:
    """The certificate's RegisterCertificate v3 payload as stored (with its carrier, if any): the
    canonical form when there is one, else the payload of the original request."""
    root = etree.fromstring(certificate.canonical or certificate.original)
    payload = next(root.iter(_REGISTER), None)
    if payload is None:
        raise ValueError(f"stored certificate {certificate.id} has no {_REGISTER} element")
    return payload


def stored_intyg(document: bytes) -> etree._Element:
    """The ``intyg`` element of a stored RegisterCertificate document (a fresh, detached copy)."""
    root = etree.fromstring(document)
    intyg = root.find(f".//{_INTYG}")
    if intyg is None:
        raise ValueError("stored document has no intyg element")
    return intyg


def set_statuses(intyg: etree._Element, statuses: list[etree._Element]) -> None:
    """Replace the ``status`` children of ``intyg``; they come right before the first ``svar``, or
    before the extension elements (e.g. ``underskrift``) when there is none."""
    for old in intyg.findall(f"{{{CORE}}}status"):
        intyg.remove(old)
    svar = f"{{{CORE}}}svar"
    anchor = next(
        (child for child in intyg if isinstance(child.tag, str) and (child.tag == svar or not child.tag.startswith(f"{{{CORE}}}"))),
        None,
    )
    position = intyg.index(anchor) if anchor is not None else len(intyg)
    for offset, status in enumerate(statuses):
        intyg.insert(position + offset, status)
