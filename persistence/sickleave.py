"""Repository of sick-leave data: one row per LISJP / FK7263 sick-leave certificate.

Rows are written in the transaction that stores the certificate (``store``) and flagged in the one
that revokes it (``mark_revoked``), so the lists never disagree with the certificates. Two flags
keep rows out of every list without deleting them:

* ``deleted``: the certificate is revoked.
* ``superseded``: a later certificate replaces (ERSATT) or completes (KOMPLT) it and that later
  certificate is not revoked. It is recomputed from the relation and state tables whenever one of
  its inputs changes (a child stored, a child revoked, the row itself stored after its child), so
  revoking the replacement brings the original back.

Test certificates keep ``is_test`` and are filtered out on reading, like the other two flags.

Each listed row also carries the bounds of its **case** (``case_start`` / ``case_end``): the chain
of the patient's listed certificates at the same care giver, merged with ``CASE_GAP`` days. Every
write that can change a chain (a row stored, a row superseded or brought back, a row revoked)
recomputes the chains of the patients and care givers it touched, in the same transaction and in
one statement per patient (``_refresh_cases``; concurrent writers of one patient's case at a care
giver wait for each other on PostgreSQL, ``_lock_cases``), so a list reads the rows of the cases current on a
date with one index range and never the patients' whole history. ``rebuild_cases`` recomputes
every row and ``case_differences`` lists the rows whose stored bounds differ from recomputed ones
(``intygstjanst sickleave rebuild`` / ``check``). A list with a gap up to ``CASE_GAP`` days needs no
other row: a chain merged with a smaller gap, or from fewer units of the care giver, lies inside
one of these cases (``current_at_units``).

Lists (codes, periods) are stored as text joined by U+001F. XML 1.0 cannot carry that character,
so no value read from a certificate can contain it; and reading a list back is a ``split``, which
for the thousands of rows of a large unit costs a fraction of decoding JSON.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cache, partial
from hashlib import sha256
from operator import attrgetter
from typing import Any, NamedTuple, Protocol, TypeGuard, TypeVar, cast

from sqlalchemy import ColumnElement, Table, and_, any_, bindparam, case, delete, exists, func, literal_column, not_, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY, insert as postgresql_insert
from sqlalchemy.engine import Connection

from intygstjanst.persistence.case_cache import CaseCache
from intygstjanst.persistence.models import SickLeaveCase
from intygstjanst.persistence.tables import RELATIONS as _RELATIONS, SICK_LEAVE as _TABLE, STATES as _STATES, insert_or_skip, lock_until_commit, locking
from intygstjanst.persistence.prepared import pipelined

# The relation kinds after which the older certificate no longer speaks for itself.
SUPERSEDING_RELATIONS = ("ERSATT", "KOMPLT")
SEPARATOR = "\x1f"
# Certificates at most this many whole days apart belong to one stored case. Lists merging with a
# gap up to this read only the rows of current cases; a larger gap reads the whole history.
CASE_GAP = 90


@dataclass(frozen=True, slots=True)
class NewSickLeave:
    certificate_id: str
    type_code: str
    patient_id: str
    patient_name: str
    care_unit_id: str
    care_unit_name: str
    care_giver_id: str
    care_giver_name: str
    doctor_id: str
    doctor_name: str
    doctor_titles: tuple[str, ...]
    signed_at: dt.datetime
    diagnosis_code: str
    diagnosis_code_system: str
    secondary_diagnoses: tuple[str, ...]
    employment: tuple[str, ...]
    periods: tuple[tuple[dt.date, dt.date, int], ...]  # (start, end inclusive, degree in percent)
    is_test: bool
    fragment: bytes | None = None  # the row as the certificate lists answer it, UTF-8 (see ``as_stored``)

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError(f"sick-leave certificate {self.certificate_id}: has no period")
        for name in ("doctor_titles", "secondary_diagnoses", "employment"):
            if any(SEPARATOR in code for code in getattr(self, name)):
                raise ValueError(f"sick-leave certificate {self.certificate_id}: {name} holds U+001F, which XML cannot carry")


_C = _TABLE.c



# Written into the statements (constants of this module): an IN over them needs no expansion per
# execution, and a statement holding it can be sent past SQLAlchemy (``prepared.pipelined``).
_SUPERSEDING_KINDS: list[ColumnElement[Any]] = [literal_column(f"'{kind}'") for kind in SUPERSEDING_RELATIONS]


def _has_live_successor(certificate_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether the row of ``certificate_id`` is superseded: some ERSATT / KOMPLT relation points at
    it from a certificate that has no CANCELLED state."""
    return exists().where(
        _RELATIONS.c.to_id == certificate_id,
        _RELATIONS.c.kind.in_(_SUPERSEDING_KINDS),
        not_(exists().where(_STATES.c.certificate_id == _RELATIONS.c.from_id, _STATES.c.state == "CANCELLED")),
    )


# A replacement may have arrived before the certificate it replaces: the insert reads the new row's
# flag itself (one statement fewer per registration than refreshing it after).
_INSERT = _TABLE.insert().values(superseded=_has_live_successor(bindparam("new_id")))
# Correlated on the updated row, so one statement refreshes any set of rows.
_REFRESH_SUPERSEDED = (
    update(_TABLE)
    .where(_C.certificate_id.in_(bindparam("ids", expanding=True)))
    .values(superseded=_has_live_successor(_C.certificate_id))
)
_MARK_DELETED = update(_TABLE).where(_C.certificate_id == bindparam("id")).values(deleted=True)
_SUPERSEDED_BY = select(_RELATIONS.c.to_id).where(
    _RELATIONS.c.from_id == bindparam("id"), _RELATIONS.c.kind.in_(SUPERSEDING_RELATIONS)
)


def store(
    conn: Connection, new: NewSickLeave | None, supersedes: Collection[str] = (), read: Sequence[Sequence[Any]] = ()
) -> None:
    """Record a just-stored certificate: its own row (``new``; None when it is not a sick-leave
    certificate) and the rows it replaces or completes (``supersedes``: the ids its ERSATT / KOMPLT
    relations point to, whatever its own type), and the cases of the patients they belong to. Its
    relations must already be stored. ``read``: the rows of the statements of ``first_reads``, when
    the caller sent them."""
    ids = set(supersedes)
    if _stored_alone(new, ids):
        _store_listed(conn, new, read)
        return
    touched = _owners(conn, ids)
    if new is not None:
        touched.add((new.patient_id, new.care_giver_id))
    _lock_cases(conn, touched)
    if new is not None:
        _insert(conn, new)
    if ids:
        conn.execute(_REFRESH_SUPERSEDED, {"ids": sorted(ids)})
    # Only what it replaces or completes can leave the lists: the new row itself, listed or not,
    # was written without bounds.
    _refresh_cases(conn, touched, leaving=bool(supersedes))


def _insert(conn: Connection, new: NewSickLeave) -> None:
    """The row of ``new`` without case bounds (the caller recomputes the cases)."""
    row = _row(new)
    del row["superseded"]  # read by the insert
    conn.execute(_INSERT, {**row, "new_id": new.certificate_id})


_INSERT_ROW = _TABLE.insert()
_SET_BOUNDS = (
    update(_TABLE)
    .where(_C.certificate_id.in_(bindparam("ids", expanding=True)))
    .values(case_start=bindparam("new_case_start"), case_end=bindparam("new_case_end"))
)
# The same with one array parameter, as ``prepared.pipelined`` sends it on PostgreSQL.
_SET_BOUNDS_PG = (
    update(_TABLE)
    .where(_C.certificate_id == any_(bindparam("ids", type_=ARRAY(_C.certificate_id.type))))
    .values(case_start=bindparam("new_case_start"), case_end=bindparam("new_case_end"))
)


def first_reads(conn: Connection, new: NewSickLeave | None, supersedes: Collection[str] = ()) -> list[tuple[Any, Any]]:
    """The statements ``store`` would send first, for a caller to send with its own (their rows
    then go to ``store`` as ``read``): on PostgreSQL, for the common registration, the lock of the
    patient's case and the read of its rows (``_store_listed``), which then cost no round trip of
    their own. None otherwise. They depend on nothing the certificate's own rows write; between
    them and ``store`` the caller must lock no row another transaction may hold (such as the
    certificates its relations point to: ``certificates.insert_certificate`` sends them after
    those): an erasure locks its rows before the cases, so the other order could deadlock."""
    if conn.dialect.name != "postgresql" or not _stored_alone(new, supersedes):
        return []
    return _listed_reads(conn, new)


def _stored_alone(new: NewSickLeave | None, supersedes: Collection[str]) -> TypeGuard[NewSickLeave]:
    """Whether ``store`` keeps ``new``'s case by itself (``_store_listed``)."""
    return new is not None and not supersedes and not new.is_test


def _listed_reads(conn: Connection, new: NewSickLeave) -> list[tuple[Any, Any]]:
    """The lock of ``new``'s case (PostgreSQL) and one read of its rows (``_MEMBERS_OF_NEW``)."""
    reads: list[tuple[Any, Any]] = [
        (_MEMBERS_OF_NEW, {"patient": new.patient_id, "care_giver": new.care_giver_id, "new_id": new.certificate_id})
    ]
    if conn.dialect.name == "postgresql":
        # Its own statement before the read: in read committed each statement's snapshot is taken
        # when it starts, so the read sees what a writer it waited for committed (``_lock_cases``).
        reads.insert(0, locking([("sick-leave case", new.patient_id, new.care_giver_id)]))
    return reads


def _store_listed(conn: Connection, new: NewSickLeave, read: Sequence[Sequence[Any]] = ()) -> None:
    """The common registration (a certificate that is not a test and replaces nothing): its case is
    computed here from the patient's listed rows at the care giver, read first (or sent with the
    certificate's insert: ``read``, from ``first_reads``), so that only what changes is written:
    the row with its bounds, the bounds of the rows its case joins, the stored case. Nothing else
    changes unless a replacement stored before it supersedes it, and then nothing at all (the row is
    written without bounds). At most two round trips and three statements on PostgreSQL, past
    SQLAlchemy (``prepared.pipelined``): the lock and one read sent together (the new row's
    superseded flag comes with its case's rows, ``_MEMBERS_OF_NEW``), then the writes as one
    statement (``_write_case_pg``): every statement costs the client and the server more than the
    little work in it."""
    owner = {"patient": new.patient_id, "care_giver": new.care_giver_id}
    postgresql = conn.dialect.name == "postgresql"
    rows = (read or pipelined(conn, _listed_reads(conn, new)))[-1]
    row = _row(new)
    if rows[0][0]:
        row["superseded"] = True
        conn.execute(_INSERT_ROW, row)
        return
    members = [_CaseMember._make(r[1:]) for r in rows if r[1] is not None]
    first, last = row["first_day"], row["last_day"]
    mine = _CaseMember(new.certificate_id, new.care_unit_id, first, last, new.signed_at, first, last, new.fragment)
    chain = _chain_of(mine, members)
    start, end = min(m.first_day for m in chain), max(m.last_day for m in chain)
    row.update(case_start=start, case_end=end)
    others = [m for m in chain if m is not mine]
    changed = [m.certificate_id for m in others if (_date(m.case_start), _date(m.case_end)) != (start, end)]
    bounds = {"ids": changed, "new_case_start": start, "new_case_end": end}
    # Cases it joins, or a case it starts earlier: their stored rows lie within the new span.
    stale = {**owner, "after": start, "until": end} if any(_date(m.case_start) != start for m in others) else None
    chain = [m._replace(case_start=start, case_end=end) for m in chain]
    cases = case_rows(new.patient_id, new.care_giver_id, chain)
    if postgresql:
        params = {f"new_{name}": value for name, value in row.items()}
        for number, case_row in enumerate(cases):
            params.update({f"case{number}_{name}": value for name, value in case_row.items()})
        params.update(**(bounds if changed else {}), **(stale or {}))
        pipelined(conn, [(_write_case_pg(bool(changed), stale is not None, len(cases)), params)])
        return
    writes: list[tuple[Any, Any]] = [(_INSERT_ROW, row)]
    if changed:
        writes.append((_SET_BOUNDS, bounds))
    if stale is not None:
        writes.append((_DELETE_CASES_WITHIN, stale))
    writes.append((_upsert_cases(conn), cases))
    pipelined(conn, writes)


def _chain_of(mine: _CaseMember, members: Sequence[_CaseMember]) -> list[_CaseMember]:
    """The chain of ``mine`` among ``members`` and it: the sweep of ``_case_statements`` (rows in
    first-day and id order; a row more than ``CASE_GAP`` whole days after the last day of all
    before it opens a new chain)."""
    rows = sorted((*members, mine), key=_FIRST_DAY_AND_ID)
    reach: dt.date | None = None
    chain: list[_CaseMember] = []
    found = False
    for member in rows:
        if reach is not None and (member.first_day - reach).days > CASE_GAP + 1:
            if found:
                break
            chain = []
        chain.append(member)
        found = found or member is mine
        if reach is None or member.last_day > reach:
            reach = member.last_day
    return chain


_FIRST_DAY_AND_ID = attrgetter("first_day", "certificate_id")


def mark_revoked(conn: Connection, certificate_id: str) -> None:
    """Take a revoked certificate out of the lists, and bring back what it had replaced or completed
    (unless another live certificate still does). Call after its CANCELLED state is stored."""
    parents = set(conn.execute(_SUPERSEDED_BY, {"id": certificate_id}).scalars())
    owners = _owners(conn, {certificate_id, *parents})
    _lock_cases(conn, owners)
    conn.execute(_MARK_DELETED, {"id": certificate_id})
    if parents:
        conn.execute(_REFRESH_SUPERSEDED, {"ids": sorted(parents)})
    _refresh_cases(conn, owners, leaving=True)


def _row(new: NewSickLeave) -> dict[str, Any]:
    # Field by field: dataclasses.asdict would deep-copy the period tuples on every registration.
    row = {f.name: getattr(new, f.name) for f in fields(new)}
    row.update(
        doctor_titles=_joined(new.doctor_titles),
        secondary_diagnoses=_joined(new.secondary_diagnoses),
        employment=_joined(new.employment),
        periods=_joined(f"{start.isoformat()}/{end.isoformat()}/{degree}" for start, end, degree in new.periods),
        first_day=min(p[0] for p in new.periods),
        last_day=max(p[1] for p in new.periods),
        deleted=False,
        superseded=False,
        case_start=None,
        case_end=None,
    )
    return row


def as_stored(new: NewSickLeave) -> StoredSickLeave:
    """``new`` as it will read back: what the answers are rendered from."""
    row = _row(new)
    return StoredSickLeave(*(row[name] for name in StoredSickLeave._fields))


# --- cases ---------------------------------------------------------------------------------------

_OWNERS = select(_C.patient_id, _C.care_giver_id).where(_C.certificate_id.in_(bindparam("ids", expanding=True))).distinct()


def _lock_cases(conn: Connection, owners: Iterable[tuple[str, str]]) -> None:
    """Hold the cases of ``owners`` (patient, care giver) until the transaction ends, before their
    rows are read or written for the upkeep: on PostgreSQL (read committed) two transactions keeping
    one patient's case at once would each miss the other's uncommitted row and leave the bounds and
    the stored case stale. The second now waits and reads what the first committed. Taken before any
    row of theirs is written, so that a row lock never waits inside the lock's order."""
    lock_until_commit(conn, (("sick-leave case", patient, care_giver) for patient, care_giver in owners))


def _owners(conn: Connection, ids: Collection[str]) -> set[tuple[str, str]]:
    """(patient, care giver) of the stored rows among ``ids``."""
    if not ids:
        return set()
    return {(row.patient_id, row.care_giver_id) for row in conn.execute(_OWNERS, {"ids": sorted(ids)})}


def _days_between(dialect: str, later: Any, earlier: Any) -> ColumnElement[Any]:
    """Whole days from ``earlier`` to ``later`` (dates): SQLite keeps dates as ISO text."""
    if dialect == "sqlite":
        return func.julianday(later) - func.julianday(earlier)
    return cast(ColumnElement[Any], later - earlier)


class _CaseStatements(NamedTuple):
    refresh: Any  # UPDATE of the rows whose stored bounds differ from recomputed ones
    clear: Any  # UPDATE removing the bounds of rows no longer listed
    differences: Any  # SELECT of the rows whose stored bounds differ from recomputed ones


_CASE_STATEMENTS: dict[tuple[str, bool], _CaseStatements] = {}


def _case_statements(dialect: str, one_patient: bool) -> _CaseStatements:
    """The case bounds of every listed row (or those of one patient at one care giver), recomputed
    in SQL: the running maximum of the last days before a row (in first-day order) tells whether
    the row opens a new chain (it starts more than ``CASE_GAP`` whole days after all of them); a
    running count of the openings numbers the chains, whose first and last days are the bounds.
    The same sweep as the engine's ``last_chain``, done by the database for all chains at once."""
    key = (dialect, one_patient)
    if key in _CASE_STATEMENTS:
        return _CASE_STATEMENTS[key]
    owner = (_C.patient_id, _C.care_giver_id)
    listed_query = select(
        _C.certificate_id,
        _C.patient_id,
        _C.care_giver_id,
        _C.first_day,
        _C.last_day,
        func.max(_C.last_day)
        .over(partition_by=owner, order_by=(_C.first_day, _C.certificate_id), rows=(None, -1))
        .label("reach"),
    ).where(_LISTED)
    if one_patient:
        listed_query = listed_query.where(_C.patient_id == bindparam("patient"), _C.care_giver_id == bindparam("care_giver"))
    listed = listed_query.subquery("listed")
    opens = case(
        (or_(listed.c.reach.is_(None), _days_between(dialect, listed.c.first_day, listed.c.reach) > CASE_GAP + 1), 1),
        else_=0,
    )
    numbered = select(
        listed.c.certificate_id,
        listed.c.patient_id,
        listed.c.care_giver_id,
        listed.c.first_day,
        listed.c.last_day,
        func.sum(opens)
        .over(
            partition_by=(listed.c.patient_id, listed.c.care_giver_id),
            order_by=(listed.c.first_day, listed.c.certificate_id),
            rows=(None, 0),
        )
        .label("chain"),
    ).subquery("numbered")
    chain = (numbered.c.patient_id, numbered.c.care_giver_id, numbered.c.chain)
    bounds = select(
        numbered.c.certificate_id,
        func.min(numbered.c.first_day).over(partition_by=chain).label("case_start"),
        func.max(numbered.c.last_day).over(partition_by=chain).label("case_end"),
    ).subquery("bounds")
    differs = or_(_C.case_start.is_distinct_from(bounds.c.case_start), _C.case_end.is_distinct_from(bounds.c.case_end))
    refresh = (
        update(_TABLE)
        .where(_C.certificate_id == bounds.c.certificate_id, differs)
        .values(case_start=bounds.c.case_start, case_end=bounds.c.case_end)
    )
    clear_where = [not_(_LISTED), _C.case_end.is_not(None)]
    if one_patient:
        clear_where += [_C.patient_id == bindparam("patient"), _C.care_giver_id == bindparam("care_giver")]
    clear = update(_TABLE).where(*clear_where).values(case_start=None, case_end=None)
    differences = (
        select(_C.certificate_id, _C.case_start, _C.case_end, bounds.c.case_start, bounds.c.case_end)
        .select_from(_TABLE.outerjoin(bounds, _C.certificate_id == bounds.c.certificate_id))
        .where(differs)
        .order_by(_C.certificate_id)
    )
    statements = _CASE_STATEMENTS[key] = _CaseStatements(refresh, clear, differences)
    return statements


def _refresh_cases(conn: Connection, owners: Iterable[tuple[str, str]], leaving: bool) -> None:
    """Recompute the case bounds of the patients at the care givers of ``owners``; ``leaving``: rows
    of theirs may have left the lists, whose bounds are cleared (a statement a registration that
    replaces nothing is spared). The caller holds their cases (``_lock_cases``)."""
    statements = _case_statements(conn.dialect.name, one_patient=True)
    for patient, care_giver in sorted(owners):
        params = {"patient": patient, "care_giver": care_giver}
        conn.execute(statements.refresh, params)
        if leaving:
            conn.execute(statements.clear, params)
        _store_case_rows(conn, patient, care_giver, conn.execute(_MEMBERS_OF_OWNER, params))


# --- the cases stored whole (table sick_leave_case, migration 0015) -------------------------------

_CASES = cast(Table, SickLeaveCase.__table__)
_K = _CASES.c


class _CaseMember(NamedTuple):
    """What a case's stored row is computed from, of each of its certificates."""

    certificate_id: str
    care_unit_id: str
    first_day: dt.date
    last_day: dt.date
    signed_at: dt.datetime
    case_start: dt.date
    case_end: dt.date
    fragment: bytes | None


_MEMBER_COLUMNS = tuple(_C[name] for name in _CaseMember._fields)
_OF_OWNER = and_(_C.patient_id == bindparam("patient"), _C.care_giver_id == bindparam("care_giver"), _C.case_start.is_not(None))
_MEMBERS_OF_OWNER = select(*_MEMBER_COLUMNS).where(_OF_OWNER)
# The members of the case a new certificate joins, after whether a replacement stored before it
# supersedes it (the first column of every row; one row of None members when there are none).
_MEMBERS_OF_NEW = select(_has_live_successor(bindparam("new_id")), *_MEMBER_COLUMNS).select_from(
    select(literal_column("1")).subquery("new").outerjoin(_TABLE, _OF_OWNER)
)
_DELETE_CASES_OF_OWNER = delete(_CASES).where(
    _K.patient_id == bindparam("patient"), _K.care_giver_id == bindparam("care_giver")
)
_DELETE_CASES_WITHIN = delete(_CASES).where(
    _K.patient_id == bindparam("patient"),
    _K.care_giver_id == bindparam("care_giver"),
    _K.case_start > bindparam("after"),
    _K.case_start <= bindparam("until"),
)
_UPSERT_CASES: dict[str, Any] = {}


def _upsert_cases(conn: Connection) -> Any:
    """INSERT of stored case rows that overwrites a row of the same key: two registrations of one
    patient at once then both succeed (the later one's case wins, as with the bounds)."""
    dialect = conn.dialect.name
    if dialect not in _UPSERT_CASES:
        _UPSERT_CASES[dialect] = _overwriting(insert_or_skip(conn, _CASES))
    return _UPSERT_CASES[dialect]


def _overwriting(statement: Any) -> Any:
    """``statement`` (an INSERT of stored case rows) overwriting a row of the same key."""
    key = [column.name for column in _CASES.primary_key]
    return statement.on_conflict_do_update(
        index_elements=key, set_={c.name: statement.excluded[c.name] for c in _CASES.c if c.name not in key}
    )


_WRITE_CASE_PG: dict[tuple[bool, bool, int], Any] = {}


def _write_case_pg(bounds: bool, stale: bool, rows: int) -> Any:
    """The writes of ``_store_listed`` as one PostgreSQL statement (each statement costs the
    client and the server more than the work in it): the new row (parameters ``new_`` + column),
    the new bounds of the rows its case joins when ``bounds`` (``_SET_BOUNDS_PG``), the removal of
    the cases it merges when ``stale`` (``_DELETE_CASES_WITHIN``), and the upsert of the case's
    ``rows`` stored rows (``case0_`` + column, ``case1_`` + column...: one per care unit). They
    touch different rows, so the statement's one snapshot is all each needs. No parameter is named
    after a column: ``prepared.pipelined`` compiles with the names given, which would add them to
    the UPDATE."""
    statement = _WRITE_CASE_PG.get((bounds, stale, rows))
    if statement is None:
        new_row = _TABLE.insert().values({c.name: bindparam(f"new_{c.name}", type_=c.type) for c in _TABLE.c})
        # Not ``revision``: its default numbers the row.
        given = [c for c in _CASES.c if c.server_default is None]
        upsert = postgresql_insert(_CASES).values(
            [{c.name: bindparam(f"case{number}_{c.name}", type_=c.type) for c in given} for number in range(rows)]
        )
        parts = [new_row.cte("new_row")]
        if bounds:
            parts.append(_SET_BOUNDS_PG.cte("bounds"))
        if stale:
            parts.append(_DELETE_CASES_WITHIN.cte("stale"))
        statement = _WRITE_CASE_PG[(bounds, stale, rows)] = _overwriting(upsert).add_cte(*parts)
    return statement


_ONE_DAY = dt.timedelta(days=1)
_NOT_LEAD = {"units": None, "holes": None, "fragments": None, "digest": None}


def answer_digest(answer: bytes) -> bytes:
    """A stored case's ``digest``: SHA-256 of its answer (``fragments``), what a serving process
    keeps the answer by (``persistence.case_cache``)."""
    return sha256(answer).digest()


def case_rows(patient: str, care_giver: str, members: Iterable[_CaseMember]) -> list[dict[str, Any]]:
    """The stored rows of the cases of ``members`` (listed certificates of one patient at one care
    giver, with their case bounds): per case, one row per care unit, the lead (first unit) holding
    the units, the holes and the fragments in chronological order (first day, signing time, id)."""
    by_case: dict[dt.date, list[_CaseMember]] = {}
    for member in members:
        by_case.setdefault(_date(member.case_start), []).append(member)  # type: ignore[arg-type]
    rows: list[dict[str, Any]] = []
    for start, group in sorted(by_case.items()):
        group.sort(key=_CHRONOLOGICAL_KEY)
        counts = Counter(m.care_unit_id for m in group)
        units = sorted(counts)
        holes: list[str] = []
        covered = group[0].last_day
        for member in group[1:]:
            if member.first_day > covered + _ONE_DAY:
                holes.append(f"{(covered + _ONE_DAY).isoformat()}/{(member.first_day - _ONE_DAY).isoformat()}")
            if member.last_day > covered:
                covered = member.last_day
        fragments = [m.fragment for m in group]
        answer = b"".join(fragments) if None not in fragments else None  # type: ignore[arg-type]
        lead = {
            "units": _joined(units),
            "holes": _joined(holes),
            "fragments": answer,
            "digest": answer_digest(answer) if answer is not None else None,
        }
        for unit in units:
            rows.append({
                "patient_id": patient,
                "care_giver_id": care_giver,
                "case_start": start,
                "care_unit_id": unit,
                "case_end": _date(group[0].case_end),
                "certificates": counts[unit],
                **(lead if unit == units[0] else _NOT_LEAD),
            })
    return rows


def _store_case_rows(conn: Connection, patient: str, care_giver: str, members: Iterable[Any]) -> None:
    """Replace the stored cases of the patient at the care giver with those of ``members``."""
    _replace_case_rows(conn, patient, care_giver, case_rows(patient, care_giver, map(_CaseMember._make, members)))


def _replace_case_rows(conn: Connection, patient: str, care_giver: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """The stored cases of the patient at the care giver become ``rows`` (none: no case)."""
    conn.execute(_DELETE_CASES_OF_OWNER, {"patient": patient, "care_giver": care_giver})
    if rows:
        conn.execute(_upsert_cases(conn), rows)


_ALL_MEMBERS = (
    select(_C.patient_id, _C.care_giver_id, *_MEMBER_COLUMNS)
    .where(_C.case_start.is_not(None))
    .order_by(_C.patient_id, _C.care_giver_id)
)
_STORED_CASES_OF_PATIENTS = select(_CASES).where(_K.patient_id.in_(bindparam("patients", expanding=True)))
_ORPHAN_CASE_OWNERS = (
    select(_K.patient_id, _K.care_giver_id)
    .where(
        ~exists().where(
            _C.patient_id == _K.patient_id, _C.care_giver_id == _K.care_giver_id, _C.case_start.is_not(None)
        )
    )
    .distinct()
)
_OWNERS_PER_BATCH = 2_000


def _recomputed_case_owners(conn: Connection) -> Iterator[dict[tuple[str, str], list[dict[str, Any]]]]:
    """The recomputed stored rows of every owner (patient, care giver) with a listed row, a batch
    of owners at a time: owner -> rows."""
    batch: dict[tuple[str, str], list[dict[str, Any]]] = {}
    owner: tuple[str, str] | None = None
    members: list[_CaseMember] = []
    for row in conn.execute(_ALL_MEMBERS, execution_options={"stream_results": True, "max_row_buffer": 5_000}):
        key = (row[0], row[1])
        if key != owner:
            if owner is not None:
                batch[owner] = case_rows(*owner, members)
                if len(batch) >= _OWNERS_PER_BATCH:
                    yield batch
                    batch = {}
            owner, members = key, []
        members.append(_CaseMember._make(row[2:]))
    if owner is not None:
        batch[owner] = case_rows(*owner, members)
    if batch:
        yield batch


def _comparable(row: Any) -> tuple[Any, ...]:
    fragments = row["fragments"]
    return (
        row["patient_id"], row["care_giver_id"], _date(row["case_start"]), row["care_unit_id"], _date(row["case_end"]),
        row["certificates"], row["units"], row["holes"], bytes(fragments) if fragments is not None else None,
        bytes(digest) if (digest := row["digest"]) is not None else None,
    )


def _case_row_differences(conn: Connection) -> Iterator[tuple[tuple[str, str], list[dict[str, Any]]]]:
    """(owner, recomputed rows) of every patient and care giver whose stored cases differ from
    recomputed ones (no rows: the owner has no listed row any more)."""
    for batch in _recomputed_case_owners(conn):
        stored: dict[tuple[str, str], set[tuple[Any, ...]]] = {}
        patients = sorted({patient for patient, _ in batch})
        for row in conn.execute(_STORED_CASES_OF_PATIENTS, {"patients": patients}).mappings():
            stored.setdefault((row["patient_id"], row["care_giver_id"]), set()).add(_comparable(row))
        for owner, rows in batch.items():
            if stored.get(owner, set()) != {_comparable(r) for r in rows}:
                yield owner, rows
    for patient, care_giver in conn.execute(_ORPHAN_CASE_OWNERS).fetchall():
        yield (patient, care_giver), []


def case_row_differences(conn: Connection) -> list[tuple[str, str]]:
    """The (patient, care giver) whose stored cases (``sick_leave_case``) differ from those
    recomputed from their rows, in order."""
    return sorted(owner for owner, _ in _case_row_differences(conn))


def rebuild_case_rows(conn: Connection) -> list[tuple[str, str]]:
    """Recompute the stored cases of every patient and care giver and write those that differ; the
    (patient, care giver) rewritten, in order. Call after the case bounds and fragments are right."""
    rewritten = []
    for (patient, care_giver), rows in _case_row_differences(conn):
        _replace_case_rows(conn, patient, care_giver, rows)
        rewritten.append((patient, care_giver))
    return sorted(rewritten)


def forget_cases(conn: Connection, ids: Collection[str], care_giver: str) -> None:
    """Before the rows ``ids`` of ``care_giver`` are removed with all its others: drop the stored
    cases of their patients there."""
    patients = select(_C.patient_id).where(_C.certificate_id.in_(bindparam("ids", expanding=True)))
    conn.execute(
        delete(_CASES).where(_K.care_giver_id == care_giver, _K.patient_id.in_(patients)), {"ids": sorted(ids)}
    )


class Dependents(NamedTuple):
    """What removing certificates changes among the rows that stay: the rows they replaced or
    completed (superseded no longer, perhaps) and the cases of the owners of both."""

    parents: frozenset[str]
    owners: frozenset[tuple[str, str]]


_SUPERSEDED_BY_ANY = select(_RELATIONS.c.to_id).where(
    _RELATIONS.c.from_id.in_(bindparam("ids", expanding=True)), _RELATIONS.c.kind.in_(SUPERSEDING_RELATIONS)
)


def dependents(conn: Connection, ids: Collection[str], skip_care_giver: str | None = None) -> Dependents:
    """Read before removing ``ids`` (and their relations): what :func:`refresh` recomputes after,
    whose cases it holds until the transaction ends (``_lock_cases``).
    ``skip_care_giver``: ``ids`` are that care giver's, whose rows are all being removed, so its
    cases are left alone (and the owners of ``ids``, all its own, are not read)."""
    removed = set(ids)
    parents = set(conn.execute(_SUPERSEDED_BY_ANY, {"ids": sorted(removed)}).scalars()) - removed
    touched = parents if skip_care_giver is not None else removed | parents
    owners = {owner for owner in _owners(conn, touched) if owner[1] != skip_care_giver}
    _lock_cases(conn, owners)
    return Dependents(frozenset(parents), frozenset(owners))


def refresh(conn: Connection, dependents: Dependents) -> None:
    """After a removal: the superseded flags of the remaining parents and the touched cases."""
    if dependents.parents:
        conn.execute(_REFRESH_SUPERSEDED, {"ids": sorted(dependents.parents)})
    _refresh_cases(conn, dependents.owners, leaving=True)


def rebuild_cases(conn: Connection) -> int:
    """Recompute the case bounds of every row; the number of rows that changed."""
    statements = _case_statements(conn.dialect.name, one_patient=False)
    return conn.execute(statements.refresh).rowcount + conn.execute(statements.clear).rowcount


class CaseDifference(NamedTuple):
    certificate_id: str
    stored: tuple[dt.date | None, dt.date | None]
    recomputed: tuple[dt.date | None, dt.date | None]


def case_differences(conn: Connection) -> list[CaseDifference]:
    """The rows whose stored case bounds differ from recomputed ones, by certificate id."""
    statements = _case_statements(conn.dialect.name, one_patient=False)
    return [
        CaseDifference(row[0], (_date(row[1]), _date(row[2])), (_date(row[3]), _date(row[4])))
        for row in conn.execute(statements.differences)
    ]


def _date(value: dt.date | str | None) -> dt.date | None:
    # Computed columns come back as SQLite stores dates (ISO text): no column type converts them.
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


# --- reading -------------------------------------------------------------------------------------


class StoredSickLeave(NamedTuple):
    """A sick-leave row as the lists read it. Lists are in their stored form (see ``codes`` and
    ``period_texts``). A plain tuple: attribute access on it is an order of magnitude cheaper than
    on a database row, which counts for a large unit's thousands of rows."""

    certificate_id: str
    patient_id: str
    patient_name: str
    care_unit_id: str
    care_unit_name: str
    care_giver_id: str
    care_giver_name: str
    doctor_id: str
    doctor_name: str
    doctor_titles: str
    signed_at: dt.datetime
    diagnosis_code: str
    diagnosis_code_system: str
    secondary_diagnoses: str
    employment: str
    periods: str
    first_day: dt.date
    last_day: dt.date


_COLUMNS = tuple(_C[name] for name in StoredSickLeave._fields)


class ListedRow(NamedTuple):
    """What the certificate lists read of a row: the answer is its ``fragment`` (UTF-8; None: not
    rendered yet, see ``StoredSickLeave`` for the row whole), the rest picks and orders it."""

    patient_id: str
    certificate_id: str
    signed_at: dt.datetime
    first_day: dt.date
    last_day: dt.date
    care_giver_name: str
    fragment: bytes | None
    care_giver_id: str  # whose record it is (the access log names them)
    care_unit_id: str


_LISTED_COLUMNS = tuple(_C[name] for name in ListedRow._fields)
Row = TypeVar("Row", StoredSickLeave, ListedRow)

_CHRONOLOGICAL = (_C.first_day, _C.signed_at, _C.certificate_id)
# A unit's rows are put in order here, not by the database: a large unit's wide rows overflow the
# database's sort memory, and ordering by patient id would compare text by the locale's collation.
# Sorting each patient's few rows in Python costs a fraction of either.
_CHRONOLOGICAL_KEY = attrgetter("first_day", "signed_at", "certificate_id")


def _listed(c: Any) -> Any:
    return and_(c.deleted.is_(False), c.superseded.is_(False), c.is_test.is_(False))


_LISTED = _listed(_C)
_AT_UNITS = _C.care_unit_id.in_(bindparam("units", expanding=True))

# A listed certificate at the units whose span reaches into [since, until].
_IN_WINDOW = (
    _AT_UNITS,
    _LISTED,
    _C.first_day <= bindparam("until"),
    _C.last_day >= bindparam("since"),
)
_PATIENTS_IN_WINDOW = select(_C.patient_id).where(*_IN_WINDOW).distinct()
_PATIENT_IN_WINDOW = select(_C.patient_id).where(*_IN_WINDOW, _C.patient_id == bindparam("patient")).limit(1)
# Asked with the patients' ids rather than with a subquery: the database cannot foresee how many
# patients the window holds, and for a large unit its guess picks a plan several times slower.
_OF_PATIENTS_AT_UNITS = select(*_COLUMNS).where(
    _AT_UNITS, _LISTED, _C.patient_id.in_(bindparam("patients", expanding=True))
)
# Bound parameters per statement stay well below SQLite's limit (32,766).
_PATIENTS_PER_QUERY = 10_000
_OF_PATIENT_AT_CARE_GIVER = (
    select(*_LISTED_COLUMNS)
    .where(_C.patient_id == bindparam("patient"), _C.care_giver_id == bindparam("care_giver"), _LISTED)
    .order_by(*_CHRONOLOGICAL)
)
_BY_IDS = select(*_COLUMNS).where(_C.certificate_id.in_(bindparam("ids", expanding=True)))
_CARE_GIVER_OF_UNIT = (
    select(_C.care_giver_id, _C.care_giver_name)
    .where(_C.care_unit_id == bindparam("unit"))
    .order_by(_C.last_day.desc(), _C.signed_at.desc())
    .limit(1)
)


def in_window_at_units(
    conn: Connection,
    units: Sequence[str],
    since: dt.date,
    until: dt.date,
    max_gap: int = CASE_GAP,
    patient: str | None = None,
) -> dict[str, list[StoredSickLeave]]:
    """The listed certificates issued at ``units`` that a chain merged with ``max_gap`` days and
    reaching into [``since``, ``until``] can hold, for the patients (or the one ``patient``) who have
    one: patient id -> certificates, patients in id order, each patient's certificates
    chronologically (first day, signing time, id). Callers cut them down to the chain that matters.

    Up to ``CASE_GAP`` days, those are the rows of the cases current in the window. A larger gap can
    join older cases, so the whole of each such patient's history at the units comes back.
    """
    if max_gap <= CASE_GAP:
        return current_at_units(conn, units, since, until, patient, _COLUMNS, StoredSickLeave._make)
    window: dict[str, Any] = {"units": list(units), "since": since, "until": until}
    if patient is None:
        patients = list(conn.execute(_PATIENTS_IN_WINDOW, window).scalars())
    else:
        patients = list(conn.execute(_PATIENT_IN_WINDOW, {**window, "patient": patient}).scalars())
    by_patient: dict[str, list[StoredSickLeave]] = {}
    for first in range(0, len(patients), _PATIENTS_PER_QUERY):
        chunk = patients[first : first + _PATIENTS_PER_QUERY]
        rows = conn.execute(_OF_PATIENTS_AT_UNITS, {"units": window["units"], "patients": chunk}).fetchall()
        _group(map(StoredSickLeave._make, rows), by_patient)
    return _in_order(by_patient)



def current_at_units(
    conn: Connection,
    units: Sequence[str],
    since: dt.date,
    until: dt.date,
    patient: str | None,
    columns: Sequence[Any],
    make: Callable[[Any], Row],
    patients: Sequence[str] | None = None,
) -> dict[str, list[Row]]:
    """The rows issued at ``units`` whose case reaches into [``since``, ``until``], as
    ``in_window_at_units`` orders them; ``columns`` are read and each row is ``make(row)``.
    ``patients``: only theirs (at most ``_PATIENTS_PER_QUERY``)."""
    statement = select(*columns).where(_AT_UNITS, _C.case_end >= bindparam("since"), _C.case_start <= bindparam("until"))
    params: dict[str, Any] = {"units": list(units), "since": since, "until": until}
    if patient is not None:
        statement = statement.where(_C.patient_id == bindparam("patient"))
        params["patient"] = patient
    if patients is not None:
        statement = statement.where(_C.patient_id.in_(bindparam("patients", expanding=True)))
        params["patients"] = list(patients)
    return _current([make(row) for row in conn.execute(statement, params).fetchall()], since, until)


# ``current_at_units`` for the certificate lists on PostgreSQL, read past SQLAlchemy in binary
# format: a large unit's megabytes of fragments then arrive as the stored bytes (the text format
# would send them in hex, twice the size, to be decoded again) and the dates need no parsing.
_LISTED_AT_UNITS_PG = (
    f"SELECT {', '.join(ListedRow._fields)} FROM {_TABLE.name} "
    "WHERE care_unit_id = ANY(%(units)s) AND case_end >= %(since)s AND case_start <= %(until)s"
)


# A ListedRow straight from the driver's tuple of values (in the order of the fields): ``_make``'s
# own checks cost a large unit's thousands of rows more than the database's decoding of them.
_LISTED_ROW = partial(tuple.__new__, ListedRow)


def listed_at_units(
    conn: Connection,
    units: Sequence[str],
    since: dt.date,
    until: dt.date,
    patient: str | None = None,
    patients: Sequence[str] | None = None,
) -> dict[str, list[ListedRow]]:
    """``in_window_at_units`` for the certificate lists, which answer with each row's fragment;
    ``patients``: only theirs."""
    if conn.dialect.name != "postgresql":
        return current_at_units(conn, units, since, until, patient, _LISTED_COLUMNS, ListedRow._make, patients)
    params: dict[str, Any] = {"units": list(units), "since": since, "until": until, "patient": patient}
    query = _LISTED_AT_UNITS_PG + (" AND patient_id = %(patient)s" if patient is not None else "")
    if patients is not None:
        query += " AND patient_id = ANY(%(patients)s)"
        params["patients"] = list(patients)
    return _current(list(_stream_binary(conn, query, params, _LISTED_ROW)), since, until)


# Rows per chunk when a large read is streamed: the result is taken in pieces of a few hundred
# rows, the driver's buffers reused, rather than gathered whole (14.6 MB for a large unit's list)
# before the first row is made; the caller's work on a chunk overlaps the server's sending the next.
_STREAM_ROWS = 500


@cache
def _chunked() -> bool:
    """Whether the driver streams in chunks (psycopg 3.2 on libpq 17 on; else row by row, slower
    than one result)."""
    try:
        from psycopg import capabilities
    except ImportError:
        return False
    return capabilities.has_stream_chunked()


def _stream_binary(conn: Connection, query: str, params: Mapping[str, Any], make: Callable[[Sequence[Any]], Any]) -> Iterator[Any]:
    """The rows of ``query`` read past SQLAlchemy in binary format (PostgreSQL), each ``make(values)``,
    as they arrive: in chunks where the client library can (libpq 17 on)."""
    driver = conn.connection.driver_connection
    with driver.cursor(binary=True, row_factory=lambda _cursor: make) as cursor:  # type: ignore[union-attr]
        if _chunked():
            yield from cursor.stream(query, params, size=_STREAM_ROWS)
        else:
            cursor.execute(query, params)
            yield from cursor.fetchall()


class ListedCase(NamedTuple):
    """A patient's current case answered whole from its stored row: the fragments of its
    certificates in chronological order, and how many of them each care unit issued."""

    patient_id: str
    care_giver_id: str
    fragments: bytes
    units: tuple[tuple[str, int], ...]


class UnitList(NamedTuple):
    """What a certificate list of units reads: the patients answered with their stored case, and
    the rows of the others (as ``listed_at_units`` gives them), whose chains the caller cuts."""

    cases: dict[str, ListedCase]  # in patient order
    rows: dict[str, list[ListedRow]]
    # What callers derive from ``cases`` alone, kept with them: a kept listing serves many calls.
    memo: dict[str, Any]


class _StoredCase(NamedTuple):
    patient_id: str
    care_giver_id: str
    case_start: dt.date
    care_unit_id: str
    certificates: int
    units: str | None
    holes: str | None
    digest: bytes | None
    revision: int | None


_STORED_CASE_COLUMNS = tuple(_K[name] for name in _StoredCase._fields)
_CASE_AT_UNITS = and_(
    _K.care_unit_id.in_(bindparam("units", expanding=True)), _K.case_end >= bindparam("since"), _K.case_start <= bindparam("until")
)
_CASES_AT_UNITS = select(*_STORED_CASE_COLUMNS).where(_CASE_AT_UNITS)
_AT_UNITS_PG = "FROM sick_leave_case WHERE care_unit_id = ANY(%(units)s) AND case_end >= %(since)s AND case_start <= %(until)s"
_CASES_AT_UNITS_PG = f"SELECT {', '.join(_StoredCase._fields)} {_AT_UNITS_PG}"
# The same rows' revisions alone, from the unit index (``revision`` is in it): whether a kept
# listing still holds, for a small part of reading the rows.
_REVISIONS_AT_UNITS_PG = f"SELECT array_agg(revision) {_AT_UNITS_PG}"
_STORED_CASE = partial(tuple.__new__, _StoredCase)
_LISTED_CASE = partial(tuple.__new__, ListedCase)
# The answers of lead rows, by key: (patient, digest, answer) of each.
_CASE_KEY = (_K.patient_id, _K.care_giver_id, _K.case_start, _K.care_unit_id)
_ANSWERS = select(_K.patient_id, _K.digest, _K.fragments).where(tuple_(*_CASE_KEY).in_(bindparam("keys", expanding=True)))
_ANSWERS_PG = (
    f"SELECT c.patient_id, c.digest, c.fragments FROM {_CASES.name} c JOIN unnest("
    "%(patients)s::text[], %(care_givers)s::text[], %(starts)s::date[], %(units)s::text[]) "
    "AS k(patient_id, care_giver_id, case_start, care_unit_id) USING (patient_id, care_giver_id, case_start, care_unit_id)"
)
_KEYS_PER_QUERY = 2_000  # four parameters each, below SQLite's limit on a statement's parameters
# Every lead row's answer in the window (the leads have a digest, the other rows none).
_WINDOW_ANSWERS = select(_K.patient_id, _K.digest, _K.fragments).where(_CASE_AT_UNITS, _K.digest.is_not(None))
_WINDOW_ANSWERS_PG = f"SELECT patient_id, digest, fragments {_AT_UNITS_PG} AND digest IS NOT NULL"


class _Listing(NamedTuple):
    """What the stored cases of a unit's window give: the patients answered with their stored case,
    and those to be answered from their rows."""

    cases: dict[str, ListedCase]
    others: list[str]
    memo: dict[str, Any]


def unit_list(
    conn: Connection,
    units: Sequence[str],
    since: dt.date,
    until: dt.date,
    patient: str | None = None,
    cache: CaseCache | None = None,
) -> UnitList:
    """The certificate lists' read of ``units`` (the stored cases reaching into [``since``,
    ``until``]). A patient is answered with the stored case when that is what the rows would give:
    the patient has one case there, all its certificates were issued at ``units`` (so cutting the
    chain merged with ``CASE_GAP`` days leaves it whole), its answer is stored, and some certificate
    of it reaches into the window (it does unless the window lies in one of its holes). The other
    patients' rows are read as ``listed_at_units`` reads them, on every call.

    With a ``cache``, the answers are taken from it by digest where it has them (the others read and
    kept), and on PostgreSQL a whole unit's listing is kept with the revisions of its rows: a call
    finding the same revisions reads nothing else of the stored cases."""
    cache = cache if cache is not None else CaseCache(0)
    params: dict[str, Any] = {"units": list(units), "since": since, "until": until, "patient": patient}
    listing: _Listing | None = None
    key = revisions = None
    if conn.dialect.name == "postgresql" and patient is None and cache.capacity > 0:
        found = conn.connection.driver_connection.execute(_REVISIONS_AT_UNITS_PG, params).fetchone()  # type: ignore[union-attr]
        if found is not None and None not in (found[0] or ()):
            key, revisions = ("unit list", tuple(units), since, until), sorted(found[0] or ())
            listing = cache.get_listing(key, revisions)
    if listing is None:
        if conn.dialect.name == "postgresql":
            query = _CASES_AT_UNITS_PG + (" AND patient_id = %(patient)s" if patient is not None else "")
            stored: Iterable[_StoredCase] = _stream_binary(conn, query, params, _STORED_CASE)
        else:
            statement = _CASES_AT_UNITS if patient is None else _CASES_AT_UNITS.where(_K.patient_id == bindparam("patient"))
            stored = map(_StoredCase._make, conn.execute(statement, params))
        by_patient: dict[str, list[_StoredCase]] = {}
        _group(stored, by_patient)  # grouped as the rows arrive
        listing = _listing(conn, by_patient, units, since, until, cache)
        if key is not None:
            # Kept with the revisions of the rows it was made from, read with them (a row written
            # after the revisions above were read makes the next call miss, never answer wrongly).
            made_from = [row.revision for group in by_patient.values() for row in group]
            if None not in made_from:
                size = sum(len(c.fragments) for c in listing.cases.values())
                cache.put_listing(key, sorted(cast(list[int], made_from)), listing, size)
    rows: dict[str, list[ListedRow]] = {}
    others = listing.others
    for first in range(0, len(others), _PATIENTS_PER_QUERY):
        rows.update(listed_at_units(conn, units, since, until, patients=others[first : first + _PATIENTS_PER_QUERY]))
    return UnitList(listing.cases, rows, listing.memo)


def _listing(
    conn: Connection, by_patient: dict[str, list[_StoredCase]], units: Sequence[str], since: dt.date, until: dt.date, cache: CaseCache
) -> _Listing:
    scope = set(units)
    # Whether a stored ``units`` lies in the scope, per distinct value: a unit's thousands of cases
    # have a few (the combinations of its sub-units).
    within: dict[str, bool] = {}
    since_text, until_text = since.isoformat(), until.isoformat()
    leads: list[tuple[_StoredCase, bytes, tuple[tuple[str, int], ...]]] = []
    others: list[str] = []
    for patient_id, group in by_patient.items():
        # Most patients have one case at one unit: one row, the lead.
        lead = group[0] if len(group) == 1 else _lead(group)
        if lead is None or lead.digest is None or lead.units is None:
            others.append(patient_id)
            continue
        inside = within.get(lead.units)
        if inside is None:
            inside = within[lead.units] = _within(lead.units, scope)
        if not inside:
            others.append(patient_id)
        elif not (lead.holes and _in_hole(lead.holes, since_text, until_text)):
            units_counts = ((lead.care_unit_id, lead.certificates),) if len(group) == 1 else tuple(
                [(r.care_unit_id, r.certificates) for r in group]
            )
            leads.append((lead, lead.digest, units_counts))
    window = {"units": list(units), "since": since, "until": until}
    answers = _answers(conn, [(lead, digest) for lead, digest, _ in leads], cache, window)
    cases: dict[str, ListedCase] = {}
    for lead, _, units_counts in leads:
        answer = answers.get(lead.patient_id)
        if answer is None:  # changed since it was read: from its rows, as they are now
            others.append(lead.patient_id)
        else:
            cases[lead.patient_id] = _LISTED_CASE((lead.patient_id, lead.care_giver_id, answer, units_counts))
    others.sort()
    return _Listing({patient: cases[patient] for patient in sorted(cases)}, others, {})


def _answers(
    conn: Connection, leads: Sequence[tuple[_StoredCase, bytes]], cache: CaseCache, window: Mapping[str, Any]
) -> dict[str, bytes]:
    """The answer of each lead row (with its digest) by patient, from ``cache`` or else read (and
    then kept): missing where the row read now has another digest (the case changed meanwhile).
    Most of them missing (a process's first list of the unit), they are read with the rest of the
    ``window``'s lead rows in one range of the unit index; a few, by key."""
    answers: dict[str, bytes] = {}
    missing: list[_StoredCase] = []
    wanted: dict[str, bytes] = {}  # the digests of the missing answers, by patient
    for (lead, digest), answer in zip(leads, cache.get_many([digest for _, digest in leads])):
        if answer is not None:
            answers[lead.patient_id] = answer
        else:
            missing.append(lead)
            wanted[lead.patient_id] = digest
    if 2 * len(missing) > len(leads):
        found: Iterable[Sequence[Any]] = _read_window_answers(conn, window)
    else:
        found = itertools.chain.from_iterable(
            _read_answers(conn, missing[first : first + _KEYS_PER_QUERY]) for first in range(0, len(missing), _KEYS_PER_QUERY)
        )
    read: list[tuple[bytes, bytes]] = []
    for patient_id, digest, answer in found:
        if answer is not None and digest is not None and wanted.get(patient_id) == digest:
            answers[patient_id] = answer = bytes(answer)
            read.append((digest, answer))
    cache.put_many(read)
    return answers


def _read_window_answers(conn: Connection, window: Mapping[str, Any]) -> Iterable[Sequence[Any]]:
    if conn.dialect.name == "postgresql":
        return _stream_binary(conn, _WINDOW_ANSWERS_PG, window, tuple)
    return conn.execute(_WINDOW_ANSWERS, dict(window)).all()


def _read_answers(conn: Connection, leads: Sequence[_StoredCase]) -> Iterable[Sequence[Any]]:
    if conn.dialect.name == "postgresql":
        params = {
            "patients": [lead.patient_id for lead in leads],
            "care_givers": [lead.care_giver_id for lead in leads],
            "starts": [lead.case_start for lead in leads],
            "units": [lead.care_unit_id for lead in leads],
        }
        return _stream_binary(conn, _ANSWERS_PG, params, tuple)
    keys = [(lead.patient_id, lead.care_giver_id, lead.case_start, lead.care_unit_id) for lead in leads]
    return conn.execute(_ANSWERS, {"keys": keys}).all()


def _lead(group: Sequence[_StoredCase]) -> _StoredCase | None:
    """The lead row of the patient's rows in ``group`` when they are of one case (else None)."""
    first = group[0]
    lead = None
    for row in group:
        if row.case_start != first.case_start or row.care_giver_id != first.care_giver_id:
            return None
        if row.units is not None:
            lead = row
    return lead


def _within(units: str, scope: Collection[str]) -> bool:
    """Whether every unit of the stored ``units`` is in ``scope``."""
    return units in scope or (SEPARATOR in units and all(unit in scope for unit in units.split(SEPARATOR)))


def _in_hole(holes: str, since: str, until: str) -> bool:
    """Whether the window [``since``, ``until``] (ISO dates) lies in one of the stored holes."""
    # The holes are written in order (``case_rows``), each after the one before: when the last
    # ends before the window does, or the first starts after it starts, none holds it.
    if holes[-10:] < until or holes[:10] > since:
        return False
    for hole in holes.split(SEPARATOR):
        start, end = hole.split("/")
        if start <= since and until <= end:
            return True
    return False


def _current(rows: Sequence[Row], since: dt.date, until: dt.date) -> dict[str, list[Row]]:
    """``rows`` by patient, in order; as on the whole-history path, only the patients with a row
    reaching into [``since``, ``until``]."""
    by_patient: dict[str, list[Row]] = {}
    _group(rows, by_patient)
    reaching = {row.patient_id for row in rows if row.first_day <= until and row.last_day >= since}
    return _in_order({p: by_patient[p] for p in reaching})


class _OfPatient(Protocol):
    @property
    def patient_id(self) -> str: ...


OfPatient = TypeVar("OfPatient", bound=_OfPatient)


def _group(rows: Iterable[OfPatient], by_patient: dict[str, list[OfPatient]]) -> None:
    for row in rows:
        group = by_patient.get(row.patient_id)
        if group is None:
            by_patient[row.patient_id] = [row]
        else:
            group.append(row)


def _in_order(by_patient: dict[str, list[Row]]) -> dict[str, list[Row]]:
    for certificates in by_patient.values():
        if len(certificates) > 1:
            certificates.sort(key=_CHRONOLOGICAL_KEY)
    return {p: by_patient[p] for p in sorted(by_patient)}


def of_patient_at_care_giver(conn: Connection, patient_id: str, care_giver_id: str) -> list[ListedRow]:
    """Every listed certificate of the patient issued within the care giver, chronologically."""
    params = {"patient": patient_id, "care_giver": care_giver_id}
    return [ListedRow._make(row) for row in conn.execute(_OF_PATIENT_AT_CARE_GIVER, params)]


def by_ids(conn: Connection, ids: Collection[str]) -> list[StoredSickLeave]:
    """The rows of ``ids`` (any that exist), whole."""
    rows: list[StoredSickLeave] = []
    ordered = sorted(ids)
    for first in range(0, len(ordered), _PATIENTS_PER_QUERY):
        chunk = ordered[first : first + _PATIENTS_PER_QUERY]
        rows.extend(map(StoredSickLeave._make, conn.execute(_BY_IDS, {"ids": chunk})))
    return rows


# --- the rendered fragments (``intygstjanst sickleave rebuild`` / ``check``) --------------------

_ALL_AFTER = (
    select(*_COLUMNS, _C.fragment)
    .where(_C.certificate_id > bindparam("after"))
    .order_by(_C.certificate_id)
    .limit(bindparam("limit"))
)
_SET_FRAGMENT = update(_TABLE).where(_C.certificate_id == bindparam("id")).values(fragment=bindparam("fragment"))


def rows_after(conn: Connection, after: str, limit: int) -> list[tuple[StoredSickLeave, bytes | None]]:
    """Up to ``limit`` rows with their stored fragment, the next after certificate id ``after``
    (``""``: the first) in id order: every row, one batch at a time."""
    rows = conn.execute(_ALL_AFTER, {"after": after, "limit": limit}).fetchall()
    return [(StoredSickLeave._make(row[:-1]), row[-1]) for row in rows]


def set_fragments(conn: Connection, fragments: Mapping[str, bytes]) -> None:
    """Store rendered fragments: certificate id -> fragment."""
    if fragments:
        conn.execute(_SET_FRAGMENT, [{"id": i, "fragment": f} for i, f in fragments.items()])


def care_giver_of_unit(conn: Connection, unit_id: str) -> tuple[str, str] | None:
    """(id, name) of the care giver that the unit's most recent sick-leave certificate names."""
    row = conn.execute(_CARE_GIVER_OF_UNIT, {"unit": unit_id}).first()
    return (row.care_giver_id, row.care_giver_name) if row is not None else None


def codes(stored: str) -> list[str]:
    """A stored list of codes (``doctor_titles``, ``secondary_diagnoses``, ``employment``)."""
    return stored.split(SEPARATOR) if stored else []


def period_texts(row: StoredSickLeave) -> list[list[str]]:
    """The periods of a row as [start, end, degree] in their ISO text form, for answers that only
    repeat them."""
    return [period.split("/") for period in row.periods.split(SEPARATOR)]


def periods_of(row: StoredSickLeave) -> list[tuple[dt.date, dt.date, int]]:
    """The periods of a row as dates and percent."""
    return [(dt.date.fromisoformat(s), dt.date.fromisoformat(e), int(d)) for s, e, d in period_texts(row)]


def _joined(values: Iterable[str]) -> str:
    return SEPARATOR.join(values)
