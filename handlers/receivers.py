"""The intyg helper contracts about certificate types and receivers.

GetCertificateTypeInfo v1 answers a stored certificate's type. The recipient contracts read the
recipient registry (``services.recipients``, see registers/recipients.py) and answer as the national
service does (../shared/specs/approved-receivers.md): ListKnownRecipients v1 lists the whole
registry; ListPossibleReceivers v1 the possible receivers of a type (every recipient listing it,
inactive ones too); RegisterApprovedReceivers v1 stores, for one certificate, a decision for every
possible receiver of its type: YES or NO as care named it, and for the receivers care did not name,
YES for the type's main recipient (HUVUDMOTTAGARE) and NO for the others; ListApprovedReceivers v1
reads those decisions; GetRecipientsForCertificate v1.1 answers the active approved receivers, or,
failing those, the main recipients of the stored certificate's type.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from intygstjanst.contracts.call import Answer, Call
from intygstjanst.contracts.faults import SoapFault
from intygstjanst.registers.recipients import Part, Recipient, RecipientKind, Recipients
from intygstjanst.contracts.result import CERTIFICATE_1, OK, ErrorId, Outcome, ResultCode, result_element
from intygstjanst.contracts.xml import CORE, TYPES, sub, text_of
from intygstjanst.persistence import certificates as certificate_repo
from intygstjanst.persistence import receivers as repo
from intygstjanst.handlers.legacy_reads import internal_type
from intygstjanst.handlers.lists import main_type_code
from intygstjanst.services import Services

RECEIVER_TYPES = "urn:riv:clinicalprocess:healthcond:certificate:receiver:types:1"
YES, NO = "YES", "NO"
# The national service's code system of certificate types (KV_INTYGSTYP) in GetCertificateTypeInfo.
TYPE_CODE_SYSTEM = "b64ea353-e8f6-4832-b563-fc7d46f29548"


def get_certificate_type_info(call: Call[Services]) -> Answer:
    """The stored type as the national service names it: its internal id (``lisjp``, ``ts-bas``, ...)
    in the type code system, whatever code system the certificate itself states, and the version."""
    ns = call.contract.namespace
    certificate_id = text_of(call.request, f"{{{ns}}}intygs-id") or ""
    with call.services.db.read() as conn:
        certificate = certificate_repo.get(conn, certificate_id)
    if certificate is None or certificate.deleted_by_care_giver:
        raise SoapFault(f"Failed to get certificate's type. Certificate with id {certificate_id} is invalid or does not exist")
    response = _response(call)
    typ = sub(response, f"{{{ns}}}typ")
    sub(typ, f"{{{TYPES}}}code", internal_type(certificate.type_code))
    sub(typ, f"{{{TYPES}}}codeSystem", TYPE_CODE_SYSTEM)
    sub(response, f"{{{ns}}}typVersion", certificate.type_version)
    return Answer(response, OK)


def list_known_recipients(call: Call[Services]) -> Answer:
    """The whole registry: recipients (inactive ones too) and the parts (care, the citizen)."""
    registry = _registry(call)
    known = [(r.id, r.name, None, r.trusted) for r in registry.all()]
    known += [(p.id, p.name, None, True) for p in registry.parts()]
    if not known:
        return _recipient_list(call, [], Outcome(ResultCode.ERROR, "No recipients found!", ErrorId.APPLICATION_ERROR))
    return _recipient_list(call, sorted(known), OK)


def get_recipients_for_certificate(call: Call[Services]) -> Answer:
    """Where a certificate may go: the active receivers care approved for it; failing those, the
    main recipients of its stored type. ``certificateType`` is not used (the national service
    ignores it too)."""
    ns = call.contract.namespace
    certificate_id = (text_of(call.request, f"{{{ns}}}certificateId") or "").strip()
    registry = _registry(call)
    with call.services.db.read() as conn:
        approvals = repo.approvals_for(conn, certificate_id)
        certificate = certificate_repo.get(conn, certificate_id)
    found = [_exact(registry, a.receiver_id) for a in approvals if a.approval == YES]
    recipients = [r for r in found if isinstance(r, Recipient) and r.active]
    if not recipients and certificate is not None:
        recipients = [r for r in registry.possible_for(certificate.type_code) if r.kind is RecipientKind.HUVUDMOTTAGARE]
    if not recipients:
        # As the national service answers: a result and no recipient, although the schema asks for one.
        text = f"No recipients found for certificate id: {certificate_id}"
        return _recipient_list(call, [], Outcome(ResultCode.ERROR, text, ErrorId.APPLICATION_ERROR))
    return _recipient_list(call, [(r.id, r.name, r.kind.value, r.trusted) for r in recipients], OK)


def list_possible_receivers(call: Call[Services]) -> Answer:
    """The possible receivers of a type (inactive ones included); an unknown type simply has none."""
    ns = call.contract.namespace
    type_code = text_of(call.request, f"{{{ns}}}intygTyp/types:code") or ""
    if not type_code.strip():
        raise SoapFault("Request to ListPossibleReceivers is missing required parameter 'intygTyp'")
    response = _response(call)
    _receivers(response, ns, _registry(call).possible_for(type_code))
    return Answer(response, OK)


def list_approved_receivers(call: Call[Services]) -> Answer:
    """The stored decisions for a certificate, one entry per receiver; a receiver that has left the
    registry since cannot be described, which the national service answers with a Fault."""
    ns = call.contract.namespace
    intyg_id = call.request.find(f"{{{ns}}}intygs-id")
    if intyg_id is None:
        raise SoapFault("Request to ListApprovedReceivers is missing required parameter 'IntygId'")
    certificate_id = text_of(intyg_id, "types:extension") or ""
    if not certificate_id.strip():
        raise SoapFault("Request to ListApprovedReceivers is missing required parameter 'IntygId.extension'")
    with call.services.db.read() as conn:
        approvals = repo.approvals_for(conn, certificate_id)
    registry = _registry(call)
    response = _response(call)
    for approval in approvals:
        recipient = _exact(registry, approval.receiver_id)
        if not isinstance(recipient, Recipient):
            raise SoapFault(f"No recipient found for recipient id: {approval.receiver_id}", "Server")
        entry = _receivers(response, ns, [recipient])[0]
        sub(entry, f"{{{RECEIVER_TYPES}}}approvalStatus", YES if approval.approval == YES else NO)
    return Answer(response, OK)


def register_approved_receivers(call: Call[Services]) -> Answer:
    """Store a decision for every possible receiver of the type: the named ones as care decided
    (only YES approves), the others approved when they are the type's main recipient. The earlier
    set is replaced; the certificate need not be here yet."""
    ns = call.contract.namespace
    certificate_id = text_of(call.request, f"{{{ns}}}intyg-id/types:extension") or ""
    if not certificate_id.strip():
        return _refused(call, "Request to registerApprovedReceiver is missing required parameter 'intygs-id'")
    type_code = text_of(call.request, f"{{{ns}}}typAvIntyg/types:code") or ""
    if not type_code.strip():
        return _refused(call, "Request to registerApprovedReceiver is missing required parameter 'typAvIntyg'")
    named: dict[str, str] = {}
    items = list(call.request.iterfind(f"{{{ns}}}approvedReceivers"))
    registry = _registry(call)
    for item in items:
        receiver_id = text_of(item, f"{{{ns}}}receiverId") or ""
        if not receiver_id.strip():
            return _refused(call, "Request to registerApprovedReceiver contained receiverId that was null or empty.")
        if _exact(registry, receiver_id) is None:
            return _refused(call, f"Request to registerApprovedReceiver contained unknown receiverId '{receiver_id}'")
    for item in items:
        # The schema has restricted approvalStatus to YES / NO / UNDEFINED; a later entry wins.
        named[(text_of(item, f"{{{ns}}}receiverId") or "").upper()] = text_of(item, f"{{{ns}}}approvalStatus") or ""
    rows = []
    for recipient in registry.possible_for(type_code):
        decision = named.get(recipient.id.upper())
        approved = decision == YES if decision is not None else recipient.kind is RecipientKind.HUVUDMOTTAGARE
        rows.append((recipient.id, YES if approved else NO))
    with call.services.db.transaction() as conn:
        repo.replace_approvals(conn, certificate_id, main_type_code(call.services.certificate_types, type_code), rows, call.services.clock())
    text = f"Successfully registered {len(items)} receivers for certificate '{certificate_id}'"
    return Answer.result(call.contract, Outcome(ResultCode.OK, text))


def _refused(call: Call[Services], text: str) -> Answer:
    """The national service's refusal of a registration: ERROR without an errorId; nothing stored."""
    return Answer.result(call.contract, Outcome(ResultCode.ERROR, text))


def _exact(registry: Recipients, receiver_id: str) -> Recipient | Part | None:
    """The registry entry with exactly this id (the national service's lookup is case-sensitive)."""
    found = registry.part(receiver_id)
    return found if found is not None and found.id == receiver_id else None


def _registry(call: Call[Services]) -> Recipients:
    return call.services.recipients


def _response(call: Call[Services]) -> etree._Element:
    return call.contract.response_element()


def _receivers(response: etree._Element, ns: str, recipients: Iterable[Recipient]) -> list[etree._Element]:
    """``receiverList`` entries (receiver:types:1 CertificateReceiverType fields) for ``recipients``."""
    entries = []
    for recipient in recipients:
        entry = sub(response, f"{{{ns}}}receiverList")
        sub(entry, f"{{{RECEIVER_TYPES}}}receiverId", recipient.id)
        sub(entry, f"{{{RECEIVER_TYPES}}}receiverName", recipient.name)
        sub(entry, f"{{{RECEIVER_TYPES}}}receiverType", recipient.kind.value)
        sub(entry, f"{{{RECEIVER_TYPES}}}trusted", _boolean(recipient.trusted))
        entries.append(entry)
    return entries


def _recipient_list(call: Call[Services], recipients: Iterable[tuple[str, str, str | None, bool]], outcome: Outcome) -> Answer:
    """``recipient`` entries (id, name, the kind where given, trusted) and the result."""
    ns = call.contract.namespace
    response = _response(call)
    for recipient_id, name, kind, trusted in recipients:
        entry = sub(response, f"{{{ns}}}recipient")
        sub(entry, f"{{{ns}}}id", recipient_id)
        sub(entry, f"{{{ns}}}name", name)
        if kind is not None:
            sub(entry, f"{{{ns}}}type", kind)
        sub(entry, f"{{{ns}}}trusted", _boolean(trusted))
    # The version 1 ResultType: these contracts predate version 3.
    response.append(result_element(ns, outcome.code, outcome.text, outcome.error_id, namespace=CERTIFICATE_1))
    return Answer(response, outcome)


def _boolean(value: bool) -> str:
    return "true" if value else "false"
