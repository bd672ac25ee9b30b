"""Repository of the built-in statistics (de-identified): certificates, messages and sick-leave
cases by keyed hashes, and the report counts kept ahead (``stat_count``).

The rules that fill these tables live in ``statistics/store.py``; here are only the statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, exists, func, insert, select, tuple_, update
from sqlalchemy.engine import Connection

from intygstjanst.persistence.models import StatCase, StatCertificate, StatCount, StatMessage, StatRevoked, StatShown
from intygstjanst.persistence.tables import (
    CERTIFICATES as CERTIFICATE_TABLE,
    MESSAGES as MESSAGE_TABLE,
    SICK_LEAVE as SICK_LEAVE_TABLE,
    STATES as STATE_TABLE,
    insert_or_skip,
    lock_until_commit,
)

CERTIFICATES = cast(Table, StatCertificate.__table__)
CASES = cast(Table, StatCase.__table__)
MESSAGES = cast(Table, StatMessage.__table__)
REVOKED = cast(Table, StatRevoked.__table__)
COUNTS = cast(Table, StatCount.__table__)
SHOWN = cast(Table, StatShown.__table__)
ALL_TABLES = (SHOWN, COUNTS, CASES, MESSAGES, REVOKED, CERTIFICATES)

# (report, scope, month, category); (report, scope, month): a row
CountKey = tuple[str, str, dt.date, str]
RowKey = tuple[str, str, dt.date]


@dataclass(frozen=True, slots=True)
class CertificateRow:
    key: str
    patient_key: str
    care_giver_id: str
    care_unit_id: str
    county: str
    type_code: str
    signed_on: dt.date
    gender: str
    age_group: str
    chapter: str
    section: str
    periods: str | None  # start/end/degree joined by ";", None: not sick-leave data
    completion_requested: bool = False


@dataclass(frozen=True, slots=True)
class CaseRow:
    patient_key: str
    care_giver_id: str
    care_unit_id: str
    county: str
    gender: str
    age_group: str
    chapter: str
    start: dt.date
    end: dt.date
    days: int
    degree: int


@dataclass(frozen=True, slots=True)
class MessageRow:
    key: str
    certificate_key: str
    care_giver_id: str
    county: str
    subject: str
    sent_on: dt.date


Record = CertificateRow | CaseRow | MessageRow


def _values(record: Record) -> dict[str, Any]:
    # Field by field: dataclasses.asdict deep-copies every value, which cost a rebuild a quarter of its time.
    return {name: getattr(record, name) for name in record.__slots__}


def copy_records(conn: Connection, table: Table, records: Sequence[Record]) -> None:
    """Insert many records at once: by COPY on PostgreSQL (a rebuild writes millions of rows; an
    INSERT per row costs several times as much), else by one executemany."""
    if not records:
        return
    names = records[0].__slots__
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), [_values(r) for r in records])
        return
    columns = ", ".join(f'"{name}"' for name in names)  # "end" is a reserved word
    raw: Any = conn.connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
        for record in records:
            copy.write_row(tuple(getattr(record, name) for name in names))


def copy_counts(conn: Connection, counts: Mapping[CountKey, int], shown: bool = False) -> None:
    """Insert counts into an empty ``stat_count`` (or ``stat_shown``; a rebuild), by COPY on PostgreSQL."""
    rows = [(r, s, m, c, n) for (r, s, m, c), n in counts.items() if n]
    if conn.dialect.name != "postgresql":
        add_counts(conn, counts, shown)
        return
    raw: Any = conn.connection.dbapi_connection
    table = (SHOWN if shown else COUNTS).name
    with raw.cursor() as cursor, cursor.copy(f'COPY {table} (report, scope, month, category, "count") FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)


def _certificate(row: Any) -> CertificateRow:
    return CertificateRow(**{name: getattr(row, name) for name in CertificateRow.__slots__})


def _case(row: Any) -> CaseRow:
    return CaseRow(**{name: getattr(row, name) for name in CaseRow.__slots__})


def _message(row: Any) -> MessageRow:
    return MessageRow(**{name: getattr(row, name) for name in MessageRow.__slots__})


_CERTIFICATE = select(CERTIFICATES).where(CERTIFICATES.c.key == bindparam("key"))
_OF_PATIENT = select(CERTIFICATES).where(
    CERTIFICATES.c.patient_key == bindparam("patient"), CERTIFICATES.c.care_giver_id == bindparam("care_giver")
)
_CASES_OF_PATIENT = select(CASES).where(
    CASES.c.patient_key == bindparam("patient"), CASES.c.care_giver_id == bindparam("care_giver")
)
_DELETE_CASES_OF_PATIENT = delete(CASES).where(
    CASES.c.patient_key == bindparam("patient"), CASES.c.care_giver_id == bindparam("care_giver")
)


def certificate(conn: Connection, key: str) -> CertificateRow | None:
    row = conn.execute(_CERTIFICATE, {"key": key}).first()
    return _certificate(row) if row is not None else None


def insert_certificates(conn: Connection, rows: Sequence[CertificateRow]) -> None:
    if rows:
        conn.execute(insert(CERTIFICATES), [_values(r) for r in rows])


def delete_certificate(conn: Connection, key: str) -> None:
    conn.execute(delete(CERTIFICATES).where(CERTIFICATES.c.key == key))


def set_completion_requested(conn: Connection, key: str) -> None:
    conn.execute(update(CERTIFICATES).where(CERTIFICATES.c.key == key).values(completion_requested=True))


def certificates_of(conn: Connection, patient_key: str, care_giver_id: str) -> list[CertificateRow]:
    return [_certificate(r) for r in conn.execute(_OF_PATIENT, {"patient": patient_key, "care_giver": care_giver_id})]


def is_revoked(conn: Connection, key: str) -> bool:
    return conn.execute(select(REVOKED.c.key).where(REVOKED.c.key == key)).first() is not None


def mark_revoked(conn: Connection, keys: Iterable[str]) -> None:
    rows = [{"key": k} for k in keys]
    if rows:
        conn.execute(insert(REVOKED), rows)


def cases_of(conn: Connection, patient_key: str, care_giver_id: str) -> list[CaseRow]:
    return [_case(r) for r in conn.execute(_CASES_OF_PATIENT, {"patient": patient_key, "care_giver": care_giver_id})]


def replace_cases(conn: Connection, patient_key: str, care_giver_id: str, cases: Sequence[CaseRow]) -> None:
    conn.execute(_DELETE_CASES_OF_PATIENT, {"patient": patient_key, "care_giver": care_giver_id})
    insert_cases(conn, cases)


def insert_cases(conn: Connection, cases: Sequence[CaseRow]) -> None:
    if cases:
        conn.execute(insert(CASES), [_values(c) for c in cases])


def message(conn: Connection, key: str) -> MessageRow | None:
    row = conn.execute(select(MESSAGES).where(MESSAGES.c.key == key)).first()
    return _message(row) if row is not None else None


def insert_messages(conn: Connection, rows: Sequence[MessageRow]) -> None:
    if rows:
        conn.execute(insert(MESSAGES), [_values(r) for r in rows])


def messages_of(conn: Connection, certificate_key: str) -> list[MessageRow]:
    return [_message(r) for r in conn.execute(select(MESSAGES).where(MESSAGES.c.certificate_key == certificate_key))]


def has_message(conn: Connection, certificate_key: str, subject: str) -> bool:
    statement = select(MESSAGES.c.key).where(MESSAGES.c.certificate_key == certificate_key, MESSAGES.c.subject == subject)
    return conn.execute(statement.limit(1)).first() is not None


def delete_message(conn: Connection, key: str) -> None:
    conn.execute(delete(MESSAGES).where(MESSAGES.c.key == key))


def of_care_giver(conn: Connection, care_giver_id: str) -> tuple[list[CertificateRow], list[CaseRow], list[MessageRow]]:
    """Everything stored about one care giver's certificates, cases and messages."""
    return (
        [_certificate(r) for r in conn.execute(select(CERTIFICATES).where(CERTIFICATES.c.care_giver_id == care_giver_id))],
        [_case(r) for r in conn.execute(select(CASES).where(CASES.c.care_giver_id == care_giver_id))],
        [_message(r) for r in conn.execute(select(MESSAGES).where(MESSAGES.c.care_giver_id == care_giver_id))],
    )


def delete_care_giver(conn: Connection, care_giver_id: str, scope: str) -> None:
    """Delete the care giver's rows and its own counts (``scope``); the caller has taken its
    contributions off the other scopes' counts."""
    for table in (CERTIFICATES, CASES, MESSAGES):
        conn.execute(delete(table).where(table.c.care_giver_id == care_giver_id))
    conn.execute(delete(COUNTS).where(COUNTS.c.scope == scope))


def add_counts(conn: Connection, deltas: Mapping[CountKey, int], shown: bool = False) -> None:
    """Add each delta to its count (in ``stat_count``, or ``stat_shown``), creating counts as
    needed. Sorted, so that concurrent writers take the row locks in one order and never deadlock
    each other."""
    rows = [
        {"report": r, "scope": s, "month": m, "category": c, "count": n}
        for (r, s, m, c), n in sorted(deltas.items())
        if n
    ]
    if not rows:
        return
    table = SHOWN if shown else COUNTS
    statement = insert_or_skip(conn, table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.report, table.c.scope, table.c.month, table.c.category],
        set_={"count": table.c.count + statement.excluded["count"]},
    )
    conn.execute(statement, rows)


def _in_range(table: Table) -> Any:
    return (
        select(table.c.month, table.c.category, table.c.count)
        .where(
            table.c.report == bindparam("report"),
            table.c.scope == bindparam("scope"),
            and_(table.c.month >= bindparam("first"), table.c.month <= bindparam("last")),
        )
        .order_by(table.c.month, table.c.category)
    )


_COUNTS = _in_range(COUNTS)
_SHOWN = _in_range(SHOWN)


def counts(conn: Connection, report: str, scope: str, first: dt.date, last: dt.date, shown: bool = False) -> list[tuple[dt.date, str, int]]:
    """The counts of ``report`` in ``scope`` for the months ``first``..``last`` (first days): exact
    (``stat_count``) or, with ``shown``, as shown (``stat_shown``: a county or the nation)."""
    rows = conn.execute(_SHOWN if shown else _COUNTS, {"report": report, "scope": scope, "first": first, "last": last})
    return [(month, category, int(count)) for month, category, count in rows if count]


def rows_of(conn: Connection, rows: Iterable[RowKey], shown: bool = False) -> dict[RowKey, dict[str, int]]:
    """The cells of ``rows`` (report, scope, month), exact or as shown; zeros left out."""
    table = SHOWN if shown else COUNTS
    keys = sorted(rows)
    out: dict[RowKey, dict[str, int]] = {}
    for first in range(0, len(keys), 200):
        wanted = tuple_(table.c.report, table.c.scope, table.c.month).in_(keys[first:first + 200])
        for report, scope, month, category, count in conn.execute(select(table).where(wanted)):
            if count:
                out.setdefault((report, scope, month), {})[category] = int(count)
    return out


def lock_rows(conn: Connection, rows: Iterable[RowKey]) -> None:
    """Hold ``rows`` (report, scope, month) until the transaction ends, so that writers computing
    what a row shows do it one after the other (``lock_until_commit``)."""
    lock_until_commit(conn, rows)


def months(conn: Connection, prefix: str, reports: Sequence[str]) -> tuple[dt.date, dt.date] | None:
    """The first and the last month with a count of one of ``reports`` in a scope starting with
    ``prefix`` (a range of the primary key per report, not a scan of every count)."""
    statement = select(func.min(COUNTS.c.month), func.max(COUNTS.c.month)).where(
        COUNTS.c.report.in_(reports), COUNTS.c.scope.startswith(prefix), COUNTS.c.count > 0
    )
    row = conn.execute(statement).first()
    return (row[0], row[1]) if row is not None and row[0] is not None else None


def empty(conn: Connection) -> None:
    """Delete every statistics row (before a rebuild)."""
    for table in ALL_TABLES:
        conn.execute(delete(table))


# --- the sources of a rebuild: the stored certificates and messages ---------------------------------


def source_certificates(conn: Connection) -> Iterator[Any]:
    """Every stored certificate that is not a test certificate nor erased by its care giver, ordered
    by care giver and patient (a patient's certificates at one care giver come together), with its
    sick-leave row's main diagnosis and periods (None when it is not sick-leave data), whether it
    is revoked and whether a completion request (KOMPLT) came for it. Streamed."""
    c, s = CERTIFICATE_TABLE.c, SICK_LEAVE_TABLE.c
    revoked = exists().where(STATE_TABLE.c.certificate_id == c.id, STATE_TABLE.c.state == "CANCELLED")
    completion = exists().where(
        MESSAGE_TABLE.c.certificate_id == c.id, MESSAGE_TABLE.c.subject == "KOMPLT", MESSAGE_TABLE.c.direction == "TO_CARE"
    )
    statement = (
        select(
            c.id, c.patient_id, c.care_giver_id, c.care_unit_id, c.type_code, c.signed_at,
            s.diagnosis_code, s.periods, revoked.label("revoked"), completion.label("completion"),
        )
        .select_from(CERTIFICATE_TABLE.outerjoin(SICK_LEAVE_TABLE, s.certificate_id == c.id))
        .where(c.is_test.is_(False), c.deleted_by_care_giver.is_(False), c.signed_at.is_not(None))
        .order_by(c.care_giver_id, c.patient_id)
    )
    yield from conn.execution_options(stream_results=True, yield_per=10_000).execute(statement)


def source_messages(conn: Connection) -> Iterator[Any]:
    """Every message to care with its certificate's care giver and unit (None for a certificate
    that is a test certificate, erased or not stored). Streamed."""
    m, c = MESSAGE_TABLE.c, CERTIFICATE_TABLE.c
    counted = and_(c.id == m.certificate_id, c.is_test.is_(False), c.deleted_by_care_giver.is_(False))
    statement = (
        select(m.id, m.certificate_id, m.subject, m.sent_at, c.care_giver_id, c.care_unit_id)
        .select_from(MESSAGE_TABLE.outerjoin(CERTIFICATE_TABLE, counted))
        .where(m.direction == "TO_CARE")
    )
    yield from conn.execution_options(stream_results=True, yield_per=10_000).execute(statement)
