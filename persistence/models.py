"""Tables. The certificate row keeps the complete original request and the metadata that lists
and checks are indexed by; everything that happens to a certificate afterwards is an appended
state row, so revoked / archived / sent are derived, never overwritten."""

from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Certificate(Base):
    __tablename__ = "certificate"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type_code: Mapped[str] = mapped_column(String(32))
    type_version: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[str] = mapped_column(String(12))
    care_unit_id: Mapped[str] = mapped_column(String(64))
    care_unit_name: Mapped[str] = mapped_column(String(255), default="")
    care_giver_id: Mapped[str] = mapped_column(String(64))
    signing_doctor_id: Mapped[str] = mapped_column(String(64))
    signing_doctor_name: Mapped[str] = mapped_column(String(255), default="")
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    # Erased by the care giver (a data-protection deletion, not the citizen's archiving).
    deleted_by_care_giver: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # The contract the certificate arrived through, e.g. "RegisterCertificate:3".
    source: Mapped[str] = mapped_column(String(64))
    # The complete original request body, byte for byte.
    original: Mapped[bytes] = mapped_column(LargeBinary)
    # The certificate in RegisterCertificate v3 form when it arrived in a legacy format.
    canonical: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (
        Index("ix_certificate_patient_signed", "patient_id", "signed_at"),
        Index("ix_certificate_unit_patient", "care_unit_id", "patient_id"),
        Index("ix_certificate_care_giver", "care_giver_id"),
    )


class CertificateState(Base):
    __tablename__ = "certificate_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    certificate_id: Mapped[str] = mapped_column(ForeignKey("certificate.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16))  # RECEIVED SENT CANCELLED DELETED RESTORED
    target: Mapped[str] = mapped_column(String(32))  # the part: HSVARD, INVANA, FKASSA, ...
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class CertificateRelation(Base):
    __tablename__ = "certificate_relation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # from_id is the newer certificate; it replaces / completes / renews / copies to_id.
    from_id: Mapped[str] = mapped_column(String(64), index=True)
    to_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # ERSATT KOMPLT FRLANG KOPIA
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)


# --- Messages (ärenden): SendMessageToCare / SendMessageToRecipient ----------------------------------


class Message(Base):
    """One accepted message about a certificate, in either direction, with the request as received.

    ``meddelande-id`` is the primary key across both directions: answers (``svarPa``) and reminders
    (``paminnelseMeddelande-id``) refer to other messages by that id alone, so it must name one
    message whichever side wrote it.
    """

    __tablename__ = "message"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    direction: Mapped[str] = mapped_column(String(16))  # TO_CARE (from a recipient) or TO_RECIPIENT (from care)
    certificate_id: Mapped[str] = mapped_column(ForeignKey("certificate.id", ondelete="CASCADE"), index=True)
    patient_id: Mapped[str] = mapped_column(String(12))
    subject: Mapped[str] = mapped_column(String(8))  # amne: KOMPLT AVSTMN KONTKT OVRIGT PAMINN
    reference_id: Mapped[str | None] = mapped_column(String(128))  # referens-id, the sender's own case reference
    # TO_CARE: the sending part (e.g. FKASSA); TO_RECIPIENT: the HSA-id of the person who wrote it.
    sender: Mapped[str] = mapped_column(String(64))
    sender_unit: Mapped[str | None] = mapped_column(String(64))  # TO_RECIPIENT: the writer's care unit
    recipient_address: Mapped[str] = mapped_column(String(64))  # logiskAdressMottagare
    reminder_of: Mapped[str | None] = mapped_column(String(128), index=True)
    answer_to: Mapped[str | None] = mapped_column(String(128), index=True)
    last_answer_date: Mapped[dt.date | None] = mapped_column(Date)
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime)  # skickatTidpunkt, as the sender stated it
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # SHA-256 of the payload's canonical form: tells an identical resend from a reuse of the id.
    digest: Mapped[str] = mapped_column(String(64))
    # The complete request body, byte for byte.
    original: Mapped[bytes] = mapped_column(LargeBinary)


# --- end of messages ---------------------------------------------------------------------------------


# -- Delivery outbox (persistence/outbox.py) ------------------------------------------------------
# One row per outbound message that is not the synchronous answer to a call. It is written in the
# same transaction as the state change that causes it, so a committed change always has its message.


class OutboxItem(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    # Sent with every attempt (x-intyg-delivery-id, wsa:MessageID) so the recipient can recognise a
    # redelivery after a crash between its answer and our bookkeeping.
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    # The producer's idempotency key: a second enqueue with the same key is a no-op.
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    recipient: Mapped[str] = mapped_column(String(32))
    contract: Mapped[str] = mapped_column(String(64))  # e.g. "RevokeCertificate:2"
    logical_address: Mapped[str | None] = mapped_column(String(64))  # None: the recipient's own
    reference: Mapped[str | None] = mapped_column(String(64))  # e.g. the certificate id, for operators
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # the request payload element
    status: Mapped[str] = mapped_column(String(10))  # PENDING DELIVERED DEAD
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # When the row may next be claimed. A claim moves it to the end of the claim's lease, so a
    # worker that dies mid-delivery simply lets the row fall due again.
    due_at: Mapped[dt.datetime] = mapped_column(DateTime)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_outbox_status_due", "status", "due_at"),
        Index("ix_outbox_status_delivered", "status", "delivered_at"),
        # The rows of a certificate, for its erasure or destruction (persistence/lifecycle.py).
        Index("ix_outbox_reference", "reference"),
    )


class OutboxCounter(Base):
    """Monotonic per-recipient outcome counts (Prometheus counters that survive purges and restarts)."""

    __tablename__ = "outbox_counter"

    recipient: Mapped[str] = mapped_column(String(32), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)  # delivered retry dead
    count: Mapped[int] = mapped_column(BigInteger, default=0)


# --- Approved receivers: RegisterApprovedReceivers / ListApprovedReceivers ----------------------------


class ApprovedReceiver(Base):
    """Care's decision whether one certificate may be sent to one receiver (YES, NO or UNDEFINED).

    No foreign key to ``certificate``: the journal system may register the decision before the
    certificate itself has arrived here.
    """

    __tablename__ = "approved_receiver"

    certificate_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    receiver_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    certificate_type: Mapped[str] = mapped_column(String(32))
    approval: Mapped[str] = mapped_column(String(16))
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime)


# --- end of approved receivers -----------------------------------------------------------------------


# --- Sick leave (rehab coordination): persistence/sickleave.py ------------------------------------


class SickLeaveCertificate(Base):
    """The sick-leave facts of one LISJP / FK7263 certificate, kept in the certificate's transaction.

    A read model: one row per certificate, so that a care unit's lists are one index range scan
    without parsing a stored document. The day span (``first_day``..``last_day``) is what queries
    select on; lists (codes, periods) are only ever read whole and are stored as text, see
    persistence/sickleave.py.
    ``superseded``: replaced (ERSATT) or completed (KOMPLT) by a later certificate that is not
    revoked; ``deleted``: revoked. Both are kept current by persistence/sickleave.py.
    ``case_start`` / ``case_end``: the bounds of the sick-leave case (the patient's chain of listed
    certificates at the care giver, merged with a 90-day gap) the certificate belongs to; None
    while it is not listed. ``fragment``: its ``intygsData`` element as the certificate lists
    answer it, in UTF-8 (migration 0012), rendered when stored (None for rows from before
    migration 0006 until ``intygstjanst sickleave rebuild``). Both are kept current in the writing
    transaction.
    """

    __tablename__ = "sick_leave_certificate"

    certificate_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("certificate.id", ondelete="CASCADE"), primary_key=True
    )
    type_code: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[str] = mapped_column(String(12))
    patient_name: Mapped[str] = mapped_column(String(255))
    care_unit_id: Mapped[str] = mapped_column(String(64))
    care_unit_name: Mapped[str] = mapped_column(String(255))
    care_giver_id: Mapped[str] = mapped_column(String(64))
    care_giver_name: Mapped[str] = mapped_column(String(255))
    doctor_id: Mapped[str] = mapped_column(String(64))
    doctor_name: Mapped[str] = mapped_column(String(255))
    doctor_titles: Mapped[str] = mapped_column(Text)  # befattning codes (HSA code system)
    signed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    diagnosis_code: Mapped[str] = mapped_column(String(16))
    diagnosis_code_system: Mapped[str] = mapped_column(String(64))
    secondary_diagnoses: Mapped[str] = mapped_column(Text)
    employment: Mapped[str] = mapped_column(Text)  # sysselsättning codes
    periods: Mapped[str] = mapped_column(Text)  # start/end/degree, ISO dates
    first_day: Mapped[dt.date] = mapped_column(Date)
    last_day: Mapped[dt.date] = mapped_column(Date)
    is_test: Mapped[bool] = mapped_column(Boolean)
    deleted: Mapped[bool] = mapped_column(Boolean)
    superseded: Mapped[bool] = mapped_column(Boolean)
    case_start: Mapped[dt.date | None] = mapped_column(Date)
    case_end: Mapped[dt.date | None] = mapped_column(Date)
    fragment: Mapped[bytes | None] = mapped_column(LargeBinary)

    # A unit's lists read the rows of its current cases through the case-end index; the case start
    # rides along (INCLUDE, PostgreSQL; SQLite ignores the option) so that cases starting after the
    # date asked about are passed over in the index. The whole-history path (a gap above 90 days)
    # uses the other two.
    __table_args__ = (
        Index("ix_sick_leave_unit_case_end", "care_unit_id", "case_end", postgresql_include=["case_start"]),
        Index(
            "ix_sick_leave_unit_last_day",
            "care_unit_id",
            "last_day",
            postgresql_include=["first_day", "patient_id", "deleted", "superseded", "is_test"],
        ),
        Index("ix_sick_leave_unit_patient", "care_unit_id", "patient_id"),
        Index("ix_sick_leave_patient", "patient_id"),
    )


class SickLeaveCase(Base):
    """One sick-leave case (``SickLeaveCertificate.case_start`` .. ``case_end``) of a patient at a
    care giver, as the certificate lists answer it: one row per care unit its certificates were
    issued at (migration 0015). The case's **lead** row (its first unit in id order) has ``units``
    (every unit of the case, in id order, joined by U+001F), ``holes`` (the day spans inside the
    case that no certificate covers, ``start/end`` ISO, joined by U+001F; empty for most) and
    ``fragments``: the case's certificates' fragments concatenated in chronological order (None
    while one of them has none). The other rows only say that the case has certificates at their
    unit. ``certificates``: how many of the case's certificates were issued at the row's unit.
    ``digest`` (lead row, migration 0016): SHA-256 of ``fragments``, by which serving processes keep
    answers they have read (persistence/case_cache.py).
    ``revision`` (PostgreSQL, migration 0017): a number from a sequence, new with every row written,
    so that the set of a list's revisions says whether any of its rows changed since it was last
    read (persistence/case_cache.py; in the unit index, read without visiting the rows).
    Kept by persistence/sickleave.py in the transaction that changes the case.
    """

    __tablename__ = "sick_leave_case"

    patient_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    care_giver_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_start: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    care_unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_end: Mapped[dt.date] = mapped_column(Date)
    certificates: Mapped[int] = mapped_column(Integer)
    units: Mapped[str | None] = mapped_column(Text)
    holes: Mapped[str | None] = mapped_column(Text)
    fragments: Mapped[bytes | None] = mapped_column(LargeBinary)
    digest: Mapped[bytes | None] = mapped_column(LargeBinary)
    revision: Mapped[int | None] = mapped_column(BigInteger, server_default=FetchedValue())

    __table_args__ = (
        Index("ix_sick_leave_case_unit_end", "care_unit_id", "case_end", postgresql_include=["case_start", "revision"]),
    )


# --- end of sick leave -----------------------------------------------------------------------------


# --- The doctor's signature: persistence/signatures.py ------------------------------------------------


class CertificateSignature(Base):
    """What was found about a certificate's signature when it was registered (one row each).

    ``status``: valid, invalid, unsigned or not_checked; ``reason_code`` the first problem of an
    invalid one (``digest``, ``signature``, ``untrusted_issuer``, ...) and ``reason`` all of them;
    ``remark`` what was reported without counting against it (a signer other than skapadAv).
    """

    __tablename__ = "certificate_signature"

    certificate_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("certificate.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    signer_subject: Mapped[str] = mapped_column(Text)
    signer_hsa_id: Mapped[str] = mapped_column(String(64))
    remark: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime)

    # /metrics counts by status and reason at every scrape: one index range, no table scan.
    __table_args__ = (Index("ix_certificate_signature_status", "status", "reason_code"),)


# --- Access log: persistence/access_log.py ----------------------------------------------------------


class AccessLogEntry(Base):
    """One answer that disclosed patients' data: who asked, through which contract and when; the
    patients, with how many certificates of which care giver and unit, are its ``AccessLogPatient``
    rows. An entry naming many (a unit's sick-leave list names thousands) holds them in ``patients``
    and gets its ``AccessLogPatient`` rows afterwards, from the indexer (``AccessLogIndexed``).

    Append-only and chained: ``hash`` is SHA-256 over the previous entry's hash and this entry's
    canonical form, its patients included (persistence/access_log.py), so an edited or removed entry
    or patient row breaks the chain.
    """

    __tablename__ = "access_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    call_id: Mapped[str] = mapped_column(String(32))
    contract: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(16))
    consumer: Mapped[str | None] = mapped_column(Text)
    original_consumer: Mapped[str | None] = mapped_column(Text)
    logical_address: Mapped[str | None] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64))
    patients: Mapped[bytes | None] = mapped_column(LargeBinary)  # not chained itself: it holds the chained rows

    __table_args__ = (Index("ix_access_log_at", "at"),)


class AccessLogPatient(Base):
    """A patient an entry disclosed, with the care giver and unit whose certificates were disclosed
    and how many. ``patient_key`` is a keyed hash of the personnummer (HMAC-SHA256 with the
    access-log key): the extract finds a patient's entries by it, and the table holds no
    personnummer in clear. Ordered by ``seq`` (the primary key) for verifying and pruning."""

    __tablename__ = "access_log_patient"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    patient_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    care_giver_id: Mapped[str] = mapped_column(Text, primary_key=True)
    care_unit_id: Mapped[str] = mapped_column(Text, primary_key=True)
    certificates: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_access_log_patient_key", "patient_key"),)


class AccessLogHead(Base):
    """The chain's one head row: the newest entry's number and hash, and the anchor left by pruning
    (the last pruned entry's number and hash, from which verification continues). Appending locks
    this row, so concurrent writers chain one after the other."""

    __tablename__ = "access_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    anchor_seq: Mapped[int] = mapped_column(BigInteger)
    anchor_hash: Mapped[str] = mapped_column(String(64))


class AccessLogIndexed(Base):
    """The indexer's watermark: the patient rows held in entries up to ``indexed_seq`` are in
    ``access_log_patient`` too. A row of its own, not the head's, so appending never waits for the
    indexer."""

    __tablename__ = "access_log_indexed"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    indexed_seq: Mapped[int] = mapped_column(BigInteger)


# --- end of access log -------------------------------------------------------------------------------


# --- Data lifecycle: persistence/lifecycle.py -----------------------------------------------------


class LifecycleReceipt(Base):
    """What an erasure, destruction or purge leaves: no certificate, patient or text, only the kind,
    its subject (a care giver id, a decision reference, a date), the operator, counts per kind of
    row (JSON) and, for an erasure, the hash of the export it was allowed by. ``cursor`` is the
    last certificate id removed while the erasure runs (for resuming); it is cleared at the end."""

    __tablename__ = "lifecycle_receipt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    operator: Mapped[str] = mapped_column(String(255))
    export_hash: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    counts: Mapped[str] = mapped_column(Text)
    cursor: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_lifecycle_receipt_subject", "kind", "subject"),)


# --- end of data lifecycle -------------------------------------------------------------------------


def length_of(table: type[Base], column: str) -> int:
    """The length limit of a string column of ``table``."""
    length = getattr(table.__table__.columns[column].type, "length", None)
    if not isinstance(length, int):
        raise TypeError(f"{table.__tablename__}.{column} has no length limit")
    return length


def overlong(table: type[Base], values: object) -> list[tuple[str, int, int]]:
    """(column, length, limit) for each value of ``values`` (an object with attributes named after
    ``table``'s columns) longer than its column allows. The table definition is the one source of the
    limits: checked before the transaction, a too-long value is the sender's validation error,
    identical on every database, instead of a database failure (PostgreSQL) or a silent overflow
    (SQLite, which does not enforce lengths)."""
    found = []
    for name, limit in _limits(table):
        value = getattr(values, name, None)
        if isinstance(value, str) and len(value) > limit:
            found.append((name, len(value), limit))
    return found


@functools.cache
def _limits(table: type[Base]) -> tuple[tuple[str, int], ...]:
    """(column, length limit) of ``table``'s columns that have one: read once, not per registration."""
    limits = ((column.name, getattr(column.type, "length", None)) for column in table.__table__.columns)
    return tuple((name, limit) for name, limit in limits if isinstance(limit, int) and limit)



# --- Built-in statistics: persistence/statistics.py (de-identified) -------------------------------
# No personnummer, name or free text: certificates, messages and patients are known by keyed hashes
# (HMAC with the statistics key, see statistics/store.py), so the rows cannot be joined back to the
# certificate tables without that key.


class StatCertificate(Base):
    """One certificate's de-identified facts. ``periods``: its sick-leave periods as
    ``start/end/degree`` joined by ``;`` (None: not sick-leave data)."""

    __tablename__ = "stat_certificate"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    patient_key: Mapped[str] = mapped_column(String(32))
    care_giver_id: Mapped[str] = mapped_column(String(64))
    care_unit_id: Mapped[str] = mapped_column(String(64))
    county: Mapped[str] = mapped_column(String(2))  # län code, "" when the register does not know the unit
    type_code: Mapped[str] = mapped_column(String(32))
    signed_on: Mapped[dt.date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(1))  # M (man) or K (kvinna)
    age_group: Mapped[str] = mapped_column(String(8))
    chapter: Mapped[str] = mapped_column(String(8))  # ICD-10-SE chapter range, "" without a diagnosis
    section: Mapped[str] = mapped_column(String(8))
    periods: Mapped[str | None] = mapped_column(Text)
    completion_requested: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_stat_certificate_patient", "patient_key", "care_giver_id"),
        Index("ix_stat_certificate_care_giver", "care_giver_id"),
    )


class StatRevoked(Base):
    """Certificates revoked: a ``created`` event arriving after the ``revoked`` one adds nothing."""

    __tablename__ = "stat_revoked"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)


class StatMessage(Base):
    __tablename__ = "stat_message"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    certificate_key: Mapped[str] = mapped_column(String(32), index=True)
    care_giver_id: Mapped[str] = mapped_column(String(64), index=True)  # "" when the certificate is unknown
    county: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str] = mapped_column(String(8))
    sent_on: Mapped[dt.date] = mapped_column(Date)


class StatCase(Base):
    """One sick-leave case: a patient's certificates at one care giver joined across gaps of at most
    ``statistics.store.CASE_GAP`` days."""

    __tablename__ = "stat_case"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    patient_key: Mapped[str] = mapped_column(String(32))
    care_giver_id: Mapped[str] = mapped_column(String(64))
    care_unit_id: Mapped[str] = mapped_column(String(64))
    county: Mapped[str] = mapped_column(String(2))
    gender: Mapped[str] = mapped_column(String(1))
    age_group: Mapped[str] = mapped_column(String(8))
    chapter: Mapped[str] = mapped_column(String(8))
    start: Mapped[dt.date] = mapped_column(Date)
    end: Mapped[dt.date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)
    degree: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_stat_case_patient", "patient_key", "care_giver_id"),
        Index("ix_stat_case_care_giver", "care_giver_id"),
    )


class StatCount(Base):
    """The reports, counted ahead: how many cases, certificates or messages of ``report`` fall in
    ``category`` in ``month`` within ``scope`` ("vg:<care giver>" or "lan:<county>"; national is the
    sum of the counties' suppressed cells: ``StatShown``).
    Kept current by every change, so a report is one primary-key range read."""

    __tablename__ = "stat_count"

    report: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope: Mapped[str] = mapped_column(String(72), primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)

    # The months with data nationally (statistics.reports.available_months) range over every county
    # scope: the months first.
    __table_args__ = (
        Index("ix_stat_count_month", "report", "month", "scope", postgresql_include=["category", "count"]),
    )


class StatShown(Base):
    """The national and county figures as shown, kept ahead (``persistence/threshold.py``): the
    suppressed cells of each county's rows (scope "lan:<county>") and their national sums (scope
    "riket"), so a report reads a few hundred of them whatever the size of the store."""

    __tablename__ = "stat_shown"

    report: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope: Mapped[str] = mapped_column(String(72), primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


# --- end of built-in statistics ---------------------------------------------------------------------
