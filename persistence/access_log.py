"""The access log: an append-only, hash-chained record of every disclosure of a patient's data.

One entry per disclosing answer: who asked, through which contract, when; its patients (with care
giver, unit and how many certificates) are rows of ``access_log_patient``, written in one statement,
so a unit's list naming thousands of patients costs one entry and one hash. An entry naming more
than ``HELD_ABOVE`` patient rows holds them itself (``patients``, one value) and the indexer
(:meth:`AccessLog.index_pending`) copies them into ``access_log_patient`` afterwards, advancing a
watermark (``access_log_indexed``): those thousands of rows, their primary key and patient-key
index were most of a unit's list call. The extract reads the entries past the watermark from
their held rows.

Each entry's ``hash`` is SHA-256 over the previous entry's hash and the entry's canonical form (a
JSON array of its columns in the table's order followed by each of its patient rows' four values,
the rows sorted, wherever they are kept), so changing an entry or a patient row, or removing a patient row, breaks its own hash, and
removing an entry breaks the numbering and the next entry's link. (An entry with one patient has
the canonical form entries had when each named one patient, migration 0013: those still verify.) The head row (``access_log_head``) holds the newest
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
import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, groupby
from operator import attrgetter, itemgetter, methodcaller
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from intygstjanst.persistence.db import Database
from intygstjanst.persistence.keys import read_or_make_key
from intygstjanst.persistence.models import AccessLogEntry, AccessLogHead, AccessLogIndexed, AccessLogPatient
from intygstjanst.persistence.tables import insert_or_skip
from intygstjanst.settings import Settings

_ENTRIES = cast(Table, AccessLogEntry.__table__)
_PATIENTS = cast(Table, AccessLogPatient.__table__)
_HEAD = cast(Table, AccessLogHead.__table__)
_INDEXED = cast(Table, AccessLogIndexed.__table__)
_HEAD_ID = 1  # the id of the head row and of the watermark row
KEY_FILE = "access-log.key"
GENESIS = "0" * 64  # the "previous hash" of the first entry ever written
# Every column but the hash and the held patient rows (chained as rows) goes into the entry's canonical form.
_CHAINED = tuple(c.name for c in _ENTRIES.columns if c.name not in ("hash", "patients"))
_AT = _CHAINED.index("at")
_NAMED = ("patient_key", "care_giver_id", "care_unit_id", "certificates")  # a patient row's chained values
Named = tuple[str, str, str, int]
Columns = tuple[Sequence[str], Sequence[str], Sequence[str], Sequence[int]]  # the patient rows, column by column
_PATIENT_ID, _GIVER, _UNIT, _COUNT = (attrgetter(name) for name in ("patient_id", "care_giver_id", "care_unit_id", "certificates"))
# All of an entry's patients in one COPY on PostgreSQL: the server inserts the rows in batches
# (heap_multi_insert), 5-9 ms less of its CPU than INSERT ... SELECT FROM unnest for 8,498 rows;
# the data is one text written by joins (COPY's text format, values escaped where they need it).
_COPY_NAMED = f"COPY access_log_patient (seq, {', '.join(_NAMED)}) FROM STDIN"
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPE = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_COPY_ESCAPES = str.maketrans(_COPY_ESCAPE)
_COPY_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_COPY_UNESCAPES = {escaped[1]: value for value, escaped in _COPY_ESCAPE.items()}
_INSERT_NAMED_MANY = f"INSERT INTO access_log_patient (seq, {', '.join(_NAMED)}) VALUES (?, ?, ?, ?, ?)"
# An entry naming more patient rows than this holds them itself and is indexed afterwards; one
# naming fewer (a certificate's read names one) has them written into access_log_patient at once.
HELD_ABOVE = 64
# The indexer copies the held rows of at most this many entries per transaction (a unit's list
# holds thousands each), so pruning waits for it only briefly.
INDEX_BATCH = 8
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_JSON_STRING = json.encoder.encode_basestring  # how _CANONICAL writes a string (ensure_ascii=False)
# At most this many patients' keys are kept in memory (a few MB), then the count starts again.
PATIENT_KEYS_KEPT = 200_000
# The rows of this many recent large entries are kept ready to write again (a unit's list each).
LARGE_ENTRIES_KEPT = 8
# Pruning deletes this many entries per transaction, so appends wait for the head row only briefly.
PRUNE_BATCH = 5_000
PRUNE_ROWS = 50_000  # and at most about this many patient rows (one entry may hold more)


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


def entry_hash(previous: str, entry: dict[str, Any], named: Sequence[Named]) -> str:
    """The hash of ``entry`` (its columns) naming the patient rows ``named``, in any order."""
    return _entry_hash(previous, entry, _columns(sorted(named)))


def _columns(named: Sequence[Named]) -> Columns:
    """The patient rows ``named`` as their four columns (empty ones for no rows)."""
    if not named:
        return (), (), (), ()
    keys, givers, units, counts = zip(*named, strict=True)
    return keys, givers, units, counts


def _entry_hash(previous: str, entry: dict[str, Any], columns: Columns, hex_keys: bool = False) -> str:
    """:func:`entry_hash` of the patient rows in ``columns``, rows in sorted order (``hex_keys``:
    the patient keys are known to be hex digits, as ``patient_keys`` makes them)."""
    return _hash_with_rows(previous, entry, _canonical_rows(columns, hex_keys))


def _hash_with_rows(previous: str, entry: dict[str, Any], rows: bytes) -> str:
    """:func:`entry_hash` of ``entry`` with its rows' part of the canonical form, ``rows``."""
    # The canonical form: a JSON array of the columns in the table's order, the time in ISO 8601
    # with microseconds, then the patient rows' values, flat, the rows sorted.
    values: list[Any] = [entry[name] for name in _CHAINED]
    values[_AT] = values[_AT].isoformat(timespec="microseconds")
    digest = hashlib.sha256(previous.encode("ascii"))
    digest.update(_CANONICAL.encode(values)[:-1].encode("utf-8"))
    digest.update(rows)
    digest.update(b"]")
    return digest.hexdigest()


def _canonical_rows(columns: Columns, hex_keys: bool = False) -> bytes:
    """The patient rows' part of the canonical form (UTF-8): a comma before each row's values,
    flat (nothing for no rows). One join over the values, each written as the JSON encoder writes
    it (a string by its own function, an integer as its repr): the same text without walking
    thousands of values through the encoder (tests/contract/test_access_log_chain.py compares)."""
    keys, givers, units, counts = columns
    if keys and hex_keys and _plain(givers) and _plain(units):
        # Every string is written as it is, between quotes (hex keys; the few distinct care givers
        # and units checked): one format per row, half the time of encoding each value.
        return f",{','.join(map(_PLAIN_ROW, keys, givers, units, map(int.__repr__, counts)))}".encode("utf-8")
    if keys:
        rows = zip(map(_JSON_STRING, keys), map(_JSON_STRING, givers), map(_JSON_STRING, units), map(int.__repr__, counts))
        return f",{','.join(chain.from_iterable(rows))}".encode("utf-8")
    return b""


_PLAIN_ROW = '"{}","{}","{}",{}'.format


def _plain(values: Sequence[str]) -> bool:
    """Whether the JSON encoder writes each of ``values`` as it is, between quotes."""
    return all(_JSON_STRING(v)[1:-1] == v for v in set(values))


class _Rows(NamedTuple):
    """An entry's patient rows, ready to write: sorted, as columns, in COPY's text, and their part
    of the canonical form."""

    disclosed: tuple[Disclosed, ...]
    columns: Columns
    text: str
    canonical: bytes


class AccessLog:
    def __init__(self, db: Database, key: bytes | None) -> None:
        self.db = db
        self._key = key  # None: verifying and pruning only
        # A unit's coordinator list names the same thousands of patients call after call: their
        # keys are kept (in this process only, as their personnummer are) rather than recomputed,
        # and so are the recent large entries' rows, ready to write (most recent first).
        self._patient_keys: dict[str, str] = {}
        self._recent_rows: list[_Rows] = []

    @classmethod
    def configured(cls, db: Database, settings: Settings) -> AccessLog:
        """The access log in ``db`` with the key of ``access_log_key_file`` (or ``access-log.key``
        in the data directory, made the first time)."""
        return cls(db, read_or_make_key(key_file(settings)))

    def patient_key(self, patient_id: str) -> str:
        return self.patient_keys((patient_id,))[0]

    def patient_keys(self, patient_ids: Iterable[str]) -> list[str]:
        """The keys of ``patient_ids``, in order: looked up in one pass, only those not kept yet computed."""
        ids = list(patient_ids)
        kept = self._patient_keys
        found = list(map(kept.get, ids))
        if None in found:
            if self._key is None:
                raise ValueError("the access log was opened without its key")
            for n, key in enumerate(found):
                if key is None:
                    if len(kept) >= PATIENT_KEYS_KEPT:
                        kept.clear()
                    patient_id = ids[n]
                    key = kept[patient_id] = hmac.digest(self._key, patient_id.encode("utf-8"), "sha256").hex()
                    found[n] = key
        return cast(list[str], found)

    def append(self, asker: Asker, disclosed: Sequence[Disclosed], at: dt.datetime, call_id: str) -> None:
        """One entry naming every item of ``disclosed`` (distinct patient, care giver and unit),
        committed before this returns; raises if it cannot be written (the caller then discloses
        nothing)."""
        if not disclosed:
            return
        # Prepared before the head row is locked: the other appends do not wait for it.
        rows = self._rows_of(tuple(disclosed))
        held = rows.text.encode("utf-8") if len(rows.columns[0]) > HELD_ABOVE else None
        with self.db.transaction() as conn:
            head = _locked_head(conn)
            entry: dict[str, Any] = {
                "seq": head.seq + 1,
                "at": at,
                "call_id": call_id,
                "contract": asker.contract,
                "version": asker.version,
                "consumer": asker.consumer,
                "original_consumer": asker.original_consumer,
                "logical_address": asker.logical_address,
            }
            entry["hash"] = _hash_with_rows(head.hash, entry, rows.canonical)
            conn.execute(insert(_ENTRIES), {**entry, "patients": held})
            if held is None:
                _insert_named(conn, [(entry["seq"], rows.text)])
            conn.execute(update(_HEAD).where(_HEAD.c.id == _HEAD_ID).values(seq=entry["seq"], hash=entry["hash"]))

    def _rows_of(self, disclosed: tuple[Disclosed, ...]) -> _Rows:
        """The patient rows of ``disclosed``, sorted (so they go into the primary key's index at its
        end, past searching it), built column by column (no Python code per row): a unit's list
        names thousands. A recent large entry's are reused when it names the same (tuples of
        another length differ at once; equal tuples of the same items compare item by item by
        identity first: a kept listing's in microseconds)."""
        recent = self._recent_rows  # replaced whole, never changed: safe to read across threads
        for kept in recent:
            if kept.disclosed == disclosed:
                return kept
        keys = self.patient_keys(map(_PATIENT_ID, disclosed))
        columns = _columns(sorted(zip(keys, map(_GIVER, disclosed), map(_UNIT, disclosed), map(_COUNT, disclosed))))
        rows = _Rows(disclosed, columns, _rows_text(columns), _canonical_rows(columns, hex_keys=True))
        if len(keys) > HELD_ABOVE:
            self._recent_rows = [rows, *recent[: LARGE_ENTRIES_KEPT - 1]]
        return rows

    def extract(self, patient_id: str, start: dt.datetime | None = None, end: dt.datetime | None = None) -> list[ExtractEntry]:
        """The patient's entries at ``start`` or later and before ``end``, oldest first: from
        access_log_patient, and from the rows held in the entries not indexed yet."""
        key = self.patient_key(patient_id)
        asked = [_ENTRIES.c[f] for f in ExtractEntry.__dataclass_fields__ if f not in _NAMED]
        when = [_ENTRIES.c.at >= start] if start is not None else []
        if end is not None:
            when.append(_ENTRIES.c.at < end)
        indexed = (
            select(_ENTRIES.c.seq, *asked, *(_PATIENTS.c[name] for name in _NAMED[1:]))
            .join_from(_PATIENTS, _ENTRIES, _ENTRIES.c.seq == _PATIENTS.c.seq)
            .where(_PATIENTS.c.patient_key == key, *when)
            .order_by(_ENTRIES.c.seq, _PATIENTS.c.care_giver_id, _PATIENTS.c.care_unit_id)
        )
        with self.db.read() as conn:
            # The watermark and the entries in one snapshot: an entry indexed meanwhile is read
            # from one place only.
            conn = _snapshot(conn)
            pending = select(_ENTRIES.c.seq, *asked, _ENTRIES.c.patients).where(
                _ENTRIES.c.seq > _watermark(conn), _ENTRIES.c.patients.is_not(None), *when
            )
            found = [tuple(row) for row in conn.execute(indexed)]
            for *entry, held in conn.execute(pending):
                rows = held.decode("utf-8")
                if key in rows:
                    found.extend((*entry, *named[1:]) for named in _rows(rows) if named[0] == key)
        found.sort(key=itemgetter(0))  # stable: an entry's rows stay in the order read
        return [ExtractEntry(*row[1:]) for row in found]

    def verify(self) -> Verdict:
        """Walk the chain from the anchor to the head; the first break found is reported."""
        with self.db.read() as conn:
            conn = _snapshot(conn)
            head = conn.execute(select(_HEAD).where(_HEAD.c.id == _HEAD_ID)).first()
            if head is None:
                first = conn.execute(select(func.min(_ENTRIES.c.seq))).scalar()
                problem = None if first is None else f"the chain's head row is missing (entries from {first} on exist)"
                return Verdict(0, 0, GENESIS, problem)
            checked, problem = _walk(conn, head.anchor_seq, head.anchor_hash, head.seq, head.hash, _watermark(conn))
            return Verdict(checked, head.seq, head.hash, problem)

    def index_pending(self, batch: int = INDEX_BATCH) -> int:
        """Copy the patient rows held in the entries past the watermark into access_log_patient,
        ``batch`` entries per transaction that also advances the watermark past them, until none is
        left; returns how many entries were indexed. Two indexers at once take turns on the
        watermark row, so neither copies an entry the other did."""
        done = 0
        while True:
            with self.db.transaction() as conn:
                indexed = _locked_watermark(conn)
                # Every entry up to the head read here is committed (with the head): none past the
                # watermark is skipped while its append is still running.
                head = conn.execute(select(_HEAD.c.seq).where(_HEAD.c.id == _HEAD_ID)).scalar() or 0
                held = conn.execute(
                    select(_ENTRIES.c.seq, _ENTRIES.c.patients)
                    .where(_ENTRIES.c.seq > indexed, _ENTRIES.c.seq <= head, _ENTRIES.c.patients.is_not(None))
                    .order_by(_ENTRIES.c.seq)
                    .limit(batch)
                ).all()
                if held:
                    _insert_named(conn, [(seq, rows.decode("utf-8")) for seq, rows in held])
                upto = held[-1].seq if len(held) == batch else head
                if upto > indexed:
                    _advance(conn, upto)
            done += len(held)
            if len(held) < batch:
                return done

    def prune(self, before: dt.datetime) -> int:
        """Remove the entries up to the newest one written before ``before`` (a prefix of the
        chain), leaving its number and hash as the anchor; returns how many were removed."""
        with self.db.read() as conn:
            target = conn.execute(select(func.max(_ENTRIES.c.seq)).where(_ENTRIES.c.at < before)).scalar()
        removed = 0
        while target is not None:
            with self.db.transaction() as conn:
                # The watermark first (an indexer holds it without the head): an indexer does not
                # copy the rows of an entry removed here, and the watermark is never behind the anchor.
                indexed = _locked_watermark(conn)
                anchor = _locked_head(conn).anchor_seq
                upto = min(anchor + PRUNE_BATCH, target)
                if upto <= anchor:
                    break
                # Entries naming thousands of patients: the batch ends before its patient rows
                # exceed PRUNE_ROWS (but takes at least one entry whole).
                beyond = conn.execute(
                    select(_PATIENTS.c.seq).where(_PATIENTS.c.seq > anchor).order_by(_PATIENTS.c.seq).offset(PRUNE_ROWS).limit(1)
                ).scalar()
                if beyond is not None:
                    upto = min(upto, max(anchor + 1, beyond - 1))
                last = conn.execute(select(_ENTRIES.c.hash).where(_ENTRIES.c.seq == upto)).scalar()
                if last is None:
                    raise ValueError(f"access log entry {upto} is missing: run 'intygstjanst access-log verify'")
                conn.execute(delete(_PATIENTS).where(_PATIENTS.c.seq <= upto))
                removed += conn.execute(delete(_ENTRIES).where(_ENTRIES.c.seq <= upto)).rowcount
                conn.execute(update(_HEAD).where(_HEAD.c.id == _HEAD_ID).values(anchor_seq=upto, anchor_hash=last))
                if upto > indexed:
                    _advance(conn, upto)
        return removed


# The database refuses to change an entry or a patient row (migrations 0010 and 0013): appending
# and pruning never update one, so an UPDATE is a mistake or an intrusion. Someone who can drop the
# triggers can change entries; ``verify`` finds that.
APPEND_ONLY_MESSAGE = "access_log is append-only: entries are never changed"
APPEND_ONLY_TABLES = ("access_log", "access_log_patient")
# PostgreSQL's triggers share one function (migration 0010 makes it).
APPEND_ONLY_FUNCTION = {
    "sqlite": (),
    "postgresql": (
        "CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END $$",
    ),
}
DROP_APPEND_ONLY_FUNCTION = {"sqlite": (), "postgresql": ("DROP FUNCTION access_log_append_only()",)}


def append_only_trigger(dialect: str, table: str) -> str:
    if dialect == "sqlite":
        return f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
    return f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION access_log_append_only()"


def drop_append_only_trigger(dialect: str, table: str) -> str:
    return f"DROP TRIGGER {table}_append_only" + (f" ON {table}" if dialect == "postgresql" else "")


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


def _locked_head(conn: Connection) -> Any:
    """The head row, locked until the transaction ends; created on first use."""
    return _locked_row(conn, _HEAD, {"id": _HEAD_ID, "seq": 0, "hash": GENESIS, "anchor_seq": 0, "anchor_hash": GENESIS})


def _locked_watermark(conn: Connection) -> int:
    """The indexer's watermark, its row locked until the transaction ends; created on first use."""
    return cast(int, _locked_row(conn, _INDEXED, {"id": _HEAD_ID, "indexed_seq": 0}).indexed_seq)


def _locked_row(conn: Connection, table: Table, first: dict[str, Any]) -> Any:
    # Two first writers at once: the second waits for the first's row instead of failing on it.
    conn.execute(insert_or_skip(conn, table).values(first).on_conflict_do_nothing(index_elements=["id"]))
    return conn.execute(select(table).where(table.c.id == _HEAD_ID).with_for_update()).one()


def _watermark(conn: Connection) -> int:
    return conn.execute(select(_INDEXED.c.indexed_seq).where(_INDEXED.c.id == _HEAD_ID)).scalar() or 0


def _advance(conn: Connection, indexed_seq: int) -> None:
    conn.execute(update(_INDEXED).where(_INDEXED.c.id == _HEAD_ID).values(indexed_seq=indexed_seq))


def _snapshot(conn: Connection) -> Connection:
    """``conn`` reading one snapshot for all its statements (SQLite's read transaction is one
    already): the head, the watermark and the entries as they were together, whatever is appended,
    indexed or pruned meanwhile."""
    return conn.execution_options(isolation_level="REPEATABLE READ") if conn.dialect.name == "postgresql" else conn


def _insert_named(conn: Connection, entries: Sequence[tuple[int, str]]) -> None:
    """The patient rows of each (entry number, its rows' text) into access_log_patient, at once."""
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy(_COPY_NAMED) as copy:
            for seq, rows in entries:
                numbered = f"{seq}\t"
                copy.write(numbered + rows[:-1].replace("\n", "\n" + numbered) + "\n")
    else:
        # The driver's executemany over plain tuples: no statement compiled or dict made per row.
        conn.exec_driver_sql(_INSERT_NAMED_MANY, [(seq, *named) for seq, rows in entries for named in _rows(rows)])


def _rows_text(columns: Columns) -> str:
    """The rows in COPY's text format (what PostgreSQL takes them in, and what a large entry holds):
    a line per row, tab-separated, backslash escapes (the patient keys are hex digits, as
    ``patient_keys`` makes them; the care givers and units are checked once per distinct value)."""
    keys, givers, units, counts = columns
    return "\n".join(map("\t".join, zip(keys, _copy_escaped(givers), _copy_escaped(units), map(str, counts)))) + "\n"


def _rows(text: str) -> list[Named]:
    """The rows of :func:`_rows_text`, in its order."""
    split: Iterable[list[str]] = map(methodcaller("split", "\t"), text[:-1].split("\n"))
    if "\\" in text:
        split = ([_COPY_ESCAPED.sub(_unescaped, value) for value in values] for values in split)
    return [(key, giver, unit, int(count)) for key, giver, unit, count in split]


def _unescaped(escape: re.Match[str]) -> str:
    return _COPY_UNESCAPES[escape[1]]


def _copy_escaped(values: Sequence[str]) -> Sequence[str]:
    if all(_COPY_SPECIAL.search(value) is None for value in set(values)):
        return values
    return [value.translate(_COPY_ESCAPES) for value in values]


def _walk(conn: Connection, anchor_seq: int, anchor_hash: str, head_seq: int, head_hash: str, indexed: int) -> tuple[int, str | None]:
    """(entries checked, the first problem or None) for the entries after the anchor up to the
    head; entries appended meanwhile (beyond the head read first) are left for the next run. An
    entry holding its patient rows is hashed from them, and its rows in access_log_patient (none
    until it is indexed, up to the watermark ``indexed``) must be the same."""
    expected, previous, checked = anchor_seq + 1, anchor_hash, 0
    for entry, named in _entries(conn, anchor_seq, head_seq):
        seq = entry["seq"]
        if seq != expected:
            missing = f"entry {expected}" if seq == expected + 1 else f"entries {expected} to {seq - 1}"
            return checked, f"{missing} deleted (the chain goes on at entry {seq})"
        held = None if entry["patients"] is None else _rows(entry["patients"].decode("utf-8"))
        if entry_hash(previous, entry, named if held is None else held) != entry["hash"]:
            return checked, f"entry {seq} changed: its content does not give its hash (or the entry before it was changed)"
        if held is not None and sorted(named) != (held if seq <= indexed else []):
            return checked, f"entry {seq}: its patient index differs from the rows it holds"
        expected, previous, checked = seq + 1, entry["hash"], checked + 1
    if expected - 1 != head_seq:
        missing = f"entry {head_seq}" if expected == head_seq else f"entries {expected} to {head_seq}"
        return checked, f"{missing} deleted (the head names entry {head_seq})"
    if previous != head_hash:
        return checked, f"entry {head_seq} changed: its hash is not the one the head holds"
    return checked, None


def _entries(conn: Connection, after: int, upto: int) -> Iterator[tuple[dict[str, Any], list[Named]]]:
    """The entries in order, each with its rows in access_log_patient, streamed: a chain of
    millions does not have to fit in memory. Two streams ordered by entry, merged here (joined in
    the database, an entry's held rows would come again with each of its indexed rows)."""
    streamed = conn.execution_options(stream_results=True, yield_per=10_000)
    entries = streamed.execute(select(_ENTRIES).where(_ENTRIES.c.seq > after, _ENTRIES.c.seq <= upto).order_by(_ENTRIES.c.seq))
    patients = streamed.execute(
        select(_PATIENTS.c.seq, *(_PATIENTS.c[name] for name in _NAMED))
        .where(_PATIENTS.c.seq > after, _PATIENTS.c.seq <= upto)
        .order_by(_PATIENTS.c.seq)
    )
    by_entry = groupby(patients, key=itemgetter(0))
    rows = next(by_entry, None)
    for entry in entries:
        named: list[Named] = []
        # Rows of an entry that is not there (deleted: its gap is reported) are passed over.
        while rows is not None and rows[0] <= entry.seq:
            if rows[0] == entry.seq:
                named = [cast(Named, tuple(row[1:])) for row in rows[1]]
            rows = next(by_entry, None)
        yield dict(entry._mapping), named
