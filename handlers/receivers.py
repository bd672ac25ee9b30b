"""The intyg helper contracts about certificate types and receivers.

GetCertificateTypeInfo v1 answers a stored certificate's type. The recipient contracts read the
recipient registry (``services.recipients``, see registers/recipients.py):
ListKnownRecipients v1 lists every recipient, ListPossibleReceivers v1 those that take a type, and
GetRecipientsForCertificate v1.1 those a given certificate may be sent to. RegisterApprovedReceivers
v1 stores care's decision per receiver for one certificate and ListApprovedReceivers v1 reads it.

A certificate may go to every active recipient of its type except those care has marked ``NO`` for
that certificate: the main recipient (HUVUDMOTTAGARE) is the reason the certificate exists, and a
missing or ``UNDEFINED`` decision leaves the choice with the citizen.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from intygstjanst.contracts.call import Answer, Call
from intygstjanst.certificates.certtypes import normalize_code
from intygstjanst.contracts.faults import SoapFault
from intygstjanst.registers.recipients import Recipient, Recipients
from intygstjanst.contracts.result import OK, ErrorId, LogicalError, ResultCode
from intygstjanst.contracts.xml import CORE, TYPES, sub, text_of
from intygstjanst.persistence import certificates as certificate_repo
from intygstjanst.persistence import receivers as repo
from intygstjanst.handlers.certificate import stored_intyg
from intygstjanst.handlers.lists import main_type_code
from intygstjanst.services import Services

CERTIFICATE_1 = "urn:riv:clinicalprocess:healthcond:certificate:1"
RECEIVER_TYPES = "urn:riv:clinicalprocess:healthcond:certificate:receiver:types:1"


def get_certificate_type_info(call: Call[Services]) -> Answer:
    """The type as the certificate states it (code, code system, display name) and its version."""
    ns = call.contract.namespace
    certificate_id = text_of(call.request, f"{{{ns}}}intygs-id") or ""
    with call.services.db.read() as conn:
        certificate = certificate_repo.get(conn, certificate_id)
    if certificate is None or certificate.deleted_by_care_giver:
        raise SoapFault(f"certificate {certificate_id} does not exist")
    stated = stored_intyg(certificate.canonical or certificate.original).find(f"{{{CORE}}}typ")
    response = _response(call)
    typ = sub(response, f"{{{ns}}}typ")
    for name in ("code", "codeSystem", "displayName"):
        value = text_of(stated, f"types:{name}")
        if value is not None:
            sub(typ, f"{{{TYPES}}}{name}", value)
    sub(response, f"{{{ns}}}typVersion", certificate.type_version)
    return Answer(response, OK)


def list_known_recipients(call: Call[Services]) -> Answer:
    recipients = _registry(call).all()
    if not recipients:
        # The contract requires at least one recipient in every answer.
        raise SoapFault("the recipient registry is empty", "Server")
    return _recipient_list(call, recipients, with_kind=False)


def get_recipients_for_certificate(call: Call[Services]) -> Answer:
    ns = call.contract.namespace
    certificate_id = text_of(call.request, f"{{{ns}}}certificateId") or ""
    type_code = text_of(call.request, f"{{{ns}}}certificateType") or ""
    if not call.services.certificate_types.known_code(type_code):
        raise SoapFault(f"certificateType {type_code!r} is not a known certificate type")
    with call.services.db.read() as conn:
        certificate = certificate_repo.get(conn, certificate_id)
        refused = {a.receiver_id for a in repo.approvals_for(conn, certificate_id) if a.approval == "NO"}
    main_code = main_type_code(call.services.certificate_types, type_code)
    if certificate is not None and normalize_code(certificate.type_code) != main_code:
        raise SoapFault(f"certificate {certificate_id} is of type {certificate.type_code}, not {type_code}")
    recipients = [r for r in _registry(call).for_type(type_code) if r.id not in refused]
    if not recipients:
        # The contract requires at least one recipient, so "nobody" cannot be put as an answer.
        raise SoapFault(f"certificate {certificate_id} of type {type_code} cannot be sent to any recipient")
    return _recipient_list(call, recipients, with_kind=True)


def list_possible_receivers(call: Call[Services]) -> Answer:
    """The active receivers of a type; an unknown type simply has none."""
    ns = call.contract.namespace
    type_code = text_of(call.request, f"{{{ns}}}intygTyp/types:code") or ""
    response = _response(call)
    _receivers(response, ns, _registry(call).for_type(type_code))
    return Answer(response, OK)


def list_approved_receivers(call: Call[Services]) -> Answer:
    """The registered decisions for a certificate, receiver by receiver; receivers that have left
    the registry since are left out, as there is nothing left to describe them with."""
    ns = call.contract.namespace
    certificate_id = text_of(call.request, f"{{{ns}}}intygs-id/types:extension") or ""
    with call.services.db.read() as conn:
        approvals = repo.approvals_for(conn, certificate_id)
    registry = _registry(call)
    response = _response(call)
    for approval in approvals:
        recipient = registry.get(approval.receiver_id)
        if recipient is not None:
            entry = _receivers(response, ns, [recipient])[0]
            sub(entry, f"{{{RECEIVER_TYPES}}}approvalStatus", approval.approval)
    return Answer(response, OK)


def register_approved_receivers(call: Call[Services]) -> Answer:
    """Replace the certificate's decisions with the registered ones, after checking that every
    receiver is known, takes the certificate's type and is named once."""
    ns = call.contract.namespace
    certificate_id = text_of(call.request, f"{{{ns}}}intyg-id/types:extension") or ""
    type_code = text_of(call.request, f"{{{ns}}}typAvIntyg/types:code") or ""
    if not call.services.certificate_types.known_code(type_code):
        raise LogicalError(ErrorId.VALIDATION_ERROR, f"typAvIntyg {type_code!r} is not a known certificate type")
    registry = _registry(call)
    decisions: dict[str, str] = {}
    for item in call.request.iterfind(f"{{{ns}}}approvedReceivers"):
        named = text_of(item, f"{{{ns}}}receiverId") or ""
        approval = text_of(item, f"{{{ns}}}approvalStatus") or ""
        recipient = registry.get(named)
        if recipient is None:
            raise LogicalError(ErrorId.VALIDATION_ERROR, f"approvedReceivers: receiver {named!r} is not a known recipient")
        if not registry.accepts(recipient, type_code):
            raise LogicalError(
                ErrorId.VALIDATION_ERROR, f"approvedReceivers: receiver {recipient.id} does not take certificates of type {type_code}"
            )
        if recipient.id in decisions:
            raise LogicalError(ErrorId.VALIDATION_ERROR, f"approvedReceivers: receiver {recipient.id} is named more than once")
        decisions[recipient.id] = approval  # the schema has restricted it to YES / NO / UNDEFINED
    with call.services.db.transaction() as conn:
        repo.replace_approvals(
            conn,
            certificate_id,
            main_type_code(call.services.certificate_types, type_code),
            list(decisions.items()),
            call.services.clock(),
        )
    return Answer.result(call.contract, OK)


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


def _recipient_list(call: Call[Services], recipients: Iterable[Recipient], *, with_kind: bool) -> Answer:
    """``recipient`` entries (id, name, the kind where the contract has it, trusted) and an OK result."""
    ns = call.contract.namespace
    response = _response(call)
    for recipient in recipients:
        entry = sub(response, f"{{{ns}}}recipient")
        sub(entry, f"{{{ns}}}id", recipient.id)
        sub(entry, f"{{{ns}}}name", recipient.name)
        if with_kind:
            sub(entry, f"{{{ns}}}type", recipient.kind.value)
        sub(entry, f"{{{ns}}}trusted", _boolean(recipient.trusted))
    _result_1(response, ns)
    return Answer(response, OK)


def _result_1(response: etree._Element, ns: str) -> None:
    """An OK ``result`` of the version 1 certificate ResultType (these contracts predate version 3)."""
    result = sub(response, f"{{{ns}}}result")
    sub(result, f"{{{CERTIFICATE_1}}}resultCode", ResultCode.OK.value)


def _boolean(value: bool) -> str:
    return "true" if value else "false"
