"""Repository of certificates: storing them once, their states and relations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.engine import Connection, Row

from .models import Certificate, CertificateRelation, CertificateState


@dataclass(frozen=True)
class NewCertificate:
    id: str
    type_code: str
    type_version: str
    patient_id: str
    care_unit_id: str
    care_unit_name: str
    care_giver_id: str
    signing_doctor_id: str
    signing_doctor_name: str
    signed_at: dt.datetime | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    is_test: bool
    source: str
    original: bytes
    canonical: bytes | None = None


@dataclass(frozen=True)
class StateEntry:
    state: str
    target: str
    at: dt.datetime


@dataclass(frozen=True)
class RelationEntry:
    kind: str
    to_id: str


class AlreadyStored(Exception):
    """Another transaction stored the same certificate id first."""


# Statements are built once: building them per call (``.values(**row)``) cost more than running them.
_CERTIFICATES = Certificate.__table__
_STATES = CertificateState.__table__
_RELATIONS = CertificateRelation.__table__
_INSERT_CERTIFICATE = _CERTIFICATES.insert()
_INSERT_STATE = _STATES.insert()
_INSERT_RELATION = _RELATIONS.insert()
_PATIENT_OF = select(_CERTIFICATES.c.patient_id).where(_CERTIFICATES.c.id == bindparam("id"))
_GET = select(_CERTIFICATES).where(_CERTIFICATES.c.id == bindparam("id"))


def patient_of(conn: Connection, certificate_id: str) -> str | None:
    return conn.execute(_PATIENT_OF, {"id": certificate_id}).scalar_one_or_none()


def insert_certificate(
    conn: Connection,
    new: NewCertificate,
    received_at: dt.datetime,
    relations: Sequence[RelationEntry] = (),
) -> None:
    """Insert the certificate, its RECEIVED state (target HSVARD) and its relations.

    Raises AlreadyStored when the id is taken; the primary key is the arbiter for concurrent
    duplicates, so exactly one of N simultaneous registrations wins. The caller's transaction is
    then no longer usable.
    """
    try:
        conn.execute(_INSERT_CERTIFICATE, {**new.__dict__, "deleted_by_care_giver": False, "received_at": received_at})
    except IntegrityError as exc:
        raise AlreadyStored(new.id) from exc
    add_state(conn, new.id, "RECEIVED", "HSVARD", received_at)
    if relations:
        conn.execute(
            _INSERT_RELATION,
            [
                {"from_id": new.id, "to_id": r.to_id, "kind": r.kind, "created_at": received_at}
                for r in relations
            ],
        )


def add_state(conn: Connection, certificate_id: str, state: str, target: str, at: dt.datetime) -> None:
    conn.execute(_INSERT_STATE, {"certificate_id": certificate_id, "state": state, "target": target, "at": at})


def get(conn: Connection, certificate_id: str) -> Row[Any] | None:
    return conn.execute(_GET, {"id": certificate_id}).first()


def states(conn: Connection, certificate_id: str) -> list[StateEntry]:
    rows = conn.execute(
        select(CertificateState.state, CertificateState.target, CertificateState.at)
        .where(CertificateState.certificate_id == certificate_id)
        .order_by(CertificateState.at, CertificateState.id)
    )
    return [StateEntry(state, target, at) for state, target, at in rows]


def states_for(conn: Connection, certificate_ids: Iterable[str]) -> dict[str, list[StateEntry]]:
    ids = list(certificate_ids)
    out: dict[str, list[StateEntry]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = conn.execute(
        select(CertificateState.certificate_id, CertificateState.state, CertificateState.target, CertificateState.at)
        .where(CertificateState.certificate_id.in_(ids))
        .order_by(CertificateState.at, CertificateState.id)
    )
    for certificate_id, state, target, at in rows:
        out[certificate_id].append(StateEntry(state, target, at))
    return out
