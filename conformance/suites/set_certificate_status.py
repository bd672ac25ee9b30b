"""SetCertificateStatus v2: the citizen archives and restores, a recipient reports what it has."""

from __future__ import annotations

from intygstjanst.conformance.model import Case, Suite, answer, error, ok
from intygstjanst.conformance.suites._steps import SET_STATUS, archive, get, register, set_status, status_count

SUITES = [
    Suite(
        SET_STATUS,
        [
            Case(
                "valid",
                "the citizen archives a certificate: OK, and the citizen sees it DELETE",
                "valid",
                (
                    register(),
                    set_status("DELETE", "INVANA", ok(), label=""),
                    get(answer(status_count(1, "DELETE", "INVANA")), part="INVANA", label="the citizen reads it"),
                ),
            ),
            Case(
                "restore",
                "an archived certificate restored by the citizen: OK, RESTOR after DELETE",
                "valid",
                (
                    register(),
                    archive(),
                    set_status("RESTOR", "INVANA", ok(), label="the citizen restores it"),
                    get(answer(status_count(1, "RESTOR", "INVANA")), part="INVANA", label="the citizen reads it"),
                ),
            ),
            Case(
                "recipient-sent",
                "a recipient reports that it has the certificate: OK, and it reads as SENTTO that recipient",
                "valid",
                (
                    register(),
                    set_status("SENTTO", "${recipientId}", ok(), label="the recipient sets SENT"),
                    get(answer(status_count(1, "SENTTO", "${recipientId}")), label="read it back"),
                ),
            ),
            Case(
                "recipient-received",
                "a recipient confirms receipt with RECEIV: OK, and it reads as RECEIV for that recipient",
                "valid",
                (
                    register(),
                    set_status("RECEIV", "${recipientId}", ok(), label="the recipient sets RECEIV"),
                    get(answer(status_count(1, "RECEIV", "${recipientId}")), part="INVANA", label="the citizen reads it"),
                ),
            ),
            Case(
                "stored-name",
                "a stored state name is not a status code (SENT instead of SENTTO): VALIDATION_ERROR",
                "bad-input",
                (register(), set_status("SENT", "${recipientId}", error("VALIDATION_ERROR"), label="the recipient sets SENT")),
            ),
            Case(
                "unknown-id",
                "a status for an id never registered: VALIDATION_ERROR",
                "unknown-id",
                (set_status("DELETE", "INVANA", error("VALIDATION_ERROR"), label="", certificateId="${unknownCertificateId}"),),
            ),
            Case(
                "unknown-part",
                "a part the producer does not know: VALIDATION_ERROR",
                "bad-input",
                (register(), set_status("DELETE", "${unknownRecipientId}", error("VALIDATION_ERROR"), label="an unknown part sets a status")),
            ),
        ],
    )
]
