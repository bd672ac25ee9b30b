"""ListRelationsForCertificate v1: which certificates replace, complete, renew or copy which."""

from __future__ import annotations

from intygstjanst.conformance.model import Call, Case, Expectation, Suite, XPathCheck, answer, exactly, has, lacks
from intygstjanst.conformance.suites._steps import register, register_successor, revoke

RELATIONS = "ListRelationsForCertificate:1"
_RELATION = "r:intygRelation/r:relation"


def relations(expect: Expectation, of: str = "${certificateId}", label: str = "") -> Call:
    # The asked id has a name of its own, so that checks can still name both certificates.
    return Call(RELATIONS, "ListRelationsForCertificate.xml", expect, params={"askedCertificateId": of}, label=label or "list its relations")


def replaced(revoked: str) -> tuple[XPathCheck, ...]:
    return (
        exactly(1, f"{_RELATION}/r:typ/types:code", "ERSATT", what="the ERSATT relation"),
        has(f"{_RELATION}/r:fran-intygs-id/types:extension", "${otherCertificateId}", what="the replacing certificate (från)"),
        has(f"{_RELATION}/r:till-intygs-id/types:extension", "${certificateId}", what="the replaced certificate (till)"),
        has(f"{_RELATION}/r:fran-intyg-makulerat", revoked, what="whether the replacing certificate is revoked"),
    )


SUITES = [
    Suite(
        RELATIONS,
        [
            Case(
                "valid",
                "a certificate replaced by another lists the relation from the new one to it",
                "valid",
                (register(), register_successor("ERSATT"), relations(answer(*replaced("false")), label="")),
            ),
            Case(
                "from-the-newer",
                "the replacing certificate lists the same relation",
                "valid",
                (register(), register_successor("ERSATT"), relations(answer(*replaced("false")), of="${otherCertificateId}", label="list the new one's relations")),
            ),
            Case(
                "revoked",
                "when the replacing certificate is revoked, the relation says so",
                "revoked",
                (
                    register(),
                    register_successor("ERSATT"),
                    revoke(label="revoke the replacing certificate", certificateId="${otherCertificateId}"),
                    relations(answer(*replaced("true"))),
                ),
            ),
            Case(
                "unknown-id",
                "an id never registered is answered with an entry without relations",
                "unknown-id",
                (relations(answer(has("r:intygRelation/r:intygs-id/types:extension", "${unknownCertificateId}"), lacks(_RELATION)), of="${unknownCertificateId}"),),
            ),
        ],
    )
]
