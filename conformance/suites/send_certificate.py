"""SendCertificateToRecipient v2: the citizen sends a certificate on to a recipient agency.

The valid cases need the producer to reach the recipient (``recipientId`` in the test data).
"""

from __future__ import annotations

from intygstjanst.conformance.model import Case, Suite, answer, error, info, ok
from intygstjanst.conformance.suites._steps import SEND, get, register, revoke, send, status_count

SUITES = [
    Suite(
        SEND,
        [
            Case(
                "valid",
                "sending a registered certificate: OK once the recipient has it, and it reads as SENTTO",
                "valid",
                (register(), send(ok(), label=""), get(answer(status_count(1, "SENTTO", "${recipientId}")), label="read it back")),
            ),
            Case(
                "already-sent",
                "sending it to the same recipient again: INFO, nothing is sent",
                "duplicate",
                (
                    register(),
                    send(),
                    send(info("Certificate '${certificateId}' already sent to '${recipientId}'."), label="send it again"),
                    get(answer(status_count(1, "SENTTO", "${recipientId}")), label="read it back"),
                ),
            ),
            Case(
                "revoked",
                "sending a revoked certificate: INFO, nothing is sent",
                "revoked",
                (register(), revoke(), send(info("Certificate '${certificateId}' has been revoked."), label="send it"), get(answer(status_count(0, "SENTTO")), label="read it back")),
            ),
            Case(
                "unknown-id",
                "an id never registered: ERROR APPLICATION_ERROR",
                "unknown-id",
                (send(error("APPLICATION_ERROR", text="Unknown certificate ID: ${unknownCertificateId}"), label="", certificateId="${unknownCertificateId}"),),
            ),
            Case(
                "wrong-patient",
                "naming another patient than the certificate's: ERROR APPLICATION_ERROR",
                "wrong-patient",
                (register(), send(error("APPLICATION_ERROR", text="Unknown certificate ID: ${certificateId}"), label="send it for another patient", patientId="${otherPatientId}")),
            ),
            Case(
                "unknown-recipient",
                "a recipient the producer does not know: ERROR TECHNICAL_ERROR, as nationally",
                "bad-input",
                (
                    register(),
                    send(
                        error("TECHNICAL_ERROR", text="Certificate '${certificateId}' couldn't be sent to recipient"),
                        label="send it to an unknown recipient",
                        recipientId="${unknownRecipientId}",
                    ),
                ),
            ),
        ],
    )
]
