"""RevokeCertificate v2: care withdraws a certificate; its recipients are told."""

from __future__ import annotations

from intygstjanst.conformance.model import Case, Suite, answer, error, info, ok
from intygstjanst.conformance.suites._steps import REVOKE, certificate_is, get, register, revoke, status_count

SUITES = [
    Suite(
        REVOKE,
        [
            Case(
                "valid",
                "revoking a registered certificate: OK, and it reads as CANCEL",
                "valid",
                (register(), revoke(ok(), label=""), get(answer(certificate_is(), status_count(1, "CANCEL")), label="read it back")),
            ),
            Case(
                "already-revoked",
                "revoking it again: INFO, nothing changes",
                "revoked",
                (register(), revoke(), revoke(info("Certificate ${certificateId} is already revoked."), label="revoke it again")),
            ),
            Case(
                "unknown-id",
                "an id never registered: ERROR APPLICATION_ERROR (so a revoke that overtakes its registration is retried)",
                "unknown-id",
                (revoke(error("APPLICATION_ERROR", text="Certificate ${unknownCertificateId} does not exist for patient."), label="", certificateId="${unknownCertificateId}"),),
            ),
            Case(
                "wrong-patient",
                "naming another patient than the certificate's: ERROR APPLICATION_ERROR, and the certificate stays valid",
                "wrong-patient",
                (
                    register(),
                    revoke(error("APPLICATION_ERROR", text="Certificate ${certificateId} does not exist for patient."), label="revoke it for another patient", patientId="${otherPatientId}"),
                    get(answer(status_count(0, "CANCEL")), label="read it back"),
                ),
            ),
        ],
    )
]
