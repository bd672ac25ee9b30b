"""PingForConfiguration v1: the platform's probe of whether a producer is up."""

from __future__ import annotations

from intygstjanst.conformance.model import Call, Case, Suite, answer, has

PING = "PingForConfiguration:1"

SUITES = [
    Suite(
        PING,
        [
            Case(
                "valid",
                "a ping about a contract the producer serves is answered with its version and the time",
                "valid",
                (
                    Call(
                        PING,
                        "PingForConfiguration.xml",
                        answer(has("r:version", what="the version"), has("r:pingDateTime", what="the time of the ping")),
                        params={"pingedNamespace": "urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3"},
                    ),
                ),
            ),
        ],
    )
]
