"""SetCertificateStatus v2 (clinicalprocess) and v1 (insuranceprocess): a party records what
happened to a certificate, answered as the national service answers.

v2 takes a national status code (``RECEIV``, ``SENTTO``, ``CANCEL``, ``DELETE``, ``RESTOR``) and a
part that must be a recipient or part of the registry; it does not check the patient. v1 takes
the stored state name itself (the contract's list: UNHANDLED, CANCELLED, SENT, RECEIVED,
IN_PROGRESS, PROCESSED), a target that must be a recipient or part (``FK`` means ``FKASSA``, the
only translation the national service makes), and the patient, which must be the certificate's.
Each accepted call adds the state with the time the caller gives (or now) and is answered ``OK``;
SENT on a test certificate is refused, since test certificates never reach a recipient. A CANCELLED
set here withdraws the certificate from the sick-leave lists as a revoke does, and is a revocation
for the statistics feed (one ``revoked`` event per certificate, however it was revoked); recipients
are not told (the national service does not tell them either: RevokeCertificate does).
"""

from __future__ import annotations

import datetime as dt

from intygstjanst.certificates.status import STATES_BY_WIRE_CODE
from intygstjanst.contracts.call import Answer, Call
from intygstjanst.contracts.result import OK, ErrorId, LogicalError, Outcome
from intygstjanst.contracts.xml import text_of
from intygstjanst.persistence import certificates as repo
from intygstjanst.persistence import sickleave
from intygstjanst.registers.persons import parse_personnummer, pseudonym
from intygstjanst.services import Services
from intygstjanst.handlers.revoke import record_revocation

# SetCertificateStatus v1's short name for Försäkringskassan (MI, TS ... are not translated).
V1_TARGET_ALIASES = {"FK": "FKASSA"}


def set_certificate_status(call: Call[Services]) -> Answer:
    """SetCertificateStatus v2."""
    request = call.request
    code = text_of(request, "{*}status/types:code") or ""
    status = STATES_BY_WIRE_CODE.get(code)
    certificate_id = text_of(request, "{*}intygs-id/types:extension") or ""
    part = _part(call.services, text_of(request, "{*}part/types:code") or "")
    if status is None:
        # The national service's text: the failed lookup of the code in its status enumeration.
        raise LogicalError(ErrorId.VALIDATION_ERROR, f"No enum constant StatusKod.{code}")
    outcome = set_status(
        call.services,
        certificate_id=certificate_id,
        part=part,
        status=status,
        at=_timestamp(text_of(request, "{*}tidpunkt") or ""),
    )
    return Answer.result(call.contract, outcome)


def set_certificate_status_v1(call: Call[Services]) -> Answer:
    """SetCertificateStatus v1 names the patient too: it must be the certificate's."""
    request = call.request
    number = text_of(request, "{*}nationalIdentityNumber") or ""
    patient_id = parse_personnummer(number)
    if patient_id is None:
        raise LogicalError(ErrorId.APPLICATION_ERROR, "Could not parse passed personnummer")
    target = text_of(request, "{*}target") or ""
    part = _part(call.services, V1_TARGET_ALIASES.get(target, target))
    timestamp = text_of(request, "{*}timestamp")
    outcome = set_status(
        call.services,
        certificate_id=text_of(request, "{*}certificateId") or "",
        part=part,
        status=text_of(request, "{*}status") or "",
        at=_timestamp(timestamp) if timestamp else call.services.clock(),
        patient_id=patient_id,
    )
    return Answer.result(call.contract, outcome)


def _part(services: Services, code: str) -> str:
    party = services.recipients.part(code)
    if party is None or party.id != code:  # exact, as the national service compares
        raise LogicalError(ErrorId.VALIDATION_ERROR, f"No recipient found for recipient id: {code}")
    return code


def set_status(
    services: Services,
    *,
    certificate_id: str,
    part: str,
    status: str,
    at: dt.datetime,
    patient_id: str | None = None,
) -> Outcome:
    """Add ``status`` (a stored state name) for ``part``; ``patient_id`` (v1) must be the patient's."""
    with services.db.transaction() as conn:
        certificate = repo.lock(conn, certificate_id)
        if certificate is None or certificate.deleted_by_care_giver:
            raise LogicalError(ErrorId.VALIDATION_ERROR, f"Unknown certificate ID: {certificate_id}")
        if patient_id is not None and certificate.patient_id != patient_id:
            user = pseudonym(services.settings.pseudonym_salt, patient_id)
            raise LogicalError(ErrorId.VALIDATION_ERROR, f"Certificate '{certificate_id}' does not exist for user '{user}'")
        if status == "SENT" and certificate.is_test:
            raise LogicalError(
                ErrorId.VALIDATION_ERROR, "Cannot set the certificate to SENT as it is flagged as a test certificate"
            )
        repo.add_state(conn, certificate_id, status, part, at)
        if status == "CANCELLED":
            sickleave.mark_revoked(conn, certificate_id)
            record_revocation(conn, services, certificate)
    return OK


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
