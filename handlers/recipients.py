"""SendCertificateToRecipient v2 (and, through ``legacy``, SendMedicalCertificate v1): forward a
stored certificate to a recipient, synchronously, in the format that recipient takes.

The checks run in the national service's order, and each contract words the verdict as the
national service does (../shared/specs/result-codes.md, "Change contracts"; v2 here, v1 in
``legacy``):

==========================================================  ===================================
verdict                                                     SendCertificateToRecipient v2
==========================================================  ===================================
1. unknown certificate, or one of another patient           ERROR / APPLICATION_ERROR
                                                            ``Unknown certificate ID: <id>``
2. revoked (nothing sent)                                   INFO ``Certificate '<id>' has been
                                                            revoked.``
3. already sent to this recipient (nothing sent)            INFO ``Certificate '<id>' already
                                                            sent to '<r>'.``
4. test certificate                                         ERROR / VALIDATION_ERROR
                                                            ``Certificate '<id>' couldn't be sent
                                                            to recipient because it is a test
                                                            certificate``
5. not delivered: the recipient is unknown, a part,         ERROR / TECHNICAL_ERROR
   inactive, not taking the type, untrusted for a           ``Certificate '<id>' couldn't be sent
   protected-identity patient, or could not be reached,     to recipient``
   or refused it
==========================================================  ===================================

In 5 the answer does not say why (the national text does not); the reason is in the service log.

The SENT state (target = the recipient) is stored only after the recipient has accepted the
certificate. Delivery takes time and holds no lock: if the certificate was revoked meanwhile, the
revoke could not know this recipient, so SENT is stored with a revoke notification for it.
Should storing SENT fail, the caller gets a Fault and tries again, and the recipient gets the
certificate a second time, which it recognises by the certificate id.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any

from lxml import etree
from sqlalchemy.engine import Row

from intygstjanst.contracts.call import Answer, Call
from intygstjanst.registers.recipients import Recipient, Recipients
from intygstjanst.contracts.result import OK, ErrorId, Outcome, ResultCode, info
from intygstjanst.contracts.xml import text_of
from intygstjanst.persistence import certificates as repo
from intygstjanst.services import Services
from intygstjanst.statistics import feed
from intygstjanst.statistics.events import StatisticsEvent
from intygstjanst.transform import formats
from intygstjanst.transform.common import TransformError
from intygstjanst.handlers.certificate import lookup_person, stored_payload
from intygstjanst.handlers.revoke import notify_late_recipient
from intygstjanst.certificates.status import is_revoked, sent_to

log = logging.getLogger(__name__)


class Sent(enum.Enum):
    """What a send achieved; each contract words it in its own way."""

    NOW = "now"
    UNKNOWN = "unknown"  # no such certificate for this patient
    REVOKED = "revoked"
    ALREADY = "already"
    TEST_CERTIFICATE = "test certificate"
    NOT_DELIVERED = "not delivered"


class _NotDelivered(Exception):
    """The recipient cannot or did not take the certificate; the reason is for the log."""


def send_certificate_to_recipient(call: Call[Services]) -> Answer:
    request = call.request
    certificate_id = text_of(request, "{*}intygs-id/types:extension") or ""
    recipient_id = text_of(request, "{*}mottagare/types:code") or ""
    sent = send(
        call.services,
        certificate_id=certificate_id,
        patient_id=text_of(request, "{*}patientPerson-id/types:extension") or "",
        recipient_id=recipient_id,
    )
    return Answer.result(call.contract, _outcome(sent, certificate_id, recipient_id.strip().upper()))


def _outcome(sent: Sent, certificate_id: str, recipient_id: str) -> Outcome:
    return worded(
        sent,
        certificate_id,
        SendWording(
            unknown=error(ErrorId.APPLICATION_ERROR, f"Unknown certificate ID: {certificate_id}"),
            already=info(f"Certificate '{certificate_id}' already sent to '{recipient_id}'."),
            not_delivered=error(ErrorId.TECHNICAL_ERROR, f"Certificate '{certificate_id}' couldn't be sent to recipient"),
        ),
    )


@dataclass(frozen=True)
class SendWording:
    """The answers in which the send contracts differ."""

    unknown: Outcome
    already: Outcome
    not_delivered: Outcome


def worded(sent: Sent, certificate_id: str, wording: SendWording) -> Outcome:
    """The national answer to ``sent``: the contract's own words where the contracts differ."""
    return {
        Sent.NOW: OK,
        Sent.UNKNOWN: wording.unknown,
        Sent.REVOKED: info(f"Certificate '{certificate_id}' has been revoked."),
        Sent.ALREADY: wording.already,
        Sent.TEST_CERTIFICATE: error(
            ErrorId.VALIDATION_ERROR, f"Certificate '{certificate_id}' couldn't be sent to recipient because it is a test certificate"
        ),
        Sent.NOT_DELIVERED: wording.not_delivered,
    }[sent]


def error(error_id: ErrorId, text: str) -> Outcome:
    return Outcome(ResultCode.ERROR, text, error_id)


def send(services: Services, *, certificate_id: str, patient_id: str, recipient_id: str) -> Sent:
    """Send a stored certificate to ``recipient_id`` (see the module notes for the verdicts)."""
    recipient_id = recipient_id.strip().upper()
    with services.db.read() as conn:
        certificate = repo.get(conn, certificate_id)
        if certificate is None or certificate.deleted_by_care_giver or certificate.patient_id != patient_id:
            return Sent.UNKNOWN
        states = repo.states(conn, certificate_id)
    if is_revoked(states):
        return Sent.REVOKED
    if sent_to(states, recipient_id):
        return Sent.ALREADY
    if certificate.is_test:
        return Sent.TEST_CERTIFICATE
    try:
        recipient = _deliver(services, certificate, recipient_id)
    except _NotDelivered as exc:
        log.warning("certificate %s was not sent to %s: %s", certificate_id, recipient_id, exc)
        return Sent.NOT_DELIVERED

    with services.db.transaction() as conn:
        locked = repo.lock(conn, certificate_id)
        states = repo.states(conn, certificate_id)
        # A concurrent send to the same recipient may have recorded it first.
        if locked is not None and not sent_to(states, recipient.id):
            repo.add_state(conn, certificate_id, "SENT", recipient.id, services.clock())
            # A test certificate was refused above: never sent, never counted.
            feed.record(conn, services.settings, StatisticsEvent("sent", certificate_id, locked.type_code, recipient.id))
            revoked_at = next((s.at for s in states if s.state == "CANCELLED"), None)
            if revoked_at is not None:
                notify_late_recipient(conn, services, locked, recipient.id, revoked_at)
    return Sent.NOW


def _deliver(services: Services, certificate: Row[Any], recipient_id: str) -> Recipient:
    """Deliver the certificate to the recipient in the format it takes; the recipient on success."""
    recipient = _recipient(services.recipients, recipient_id, certificate.type_code)
    _check_protected_identity(services, recipient, certificate.patient_id)
    fmt = recipient.format_for(certificate.type_code)
    try:
        payload = formats.outbound(stored_payload(certificate), fmt)
    except TransformError as exc:
        raise _NotDelivered(
            f"recipient {recipient.id} takes {certificate.type_code} certificates as {fmt.value}, and this one cannot be written so: {exc}"
        ) from None
    # The format names the contract that carries it (delivery.deliverer.CONTRACTS).
    result = services.deliverer.send(recipient, fmt.value, etree.tostring(payload), recipient.logical_address)
    if result.verdict == "retry":
        raise _NotDelivered(f"recipient {recipient.id} could not take the certificate now ({result.detail})")
    if result.verdict == "permanent":
        raise _NotDelivered(f"recipient {recipient.id} refused the certificate: {result.detail}")
    return recipient


def _recipient(recipients: Recipients, recipient_id: str, type_code: str) -> Recipient:
    recipient = recipients.get(recipient_id)
    if recipient is None:
        party = recipients.part(recipient_id)
        if party is not None:
            raise _NotDelivered(f"{party.id} ({party.name}) is a part, never a recipient to send to")
        raise _NotDelivered(f"{recipient_id!r} is not a recipient known to this service")
    if not recipient.active:
        raise _NotDelivered(f"recipient {recipient.id} ({recipient.name}) is not active")
    if not recipients.accepts(recipient, type_code):
        raise _NotDelivered(f"recipient {recipient.id} ({recipient.name}) does not receive {type_code} certificates")
    return recipient


def _check_protected_identity(services: Services, recipient: Recipient, patient_id: str) -> None:
    """Only trusted recipients get certificates about people with a protected identity."""
    if recipient.trusted:
        return
    if lookup_person(services, patient_id).protected:
        raise _NotDelivered(f"recipient {recipient.id} ({recipient.name}) may not receive certificates about a person with protected identity")
