"""SendMessageToCare v2 and SendMessageToRecipient v2: the questions and answers (ärenden) that a
recipient agency and the care unit exchange about a certificate, through this hub.

Every check runs and every failure is listed in one answer, worded as the national service words it
(../shared/specs/result-codes.md, rules 16 and 17):

* SendMessageToCare: ``ERROR`` / ``VALIDATION_ERROR`` ``Validation of SendMessageToCare failed for
  message with question id <id> and certificate id <id>. [<item>, ...]``, the national items
  (``SUBJECT_NOT_SUPPORTED_ERROR ...``, ``CERTIFICATE_NOT_FOUND_ERROR``, ...) in the national order;
* SendMessageToRecipient: an unknown certificate is ``ERROR`` / ``APPLICATION_ERROR`` ``Intyg does not
  exist``; otherwise ``ERROR`` / ``VALIDATION_ERROR`` ``[<item>, ...]`` (``Invalid amneskod``, ...).

After the national items come this service's own (:func:`own_items`): values too long to store, and
the checks a hub forwarding patient data must make (the message goes to the care unit that issued
the certificate, comes from a party that received it, and refers to messages of the same thread in
a way a thread can hold). A message the national service accepts and a working consumer sends never
fails them.

A message id names one message: a second message under a used id is refused, also an identical
resend (as nationally). An accepted message is stored with the request as received and handed to the
outbox in the same transaction, so it is forwarded exactly when it is stored; messages about test
certificates: SendMessageToCare refuses them (as nationally), SendMessageToRecipient stores them
and answers OK but never forwards them. An accepted SendMessageToCare is also a ``message-sent``
event of the statistics feed (``statistics.feed``), in the same transaction; never for a test
certificate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lxml import etree
from sqlalchemy.engine import Row

from intygstjanst.contracts.call import Answer, Call
from intygstjanst.contracts.result import OK, ErrorId, LogicalError
from intygstjanst.contracts.xml import text_of
from intygstjanst.persistence import certificates, outbox
from intygstjanst.persistence import messages as repo
from intygstjanst.persistence.certificates import StateEntry
from intygstjanst.persistence.messages import Direction, NewMessage, StoredMessage
from intygstjanst.persistence.models import Message, length_of
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


@dataclass(frozen=True)
class Found:
    """What is stored that the checks of one message look at."""

    id_taken: bool
    certificate: Row[Any] | None  # None also for a certificate erased by its care giver
    states: Sequence[StateEntry]
    reminded: StoredMessage | None
    answered: StoredMessage | None

    @classmethod
    def read(cls, services: Services, message: MessageView) -> Found:
        with services.db.read() as conn:
            certificate = certificates.get(conn, message.certificate_id)
            if certificate is not None and certificate.deleted_by_care_giver:
                certificate = None
            return cls(
                id_taken=repo.get(conn, message.id) is not None,
                certificate=certificate,
                states=certificates.states(conn, message.certificate_id) if certificate is not None else [],
                reminded=repo.get(conn, message.reminder_of) if message.reminder_of else None,
                answered=repo.get(conn, message.answer_to) if message.answer_to else None,
            )


def _receive(call: Call[Services], direction: Direction) -> Answer:
    services = call.services
    message = MessageView.read(call.request, direction)
    certificate, target = _checked(services, message, Found.read(services, message))
    new = NewMessage(
        id=message.id,
        direction=direction,
        certificate_id=message.certificate_id,
        patient_id=message.patient_number,
        subject=message.subject,
        reference_id=message.reference_id,
        sender=message.sender,
        sender_unit=message.sender_unit,
        recipient_address=message.recipient_address,
        reminder_of=message.reminder_of,
        answer_to=message.answer_to,
        last_answer_date=message.last_answer_date,
        sent_at=_timestamp(message.sent_at_text),
        digest=payload_digest(call.request),
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
        # Lost a race with a concurrent request carrying the same id: answered as a used id, also
        # when that message is gone again by now (erased with its certificate).
        _checked(services, message, replace(Found.read(services, message), id_taken=True))
        raise  # not reached: a used id is always refused
    except repo.CertificateUnknown:
        # The certificate was erased between the checks and the insert (its foreign key failed the
        # insert): answered as an unknown certificate, whatever has been stored since.
        _checked(services, message, replace(Found.read(services, message), certificate=None, states=[]))
        raise  # not reached: an unknown certificate is always refused
    return Answer.result(call.contract, OK)


def _message_event(message: MessageView, certificate: Row[Any], request: etree._Element) -> StatisticsEvent:
    """The statistics event of an accepted SendMessageToCare: the sender (a recipient such as
    FKASSA), the message id and the request as received."""
    body = etree.tostring(request, xml_declaration=True, encoding="UTF-8")
    return StatisticsEvent("message-sent", message.certificate_id, certificate.type_code, message.sender, message.id, body)


def _checked(services: Services, message: MessageView, found: Found) -> tuple[Row[Any], str]:
    """The certificate and the outbox recipient forwarding the message, or the national refusal."""
    to_care = message.direction is Direction.TO_CARE
    if not to_care and found.certificate is None:
        raise LogicalError(ErrorId.APPLICATION_ERROR, "Intyg does not exist")
    items = to_care_items(message, found, services.recipients) if to_care else to_recipient_items(message, found)
    target = CARE_SYSTEMS if to_care else None
    if found.certificate is not None:
        own, target = own_items(message, found, services.recipients)
        items += own
    if items:
        listed = f"[{', '.join(items)}]"
        if to_care:
            listed = (
                f"Validation of SendMessageToCare failed for message with question id {message.id} "
                f"and certificate id {message.certificate_id}. {listed}"
            )
        raise LogicalError(ErrorId.VALIDATION_ERROR, listed)
    assert found.certificate is not None and target is not None  # an item otherwise
    return found.certificate, target


SUBJECT_NOT_SUPPORTED = (
    "SUBJECT_NOT_SUPPORTED_ERROR The supplied certificate subject is invalid. Supported subjects are KOMPLT, AVSTMN, KONTKT, OVRIGT, PAMINN"
)
TEST_CERTIFICATE = "TEST_CERTIFICATE The supplied certificate is invalid. Messages cannot be sent for test certificates."


def to_care_items(message: MessageView, found: Found, recipients: Recipients) -> list[str]:
    """The national checks of SendMessageToCare, in the national order."""
    items = []
    if recipients.get(message.sender) is None and recipients.part(message.sender) is None:
        items.append(f"SkickatAv part code {message.sender} is not valid")
    if message.subject not in SUBJECTS:
        items.append(SUBJECT_NOT_SUPPORTED)
    if message.is_answer and message.last_answer_date is not None:
        items.append("MESSAGE_TYPE_CONSISTENCY_ERROR An answer (svarPa) cannot have sistaDatumForSvar")
    if message.completions and message.subject != COMPLETION:
        items.append("KOMPLETTERING_INCONSISTENCY_ERROR")
    if not message.id or found.id_taken:
        # The national text, run together as the national service writes it.
        items.append("MEDDELANDE_ID_NOT_UNIQUE_ERRORMeddelande-id is not a GUID")
    if (message.subject == REMINDER) != (message.reminder_of is not None):
        items.append("PAMINNELSE_ID_INCONSISTENCY_ERROR")
    if (message.reminder_of and found.reminded is None) or (message.answer_to and found.answered is None):
        items.append("REFERENCED_MESSAGE_NOT_FOUND_ERROR")
    if found.answered is not None and message.subject != REMINDER and found.answered.subject != message.subject:
        items.append(f"SUBJECT_CONSISTENCY_ERROR The answer has amne {message.subject}, its question {found.answered.subject}")
    certificate = found.certificate
    if certificate is None:
        items.append("CERTIFICATE_NOT_FOUND_ERROR")
        return items
    if message.patient_number != certificate.patient_id:
        items.append("CIVIC_REGISTRATION_NUMBER_INCONSISTENCY_ERROR")
    if certificate.is_test:
        items.append(TEST_CERTIFICATE)
    return items


def to_recipient_items(message: MessageView, found: Found) -> list[str]:
    """The national checks of SendMessageToRecipient (of a known certificate), in the national order."""
    assert found.certificate is not None  # answered "Intyg does not exist" before
    items = []
    if message.subject not in SUBJECTS:
        items.append("Invalid amneskod")
    if message.is_answer and message.last_answer_date is not None:
        items.append("SistaDatumForSvar is only valid on Questions")
    if not message.id or found.id_taken:
        items.append("MeddelandeId is not globally unique")
    if message.reminder_of is not None and message.subject != REMINDER:
        items.append("paminnelseMeddelandeId should only be present if amne is PAMINN")
    if message.subject == REMINDER and message.reminder_of is None:
        items.append("PAMINN should define paminnelseMeddelandeId")
    if message.reminder_of is not None and found.reminded is None:
        items.append("Paminnelse Meddelande does not exist")
    if message.answer_to is not None and found.answered is None:
        items.append("SvarPa Meddelande does not exist")
    if found.answered is not None and found.answered.subject != message.subject:
        items.append("Svar amne is not consistent with question")
    if message.patient_number != found.certificate.patient_id:
        items.append("PatientPersonId is not consistent with certificate")
    if not any(s.state == "SENT" for s in found.states):
        items.append("Certificate is not sent to recipient")
    return items


def own_items(message: MessageView, found: Found, recipients: Recipients) -> tuple[list[str], str | None]:
    """This service's checks beyond the national ones, and the outbox recipient forwarding the
    message (None when there is none): what cannot be stored, and what a hub forwarding patient
    data must not forward (to another party than the certificate's, about another thread)."""
    certificate = found.certificate
    assert certificate is not None
    items = []
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
            items.append(f"{name} is {len(value)} characters long, more than the {limit} accepted")
    try:
        _timestamp(message.sent_at_text)
    except ValueError:
        items.append(f"skickatTidpunkt {message.sent_at_text!r} is not a time this service can store")
    if message.subject == REMINDER and message.is_answer:
        items.append("a reminder (amne PAMINN) cannot answer a message (svarPa)")
    target: str | None = CARE_SYSTEMS
    if message.direction is Direction.TO_CARE:
        if message.recipient_address != certificate.care_unit_id:
            items.append(
                f"logiskAdressMottagare {message.recipient_address} is not the care unit that issued certificate "
                f"{message.certificate_id}; messages about it go to {certificate.care_unit_id}"
            )
        if not sent_to(found.states, message.sender):
            items.append(f"certificate {message.certificate_id} has not been sent to {message.sender} (skickatAv/part)")
    else:
        target = None
        if message.sender_care_giver != certificate.care_giver_id:
            items.append(f"skickatAv: care giver {message.sender_care_giver} did not issue certificate {message.certificate_id}")
        recipient = recipient_at(recipients, message.recipient_address)
        if recipient is None:
            items.append(f"logiskAdressMottagare {message.recipient_address} is not the logical address of a recipient known here")
        elif any(s.state == "SENT" for s in found.states) and not sent_to(found.states, recipient.id):
            items.append(f"certificate {message.certificate_id} has not been sent to {recipient.id}")
        else:
            target = recipient.id
    if found.reminded is not None:
        items += _reminded_items(message, found.reminded)
    if found.answered is not None:
        items += _answered_items(message, found.answered)
    return items, target


def recipient_at(recipients: Recipients, logical_address: str) -> Recipient | None:
    """The recipient whose logical address ``logical_address`` is."""
    return next((r for r in recipients.all() if r.logical_address == logical_address), None)


def _reminded_items(message: MessageView, reminded: StoredMessage) -> list[str]:
    if reminded.certificate_id != message.certificate_id:
        return [f"paminnelseMeddelande-id {reminded.id} is about another certificate than {message.certificate_id}"]
    if reminded.direction is not message.direction:
        return [f"paminnelseMeddelande-id {reminded.id} was written by the other side; a reminder is about a message its sender wrote"]
    if reminded.is_answer or reminded.subject == REMINDER:
        return [f"paminnelseMeddelande-id {reminded.id} is not a question; only questions can be reminded about"]
    return []


def _answered_items(message: MessageView, answered: StoredMessage) -> list[str]:
    if answered.certificate_id != message.certificate_id:
        return [f"svarPa {answered.id} is about another certificate than {message.certificate_id}"]
    if answered.direction is message.direction:
        return [f"svarPa {answered.id} was written by the same side; an answer is to a message from the other side"]
    if answered.is_answer:
        return [f"svarPa {answered.id} is itself an answer; answer the question"]
    return []


def _timestamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def payload_digest(payload: etree._Element) -> str:
    """SHA-256 of the payload in canonical XML 2.0 with namespace prefixes rewritten and whitespace
    between elements dropped: the same message sent by another SOAP stack (other prefixes, other
    indentation) is recognised as the same."""
    canonical = etree.canonicalize(payload, with_comments=False, strip_text=True, rewrite_prefixes=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
