"""The helper contracts about certificate types and receivers: GetCertificateTypeInfo v1,
GetRecipientsForCertificate v1.1, ListKnownRecipients v1, ListPossibleReceivers v1,
RegisterApprovedReceivers v1 and ListApprovedReceivers v1."""

from __future__ import annotations

from intygstjanst.conformance.model import Call, Case, Expectation, Fault, Reply, Suite, answer, exactly, has, lacks, ok
from intygstjanst.conformance.suites._steps import register

TYPE_INFO = "GetCertificateTypeInfo:1"
RECIPIENTS_FOR = "GetRecipientsForCertificate:1"
KNOWN = "ListKnownRecipients:1"
POSSIBLE = "ListPossibleReceivers:1"
APPROVED = "ListApprovedReceivers:1"
REGISTER_APPROVED = "RegisterApprovedReceivers:1"


def call(contract: str, expect: Expectation, label: str = "", **params: str) -> Call:
    return Call(contract, f"{contract.split(':')[0]}.xml", expect, params=params, label=label)


def approve(approval: str, expect: Expectation | None = None, label: str = "", **params: str) -> Call:
    return call(REGISTER_APPROVED, expect or ok(), label or f"care registers {approval} for the recipient", approval=approval, **params)


# The national service refuses a registration with ERROR and no errorId.
UNKNOWN_RECEIVER = Reply(
    ("ERROR",),
    text="Request to registerApprovedReceiver contained unknown receiverId '${unknownRecipientId}'",
    checks=(lacks("r:result/core:errorId"),),
)

SUITES = [
    Suite(
        TYPE_INFO,
        [
            Case(
                "valid",
                "the type and version of a registered certificate",
                "valid",
                (register(), call(TYPE_INFO, answer(has("r:typ/types:code", "${certificateTypeId}"), has("r:typVersion", "${certificateVersion}")))),
            ),
            Case("unknown-id", "an id never registered: SOAP Fault", "unknown-id", (call(TYPE_INFO, Fault(), certificateId="${unknownCertificateId}"),)),
        ],
    ),
    Suite(
        RECIPIENTS_FOR,
        [
            Case(
                "valid",
                "a LISJP certificate may go to the recipient: it is listed, with resultCode OK",
                "valid",
                (register(), call(RECIPIENTS_FOR, ok(has("r:recipient/r:id", "${recipientId}")))),
            ),
        ],
    ),
    Suite(
        KNOWN,
        [Case("valid", "every recipient, the test data's among them, with resultCode OK", "valid", (call(KNOWN, ok(has("r:recipient/r:id", "${recipientId}"))),))],
    ),
    Suite(
        POSSIBLE,
        [
            Case("valid", "the recipient is among the receivers of LISJP", "valid", (call(POSSIBLE, answer(has("r:receiverList/rcv:receiverId", "${recipientId}"))),)),
            Case(
                "unknown-type",
                "a type nobody receives has no receivers",
                "unknown-id",
                (call(POSSIBLE, answer(lacks("r:receiverList")), certificateType="KONFORMANSTYP"),),
            ),
        ],
    ),
    Suite(
        REGISTER_APPROVED,
        [
            Case("valid", "care's decision for a recipient is stored: OK", "valid", (register(), approve("YES", label=""))),
            Case(
                "unknown-recipient",
                "a receiver the producer does not know: ERROR without errorId, naming it",
                "bad-input",
                (register(), approve("YES", UNKNOWN_RECEIVER, recipientId="${unknownRecipientId}")),
            ),
        ],
    ),
    Suite(
        APPROVED,
        [
            Case(
                "valid",
                "the decision registered for a certificate is listed",
                "valid",
                (
                    register(),
                    approve("YES"),
                    call(APPROVED, answer(exactly(1, "r:receiverList[rcv:receiverId='${recipientId}']/rcv:approvalStatus", "YES")), label="list the decisions"),
                ),
            ),
            Case(
                "refused",
                "a main recipient care refuses is listed with NO",
                "valid",
                (
                    register(),
                    approve("NO"),
                    call(APPROVED, answer(exactly(1, "r:receiverList[rcv:receiverId='${recipientId}']/rcv:approvalStatus", "NO")), label="list the decisions"),
                ),
            ),
            Case(
                "unknown-id",
                "a certificate without decisions has an empty list",
                "unknown-id",
                (call(APPROVED, answer(lacks("r:receiverList")), certificateId="${unknownCertificateId}"),),
            ),
        ],
    ),
]
