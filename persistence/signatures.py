"""Repository of signature results: one row per certificate, written in its registration's
transaction, read by ``intygstjanst certificate show`` and counted by ``/metrics``."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection

from intygstjanst.persistence.prepared import Prepared
from intygstjanst.persistence.tables import SIGNATURES as _TABLE


@dataclass(frozen=True)
class SignatureRecord:
    """What was found about one certificate's signature (see certificates/signature.py)."""

    status: str  # valid, invalid, unsigned, not_checked
    reason_code: str = ""
    reason: str = ""
    signer_subject: str = ""
    signer_hsa_id: str = ""
    remark: str = ""


@dataclass(frozen=True)
class StoredSignature:
    record: SignatureRecord
    checked_at: dt.datetime


_INSERT = Prepared(_TABLE.insert())
_GET = select(_TABLE).where(_TABLE.c.certificate_id == bindparam("id"))
_COUNTS = select(_TABLE.c.status, _TABLE.c.reason_code, func.count()).group_by(_TABLE.c.status, _TABLE.c.reason_code)
_SIGNER_HSA_ID_LENGTH = 64


def insert(conn: Connection, certificate_id: str, record: SignatureRecord, checked_at: dt.datetime) -> None:
    row = asdict(record)
    # A certificate's serialNumber may be longer than any HSA-id; the full subject is kept anyway.
    row["signer_hsa_id"] = record.signer_hsa_id[:_SIGNER_HSA_ID_LENGTH]
    _INSERT.execute(conn, {**row, "certificate_id": certificate_id, "checked_at": checked_at})


def get(conn: Connection, certificate_id: str) -> StoredSignature | None:
    row = conn.execute(_GET, {"id": certificate_id}).first()
    if row is None:
        return None
    record = SignatureRecord(row.status, row.reason_code, row.reason, row.signer_subject, row.signer_hsa_id, row.remark)
    return StoredSignature(record, row.checked_at)


def counts(conn: Connection) -> dict[tuple[str, str], int]:
    """(status, reason_code) -> number of certificates."""
    return {(status, reason): int(n) for status, reason, n in conn.execute(_COUNTS)}
