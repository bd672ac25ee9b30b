"""RevokeCertificate v2 (and, through ``legacy``, RevokeMedicalCertificate v1): care withdraws a
certificate, and every recipient that got it is told.

================================================  =========================================
situation                                         answer (v2; v1 words it as ``legacy`` says)
================================================  =========================================
unknown certificate, or one of another patient    ERROR / APPLICATION_ERROR ``Certificate <id>
                                                  does not exist for patient.`` (a revoke that
                                                  overtakes its registration is sent again)
already revoked                                   INFO ``Certificate <id> is already revoked.``
otherwise                                         OK: CANCELLED (part HSVARD) is stored and
                                                  a revoke is queued for each recipient
================================================  =========================================

The texts are the national service's (../shared/specs/result-codes.md, "Change contracts").

The notifications are written to the outbox in the same transaction as the CANCELLED state, so
either both happen or neither; ``intygstjanst worker`` delivers them, retrying until the recipient
has them. Each is keyed by (certificate, recipient): a certificate is revoked once, so a recipient
is told once. A recipient gets RevokeCertificate v2, or RevokeMedicalCertificate v1 when it takes
the certificate in the legacy FK7263 format (``formats.outbound_revoke``). Recipients are told
even when they have since been deactivated or removed from the registry: they hold the
certificate and must learn that it is withdrawn (a removed one dead-letters in the outbox, where an
operator sees it). Test certificates never reach a recipient, so nothing is queued for them.
A contract may name recipients it never tells (RevokeMedicalCertificate v1 never tells
Försäkringskassan, as nationally). The revocation is also the certificate's ``revoked`` statistics
event (``record_revocation``: once per certificate, also when SetCertificateStatus sets CANCELLED),
in the same transaction.
"""

from __future__ import annotations

import copy
import datetime as dt
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from lxml import etree
from sqlalchemy.engine import Connection, Row

from intygstjanst.contracts.call import Answer, Call
from intygstjanst.registers.recipients import Recipients
from intygstjanst.contracts.result import OK, ErrorId, LogicalError, info
from intygstjanst.contracts.xml import CORE, text_of
from intygstjanst.delivery.deliverer import CONTRACTS_BY_TAG
from intygstjanst.persistence import certificates as repo
from intygstjanst.persistence import outbox, sickleave
from intygstjanst.services import Services
from intygstjanst.statistics import feed
from intygstjanst.statistics.events import StatisticsEvent
from intygstjanst.transform import formats
from intygstjanst.transform.common import RC
from intygstjanst.transform.formats import Format
from intygstjanst.transform.revoke import RCV
from intygstjanst.handlers.certificate import stored_payload
from intygstjanst.certificates.status import CARE, is_revoked

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Revocation:
    certificate_id: str
    patient_id: str  # 12 digits
    # The RevokeCertificate v2 request for the stored certificate (payload with carrier); a function
    # because a legacy revoke needs the certificate to be written as one, and only when needed.
    request: Callable[[etree._Element], etree._Element]
    # A RevokeMedicalCertificate request as received: passed on as it is to legacy-format recipients.
    legacy: etree._Element | None = None
    # Recipients this contract never tells, although they received the certificate.
    untold: frozenset[str] = frozenset()


class Revoked(enum.Enum):
    """What a revoke found; each contract words it in its own way."""

    NOW = "now"
    ALREADY = "already"
    UNKNOWN = "unknown"  # no such certificate for this patient


def revoke_certificate(call: Call[Services]) -> Answer:
    request = call.request
    revocation = Revocation(
        certificate_id=text_of(request, "{*}intygs-id/types:extension") or "",
        patient_id=text_of(request, "{*}patientPerson-id/types:extension") or "",
        request=lambda _stored: request,
    )
    certificate_id = revocation.certificate_id
    revoked = revoke(call.services, revocation)
    if revoked is Revoked.UNKNOWN:
        raise LogicalError(ErrorId.APPLICATION_ERROR, f"Certificate {certificate_id} does not exist for patient.")
    outcome = info(f"Certificate {certificate_id} is already revoked.") if revoked is Revoked.ALREADY else OK
    return Answer.result(call.contract, outcome)


def revoke(services: Services, revocation: Revocation) -> Revoked:
    certificate_id = revocation.certificate_id
    with services.db.transaction() as conn:
        certificate = repo.lock(conn, certificate_id)
        if certificate is None or certificate.deleted_by_care_giver or certificate.patient_id != revocation.patient_id:
            return Revoked.UNKNOWN
        states = repo.states(conn, certificate_id)
        if is_revoked(states):
            return Revoked.ALREADY
        repo.add_state(conn, certificate_id, "CANCELLED", CARE, services.clock())
        sickleave.mark_revoked(conn, certificate_id)
        record_revocation(conn, services, certificate)
        if not certificate.is_test:
            recipients = list(dict.fromkeys(s.target for s in states if s.state == "SENT" and s.target not in revocation.untold))
            if recipients:
                _notify(conn, services.recipients, certificate, recipients, revocation)
    return Revoked.NOW


def record_revocation(conn: Connection, services: Services, certificate: Row[Any]) -> None:
    """The statistics event of a revocation (once per certificate, whichever contract revoked it)."""
    if services.settings.statistics_feed and not certificate.is_test:
        body = feed.certificate_body(stored_payload(certificate))
        feed.record(conn, services.settings, StatisticsEvent("revoked", certificate.id, certificate.type_code, body=body))


def notify_late_recipient(conn: Connection, services: Services, certificate: Row[Any], recipient_id: str, revoked_at: dt.datetime) -> None:
    """Tell a recipient that got the certificate while it was being revoked (a send checks, then
    delivers for seconds without a lock, and a revoke in between could not know this recipient).

    The revoke request itself is not kept, so the notification is written from the certificate:
    revoked by its issuer (``skickatAv`` = the author) at the time the revocation was stored.
    """
    revocation = Revocation(certificate.id, certificate.patient_id, request=lambda stored: _issuer_revocation(stored, revoked_at))
    _notify(conn, services.recipients, certificate, [recipient_id], revocation)


def _issuer_revocation(stored: etree._Element, revoked_at: dt.datetime) -> etree._Element:
    intyg = stored.find(f"{{{RC}}}intyg")
    assert intyg is not None  # every stored payload has one
    request = etree.Element(f"{{{RCV}}}RevokeCertificate", nsmap={"rc": RCV})
    etree.SubElement(request, f"{{{RCV}}}skickatTidpunkt").text = revoked_at.replace(microsecond=0).isoformat()
    for local, source in (("intygs-id", "intygs-id"), ("patientPerson-id", "patient/core:person-id"), ("skickatAv", "skapadAv")):
        found = intyg.find(f"core:{source}", {"core": CORE})
        assert found is not None  # required by the schema
        etree.SubElement(request, f"{{{RCV}}}{local}").extend(copy.deepcopy(list(found)))
    return request


def _notify(conn: Connection, registry: Recipients, certificate: Row[Any], targets: list[str], revocation: Revocation) -> None:
    stored = stored_payload(certificate)
    request = cache(lambda: revocation.request(stored))
    for target in targets:
        recipient = registry.get(target)
        if recipient is None:
            log.warning("certificate %s was sent to %s, which is no longer in the recipient registry", certificate.id, target)
        fmt = recipient.format_for(certificate.type_code) if recipient is not None else Format.REGISTER_CERTIFICATE_3
        if revocation.legacy is not None and fmt is Format.REGISTER_MEDICAL_CERTIFICATE_3:
            payload = revocation.legacy
        else:
            payload = formats.outbound_revoke(request(), stored, fmt)
        outbox.enqueue(
            conn,
            recipient=target,
            contract=CONTRACTS_BY_TAG[payload.tag].key,
            payload=etree.tostring(payload),
            dedupe_key=f"revoke:{certificate.id}:{target}",
            reference=certificate.id,
            logical_address=recipient.logical_address if recipient is not None else None,
        )
