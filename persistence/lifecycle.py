"""Repository of whole bodies of data: a care giver's certificates counted, read in batches and
removed with everything derived from them, and the receipts that removals leave.

Reads are keyset-paginated by certificate id (``id > after ORDER BY id LIMIT n``): each batch is a
short statement on the care-giver index, so memory and locks stay the size of one batch however
large the care giver is, and a crashed run resumes after the last id it finished.

Removal takes every row that names a certificate: its states, the relations from and to it, its
messages, approved receivers, signature record, sick-leave row and outbox items (whatever their
status: a delivered item still holds the payload). The statistics rows live in a layer above this
one; ``lifecycle/erase.py`` removes them in the same transactions.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Date, DateTime, String, Table, and_, any_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from intygstjanst.persistence import sickleave
from intygstjanst.persistence.models import ApprovedReceiver, LifecycleReceipt
from intygstjanst.persistence.tables import (
    CERTIFICATES as _CERTIFICATES,
    MESSAGES as _MESSAGES,
    OUTBOX as _OUTBOX,
    RELATIONS as _RELATIONS,
    SICK_LEAVE as _SICK_LEAVE,
    SIGNATURES as _SIGNATURES,
    STATES as _STATES,
)

_RECEIVERS = cast(Table, ApprovedReceiver.__table__)
_RECEIPTS = cast(Table, LifecycleReceipt.__table__)

_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_ID_ARRAY: BindParameter[Any] = bindparam("ids", type_=postgresql.ARRAY(String))


def _among(conn: Connection, column: Any) -> ColumnElement[bool]:
    """``column`` is one of the ids of the ``ids`` parameter. On PostgreSQL one array parameter
    (``= ANY``): the statement's text is the same whatever the number of ids, so neither SQLAlchemy
    nor the driver renders and parses a text of hundreds of placeholders again for every batch (that
    was most of an erasure's time in the client). SQLite has no arrays: a list of placeholders."""
    among: ColumnElement[bool] = column == any_(_ID_ARRAY) if conn.dialect.name == "postgresql" else column.in_(_IDS)
    return among


# --- inventory -------------------------------------------------------------------------------------


def inventory(conn: Connection, care_giver: str) -> dict[str, Any]:
    """What the service holds of ``care_giver``: counts per type, state, unit, the date range, and
    the messages, receivers, sick-leave rows and outbox items of its certificates."""
    c = _CERTIFICATES.c
    own = c.care_giver_id == care_giver
    ids = select(c.id).where(own).scalar_subquery()

    def grouped(column: Any, table: Table, where: Any) -> dict[str, int]:
        rows = conn.execute(select(column, func.count()).select_from(table).where(where).group_by(column).order_by(column))
        return {str(key): int(count) for key, count in rows}

    total, tests, first_signed, last_signed, first_received, last_received = conn.execute(
        select(
            func.count(),
            func.count().filter(c.is_test.is_(True)),
            func.min(c.signed_at),
            func.max(c.signed_at),
            func.min(c.received_at),
            func.max(c.received_at),
        ).where(own)
    ).one()

    def count(table: Table, where: Any) -> int:
        return int(conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())

    return {
        "care_giver": care_giver,
        "certificates": int(total),
        "test_certificates": int(tests),
        "by_type": grouped(c.type_code, _CERTIFICATES, own),
        "by_unit": grouped(c.care_unit_id, _CERTIFICATES, own),
        "by_state": grouped(_STATES.c.state, _STATES, _STATES.c.certificate_id.in_(ids)),
        "signed": {"first": _iso(first_signed), "last": _iso(last_signed)},
        "received": {"first": _iso(first_received), "last": _iso(last_received)},
        "relations": count(_RELATIONS, or_(_RELATIONS.c.from_id.in_(ids), _RELATIONS.c.to_id.in_(ids))),
        "messages": count(_MESSAGES, _MESSAGES.c.certificate_id.in_(ids)),
        "approved_receivers": count(_RECEIVERS, _RECEIVERS.c.certificate_id.in_(ids)),
        "sick_leave_rows": count(_SICK_LEAVE, _SICK_LEAVE.c.certificate_id.in_(ids)),
        "outbox": grouped(_OUTBOX.c.status, _OUTBOX, _OUTBOX.c.reference.in_(ids)),
    }


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- reading in batches ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredMessage:
    id: str
    fields: dict[str, Any]  # every column but the request
    original: bytes


@dataclass(frozen=True)
class CertificateRecord:
    """One certificate with everything stored about it, as an export holds it."""

    id: str
    fields: dict[str, Any]  # every column but the two documents
    original: bytes
    canonical: bytes | None
    states: list[dict[str, Any]] = field(default_factory=list)
    relations: list[dict[str, Any]] = field(default_factory=list)
    messages: list[StoredMessage] = field(default_factory=list)
    approved_receivers: list[dict[str, Any]] = field(default_factory=list)
    signature: dict[str, Any] | None = None


_DOCUMENTS = ("original", "canonical")
_CERTIFICATE_FIELDS = [column for column in _CERTIFICATES.c if column.name not in _DOCUMENTS]


@dataclass(frozen=True)
class _Fields:
    """Rows of some columns as dicts of what JSON holds: dates and times in ISO 8601. Rows are
    zipped with the names and only the date columns converted: attribute access and a type test
    per value cost more than the rest of describing a certificate."""

    names: list[str]
    dated: list[str]

    @classmethod
    def of(cls, columns: Sequence[Any]) -> _Fields:
        return cls([column.name for column in columns], [column.name for column in columns if isinstance(column.type, (Date, DateTime))])

    def __call__(self, values: Sequence[Any]) -> dict[str, Any]:
        fields = dict(zip(self.names, values))
        for name in self.dated:
            value = fields[name]
            if value is not None:
                fields[name] = value.isoformat()
        return fields


_CERTIFICATE_FIELD_VALUES = _Fields.of(_CERTIFICATE_FIELDS)
_MESSAGE_FIELD_VALUES = _Fields.of([column for column in _MESSAGES.c if column.name != "original"])
_RECEIVER_FIELD_VALUES = _Fields.of([column for column in _RECEIVERS.c if column.name != "certificate_id"])
_SIGNATURE_FIELD_VALUES = _Fields.of([column for column in _SIGNATURES.c if column.name != "certificate_id"])


def test_certificate_ids_of(conn: Connection, care_giver: str, limit: int) -> list[str]:
    """Up to ``limit`` ids of the care giver's test certificates."""
    c = _CERTIFICATES.c
    statement = select(c.id).where(c.care_giver_id == care_giver, c.is_test.is_(True)).order_by(c.id).limit(limit)
    return list(conn.execute(statement).scalars())


def records_after(
    conn: Connection, care_giver: str, after: str, limit: int, *, documents: bool = True, lock: bool = False
) -> list[CertificateRecord]:
    """The care giver's next ``limit`` real certificates after id ``after`` (a keyset page), with
    their states, relations, messages, approved receivers and signature record: one statement per
    table, each selecting by the page's id range (no list of ids to send and parse).

    ``documents=False`` leaves the stored requests out (``original`` is ``b""``, ``canonical`` and
    each message's ``original`` likewise empty): what can change about a stored certificate is in
    the rest, and the requests are most of the bytes to read.

    ``lock=True`` (a removal about to delete the page) locks the page's certificate rows until the
    transaction ends, in id order so that two lockers cannot deadlock, before anything else is read:
    see :func:`intygstjanst.persistence.certificates.hold` for what that locks out."""
    c = _CERTIFICATES.c
    page = (c.care_giver_id == care_giver, c.is_test.is_(False), c.id > after)
    kept = (c.original, c.canonical) if documents else ()
    statement = select(*_CERTIFICATE_FIELDS, *kept).where(*page).order_by(c.id).limit(limit)
    # PostgreSQL: FOR UPDATE (READ COMMITTED gives every statement after it a snapshot taken once
    # the lock is held, so the rest of the page is read as the writers it waited for left it).
    # SQLite renders no FOR UPDATE: its write transaction (BEGIN IMMEDIATE) excludes every writer.
    rows = conn.execute(statement.with_for_update() if lock else statement).all()
    if not rows:
        return []
    width = len(_CERTIFICATE_FIELDS)
    found = {
        row.id: CertificateRecord(
            row.id, _CERTIFICATE_FIELD_VALUES(row[:width]), row[width] if documents else b"", row[width + 1] if documents else None
        )
        for row in rows
    }
    ids = select(c.id).where(*page, c.id <= rows[-1].id)
    s = _STATES.c
    for certificate, state, target, at in conn.execute(
        select(s.certificate_id, s.state, s.target, s.at).where(s.certificate_id.in_(ids)).order_by(s.certificate_id, s.at, s.id)
    ):
        found[certificate].states.append({"state": state, "target": target, "at": _plain(at)})
    r = _RELATIONS.c
    for row in conn.execute(select(_RELATIONS).where(or_(r.from_id.in_(ids), r.to_id.in_(ids))).order_by(r.id)):
        entry = {"from": row.from_id, "to": row.to_id, "kind": row.kind, "created_at": _plain(row.created_at), "note": row.note}
        for end in {row.from_id, row.to_id}:
            if end in found:
                found[end].relations.append(entry)
    m = _MESSAGES.c
    message_fields = [m[name] for name in _MESSAGE_FIELD_VALUES.names]
    for row in conn.execute(
        select(*message_fields, *((m.original,) if documents else ())).where(m.certificate_id.in_(ids)).order_by(m.certificate_id, m.id)
    ):
        fields = _MESSAGE_FIELD_VALUES(row[: len(message_fields)])
        found[fields["certificate_id"]].messages.append(StoredMessage(fields["id"], fields, row[-1] if documents else b""))
    a = _RECEIVERS.c
    for row in conn.execute(
        select(a.certificate_id, *(a[name] for name in _RECEIVER_FIELD_VALUES.names)).where(a.certificate_id.in_(ids)).order_by(a.certificate_id, a.receiver_id)
    ):
        found[row[0]].approved_receivers.append(_RECEIVER_FIELD_VALUES(row[1:]))
    g = _SIGNATURES.c
    for row in conn.execute(select(g.certificate_id, *(g[name] for name in _SIGNATURE_FIELD_VALUES.names)).where(g.certificate_id.in_(ids))):
        found[row[0]] = _with_signature(found[row[0]], _SIGNATURE_FIELD_VALUES(row[1:]))
    return list(found.values())


def _with_signature(record: CertificateRecord, signature: dict[str, Any]) -> CertificateRecord:
    return CertificateRecord(
        record.id, record.fields, record.original, record.canonical, record.states, record.relations,
        record.messages, record.approved_receivers, signature,
    )  # fmt: skip


def _plain(value: Any) -> Any:
    """A column value as JSON holds it: dates and times in ISO 8601."""
    return value.isoformat() if isinstance(value, dt.date) else value


# --- removal ---------------------------------------------------------------------------------------


@dataclass
class Removed:
    """Rows removed, per kind; added up over batches."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, count: int) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + count

    def merge(self, other: Mapping[str, int]) -> None:
        for kind, count in other.items():
            self.add(kind, count)


def remove(conn: Connection, ids: Sequence[str], *, whole_care_giver: str | None = None) -> dict[str, int]:
    """Remove the certificates ``ids`` and every row naming them, in the caller's transaction; the
    counts per kind. ``whole_care_giver``: ``ids`` are that care giver's, and every certificate of
    it goes (in batches), so its own sick-leave cases need no recomputing, only those of other care
    givers' certificates that the removed ones had replaced."""
    if not ids:
        return {}
    keys = {"ids": list(ids)}
    dependents = sickleave.dependents(conn, ids, skip_care_giver=whole_care_giver)
    if whole_care_giver is not None:
        sickleave.forget_cases(conn, ids, whole_care_giver)

    def among(column: Any) -> ColumnElement[bool]:
        return _among(conn, column)

    counts: dict[str, int] = {}
    counts["outbox_items"] = conn.execute(delete(_OUTBOX).where(among(_OUTBOX.c.reference)), keys).rowcount
    counts["approved_receivers"] = conn.execute(delete(_RECEIVERS).where(among(_RECEIVERS.c.certificate_id)), keys).rowcount
    r = _RELATIONS.c
    touching = or_(among(r.from_id), among(r.to_id))
    if whole_care_giver is not None:
        # A relation to a certificate of the care giver that a later batch removes stays until then:
        # that certificate is still described with it, as the export describes it.
        c = _CERTIFICATES.c

        def later(end: Any) -> Any:
            return select(c.id).where(c.id == end, c.care_giver_id == whole_care_giver, ~among(c.id)).exists()

        touching = or_(and_(among(r.from_id), ~later(r.to_id)), and_(among(r.to_id), ~later(r.from_id)))
    counts["relations"] = conn.execute(delete(_RELATIONS).where(touching), keys).rowcount
    counts["messages"] = conn.execute(delete(_MESSAGES).where(among(_MESSAGES.c.certificate_id)), keys).rowcount
    counts["sick_leave_rows"] = conn.execute(delete(_SICK_LEAVE).where(among(_SICK_LEAVE.c.certificate_id)), keys).rowcount
    counts["signatures"] = conn.execute(delete(_SIGNATURES).where(among(_SIGNATURES.c.certificate_id)), keys).rowcount
    counts["states"] = conn.execute(delete(_STATES).where(among(_STATES.c.certificate_id)), keys).rowcount
    counts["certificates"] = conn.execute(delete(_CERTIFICATES).where(among(_CERTIFICATES.c.id)), keys).rowcount
    sickleave.refresh(conn, dependents)
    return counts


def test_certificate_ids(conn: Connection, before: dt.datetime, limit: int) -> list[str]:
    """Up to ``limit`` test or validation certificates received before ``before``."""
    c = _CERTIFICATES.c
    statement = select(c.id).where(c.is_test.is_(True), c.received_at < before).order_by(c.id).limit(limit)
    return list(conn.execute(statement).scalars())


def exists(conn: Connection, certificate_id: str) -> bool:
    return conn.execute(select(_CERTIFICATES.c.id).where(_CERTIFICATES.c.id == certificate_id)).first() is not None


# --- receipts --------------------------------------------------------------------------------------

ERASURE = "care-giver-erasure"
DESTRUCTION = "certificate-destruction"
PURGE = "test-certificate-purge"


@dataclass(frozen=True)
class Receipt:
    """What a removal leaves behind: never a certificate id, patient or text, only who, what kind,
    the subject (a care giver id, a decision reference, a date), counts and the export's hash."""

    id: int
    kind: str
    subject: str
    operator: str
    export_hash: str | None
    started_at: dt.datetime
    completed_at: dt.datetime | None
    counts: dict[str, int]
    # The last certificate id removed while the erasure runs (a resume starts after it); cleared
    # when it completes, so the finished receipt names no certificate.
    cursor: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "receipt": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "operator": self.operator,
            "export_hash": self.export_hash,
            "started_at": _iso(self.started_at),
            "completed_at": _iso(self.completed_at),
            "counts": self.counts,
        }


def _receipt(row: Any) -> Receipt:
    return Receipt(
        row.id, row.kind, row.subject, row.operator, row.export_hash, row.started_at, row.completed_at,
        json.loads(row.counts), row.cursor,
    )  # fmt: skip


def open_receipt(
    conn: Connection, kind: str, subject: str, operator: str, now: dt.datetime, export_hash: str | None = None
) -> Receipt:
    row = conn.execute(
        insert(_RECEIPTS)
        .values(kind=kind, subject=subject, operator=operator, export_hash=export_hash, started_at=now, counts="{}")
        .returning(*_RECEIPTS.c)
    ).one()
    return _receipt(row)


def find_receipt(conn: Connection, kind: str, subject: str, export_hash: str | None) -> Receipt | None:
    """The newest receipt of this kind, subject and export hash (finished or still running)."""
    t = _RECEIPTS.c
    row = conn.execute(
        select(_RECEIPTS)
        .where(t.kind == kind, t.subject == subject, t.export_hash == export_hash)
        .order_by(t.id.desc())
        .limit(1)
    ).first()
    return _receipt(row) if row is not None else None


def receipts(conn: Connection, kind: str | None = None) -> list[Receipt]:
    t = _RECEIPTS.c
    statement = select(_RECEIPTS).order_by(t.id)
    if kind is not None:
        statement = statement.where(t.kind == kind)
    return [_receipt(row) for row in conn.execute(statement)]


def advance_receipt(conn: Connection, receipt: Receipt, counts: Mapping[str, int], cursor: str | None) -> Receipt:
    """Add one batch's counts and move the cursor, in the batch's transaction."""
    total = dict(receipt.counts)
    for kind, count in counts.items():
        total[kind] = total.get(kind, 0) + count
    conn.execute(update(_RECEIPTS).where(_RECEIPTS.c.id == receipt.id).values(counts=json.dumps(total, sort_keys=True), cursor=cursor))
    return Receipt(
        receipt.id, receipt.kind, receipt.subject, receipt.operator, receipt.export_hash, receipt.started_at,
        receipt.completed_at, total, cursor,
    )  # fmt: skip


def complete_receipt(conn: Connection, receipt: Receipt, now: dt.datetime) -> Receipt:
    conn.execute(update(_RECEIPTS).where(_RECEIPTS.c.id == receipt.id).values(completed_at=now, cursor=None))
    return Receipt(
        receipt.id, receipt.kind, receipt.subject, receipt.operator, receipt.export_hash, receipt.started_at,
        now, receipt.counts, None,
    )  # fmt: skip
