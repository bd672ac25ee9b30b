"""SendMessageToCare v2 and SendMessageToRecipient v2: questions and answers (ärenden) between a
recipient agency and care about a certificate.

A recipient may only write about a certificate it has, so the cases first record that the
certificate was sent to it (SetCertificateStatus SENT from the recipient: no call to a real
recipient is needed for that).
"""

from __future__ import annotations

from collections.abc import Callable

from intygstjanst.conformance.model import Call, Case, Expectation, Reply, Suite, error, ok
from intygstjanst.conformance.suites._steps import TO_CARE, TO_RECIPIENT, appended, mark_sent, register, with_text

QUESTION_SUBJECT = "KONTKT"


def to_care(expect: Expectation | None = None, template: str = "SendMessageToCare.xml", label: str = "", **params: str) -> Call:
    return Call(
        TO_CARE, template, expect or ok(), params={"subject": QUESTION_SUBJECT, **params},
        label=label or "the recipient writes to care",
    )


def to_recipient(
    expect: Expectation | None = None, template: str = "SendMessageToRecipient.xml", label: str = "", **params: str
) -> Call:
    return Call(
        TO_RECIPIENT, template, expect or ok(), params={"subject": QUESTION_SUBJECT, **params},
        label=label or "care writes to the recipient",
    )


def answer_from_care(expect: Expectation | None = None, label: str = "care answers the question", **params: str) -> Call:
    return to_recipient(
        expect, "SendMessageToRecipient-answer.xml", label, **{"messageId": "${otherMessageId}", "answeredMessageId": "${messageId}", **params}
    )


REUSED_ID = with_text("meddelande", "Ett helt annat meddelande under samma id.")


def common_cases(send: Callable[..., Call], unknown_certificate: Reply) -> list[Case]:
    """What both directions share: the message on its own, its id, its certificate and patient.
    The national answer to a message about an unknown certificate differs by direction."""
    return [
        Case("valid", "a question about a certificate the recipient has: OK", "valid", (register(), mark_sent(), send(ok(), label=""))),
        Case(
            "idempotent",
            "the same message again: ERROR VALIDATION_ERROR, as nationally (a message id is used once)",
            "idempotency",
            (register(), mark_sent(), send(), send(error("VALIDATION_ERROR"), label="send the same message again")),
        ),
        Case(
            "reused-id",
            "another message under a used message id: ERROR VALIDATION_ERROR",
            "duplicate",
            (register(), mark_sent(), send(), send(error("VALIDATION_ERROR"), label="send another message with that id").but(mutations=(REUSED_ID,))),
        ),
        Case(
            "unknown-id",
            "a message about a certificate never registered: ERROR (to care VALIDATION_ERROR, to the recipient APPLICATION_ERROR)",
            "unknown-id",
            (send(unknown_certificate, label="", certificateId="${unknownCertificateId}"),),
        ),
        Case(
            "wrong-patient",
            "a message naming another patient than the certificate's: ERROR",
            "wrong-patient",
            (register(), mark_sent(), send(error(), label="write about another patient", patientId="${otherPatientId}")),
        ),
        Case(
            "unknown-subject",
            "a subject (amne) that is not one of KOMPLT, AVSTMN, KONTKT, OVRIGT, PAMINN: ERROR VALIDATION_ERROR",
            "bad-input",
            (register(), mark_sent(), send(error("VALIDATION_ERROR"), label="write with subject NYTTAMNE", subject="NYTTAMNE")),
        ),
        Case(
            "certificate-not-at-recipient",
            "a message about a certificate that was never sent to the recipient: ERROR",
            "valid",
            (register(), send(error(), label="write without the certificate having been sent")),
        ),
    ]


to_care_suite = Suite(
    TO_CARE,
    [
        *common_cases(
            to_care,
            error(
                "VALIDATION_ERROR",
                text="Validation of SendMessageToCare failed for message with question id ${messageId} "
                "and certificate id ${unknownCertificateId}. [CERTIFICATE_NOT_FOUND_ERROR]",
            ),
        ),
        Case(
            "reminder",
            "a reminder (PAMINN) about an earlier question: OK",
            "valid",
            (
                register(),
                mark_sent(),
                to_care(label="the recipient asks a question"),
                to_care(label="and reminds about it", template="SendMessageToCare-reminder.xml", subject="PAMINN", messageId="${otherMessageId}", remindedMessageId="${messageId}"),
            ),
        ),
        Case(
            "reminder-of-unknown",
            "a reminder about a message never received: ERROR",
            "unknown-id",
            (register(), mark_sent(), to_care(error(), label="remind about an unknown message", template="SendMessageToCare-reminder.xml", subject="PAMINN", remindedMessageId="${otherMessageId}")),
        ),
        Case(
            "reminder-without-reference",
            "a reminder that does not say which message it is about: ERROR VALIDATION_ERROR",
            "bad-input",
            (register(), mark_sent(), to_care(error("VALIDATION_ERROR"), label="send a reminder without paminnelseMeddelande-id", subject="PAMINN")),
        ),
        Case(
            "completion",
            "a request to complete the certificate (KOMPLT with komplettering): OK",
            "valid",
            (register(), mark_sent(), to_care(label="ask for a completion", template="SendMessageToCare-completion.xml", subject="KOMPLT")),
        ),
        Case(
            "completion-wrong-subject",
            "komplettering on a message that is not KOMPLT: ERROR VALIDATION_ERROR",
            "bad-input",
            (register(), mark_sent(), to_care(error("VALIDATION_ERROR"), label="komplettering with subject OVRIGT", template="SendMessageToCare-completion.xml", subject="OVRIGT")),
        ),
    ],
)

to_recipient_suite = Suite(
    TO_RECIPIENT,
    [
        *common_cases(to_recipient, error("APPLICATION_ERROR", text="Intyg does not exist")),
        Case(
            "answer",
            "care answers the recipient's question with the same subject: OK",
            "valid",
            (register(), mark_sent(), to_care(label="the recipient asks a question"), answer_from_care()),
        ),
        Case(
            "answer-other-subject",
            "an answer with another subject than its question: ERROR VALIDATION_ERROR",
            "bad-input",
            (register(), mark_sent(), to_care(label="the recipient asks a question"), answer_from_care(error("VALIDATION_ERROR"), label="care answers with subject OVRIGT", subject="OVRIGT")),
        ),
        Case(
            "answer-with-last-date",
            "an answer carrying a last date for answering (only questions have one): ERROR VALIDATION_ERROR",
            "bad-input",
            (
                register(),
                mark_sent(),
                to_care(label="the recipient asks a question"),
                answer_from_care(error("VALIDATION_ERROR"), label="care answers with sistaDatumForSvar").but(mutations=(appended("sistaDatumForSvar", "${periodEnd}"),)),
            ),
        ),
        Case(
            "answer-to-unknown",
            "an answer to a message never received: ERROR",
            "unknown-id",
            (register(), mark_sent(), answer_from_care(error(), label="answer an unknown message")),
        ),
    ],
)

SUITES = [to_care_suite, to_recipient_suite]
