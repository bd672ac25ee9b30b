"""SendCertificateToRecipient v2 (and, through ``legacy``, SendMedicalCertificate v1): forward a
stored certificate to a recipient, synchronously, in the format that recipient takes.

The checks run in the reference service's order, so callers see the same answers:

1. unknown certificate, or one of another patient       -> ERROR / APPLICATION_ERROR
2. revoked                                              -> INFO (nothing sent)
3. already sent to this recipient                       -> INFO (nothing sent)
4. test certificate                                     -> ERROR / VALIDATION_ERROR
5. recipient unknown, a part, inactive, not taking the
   type, or untrusted for a protected-identity patient  -> ERROR / VALIDATION_ERROR naming it
6. the recipient could not be reached / answered a
   technical error                                      -> ERROR / TECHNICAL_ERROR (retry)
7. the recipient refused the certificate                -> ERROR / APPLICATION_ERROR with its answer

In 5 the reference answers TECHNICAL_ERROR, which tells the caller to try again although the same
request will fail for as long as the registry says what it says: callers then retry forever. Only
a change of configuration helps, so the answer says which recipient and why.

The SENT state (target = the recipient) is stored only after the recipient has accepted the
certificate. Delivery takes time and holds no lock: if the certificate was revoked meanwhile, the
revoke could not know this recipient, so SENT is stored with a revoke notification for it.
Should storing SENT fail, the caller gets a Fault and tries again, and the recipient gets the
certificate a second time, which it recognises by the certificate id.
"""

from __future__ import annotations

import logging

from lxml import etree

from intygstjanst.contracts.call import Answer, Call
from intygstjanst.registers.recipients import Recipient, Recipients
from intygstjanst.contracts.result import OK, ErrorId, LogicalError, Outcome, info
from intygstjanst.contracts.xml import text_of
from intygstjanst.persistence import certificates as repo
from intygstjanst.services import Services
from intygstjanst.transform import formats
from intygstjanst.transform.common import TransformError
from intygstjanst.handlers.certificate import lookup_person, stored_payload
from intygstjanst.handlers.revoke import notify_late_recipient
from intygstjanst.certificates.status import is_revoked, sent_to

log = logging.getLogger(__name__)


def send_certificate_to_recipient(call: Call[Services]) -> Answer:
    request = call.request
    outcome = send(
        call.services,
        certificate_id=text_of(request, "{*}intygs-id/types:extension") or "",
        patient_id=text_of(request, "{*}patientPerson-id/types:extension") or "",
        recipient_id=text_of(request, "{*}mottagare/types:code") or "",
    )
    return Answer.result(call.contract, outcome)


def send(services: Services, *, certificate_id: str, patient_id: str, recipient_id: str) -> Outcome:
    """Send a stored certificate to ``recipient_id`` (see the module notes for the answers)."""
    recipient_id = recipient_id.strip().upper()
    with services.db.read() as conn:
        certificate = repo.get(conn, certificate_id)
        if certificate is None or certificate.deleted_by_care_giver or certificate.patient_id != patient_id:
            raise LogicalError(ErrorId.APPLICATION_ERROR, f"certificate {certificate_id} does not exist for this patient")
        states = repo.states(conn, certificate_id)
    if is_revoked(states):
        return info(f"certificate {certificate_id} is revoked and was not sent")
    if sent_to(states, recipient_id):
        return info(f"certificate {certificate_id} has already been sent to {recipient_id}")
    if certificate.is_test:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            f"certificate {certificate_id} is a test certificate; test certificates are never sent to a recipient",
        )
    recipient = _recipient(services.recipients, recipient_id, certificate.type_code)
    _check_protected_identity(services, recipient, certificate.patient_id)
    fmt = recipient.format_for(certificate.type_code)
    try:
        payload = formats.outbound(stored_payload(certificate), fmt)
    except TransformError as exc:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            f"recipient {recipient.id} takes {certificate.type_code} certificates as {fmt.value}, "
            f"and this one cannot be written so: {exc}",
        ) from None

    # The format names the contract that carries it (delivery.deliverer.CONTRACTS).
    result = services.deliverer.send(recipient, fmt.value, etree.tostring(payload), recipient.logical_address)
    if result.verdict == "retry":
        log.warning("sending %s to %s failed: %s", certificate_id, recipient.id, result.detail)
        raise LogicalError(
            ErrorId.TECHNICAL_ERROR, f"recipient {recipient.id} could not take the certificate now; try again later ({result.detail})"
        )
    if result.verdict == "permanent":
        log.warning("%s refused %s: %s", recipient.id, certificate_id, result.detail)
        raise LogicalError(ErrorId.APPLICATION_ERROR, f"recipient {recipient.id} refused the certificate: {result.detail}")

    with services.db.transaction() as conn:
        locked = repo.lock(conn, certificate_id)
        states = repo.states(conn, certificate_id)
        # A concurrent send to the same recipient may have recorded it first.
        if locked is not None and not sent_to(states, recipient.id):
            repo.add_state(conn, certificate_id, "SENT", recipient.id, services.clock())
            revoked_at = next((s.at for s in states if s.state == "CANCELLED"), None)
            if revoked_at is not None:
                notify_late_recipient(conn, services, locked, recipient.id, revoked_at)
    return OK


def _recipient(recipients: Recipients, recipient_id: str, type_code: str) -> Recipient:
    recipient = recipients.get(recipient_id)
    if recipient is None:
        party = recipients.part(recipient_id)
        if party is not None:
            raise LogicalError(ErrorId.VALIDATION_ERROR, f"{party.id} ({party.name}) is a part, never a recipient to send to")
        raise LogicalError(ErrorId.VALIDATION_ERROR, f"recipient {recipient_id!r} is not a recipient known to this service")
    if not recipient.active:
        raise LogicalError(ErrorId.VALIDATION_ERROR, f"recipient {recipient.id} ({recipient.name}) is not active")
    if not recipients.accepts(recipient, type_code):
        raise LogicalError(
            ErrorId.VALIDATION_ERROR, f"recipient {recipient.id} ({recipient.name}) does not receive {type_code} certificates"
        )
    return recipient


def _check_protected_identity(services: Services, recipient: Recipient, patient_id: str) -> None:
    """Only trusted recipients get certificates about people with a protected identity."""
    if recipient.trusted:
        return
    if lookup_person(services, patient_id).protected:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            f"recipient {recipient.id} ({recipient.name}) may not receive certificates about a person with protected identity",
        )
