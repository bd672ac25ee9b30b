"""The access log: an append-only, hash-chained record of every disclosure of a patient's data.

Each entry's ``hash`` is SHA-256 over the previous entry's hash and the entry's canonical form (a
JSON array of its columns in the table's order), so changing an entry breaks its own hash and removing one breaks
the numbering and the next entry's link. The head row (``access_log_head``) holds the newest
entry's number and hash, so removing the newest entries shows too, and the anchor pruning leaves:
the number and hash of the last pruned entry, from which the chain is verified.

Concurrent writers (several server processes) append one after the other: the append locks the
head row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises every
writer anyway) for the few statements of the append only.

The personnummer is never stored: ``patient_key`` is HMAC-SHA256 under the access-log key (a file,
``access_log_key_file``), enough for the patient's extract (asked for by personnummer) and, the key
being kept apart from the database, not reversible by someone who only has the database, not even
by trying every personnummer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from intygstjanst.persistence.db import Database
from intygstjanst.persistence.keys import read_or_make_key
from intygstjanst.persistence.models import AccessLogEntry, AccessLogHead
from intygstjanst.settings import Settings

_ENTRIES = cast(Table, AccessLogEntry.__table__)
_HEAD = cast(Table, AccessLogHead.__table__)
_HEAD_ID = 1
KEY_FILE = "access-log.key"
GENESIS = "0" * 64  # the "previous hash" of the first entry ever written
# Every column but the hash goes into the entry's canonical form.
_CHAINED = tuple(c.name for c in _ENTRIES.columns if c.name != "hash")
_AT = _CHAINED.index("at")
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
# Pruning deletes this many entries per transaction, so appends wait for the head row only briefly.
PRUNE_BATCH = 5_000


class Disclosed(Protocol):
    """What one answer disclosed of one patient (the protocol layer's ``Disclosure``)."""

    @property
    def patient_id(self) -> str: ...
    @property
    def care_giver_id(self) -> str: ...
    @property
    def care_unit_id(self) -> str: ...
    @property
    def certificates(self) -> int: ...


@dataclass(frozen=True)
class Asker:
    """Who asked, through which contract."""

    contract: str
    version: str
    consumer: str | None
    original_consumer: str | None
    logical_address: str | None


@dataclass(frozen=True)
class Verdict:
    entries: int  # entries checked
    head_seq: int
    head_hash: str
    problem: str | None  # None: the chain is intact; else what is wrong, naming the first bad entry


@dataclass(frozen=True)
class ExtractEntry:
    at: dt.datetime
    contract: str
    version: str
    consumer: str | None
    original_consumer: str | None
    logical_address: str | None
    care_giver_id: str
    care_unit_id: str
    certificates: int


def entry_hash(previous: str, entry: dict[str, Any]) -> str:
    # The canonical form: a JSON array of the columns in the table's order, the time in ISO 8601
    # with microseconds (no key sorting: a large unit's list appends thousands of entries at once).
    values = [entry[name] for name in _CHAINED]
    values[_AT] = values[_AT].isoformat(timespec="microseconds")
    return hashlib.sha256(previous.encode("ascii") + _CANONICAL.encode(values).encode("utf-8")).hexdigest()


class AccessLog:
    def __init__(self, db: Database, key: bytes | None) -> None:
        self.db = db
        self._key = key  # None: verifying and pruning only

    @classmethod
    def configured(cls, db: Database, settings: Settings) -> AccessLog:
        """The access log in ``db`` with the key of ``access_log_key_file`` (or ``access-log.key``
        in the data directory, made the first time)."""
        return cls(db, read_or_make_key(key_file(settings)))

    def patient_key(self, patient_id: str) -> str:
        if self._key is None:
            raise ValueError("the access log was opened without its key")
        return hmac.new(self._key, patient_id.encode("utf-8"), hashlib.sha256).hexdigest()

    def append(self, asker: Asker, disclosed: Sequence[Disclosed], at: dt.datetime, call_id: str) -> None:
        """One entry per item of ``disclosed``, committed before this returns; raises if they
        cannot be written (the caller then discloses nothing)."""
        with self.db.transaction() as conn:
            seq, previous = _locked_head(conn)
            rows = []
            for item in disclosed:
                seq += 1
                row: dict[str, Any] = {
                    "seq": seq,
                    "at": at,
                    "call_id": call_id,
                    "contract": asker.contract,
                    "version": asker.version,
                    "consumer": asker.consumer,
                    "original_consumer": asker.original_consumer,
                    "logical_address": asker.logical_address,
                    "patient_key": self.patient_key(item.patient_id),
                    "care_giver_id": item.care_giver_id,
                    "care_unit_id": item.care_unit_id,
                    "certificates": item.certificates,
                }
                row["hash"] = previous = entry_hash(previous, row)
                rows.append(row)
            if rows:
                conn.execute(insert(_ENTRIES), rows)
                conn.execute(update(_HEAD).where(_HEAD.c.id == _HEAD_ID).values(seq=seq, hash=previous))

    def extract(self, patient_id: str, start: dt.datetime | None = None, end: dt.datetime | None = None) -> list[ExtractEntry]:
        """The patient's entries at ``start`` or later and before ``end``, oldest first."""
        query = select(*(_ENTRIES.c[f] for f in ExtractEntry.__dataclass_fields__)).where(
            _ENTRIES.c.patient_key == self.patient_key(patient_id)
        )
        if start is not None:
            query = query.where(_ENTRIES.c.at >= start)
        if end is not None:
            query = query.where(_ENTRIES.c.at < end)
        with self.db.read() as conn:
            return [ExtractEntry(*row) for row in conn.execute(query.order_by(_ENTRIES.c.seq))]

    def verify(self) -> Verdict:
        """Walk the chain from the anchor to the head; the first break found is reported."""
        with self.db.read() as conn:
            if conn.dialect.name == "postgresql":
                # One snapshot for the head and the entries, whatever is appended or pruned meanwhile
                # (SQLite's read transaction is one already).
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            head = conn.execute(select(_HEAD).where(_HEAD.c.id == _HEAD_ID)).first()
            if head is None:
                first = conn.execute(select(func.min(_ENTRIES.c.seq))).scalar()
                problem = None if first is None else f"the chain's head row is missing (entries from {first} on exist)"
                return Verdict(0, 0, GENESIS, problem)
            checked, problem = _walk(conn, head.anchor_seq, head.anchor_hash, head.seq, head.hash)
            return Verdict(checked, head.seq, head.hash, problem)

    def prune(self, before: dt.datetime) -> int:
        """Remove the entries up to the newest one written before ``before`` (a prefix of the
        chain), leaving its number and hash as the anchor; returns how many were removed."""
        with self.db.read() as conn:
            target = conn.execute(select(func.max(_ENTRIES.c.seq)).where(_ENTRIES.c.at < before)).scalar()
        removed = 0
        while target is not None:
            with self.db.transaction() as conn:
                _locked_head(conn)
                anchor = conn.execute(select(_HEAD.c.anchor_seq).where(_HEAD.c.id == _HEAD_ID)).scalar_one()
                upto = min(anchor + PRUNE_BATCH, target)
                if upto <= anchor:
                    break
                last = conn.execute(select(_ENTRIES.c.hash).where(_ENTRIES.c.seq == upto)).scalar()
                if last is None:
                    raise ValueError(f"access log entry {upto} is missing: run 'intygstjanst access-log verify'")
                removed += conn.execute(delete(_ENTRIES).where(_ENTRIES.c.seq <= upto)).rowcount
                conn.execute(update(_HEAD).where(_HEAD.c.id == _HEAD_ID).values(anchor_seq=upto, anchor_hash=last))
        return removed


# The database refuses to change an entry (migration 0010): appending and pruning never update one,
# so an UPDATE is a mistake or an intrusion. Someone who can drop the trigger can change entries;
# ``verify`` finds that.
APPEND_ONLY_MESSAGE = "access_log is append-only: entries are never changed"
APPEND_ONLY_TRIGGER = {
    "sqlite": (
        "CREATE TRIGGER access_log_append_only BEFORE UPDATE ON access_log "
        f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END",
    ),
    "postgresql": (
        "CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END $$",
        "CREATE TRIGGER access_log_append_only BEFORE UPDATE ON access_log "
        "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()",
    ),
}
DROP_APPEND_ONLY_TRIGGER = {
    "sqlite": ("DROP TRIGGER access_log_append_only",),
    "postgresql": ("DROP TRIGGER access_log_append_only ON access_log", "DROP FUNCTION access_log_append_only()"),
}


def retention_cutoff(now: dt.datetime, years: int) -> dt.datetime | None:
    """The entries written before this are past a retention of ``years`` (``now`` that many years
    earlier; 29 February becomes the 28th); None: a retention of 0 keeps every entry."""
    if years <= 0:
        return None
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


def key_file(settings: Settings) -> Path:
    return settings.access_log_key_file or settings.data_dir / KEY_FILE


def _locked_head(conn: Connection) -> tuple[int, str]:
    """The head's (seq, hash), its row locked until the transaction ends; created on first use."""
    values = {"id": _HEAD_ID, "seq": 0, "hash": GENESIS, "anchor_seq": 0, "anchor_hash": GENESIS}
    dialect_insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    # Two first writers at once: the second waits for the first's row instead of failing on it.
    conn.execute(dialect_insert(_HEAD).values(values).on_conflict_do_nothing(index_elements=["id"]))
    head = conn.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == _HEAD_ID).with_for_update()).one()
    return head.seq, head.hash


def _walk(conn: Connection, anchor_seq: int, anchor_hash: str, head_seq: int, head_hash: str) -> tuple[int, str | None]:
    """(entries checked, the first problem or None) for the entries after the anchor up to the
    head; entries appended meanwhile (beyond the head read first) are left for the next run."""
    expected, previous, checked = anchor_seq + 1, anchor_hash, 0
    for row in _entries(conn, anchor_seq, head_seq):
        entry = row._asdict()
        if row.seq != expected:
            missing = f"entry {expected}" if row.seq == expected + 1 else f"entries {expected} to {row.seq - 1}"
            return checked, f"{missing} deleted (the chain goes on at entry {row.seq})"
        if entry_hash(previous, entry) != row.hash:
            return checked, f"entry {row.seq} changed: its content does not give its hash (or the entry before it was changed)"
        expected, previous, checked = row.seq + 1, row.hash, checked + 1
    if expected - 1 != head_seq:
        missing = f"entry {head_seq}" if expected == head_seq else f"entries {expected} to {head_seq}"
        return checked, f"{missing} deleted (the head names entry {head_seq})"
    if previous != head_hash:
        return checked, f"entry {head_seq} changed: its hash is not the one the head holds"
    return checked, None


def _entries(conn: Connection, after: int, upto: int) -> Iterator[Any]:
    """The entries in order, streamed: a chain of millions does not have to fit in memory."""
    query = select(_ENTRIES).where(_ENTRIES.c.seq > after, _ENTRIES.c.seq <= upto).order_by(_ENTRIES.c.seq)
    yield from conn.execution_options(stream_results=True, yield_per=10_000).execute(query)
