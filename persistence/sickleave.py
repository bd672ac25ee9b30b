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
one statement per patient (``_refresh_cases``), so a list reads the rows of the cases current on a
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
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import partial
from operator import attrgetter
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import ColumnElement, and_, bindparam, case, exists, func, not_, or_, select, update
from sqlalchemy.engine import Connection

from intygstjanst.persistence.tables import RELATIONS as _RELATIONS, SICK_LEAVE as _TABLE, STATES as _STATES

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



def _has_live_successor(certificate_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether the row of ``certificate_id`` is superseded: some ERSATT / KOMPLT relation points at
    it from a certificate that has no CANCELLED state."""
    return exists().where(
        _RELATIONS.c.to_id == certificate_id,
        _RELATIONS.c.kind.in_(SUPERSEDING_RELATIONS),
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


def store(conn: Connection, new: NewSickLeave | None, supersedes: Collection[str] = ()) -> None:
    """Record a just-stored certificate: its own row (``new``; None when it is not a sick-leave
    certificate) and the rows it replaces or completes (``supersedes``: the ids its ERSATT / KOMPLT
    relations point to, whatever its own type), and the cases of the patients they belong to. Its
    relations must already be stored."""
    ids = set(supersedes)
    touched = _owners(conn, ids)
    if new is not None:
        row = _row(new)
        del row["superseded"]  # read by the insert
        conn.execute(_INSERT, {**row, "new_id": new.certificate_id})
        touched.add((new.patient_id, new.care_giver_id))
    if ids:
        conn.execute(_REFRESH_SUPERSEDED, {"ids": sorted(ids)})
    # Only what it replaces or completes can leave the lists: the new row itself, listed or not,
    # was written without bounds.
    _refresh_cases(conn, touched, leaving=bool(supersedes))


def mark_revoked(conn: Connection, certificate_id: str) -> None:
    """Take a revoked certificate out of the lists, and bring back what it had replaced or completed
    (unless another live certificate still does). Call after its CANCELLED state is stored."""
    conn.execute(_MARK_DELETED, {"id": certificate_id})
    parents = set(conn.execute(_SUPERSEDED_BY, {"id": certificate_id}).scalars())
    if parents:
        conn.execute(_REFRESH_SUPERSEDED, {"ids": sorted(parents)})
    _refresh_cases(conn, _owners(conn, {certificate_id, *parents}), leaving=True)


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
    replaces nothing is spared)."""
    statements = _case_statements(conn.dialect.name, one_patient=True)
    for patient, care_giver in sorted(owners):
        params = {"patient": patient, "care_giver": care_giver}
        conn.execute(statements.refresh, params)
        if leaving:
            conn.execute(statements.clear, params)


class Dependents(NamedTuple):
    """What removing certificates changes among the rows that stay: the rows they replaced or
    completed (superseded no longer, perhaps) and the cases of the owners of both."""

    parents: frozenset[str]
    owners: frozenset[tuple[str, str]]


_SUPERSEDED_BY_ANY = select(_RELATIONS.c.to_id).where(
    _RELATIONS.c.from_id.in_(bindparam("ids", expanding=True)), _RELATIONS.c.kind.in_(SUPERSEDING_RELATIONS)
)


def dependents(conn: Connection, ids: Collection[str], skip_care_giver: str | None = None) -> Dependents:
    """Read before removing ``ids`` (and their relations): what :func:`refresh` recomputes after.
    ``skip_care_giver``: ``ids`` are that care giver's, whose rows are all being removed, so its
    cases are left alone (and the owners of ``ids``, all its own, are not read)."""
    removed = set(ids)
    parents = set(conn.execute(_SUPERSEDED_BY_ANY, {"ids": sorted(removed)}).scalars()) - removed
    touched = parents if skip_care_giver is not None else removed | parents
    owners = {owner for owner in _owners(conn, touched) if owner[1] != skip_care_giver}
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
) -> dict[str, list[Row]]:
    """The rows issued at ``units`` whose case reaches into [``since``, ``until``], as
    ``in_window_at_units`` orders them; ``columns`` are read and each row is ``make(row)``."""
    statement = select(*columns).where(_AT_UNITS, _C.case_end >= bindparam("since"), _C.case_start <= bindparam("until"))
    params: dict[str, Any] = {"units": list(units), "since": since, "until": until}
    if patient is not None:
        statement = statement.where(_C.patient_id == bindparam("patient"))
        params["patient"] = patient
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
    conn: Connection, units: Sequence[str], since: dt.date, until: dt.date, patient: str | None = None
) -> dict[str, list[ListedRow]]:
    """``in_window_at_units`` for the certificate lists, which answer with each row's fragment."""
    if conn.dialect.name != "postgresql":
        return current_at_units(conn, units, since, until, patient, _LISTED_COLUMNS, ListedRow._make)
    params: dict[str, Any] = {"units": list(units), "since": since, "until": until, "patient": patient}
    query = _LISTED_AT_UNITS_PG + (" AND patient_id = %(patient)s" if patient is not None else "")
    driver = conn.connection.driver_connection
    with driver.cursor(binary=True, row_factory=lambda _cursor: _LISTED_ROW) as cursor:  # type: ignore[union-attr]
        cursor.execute(query, params)
        return _current(cursor.fetchall(), since, until)


def _current(rows: Sequence[Row], since: dt.date, until: dt.date) -> dict[str, list[Row]]:
    """``rows`` by patient, in order; as on the whole-history path, only the patients with a row
    reaching into [``since``, ``until``]."""
    by_patient: dict[str, list[Row]] = {}
    _group(rows, by_patient)
    reaching = {row.patient_id for row in rows if row.first_day <= until and row.last_day >= since}
    return _in_order({p: by_patient[p] for p in reaching})


def _group(rows: Iterable[Row], by_patient: dict[str, list[Row]]) -> None:
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
