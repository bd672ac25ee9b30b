"""GetCertificate v2: a part reads one certificate, with the status entries it may see.

Errors are SOAP Faults here: the response has no ResultType.
"""

from __future__ import annotations

from intygstjanst.conformance.model import Case, Fault, Suite, answer, has
from intygstjanst.conformance.suites._steps import GET, certificate_is, get, register, revoke, status_count

SUITES = [
    Suite(
        GET,
        [
            Case(
                "valid",
                "a registered certificate is returned to care with its RECEIV status",
                "valid",
                (
                    register(),
                    get(
                        answer(
                            certificate_is(),
                            has("r:intyg/core:patient/core:person-id/types:extension", "${patientId}", what="the patient"),
                            status_count(1, "RECEIV"),
                        )
                    ),
                ),
            ),
            Case(
                "citizen",
                "the citizen (INVANA) reads a certificate about themselves",
                "valid",
                (register(), get(answer(certificate_is(), status_count(1, "RECEIV")), part="INVANA")),
            ),
            Case("unknown-id", "an id that was never registered: SOAP Fault", "unknown-id", (get(Fault(), certificateId="${unknownCertificateId}"),)),
            Case(
                "revoked",
                "a revoked certificate is still returned, with a CANCEL status",
                "revoked",
                (register(), revoke(), get(answer(certificate_is(), status_count(1, "CANCEL")))),
            ),
        ],
    )
]
