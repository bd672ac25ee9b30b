"""The Core tables of the certificate store that more than one repository writes statements on.

A mapped class's ``__table__`` is typed loosely (a ``FromClause``); each table is cast to ``Table``
here once, rather than in every repository that joins it. Tables that only one repository uses
stay cast beside their statements.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table
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
