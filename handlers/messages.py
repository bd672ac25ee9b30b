"""SendMessageToCare v2 and SendMessageToRecipient v2: the questions and answers (ärenden) that a
recipient agency and the care unit exchange about a certificate, through this hub.

Both directions share one set of rules; a message is checked in three stages, each answered with
the errorId that tells the sender what to do:

1. the message on its own (subject, which optional parts go together, identity numbers): a
   broken or self-contradictory message is a VALIDATION_ERROR; resending it cannot help;
2. a message id seen before: an identical resend is answered INFO and changes nothing (the sender
   lost our first answer); another message under a used id is a VALIDATION_ERROR;
3. the message against what is stored (the certificate, who has received it, the messages it
   answers or reminds about): something missing that may yet arrive, e.g. a certificate still on
   its way, is an APPLICATION_ERROR; a reference that contradicts what is stored (another patient,
   another certificate, another subject) is a VALIDATION_ERROR.

An accepted message is stored with the request as received and handed to the outbox in the same
transaction, so it is forwarded exactly when it is stored; messages about test certificates are
stored but never forwarded. An accepted SendMessageToCare is also a ``message-sent`` event of the
statistics feed (``statistics.feed``), in the same transaction; never for a test certificate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lxml import etree
from sqlalchemy.engine import Row

from intygstjanst.contracts.call import Answer, Call
from intygstjanst.contracts.result import OK, ErrorId, LogicalError, info
from intygstjanst.contracts.xml import text_of
from intygstjanst.persistence import certificates, outbox
from intygstjanst.persistence import messages as repo
from intygstjanst.persistence.certificates import StateEntry
from intygstjanst.persistence.messages import Direction, NewMessage, StoredMessage
from intygstjanst.persistence.models import Message, length_of
from intygstjanst.registers.persons import InvalidPersonId, check_person_id
from intygstjanst.certificates.status import sent_to
from intygstjanst.statistics import feed
from intygstjanst.statistics.events import StatisticsEvent

if TYPE_CHECKING:
    from intygstjanst.registers.recipients import Recipient, Recipients
    from intygstjanst.services import Services

# Subjects (amne, code system KV_ARENDEAMNE).
COMPLETION = "KOMPLT"  # a request to complete the certificate (komplettering)
REMINDER = "PAMINN"
SUBJECTS = frozenset({"AVSTMN", COMPLETION, "KONTKT", "OVRIGT", REMINDER})

# The outbox recipient of SendMessageToCare: the care systems, called with the care unit's logical
# address (logiskAdressMottagare) in the LogicalAddress header.
CARE_SYSTEMS = "HSVARD"

# Column widths of the message table (the one source: its definition); longer values are refused,
# not truncated.
_ID_LENGTH = length_of(Message, "id")
_ADDRESS_LENGTH = length_of(Message, "recipient_address")


@dataclass(frozen=True)
class MessageView:
    """The fields of a SendMessageToCare / SendMessageToRecipient request the rules look at."""

    direction: Direction
    id: str
    reference_id: str | None
    sent_at_text: str
    certificate_id: str
    patient_root: str
    patient_number: str
    recipient_address: str
    subject: str
    reminder_of: str | None
    answer_to: str | None
    last_answer_date: dt.date | None
    completions: int
    # TO_CARE: the sending part; TO_RECIPIENT: the writer's HSA-id, care unit and care giver.
    sender: str
    sender_unit: str | None
    sender_care_giver: str | None

    @classmethod
    def read(cls, request: etree._Element, direction: Direction) -> MessageView:
        def text(path: str) -> str | None:
            return text_of(request, path)

        to_care = direction is Direction.TO_CARE
        last_answer = text("{*}sistaDatumForSvar")
        return cls(
            direction=direction,
            id=text("{*}meddelande-id") or "",
            reference_id=text("{*}referens-id"),
            sent_at_text=text("{*}skickatTidpunkt") or "",
            certificate_id=text("{*}intygs-id/types:extension") or "",
            patient_root=text("{*}patientPerson-id/types:root") or "",
            patient_number=text("{*}patientPerson-id/types:extension") or "",
            recipient_address=text("{*}logiskAdressMottagare") or "",
            subject=text("{*}amne/types:code") or "",
            reminder_of=text("{*}paminnelseMeddelande-id"),
            answer_to=text("{*}svarPa/core:meddelande-id"),
            # The schema has checked the lexical form (YYYY-MM-DD) and that the date exists.
            last_answer_date=dt.date.fromisoformat(last_answer) if last_answer else None,
            completions=len(request.findall("{*}komplettering")),
            sender=(text("{*}skickatAv/{*}part/types:code") if to_care else text("{*}skickatAv/core:personal-id/types:extension")) or "",
            sender_unit=None if to_care else text("{*}skickatAv/core:enhet/core:enhets-id/types:extension"),
            sender_care_giver=None
            if to_care
            else text("{*}skickatAv/core:enhet/core:vardgivare/core:vardgivare-id/types:extension"),
        )

    @property
    def is_answer(self) -> bool:
        return self.answer_to is not None


def send_message_to_care(call: Call[Services]) -> Answer:
    return _receive(call, Direction.TO_CARE)


def send_message_to_recipient(call: Call[Services]) -> Answer:
    return _receive(call, Direction.TO_RECIPIENT)


def _receive(call: Call[Services], direction: Direction) -> Answer:
    services = call.services
    message = MessageView.read(call.request, direction)
    problems = message_problems(message)
    if problems:
        raise LogicalError(ErrorId.VALIDATION_ERROR, "; ".join(problems))
    patient_id = check_person_id(message.patient_root, message.patient_number)  # checked above
    sent_at = _timestamp(message.sent_at_text)
    digest = payload_digest(call.request)

    with services.db.read() as conn:
        earlier = repo.get(conn, message.id)
        if earlier is not None:
            return _resend_answer(call, message, earlier, digest)
        certificate = certificates.get(conn, message.certificate_id)
        states = certificates.states(conn, message.certificate_id) if certificate is not None else []
        reminded = repo.get(conn, message.reminder_of) if message.reminder_of else None
        answered = repo.get(conn, message.answer_to) if message.answer_to else None

    target = check_against_storage(
        message, patient_id, certificate, states, reminded, answered, services.recipients
    )
    assert certificate is not None  # checked above

    new = NewMessage(
        id=message.id,
        direction=direction,
        certificate_id=message.certificate_id,
        patient_id=patient_id,
        subject=message.subject,
        reference_id=message.reference_id,
        sender=message.sender,
        sender_unit=message.sender_unit,
        recipient_address=message.recipient_address,
        reminder_of=message.reminder_of,
        answer_to=message.answer_to,
        last_answer_date=message.last_answer_date,
        sent_at=sent_at,
        digest=digest,
        original=call.body,
    )
    try:
        with services.db.transaction() as conn:
            repo.insert(conn, new, services.clock())
            if not certificate.is_test:
                outbox.enqueue(
                    conn,
                    recipient=target,
                    contract=f"{call.contract.name}:{call.contract.major}",
                    payload=etree.tostring(call.request),
                    dedupe_key=f"message:{message.id}",
                    reference=message.certificate_id,
                    logical_address=message.recipient_address,
                )
                if direction is Direction.TO_CARE:
                    feed.record(conn, services.settings, _message_event(message, certificate, call.request))
    except repo.MessageIdTaken:
        # Lost a race with a concurrent request carrying the same id, or the certificate row was
        # deleted in between (the foreign key then fails the insert): tell the two apart.
        with services.db.read() as conn:
            earlier = repo.get(conn, message.id)
        if earlier is None:
            raise LogicalError(ErrorId.APPLICATION_ERROR, _unknown_certificate(message)) from None
        return _resend_answer(call, message, earlier, digest)
    return Answer.result(call.contract, OK)


def _message_event(message: MessageView, certificate: Row[Any], request: etree._Element) -> StatisticsEvent:
    """The statistics event of an accepted SendMessageToCare: the sender (a recipient such as
    FKASSA), the message id and the request as received."""
    body = etree.tostring(request, xml_declaration=True, encoding="UTF-8")
    return StatisticsEvent("message-sent", message.certificate_id, certificate.type_code, message.sender, message.id, body)


def message_problems(message: MessageView) -> list[str]:
    """Everything wrong with the message on its own, without looking at stored data."""
    problems = []
    if not message.id:
        problems.append("meddelande-id must not be empty")
    for name, value, limit in (
        ("meddelande-id", message.id, _ID_LENGTH),
        ("referens-id", message.reference_id, _ID_LENGTH),
        ("logiskAdressMottagare", message.recipient_address, _ADDRESS_LENGTH),
        ("paminnelseMeddelande-id", message.reminder_of, _ID_LENGTH),
        ("svarPa/meddelande-id", message.answer_to, _ID_LENGTH),
        ("skickatAv", message.sender, _ADDRESS_LENGTH),
        ("skickatAv/enhet/enhets-id", message.sender_unit, _ADDRESS_LENGTH),
    ):
        if value is not None and len(value) > limit:
            problems.append(f"{name} is {len(value)} characters long, more than the {limit} accepted")
    if message.subject not in SUBJECTS:
        problems.append(f"amne {message.subject!r} is not a message subject (one of {', '.join(sorted(SUBJECTS))})")
    if message.subject == REMINDER and message.reminder_of is None:
        problems.append("a reminder (amne PAMINN) must name the message it reminds about in paminnelseMeddelande-id")
    if message.reminder_of is not None and message.subject != REMINDER:
        problems.append(f"paminnelseMeddelande-id is only allowed on a reminder (amne PAMINN), not with amne {message.subject}")
    if message.subject == REMINDER and message.is_answer:
        problems.append("a reminder (amne PAMINN) cannot answer a message (svarPa)")
    if message.is_answer and message.last_answer_date is not None:
        problems.append(f"sistaDatumForSvar is only allowed on questions, and this message answers {message.answer_to} (svarPa)")
    if message.completions and message.subject != COMPLETION:
        problems.append(f"komplettering is only allowed with amne KOMPLT, not with amne {message.subject}")
    if message.id and message.id in (message.reminder_of, message.answer_to):
        problems.append(f"message {message.id} refers to itself")
    try:
        check_person_id(message.patient_root, message.patient_number)
    except InvalidPersonId as exc:
        problems.append(f"patientPerson-id: {exc}")
    try:
        _timestamp(message.sent_at_text)
    except ValueError:
        problems.append(f"skickatTidpunkt {message.sent_at_text!r} is not a time this service can store")
    return problems


def check_against_storage(
    message: MessageView,
    patient_id: str,
    certificate: Row[Any] | None,
    states: Sequence[StateEntry],
    reminded: StoredMessage | None,
    answered: StoredMessage | None,
    recipients: Recipients,
) -> str:
    """Raise LogicalError unless the message fits the stored certificate and thread; return the
    outbox recipient that forwards it (see :data:`CARE_SYSTEMS`)."""
    if certificate is None or certificate.deleted_by_care_giver:
        raise LogicalError(ErrorId.APPLICATION_ERROR, _unknown_certificate(message))
    if patient_id != certificate.patient_id:
        # Never say whose certificate it is: the caller named the wrong patient.
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            f"patientPerson-id is not the patient of certificate {message.certificate_id}",
        )
    if message.direction is Direction.TO_CARE:
        _check_to_care(message, certificate, states)
        target = CARE_SYSTEMS
    else:
        target = _check_to_recipient(message, certificate, states, recipients).id
    if message.reminder_of is not None:
        _check_reminded(message, reminded)
    if message.answer_to is not None:
        _check_answered(message, answered)
    return target


def _check_to_care(message: MessageView, certificate: Row[Any], states: Sequence[StateEntry]) -> None:
    if message.recipient_address != certificate.care_unit_id:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            f"logiskAdressMottagare {message.recipient_address} is not the care unit that issued certificate "
            f"{message.certificate_id}; messages about it go to {certificate.care_unit_id}",
        )
    if not sent_to(states, message.sender):
        raise LogicalError(
            ErrorId.APPLICATION_ERROR,
            f"certificate {message.certificate_id} has not been sent to {message.sender} (skickatAv/part), "
            "so it cannot write to care about it",
        )


def _check_to_recipient(
    message: MessageView, certificate: Row[Any], states: Sequence[StateEntry], recipients: Recipients
) -> Recipient:
    if message.sender_care_giver != certificate.care_giver_id:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            f"skickatAv: care giver {message.sender_care_giver} did not issue certificate {message.certificate_id}",
        )
    recipient = recipient_at(recipients, message.recipient_address)
    if recipient is None:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            f"logiskAdressMottagare {message.recipient_address} is not the logical address of a recipient known here",
        )
    if not sent_to(states, recipient.id):
        raise LogicalError(
            ErrorId.APPLICATION_ERROR,
            f"certificate {message.certificate_id} has not been sent to {recipient.id}; send it before writing about it",
        )
    return recipient


def recipient_at(recipients: Recipients, logical_address: str) -> Recipient | None:
    """The recipient whose logical address ``logical_address`` is."""
    return next((r for r in recipients.all() if r.logical_address == logical_address), None)


def _check_reminded(message: MessageView, reminded: StoredMessage | None) -> None:
    if reminded is None:
        raise LogicalError(
            ErrorId.APPLICATION_ERROR,
            f"paminnelseMeddelande-id {message.reminder_of} is not a message received here",
        )
    _same_certificate(message, reminded, "paminnelseMeddelande-id")
    if reminded.direction is not message.direction:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            f"paminnelseMeddelande-id {reminded.id} was written by the other side; a reminder is about a message "
            "its sender wrote",
        )
    if reminded.is_answer or reminded.subject == REMINDER:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            f"paminnelseMeddelande-id {reminded.id} is not a question; only questions can be reminded about",
        )


def _check_answered(message: MessageView, answered: StoredMessage | None) -> None:
    if answered is None:
        raise LogicalError(ErrorId.APPLICATION_ERROR, f"svarPa {message.answer_to} is not a message received here")
    _same_certificate(message, answered, "svarPa")
    if answered.direction is message.direction:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            f"svarPa {answered.id} was written by the same side; an answer is to a message from the other side",
        )
    if answered.is_answer:
        raise LogicalError(ErrorId.VALIDATION_ERROR, f"svarPa {answered.id} is itself an answer; answer the question")
    if answered.subject != message.subject:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            f"svarPa {answered.id} has amne {answered.subject}; its answer must have the same amne, not {message.subject}",
        )


def _same_certificate(message: MessageView, referred: StoredMessage, field: str) -> None:
    if referred.certificate_id != message.certificate_id:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            f"{field} {referred.id} is about another certificate than {message.certificate_id}",
        )


def _resend_answer(call: Call[Services], message: MessageView, earlier: StoredMessage, digest: str) -> Answer:
    if earlier.digest != digest:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            f"meddelande-id {message.id} is already used by another message; a new message needs a new id",
        )
    return Answer.result(call.contract, info(f"message {message.id} was already received; nothing was changed"))


def _unknown_certificate(message: MessageView) -> str:
    return f"certificate {message.certificate_id} is not known here (it may not have arrived yet)"


def _timestamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def payload_digest(payload: etree._Element) -> str:
    """SHA-256 of the payload in canonical XML 2.0 with namespace prefixes rewritten and whitespace
    between elements dropped: the same message sent by another SOAP stack (other prefixes, other
    indentation) is recognised as the same."""
    canonical = etree.canonicalize(payload, with_comments=False, strip_text=True, rewrite_prefixes=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
