"""The Core tables of the certificate store that more than one repository writes statements on.

A mapped class's ``__table__`` is typed loosely (a ``FromClause``); each table is cast to ``Table``
here once, rather than in every repository that joins it. Tables that only one repository uses
stay cast beside their statements.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, TextClause, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from intygstjanst.persistence.models import (
    Certificate,
    CertificateRelation,
    CertificateSignature,
    CertificateState,
    Message,
    OutboxItem,
    SickLeaveCertificate,
)

CERTIFICATES = cast(Table, Certificate.__table__)
STATES = cast(Table, CertificateState.__table__)
RELATIONS = cast(Table, CertificateRelation.__table__)
MESSAGES = cast(Table, Message.__table__)
SIGNATURES = cast(Table, CertificateSignature.__table__)
SICK_LEAVE = cast(Table, SickLeaveCertificate.__table__)
OUTBOX = cast(Table, OutboxItem.__table__)


def insert_or_skip(conn: Connection, table: Table) -> Any:
    """The dialect's INSERT for ``table``, which has ``on_conflict_do_nothing`` / ``_do_update``
    (both databases speak ON CONFLICT): a conflict then leaves the transaction usable, where a
    failed plain INSERT ends a PostgreSQL transaction and leaves an error in the server's log."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def lock_until_commit(conn: Connection, keys: Iterable[tuple[Any, ...]]) -> None:
    """Hold ``keys`` until the transaction ends, so that writers computing what depends on a key do
    it one after the other, each reading (in a statement after the lock) what the one before
    committed. PostgreSQL's transaction-scoped advisory locks on a 64-bit digest of each key, taken
    in one statement and in one order (the function scan of the sorted array yields its keys in
    order), so that two writers never wait for each other; SQLite writes one transaction at a time
    anyway."""
    if conn.dialect.name != "postgresql":
        return
    keys = list(keys)
    if keys:
        conn.execute(*locking(keys))


def locking(keys: Iterable[tuple[Any, ...]]) -> tuple[TextClause, dict[str, Any]]:
    """The statement taking ``keys`` (at least one) as ``lock_until_commit`` does, and its
    parameters (PostgreSQL only), for a caller that sends it along with other statements. One key
    is taken without the array, whose function scan costs a registration's lock about a third of
    its time (client, server and wall-clock)."""
    digests = sorted({int.from_bytes(hashlib.sha256(repr(key).encode()).digest()[:8], "big", signed=True) for key in keys})
    if len(digests) == 1:
        return _LOCK_ONE, {"key": digests[0]}
    return _LOCK, {"keys": digests}


_LOCK = text("SELECT pg_advisory_xact_lock(key) FROM unnest(CAST(:keys AS bigint[])) AS key")
_LOCK_ONE = text("SELECT pg_advisory_xact_lock(CAST(:key AS bigint))")
