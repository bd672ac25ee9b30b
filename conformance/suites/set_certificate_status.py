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
                "the citizen archives a certificate: OK, and the citizen sees it DELETED",
                "valid",
                (
                    register(),
                    set_status("DELETED", "INVANA", ok(), label=""),
                    get(answer(status_count(1, "DELETED", "INVANA")), part="INVANA", label="the citizen reads it"),
                ),
            ),
            Case(
                "restore",
                "an archived certificate restored by the citizen: OK, RESTORED after DELETED",
                "valid",
                (
                    register(),
                    archive(),
                    set_status("RESTORED", "INVANA", ok(), label="the citizen restores it"),
                    get(answer(status_count(1, "RESTORED", "INVANA")), part="INVANA", label="the citizen reads it"),
                ),
            ),
            Case(
                "recipient-sent",
                "a recipient reports that it has the certificate: OK, and it reads as SENT to that recipient",
                "valid",
                (
                    register(),
                    set_status("SENT", "${recipientId}", ok(), label="the recipient sets SENT"),
                    get(answer(status_count(1, "SENT", "${recipientId}")), label="read it back"),
                ),
            ),
            Case(
                "unknown-id",
                "a status for an id never registered: ERROR",
                "unknown-id",
                (set_status("DELETED", "INVANA", error(), label="", certificateId="${unknownCertificateId}"),),
            ),
            Case(
                "unknown-part",
                "a part the producer does not know: ERROR",
                "bad-input",
                (register(), set_status("DELETED", "${unknownRecipientId}", error(), label="an unknown part sets a status")),
            ),
        ],
    )
]
