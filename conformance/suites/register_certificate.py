"""RegisterCertificate v3: a journal system registers a signed certificate, exactly once."""

from __future__ import annotations

from intygstjanst.conformance.model import Case, Reply, Suite, answer, error, info, ok
from intygstjanst.conformance.suites._steps import ALREADY_EXISTS, REGISTER, certificate_is, get, register, status_count, without_svar

SUITES = [
    Suite(
        REGISTER,
        [
            Case("valid", "a valid LISJP certificate is stored: OK", "valid", (register(ok(), label=""),)),
            Case(
                "duplicate",
                f"the same certificate again: INFO {ALREADY_EXISTS!r}",
                "duplicate",
                (register(), register(info(ALREADY_EXISTS), label="register it again")),
            ),
            Case(
                "idempotent",
                "registering again changes nothing: still one certificate, received once",
                "idempotency",
                (
                    register(),
                    register(Reply(("OK", "INFO")), label="register it again"),
                    register(Reply(("OK", "INFO")), label="and a third time"),
                    get(answer(certificate_is(), status_count(1, "RECEIV")), label="read it back"),
                ),
            ),
            Case(
                "wrong-patient",
                f"the same id for another patient: ERROR VALIDATION_ERROR {ALREADY_EXISTS!r}",
                "wrong-patient",
                (
                    register(),
                    register(error("VALIDATION_ERROR", text=ALREADY_EXISTS), label="register the id for another patient", patientId="${otherPatientId}"),
                ),
            ),
            Case(
                "invalid-patient-id",
                "a personnummer with a wrong check digit: ERROR VALIDATION_ERROR",
                "bad-input",
                (register(error("VALIDATION_ERROR"), label="", patientId="${invalidPatientId}"),),
            ),
            Case(
                "unknown-type",
                "a certificate type the producer does not know: ERROR VALIDATION_ERROR",
                "bad-input",
                (register(error("VALIDATION_ERROR"), label="", certificateType="KONFORMANSTYP"),),
            ),
            Case(
                "unsupported-version",
                "a version of LISJP that does not exist: ERROR VALIDATION_ERROR",
                "bad-input",
                (register(error("VALIDATION_ERROR"), label="", certificateVersion="99.0"),),
            ),
            Case(
                "unsupported-minor-version",
                "LISJP 1.337, a minor version that does not exist: the national service's answer",
                "bad-input",
                (
                    register(
                        error("VALIDATION_ERROR", text="Certificate with type: LISJP does not support version: 1.337"),
                        label="",
                        certificateVersion="1.337",
                    ),
                ),
            ),
            Case(
                "rule-violation",
                "a LISJP without its mandatory diagnosis (question 6): ERROR VALIDATION_ERROR",
                "bad-input",
                (register(error("VALIDATION_ERROR"), label="").but(mutations=(without_svar("6"),)),),
            ),
        ],
    )
]
