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

Lists (codes, periods) are stored as text joined by U+001F. XML 1.0 cannot carry that character,
so no value read from a certificate can contain it; and reading a list back is a ``split``, which
for the thousands of rows of a large unit costs a fraction of decoding JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, and_, bindparam, exists, not_, select, update
from sqlalchemy.engine import Connection

from intygstjanst.persistence.models import CertificateRelation, CertificateState, SickLeaveCertificate

# The relation kinds after which the older certificate no longer speaks for itself.
SUPERSEDING_RELATIONS = ("ERSATT", "KOMPLT")
SEPARATOR = "\x1f"


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

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError(f"sick-leave certificate {self.certificate_id}: has no period")
        for name in ("doctor_titles", "secondary_diagnoses", "employment"):
            if any(SEPARATOR in code for code in getattr(self, name)):
                raise ValueError(f"sick-leave certificate {self.certificate_id}: {name} holds U+001F, which XML cannot carry")


_TABLE = cast(Table, SickLeaveCertificate.__table__)
_RELATIONS = cast(Table, CertificateRelation.__table__)
_STATES = cast(Table, CertificateState.__table__)
_C = _TABLE.c

_INSERT = _TABLE.insert()

# A row is superseded while some ERSATT / KOMPLT relation points at it from a certificate that has
# no CANCELLED state. Correlated on the updated row, so one statement refreshes any set of rows.
_HAS_LIVE_SUCCESSOR = exists().where(
    _RELATIONS.c.to_id == _C.certificate_id,
    _RELATIONS.c.kind.in_(SUPERSEDING_RELATIONS),
    not_(exists().where(_STATES.c.certificate_id == _RELATIONS.c.from_id, _STATES.c.state == "CANCELLED")),
)
_REFRESH_SUPERSEDED = (
    update(_TABLE)
    .where(_C.certificate_id.in_(bindparam("ids", expanding=True)))
    .values(superseded=_HAS_LIVE_SUCCESSOR)
)
_MARK_DELETED = update(_TABLE).where(_C.certificate_id == bindparam("id")).values(deleted=True)
_SUPERSEDED_BY = select(_RELATIONS.c.to_id).where(
    _RELATIONS.c.from_id == bindparam("id"), _RELATIONS.c.kind.in_(SUPERSEDING_RELATIONS)
)


def store(conn: Connection, new: NewSickLeave | None, supersedes: Collection[str] = ()) -> None:
    """Record a just-stored certificate: its own row (``new``; None when it is not a sick-leave
    certificate) and the rows it replaces or completes (``supersedes``: the ids its ERSATT / KOMPLT
    relations point to, whatever its own type). Its relations must already be stored."""
    ids = set(supersedes)
    if new is not None:
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
        )
        conn.execute(_INSERT, row)
        # A replacement may have arrived before the certificate it replaces.
        ids.add(new.certificate_id)
    if ids:
        conn.execute(_REFRESH_SUPERSEDED, {"ids": sorted(ids)})


def mark_revoked(conn: Connection, certificate_id: str) -> None:
    """Take a revoked certificate out of the lists, and bring back what it had replaced or completed
    (unless another live certificate still does). Call after its CANCELLED state is stored."""
    conn.execute(_MARK_DELETED, {"id": certificate_id})
    parents = list(conn.execute(_SUPERSEDED_BY, {"id": certificate_id}).scalars())
    if parents:
        conn.execute(_REFRESH_SUPERSEDED, {"ids": sorted(set(parents))})


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
    select(*_COLUMNS)
    .where(_C.patient_id == bindparam("patient"), _C.care_giver_id == bindparam("care_giver"), _LISTED)
    .order_by(*_CHRONOLOGICAL)
)
_CARE_GIVER_OF_UNIT = (
    select(_C.care_giver_id, _C.care_giver_name)
    .where(_C.care_unit_id == bindparam("unit"))
    .order_by(_C.last_day.desc(), _C.signed_at.desc())
    .limit(1)
)


def in_window_at_units(
    conn: Connection, units: Sequence[str], since: dt.date, until: dt.date, patient: str | None = None
) -> dict[str, list[StoredSickLeave]]:
    """Every listed certificate issued at ``units`` to the patients (or the one ``patient``) who have
    one there whose span reaches into [``since``, ``until``]: patient id -> certificates, patients in
    id order, each patient's certificates chronologically (first day, signing time, id).

    The whole of each such patient's history at the units comes back, because a sick-leave case may
    have begun long before the window; callers cut it down to the chain that matters.
    """
    window: dict[str, Any] = {"units": list(units), "since": since, "until": until}
    if patient is None:
        patients = list(conn.execute(_PATIENTS_IN_WINDOW, window).scalars())
    else:
        patients = list(conn.execute(_PATIENT_IN_WINDOW, {**window, "patient": patient}).scalars())
    by_patient: dict[str, list[StoredSickLeave]] = {}
    for first in range(0, len(patients), _PATIENTS_PER_QUERY):
        chunk = patients[first : first + _PATIENTS_PER_QUERY]
        rows = conn.execute(_OF_PATIENTS_AT_UNITS, {"units": window["units"], "patients": chunk}).fetchall()
        for stored in map(StoredSickLeave._make, rows):
            by_patient.setdefault(stored.patient_id, []).append(stored)
    for certificates in by_patient.values():
        if len(certificates) > 1:
            certificates.sort(key=_CHRONOLOGICAL_KEY)
    return {p: by_patient[p] for p in sorted(by_patient)}


def of_patient_at_care_giver(conn: Connection, patient_id: str, care_giver_id: str) -> list[StoredSickLeave]:
    """Every listed certificate of the patient issued within the care giver, chronologically."""
    params = {"patient": patient_id, "care_giver": care_giver_id}
    return [StoredSickLeave._make(row) for row in conn.execute(_OF_PATIENT_AT_CARE_GIVER, params)]


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
