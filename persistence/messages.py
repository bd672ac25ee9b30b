"""Repository of messages (ärenden) between recipients and care: stored once, looked up by id."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, exists, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from intygstjanst.persistence.tables import CERTIFICATES as _CERTIFICATES, MESSAGES as _MESSAGES, RELATIONS as _RELATIONS, insert_or_skip


class Direction(str, enum.Enum):
    TO_CARE = "TO_CARE"  # SendMessageToCare: a recipient agency writes to the care unit
    TO_RECIPIENT = "TO_RECIPIENT"  # SendMessageToRecipient: care writes to the recipient agency


@dataclass(frozen=True)
class NewMessage:
    id: str
    direction: Direction
    certificate_id: str
    patient_id: str
    subject: str
    reference_id: str | None
    sender: str
    sender_unit: str | None
    recipient_address: str
    reminder_of: str | None
    answer_to: str | None
    last_answer_date: dt.date | None
    sent_at: dt.datetime
    digest: str
    original: bytes


@dataclass(frozen=True)
class StoredMessage:
    """What the checks on later messages need to know about a stored one (not its XML)."""

    id: str
    direction: Direction
    certificate_id: str
    subject: str
    reminder_of: str | None
    answer_to: str | None
    digest: str

    @property
    def is_answer(self) -> bool:
        return self.answer_to is not None


class MessageIdTaken(Exception):
    """Another message with the same id was stored first (possibly by a concurrent request)."""


class CertificateUnknown(Exception):
    """The certificate the message is about is not stored (erased since the caller looked)."""


_INSERT: dict[str, Any] = {}  # per dialect
_SUMMARY_COLUMNS = (
    _MESSAGES.c.id,
    _MESSAGES.c.direction,
    _MESSAGES.c.certificate_id,
    _MESSAGES.c.subject,
    _MESSAGES.c.reminder_of,
    _MESSAGES.c.answer_to,
    _MESSAGES.c.digest,
)
_GET = select(*_SUMMARY_COLUMNS).where(_MESSAGES.c.id == bindparam("id"))
_FOR_CERTIFICATE = (
    select(*_SUMMARY_COLUMNS)
    .where(_MESSAGES.c.certificate_id == bindparam("certificate_id"))
    .order_by(_MESSAGES.c.received_at, _MESSAGES.c.id)
)
_ORIGINAL = select(_MESSAGES.c.original).where(_MESSAGES.c.id == bindparam("id"))


def insert(conn: Connection, new: NewMessage, received_at: dt.datetime) -> None:
    """Store ``new``; raises MessageIdTaken when its id is in use, CertificateUnknown when its
    certificate is not stored.

    The primary key decides between concurrent requests with one id (the conflict is skipped, not
    failed), the certificate's foreign key between the message and an erasure of its certificate
    (which fails the INSERT; PostgreSQL then aborts the caller's transaction). Callers let the
    transaction roll back after either exception.
    """
    statement = _INSERT.get(conn.dialect.name)
    if statement is None:
        # RETURNING rather than rowcount: drivers report rowcount for INSERT .. ON CONFLICT differently.
        statement = insert_or_skip(conn, _MESSAGES).on_conflict_do_nothing(index_elements=["id"]).returning(_MESSAGES.c.id)
        _INSERT[conn.dialect.name] = statement
    try:
        stored = conn.execute(statement, {**new.__dict__, "direction": new.direction.value, "received_at": received_at}).first()
    except IntegrityError as exc:
        if _is_foreign_key_violation(exc):
            raise CertificateUnknown(new.certificate_id) from exc
        raise
    if stored is None:
        raise MessageIdTaken(new.id)


def _is_foreign_key_violation(exc: IntegrityError) -> bool:
    """PostgreSQL's SQLSTATE 23503, SQLite's extended result code SQLITE_CONSTRAINT_FOREIGNKEY."""
    driver_error = exc.orig
    return getattr(driver_error, "sqlstate", None) == "23503" or getattr(driver_error, "sqlite_errorcode", None) == 787


def get(conn: Connection, message_id: str) -> StoredMessage | None:
    row = conn.execute(_GET, {"id": message_id}).first()
    return _summary(row) if row is not None else None


def for_certificate(conn: Connection, certificate_id: str) -> list[StoredMessage]:
    """The messages about one certificate in the order they were received (the thread)."""
    return [_summary(row) for row in conn.execute(_FOR_CERTIFICATE, {"certificate_id": certificate_id})]


def original(conn: Connection, message_id: str) -> bytes | None:
    """The request body the message arrived in, byte for byte."""
    return conn.execute(_ORIGINAL, {"id": message_id}).scalar_one_or_none()


def _summary(row: Any) -> StoredMessage:  # a Row of _SUMMARY_COLUMNS
    return StoredMessage(row.id, Direction(row.direction), row.certificate_id, row.subject, row.reminder_of, row.answer_to, row.digest)


@dataclass(frozen=True)
class Unanswered:
    """A patient's open questions from a recipient agency, and the reminders about them."""

    questions: int = 0
    reminders: int = 0


_ANSWER = _MESSAGES.alias("answer")
# A question from the agency is open while no answer refers to it, and, for a request for
# completion (KOMPLT), while no completing certificate arrived after it.
_OPEN_FROM_RECIPIENT = (
    select(_MESSAGES.c.patient_id, _MESSAGES.c.id, _MESSAGES.c.subject, _MESSAGES.c.reminder_of)
    .join(_CERTIFICATES, _CERTIFICATES.c.id == _MESSAGES.c.certificate_id)
    .where(
        _MESSAGES.c.direction == Direction.TO_CARE.value,
        _MESSAGES.c.sender == bindparam("sender"),
        _MESSAGES.c.answer_to.is_(None),
        _CERTIFICATES.c.care_unit_id.in_(bindparam("units", expanding=True)),
        _MESSAGES.c.patient_id.in_(bindparam("patients", expanding=True)),
        ~exists().where(_ANSWER.c.answer_to == _MESSAGES.c.id),
        ~and_(
            _MESSAGES.c.subject == "KOMPLT",
            exists().where(
                _RELATIONS.c.to_id == _MESSAGES.c.certificate_id,
                _RELATIONS.c.kind == "KOMPLT",
                _RELATIONS.c.created_at >= _MESSAGES.c.received_at,
            ),
        ),
    )
)
_PATIENTS_PER_QUERY = 10_000  # bound parameters stay well below SQLite's limit


def unanswered_from_recipient(
    conn: Connection, units: Sequence[str], patients: Sequence[str], sender: str
) -> dict[str, Unanswered]:
    """Per patient (of ``patients``; those with none are left out): the questions ``sender`` (a
    part code such as FKASSA) wrote about certificates issued at ``units`` that care has not
    answered, and the reminders (PAMINN) about those questions."""
    open_questions: dict[str, str] = {}  # message id -> patient
    reminders: list[tuple[str, str | None]] = []
    for first in range(0, len(patients), _PATIENTS_PER_QUERY):
        params = {"sender": sender, "units": list(units), "patients": list(patients[first : first + _PATIENTS_PER_QUERY])}
        for row in conn.execute(_OPEN_FROM_RECIPIENT, params):
            if row.subject == "PAMINN":
                reminders.append((row.patient_id, row.reminder_of))
            else:
                open_questions[row.id] = row.patient_id
    counts: dict[str, Unanswered] = {}
    for patient in open_questions.values():
        counts[patient] = Unanswered(counts.get(patient, Unanswered()).questions + 1)
    for patient, reminded in reminders:
        if reminded in open_questions:
            found = counts[patient]
            counts[patient] = Unanswered(found.questions, found.reminders + 1)
    return counts
