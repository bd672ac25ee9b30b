"""Repository of certificates: storing them once, their states and relations."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import String, bindparam, select
from sqlalchemy.engine import Connection, Row

from intygstjanst.persistence.models import CertificateState
from intygstjanst.persistence.prepared import Prepared, pipelined
from intygstjanst.persistence.tables import CERTIFICATES as _CERTIFICATES, RELATIONS as _RELATIONS, STATES as _STATES, insert_or_skip


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
ID_LENGTH: int = cast(String, _CERTIFICATES.c.id.type).length or 0
_INSERT_CERTIFICATE: dict[str, Prepared] = {}  # per dialect: its ON CONFLICT form
_INSERT_STATE = Prepared(_STATES.insert())
_INSERT_RELATION = _RELATIONS.insert()
_PATIENT_OF = select(_CERTIFICATES.c.patient_id).where(_CERTIFICATES.c.id == bindparam("id"))
_GET = select(_CERTIFICATES).where(_CERTIFICATES.c.id == bindparam("id"))
_LOCK = _GET.with_for_update()
_HOLD = (
    select(_CERTIFICATES.c.id)
    .where(_CERTIFICATES.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_CERTIFICATES.c.id)
    .with_for_update(read=True, key_share=True)
)


def patient_of(conn: Connection, certificate_id: str) -> str | None:
    return conn.execute(_PATIENT_OF, {"id": certificate_id}).scalar_one_or_none()


def insert_certificate(
    conn: Connection,
    new: NewCertificate,
    received_at: dt.datetime,
    relations: Sequence[RelationEntry] = (),
    along: Sequence[tuple[Any, Any]] = (),
) -> list[list[tuple[Any, ...]]]:
    """Insert the certificate, its RECEIVED state (target HSVARD) and its relations; ``along``:
    statements whose rows are returned, sent with the insert, before it (``prepared.pipelined``:
    one round trip on PostgreSQL), or after the relations when there are some: the certificates
    they point to are held first (``hold``), as an erasure locks those rows before anything else,
    so that what ``along`` locks never comes between.

    Raises AlreadyStored when the id is taken; the primary key is the arbiter for concurrent
    duplicates, so exactly one of N simultaneous registrations wins. The id's conflict is skipped
    rather than failed, so a repeated registration (journal systems resend) leaves no error in
    the database's log; the caller's transaction stays usable.
    """
    values = {**new.__dict__, "deleted_by_care_giver": False, "received_at": received_at}
    statement = _INSERT_CERTIFICATE.get(conn.dialect.name)
    if statement is None:
        # RETURNING rather than rowcount: drivers report rowcount for INSERT .. ON CONFLICT differently.
        statement = Prepared(
            insert_or_skip(conn, _CERTIFICATES).on_conflict_do_nothing(index_elements=["id"]).returning(_CERTIFICATES.c.id)
        )
        _INSERT_CERTIFICATE[conn.dialect.name] = statement
    first = () if relations else along
    if conn.dialect.name == "postgresql":
        *read, inserted = pipelined(conn, [*first, (statement.statement, values)])
        stored = bool(inserted)
    else:
        read = pipelined(conn, first)
        stored = statement.execute(conn, values) is not None
    if not stored:
        raise AlreadyStored(new.id)
    add_state(conn, new.id, "RECEIVED", "HSVARD", received_at)
    if relations:
        hold(conn, [r.to_id for r in relations])
        conn.execute(
            _INSERT_RELATION,
            [
                {"from_id": new.id, "to_id": r.to_id, "kind": r.kind, "created_at": received_at}
                for r in relations
            ],
        )
        read = pipelined(conn, along)
    return read


def add_state(conn: Connection, certificate_id: str, state: str, target: str, at: dt.datetime) -> None:
    _INSERT_STATE.execute(conn, {"certificate_id": certificate_id, "state": state, "target": target, "at": at})


def get(conn: Connection, certificate_id: str) -> Row[Any] | None:
    return conn.execute(_GET, {"id": certificate_id}).first()


def lock(conn: Connection, certificate_id: str) -> Row[Any] | None:
    """The certificate, locked until the transaction ends, for check-then-write decisions (revoke
    once, one SENT entry per recipient). PostgreSQL takes a row lock (FOR UPDATE); on SQLite the
    write transaction (BEGIN IMMEDIATE) already excludes every other writer."""
    return conn.execute(_LOCK, {"id": certificate_id}).first()


def hold(conn: Connection, certificate_ids: Sequence[str]) -> None:
    """Keep the certificates ``certificate_ids`` (those stored) from being erased until the
    transaction ends, before writing rows about them that have no foreign key to them: relations
    to them, approved receivers.

    An erasure locks each batch's certificate rows FOR UPDATE before comparing them with the export
    (persistence/lifecycle.py, ``records_after``) and removes them in the same transaction; every
    writer of what the export holds must conflict with that lock, or a change committed between the
    comparison and the DELETEs would be removed without ever having been exported. An UPDATE of the
    certificate row and a row with a foreign key to it (a state, a message, the signature record:
    the key check takes FOR KEY SHARE on the certificate) conflict by themselves; these rows do not,
    so the writer takes the same FOR KEY SHARE here, in id order (the erasure's order: no deadlock).
    A writer that waited finds the certificate gone and writes about an absent one, as it may (an
    approval can come before its certificate). SQLite needs nothing: a write transaction (BEGIN
    IMMEDIATE) excludes the erasure's whole batch, so the statement is not sent there."""
    if conn.dialect.name == "postgresql":
        conn.execute(_HOLD, {"ids": sorted(set(certificate_ids))})


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


# --- Lists and relation graphs (ListCertificatesForCare/Citizen, ListRelationsForCertificate) -----


@dataclass(frozen=True)
class Listed:
    """A listed certificate: the document to answer with and its whole state history, in order."""

    id: str
    document: bytes  # the v3 form: the canonical document for legacy arrivals, else the original
    states: list[StateEntry]
    is_test: bool
    # Whose record it is (the access log names them).
    patient_id: str
    care_giver_id: str
    care_unit_id: str


# One query per list: the patient's certificates joined with their states (a row per state). The
# document repeats on each state row, which costs less than a second round trip for the states.
_LISTED_FROM = _CERTIFICATES.outerjoin(_STATES, _STATES.c.certificate_id == _CERTIFICATES.c.id)
_LISTED_COLUMNS = (
    _CERTIFICATES.c.id,
    _CERTIFICATES.c.original,
    _CERTIFICATES.c.canonical,
    _CERTIFICATES.c.is_test,
    _CERTIFICATES.c.patient_id,
    _CERTIFICATES.c.care_giver_id,
    _CERTIFICATES.c.care_unit_id,
    _STATES.c.state,
    _STATES.c.target,
    _STATES.c.at,
)
# Newest first (certificates without a signing time last on every database); states in order.
_LISTED_ORDER = (_CERTIFICATES.c.signed_at.desc().nulls_last(), _CERTIFICATES.c.id, _STATES.c.at, _STATES.c.id)
# The patient's rows come from ix_certificate_patient_signed, their states from the state index.
_OF_PATIENT = (
    select(*_LISTED_COLUMNS)
    .select_from(_LISTED_FROM)
    .where(_CERTIFICATES.c.patient_id == bindparam("patient"), _CERTIFICATES.c.deleted_by_care_giver.is_(False))
)
_FOR_CARE_UNITS = _OF_PATIENT.where(_CERTIFICATES.c.care_unit_id.in_(bindparam("units", expanding=True))).order_by(
    *_LISTED_ORDER
)
_FOR_CARE_GIVER = _OF_PATIENT.where(_CERTIFICATES.c.care_giver_id == bindparam("care_giver")).order_by(*_LISTED_ORDER)


def _listed(rows: Iterable[Row[Any]]) -> list[Listed]:
    by_id: dict[str, Listed] = {}  # keeps the query's order
    for r in rows:
        listed = by_id.get(r.id)
        if listed is None:
            listed = by_id[r.id] = Listed(r.id, r.canonical or r.original, [], r.is_test, r.patient_id, r.care_giver_id, r.care_unit_id)
        if r.state is not None:
            listed.states.append(StateEntry(r.state, r.target, r.at))
    return list(by_id.values())


def list_for_care_units(conn: Connection, patient_id: str, care_units: Sequence[str]) -> list[Listed]:
    """The patient's certificates issued at any of ``care_units`` with their states, newest first;
    erased ones left out."""
    return _listed(conn.execute(_FOR_CARE_UNITS, {"patient": patient_id, "units": list(care_units)}))


def list_for_care_giver(conn: Connection, patient_id: str, care_giver: str) -> list[Listed]:
    """The patient's certificates issued anywhere within ``care_giver`` with their states, newest
    first; erased ones left out."""
    return _listed(conn.execute(_FOR_CARE_GIVER, {"patient": patient_id, "care_giver": care_giver}))


@functools.lru_cache(maxsize=None)
def _citizen_statement(by_type: bool, has_from: bool, has_to: bool) -> Any:
    # One statement per combination of optional filters, built once: "(:x IS NULL OR ...)" would
    # keep a single statement but leaves PostgreSQL guessing the type of a NULL parameter.
    statement = _OF_PATIENT.where(_CERTIFICATES.c.type_code.not_in(bindparam("excluded", expanding=True)))
    if by_type:
        statement = statement.where(_CERTIFICATES.c.type_code.in_(bindparam("types", expanding=True)))
    if has_from:
        statement = statement.where(_CERTIFICATES.c.signed_at >= bindparam("signed_from"))
    if has_to:
        statement = statement.where(_CERTIFICATES.c.signed_at < bindparam("signed_before"))
    return statement.order_by(*_LISTED_ORDER)


def list_for_citizen(
    conn: Connection,
    patient_id: str,
    *,
    excluded_types: Sequence[str],
    types: Sequence[str] | None = None,
    signed_from: dt.datetime | None = None,
    signed_before: dt.datetime | None = None,
) -> list[Listed]:
    """The patient's certificates with their states, newest first, without erased ones and
    ``excluded_types``.

    ``types`` (None = every type) and the half-open signing interval [``signed_from``,
    ``signed_before``) narrow the list further.
    """
    params: dict[str, Any] = {"patient": patient_id, "excluded": list(excluded_types)}
    if types is not None:
        params["types"] = list(types)
    if signed_from is not None:
        params["signed_from"] = signed_from
    if signed_before is not None:
        params["signed_before"] = signed_before
    statement = _citizen_statement(types is not None, signed_from is not None, signed_before is not None)
    return _listed(conn.execute(statement, params))


@dataclass(frozen=True)
class RelationRow:
    id: int  # insertion order, the tie-break when two relations were made in the same instant
    from_id: str  # the newer certificate, which replaces / completes / renews / copies to_id
    to_id: str
    kind: str
    created_at: dt.datetime


_RELATION_COLUMNS = (_RELATIONS.c.id, _RELATIONS.c.from_id, _RELATIONS.c.to_id, _RELATIONS.c.kind, _RELATIONS.c.created_at)
_FROM_OR_TO = select(*_RELATION_COLUMNS).where(
    _RELATIONS.c.from_id.in_(bindparam("from_ids", expanding=True))
    | _RELATIONS.c.to_id.in_(bindparam("to_ids", expanding=True))
)
_REVOKED = (
    select(_STATES.c.certificate_id)
    .where(_STATES.c.certificate_id.in_(bindparam("ids", expanding=True)), _STATES.c.state == "CANCELLED")
    .distinct()
)
_CARE_UNITS = select(_CERTIFICATES.c.id, _CERTIFICATES.c.care_unit_id).where(
    _CERTIFICATES.c.id.in_(bindparam("ids", expanding=True))
)


def relations_from_or_to(conn: Connection, from_ids: Iterable[str], to_ids: Iterable[str]) -> list[RelationRow]:
    """Relations made by any of ``from_ids`` or made to any of ``to_ids`` (one query, both indexed)."""
    rows = conn.execute(_FROM_OR_TO, {"from_ids": list(from_ids), "to_ids": list(to_ids)})
    return [RelationRow(r.id, r.from_id, r.to_id, r.kind, r.created_at) for r in rows]


def revoked_among(conn: Connection, certificate_ids: Iterable[str]) -> set[str]:
    """The ids among ``certificate_ids`` that have been revoked."""
    ids = list(certificate_ids)
    return set(conn.execute(_REVOKED, {"ids": ids}).scalars()) if ids else set()


def care_units_of(conn: Connection, certificate_ids: Iterable[str]) -> dict[str, str]:
    """The issuing care unit of each stored certificate among ``certificate_ids``."""
    ids = list(certificate_ids)
    return {r.id: r.care_unit_id for r in conn.execute(_CARE_UNITS, {"ids": ids})} if ids else {}


# --- end of lists and relation graphs -----------------------------------------------------------
