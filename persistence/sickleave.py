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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, exists, not_, select, update
from sqlalchemy.engine import Connection, Row

from .models import CertificateRelation, CertificateState, SickLeaveCertificate

# The relation kinds after which the older certificate no longer speaks for itself.
SUPERSEDING_RELATIONS = ("ERSATT", "KOMPLT")


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
        row = asdict(new)
        row["periods"] = [[start.isoformat(), end.isoformat(), degree] for start, end, degree in new.periods]
        row.update(
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

# Everything a list answer needs, in the order rows are grouped: by patient, then chronologically.
_COLUMNS = (
    _C.certificate_id,
    _C.type_code,
    _C.patient_id,
    _C.patient_name,
    _C.care_unit_id,
    _C.care_unit_name,
    _C.care_giver_id,
    _C.care_giver_name,
    _C.doctor_id,
    _C.doctor_name,
    _C.doctor_titles,
    _C.signed_at,
    _C.diagnosis_code,
    _C.diagnosis_code_system,
    _C.secondary_diagnoses,
    _C.employment,
    _C.periods,
    _C.first_day,
    _C.last_day,
)
_ORDER = (_C.patient_id, _C.first_day, _C.signed_at, _C.certificate_id)


def _listed(c: Any) -> Any:
    return and_(c.deleted.is_(False), c.superseded.is_(False), c.is_test.is_(False))


_LISTED = _listed(_C)
_AT_UNITS = _C.care_unit_id.in_(bindparam("units", expanding=True))

# Patients with a listed certificate at the units whose span reaches into [since, until]. An alias of
# the table, so that the subquery is not correlated with the outer query over the same table.
_W = _TABLE.alias("in_window").c
_IN_WINDOW = (
    _W.care_unit_id.in_(bindparam("units", expanding=True)),
    _listed(_W),
    _W.first_day <= bindparam("until"),
    _W.last_day >= bindparam("since"),
)
_OF_PATIENTS_IN_WINDOW = (
    select(*_COLUMNS)
    .where(_AT_UNITS, _LISTED, _C.patient_id.in_(select(_W.patient_id).where(*_IN_WINDOW)))
    .order_by(*_ORDER)
)
_OF_ONE_PATIENT_IN_WINDOW = (
    select(*_COLUMNS)
    .where(
        _AT_UNITS,
        _LISTED,
        _C.patient_id == bindparam("patient"),
        exists().where(_W.patient_id == bindparam("patient"), *_IN_WINDOW),
    )
    .order_by(*_ORDER)
)
_OF_PATIENT_AT_CARE_GIVER = (
    select(*_COLUMNS)
    .where(_C.patient_id == bindparam("patient"), _C.care_giver_id == bindparam("care_giver"), _LISTED)
    .order_by(*_ORDER)
)
_CARE_GIVER_OF_UNIT = (
    select(_C.care_giver_id, _C.care_giver_name)
    .where(_C.care_unit_id == bindparam("unit"))
    .order_by(_C.last_day.desc(), _C.signed_at.desc())
    .limit(1)
)


def in_window_at_units(
    conn: Connection, units: Sequence[str], since: dt.date, until: dt.date, patient: str | None = None
) -> list[Row[Any]]:
    """Every listed certificate issued at ``units`` to the patients (or the one ``patient``) who have
    one there whose span reaches into [``since``, ``until``]; by patient, then chronologically.

    The whole of each such patient's history at the units comes back, because a sick-leave case may
    have begun long before the window; callers cut it down to the chain that matters.
    """
    params: dict[str, Any] = {"units": list(units), "since": since, "until": until}
    if patient is None:
        return list(conn.execute(_OF_PATIENTS_IN_WINDOW, params))
    return list(conn.execute(_OF_ONE_PATIENT_IN_WINDOW, {**params, "patient": patient}))


def of_patient_at_care_giver(conn: Connection, patient_id: str, care_giver_id: str) -> list[Row[Any]]:
    """Every listed certificate of the patient issued within the care giver, chronologically."""
    return list(conn.execute(_OF_PATIENT_AT_CARE_GIVER, {"patient": patient_id, "care_giver": care_giver_id}))


def care_giver_of_unit(conn: Connection, unit_id: str) -> tuple[str, str] | None:
    """(id, name) of the care giver that the unit's most recent sick-leave certificate names."""
    row = conn.execute(_CARE_GIVER_OF_UNIT, {"unit": unit_id}).first()
    return (row.care_giver_id, row.care_giver_name) if row is not None else None


def periods_of(row: Row[Any]) -> list[tuple[dt.date, dt.date, int]]:
    """The stored periods of a row read by this module, as dates."""
    return [(dt.date.fromisoformat(s), dt.date.fromisoformat(e), int(d)) for s, e, d in row.periods]
