"""SetCertificateStatus v2 (clinicalprocess) and v1 (insuranceprocess): a party records what
happened to a certificate.

Which party may record which status (anything else is refused with VALIDATION_ERROR):

=====================  ===================  ===============================================
part                   status               meaning
=====================  ===================  ===============================================
INVANA (the citizen)   DELETED, RESTORED    archives / restores the certificate in their list
a recipient            SENT                 the recipient has the certificate (e.g. it came
                                            through another channel); refused for test
                                            certificates, which never reach a recipient
a recipient            RECEIVED             the recipient confirms that it received it
=====================  ===================  ===============================================

The other statuses of the v1 code list (UNHANDLED, IN_PROGRESS, PROCESSED) have no place in this
service's state model and are refused like any other combination not in the table. CANCELLED is
never set here: a revocation must reach every recipient of the certificate, which
only RevokeCertificate does. HSVARD (care) records nothing here either: its RECEIVED and
CANCELLED come from RegisterCertificate and RevokeCertificate. Recording what is already in effect
(archiving an archived certificate, a second SENT from the same recipient) changes nothing and is
answered INFO.
"""

from __future__ import annotations

import datetime as dt

from intygstjanst.contracts.call import Answer, Call
from intygstjanst.registers.recipients import Part, Recipient
from intygstjanst.contracts.result import OK, ErrorId, LogicalError, Outcome, info
from intygstjanst.contracts.xml import text_of
from intygstjanst.persistence import certificates as repo
from intygstjanst.services import Services
from intygstjanst.certificates.status import CITIZEN, is_archived, sent_to

ARCHIVE = frozenset({"DELETED", "RESTORED"})
RECIPIENT_REPORTS = frozenset({"SENT", "RECEIVED"})


def set_certificate_status(call: Call[Services]) -> Answer:
    """SetCertificateStatus v2."""
    request = call.request
    outcome = set_status(
        call.services,
        certificate_id=text_of(request, "{*}intygs-id/types:extension") or "",
        part_code=text_of(request, "{*}part/types:code") or "",
        status=text_of(request, "{*}status/types:code") or "",
        at=_timestamp(text_of(request, "{*}tidpunkt") or ""),
    )
    return Answer.result(call.contract, outcome)


def set_certificate_status_v1(call: Call[Services]) -> Answer:
    """SetCertificateStatus v1 names the patient too; a certificate of another patient is
    answered as unknown."""
    request = call.request
    timestamp = text_of(request, "{*}timestamp")
    outcome = set_status(
        call.services,
        certificate_id=text_of(request, "{*}certificateId") or "",
        part_code=text_of(request, "{*}target") or "",
        status=text_of(request, "{*}status") or "",
        at=_timestamp(timestamp) if timestamp else call.services.clock(),
        patient_id=(text_of(request, "{*}nationalIdentityNumber") or "").replace("-", "").replace("+", ""),
    )
    return Answer.result(call.contract, outcome)


def set_status(
    services: Services,
    *,
    certificate_id: str,
    part_code: str,
    status: str,
    at: dt.datetime,
    patient_id: str | None = None,
) -> Outcome:
    """Record ``status`` for ``part_code`` on a certificate, per the table in the module notes."""
    party = services.recipients.part(part_code)
    if party is None:
        raise LogicalError(ErrorId.VALIDATION_ERROR, f"part {part_code!r} is neither a recipient nor a part known to this service")
    _check_allowed(party, status)

    with services.db.transaction() as conn:
        certificate = repo.lock(conn, certificate_id)
        if certificate is None or certificate.deleted_by_care_giver or (patient_id is not None and certificate.patient_id != patient_id):
            raise LogicalError(
                ErrorId.APPLICATION_ERROR,
                f"certificate {certificate_id} does not exist" + (" for this patient" if patient_id is not None else ""),
            )
        if status == "SENT" and certificate.is_test:
            raise LogicalError(
                ErrorId.VALIDATION_ERROR,
                f"certificate {certificate_id} is a test certificate; test certificates are never sent to a recipient",
            )
        states = repo.states(conn, certificate_id)
        already = _already_in_effect(states, party.id, status)
        if already is not None:
            return info(f"certificate {certificate_id} {already}; nothing changed")
        repo.add_state(conn, certificate_id, status, party.id, at)
    return OK


def _check_allowed(party: Recipient | Part, status: str) -> None:
    if status == "CANCELLED":
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            "CANCELLED cannot be set with SetCertificateStatus; revoke the certificate with RevokeCertificate, "
            "which also tells its recipients",
        )
    if isinstance(party, Recipient):
        allowed, who = RECIPIENT_REPORTS, f"recipient {party.id}"
    elif party.id == CITIZEN:
        allowed, who = ARCHIVE, f"part {party.id} (the citizen)"
    else:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            f"part {party.id} records no status with SetCertificateStatus; its states come from the contracts it calls",
        )
    if status not in allowed:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR, f"status {status} cannot be set for {who}; allowed: {', '.join(sorted(allowed))}"
        )


def _already_in_effect(states: list[repo.StateEntry], part: str, status: str) -> str | None:
    if status == "DELETED" and is_archived(states):
        return "is already archived"
    if status == "RESTORED" and not is_archived(states):
        return "is not archived"
    if status == "SENT" and sent_to(states, part):
        return f"is already recorded as sent to {part}"
    if status == "RECEIVED" and any(s.state == "RECEIVED" and s.target == part for s in states):
        return f"is already recorded as received by {part}"
    return None


def _timestamp(value: str) -> dt.datetime:
    """A contract timestamp in the form states are stored in: naive, UTC when a zone is given."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        # xs:dateTime admits forms a stored time cannot take, such as 24:00:00 or a year before 1.
        raise LogicalError(ErrorId.VALIDATION_ERROR, f"the time {value!r} cannot be recorded: {exc}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed
