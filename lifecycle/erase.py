"""Erasing a care giver, destroying one certificate, purging test certificates.

An erasure needs the manifest of a complete export of the same data. It is checked three ways
before anything is removed: the manifest is whole (its items file has the hash it names, and the
export hash recomputes), it is this care giver's, and it matches the database item by item (every
real certificate of the care giver, read again and described the way the export describes it,
gives exactly the manifest's lines, and nothing is in one but not the other). A manifest of other
data, or one the data has moved on from (a new certificate, state or message since the export), is
refused with the first difference, before any row goes.

Then the certificates go in batches, each its own transaction: the batch's certificate rows are
locked, then read and compared with the manifest once more (so a change racing the erasure is
waited for and seen, never removed unexported: see ``certificates.hold``), removed with
everything naming it, and the receipt's counts and cursor advance in the same transaction. This
second comparison reads the certificates without their requests and compares each one's
``record.json`` only: everything about a stored certificate that can change (its states,
relations, messages, approved receivers, flags) is in it, while a stored request is never
rewritten and its hash was compared just before. Reading and hashing the requests twice was half
of an erasure's work. A crash
loses at most the batch in flight; running the erasure again with the same manifest resumes after
the cursor. Test certificates of the care giver go last, without an export (they are not real data).

On SQLite the erasing connection sets ``secure_delete``, so freed pages are overwritten with zeros,
and the WAL is checkpointed and truncated at the end: the removed data is not left in the files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from json.decoder import scanstring  # type: ignore[attr-defined]  # the C decoder of one JSON string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from intygstjanst.lifecycle.export import DEFAULT_BATCH, FORMAT, export_hash, item_lines, record_batches, record_line
from intygstjanst.persistence import lifecycle
from intygstjanst.persistence.db import Database, utc_now
from intygstjanst.persistence.lifecycle import Receipt
from intygstjanst.settings import Settings
from intygstjanst.statistics import store as statistics
from intygstjanst.statistics.store import Sources


class Refused(Exception):
    """The erasure (or destruction) may not run; the message says why and what to do."""


# -- the manifest ---------------------------------------------------------------------------------


class Manifest:
    """A complete export's manifest, checked whole: its items file is there with the hash it names
    and the export hash recomputes from it."""

    def __init__(self, path: Path, care_giver: str) -> None:
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise Refused(f"{path} is not the manifest of an export: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise Refused(f"{path} is not the manifest of a care-giver export ({FORMAT!r})")
        if data.get("care_giver") != care_giver:
            raise Refused(f"{path} is the export of care giver {data.get('care_giver')!r}, not of {care_giver!r}")
        self.path = path
        self.care_giver = care_giver
        self.counts: dict[str, int] = data["counts"]
        self.export_hash: str = data["export_hash"]
        self.items = path.parent / data["items"]["file"]
        digest = hashlib.sha256()
        try:
            with open(self.items, "rb") as lines:
                for chunk in iter(lambda: lines.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError as exc:
            raise Refused(f"the export's items file {self.items} cannot be read ({exc.strerror}); an erasure needs the whole export") from None
        if digest.hexdigest() != data["items"]["sha256"]:
            raise Refused(f"the export's items file {self.items} does not have the hash its manifest names: the export is damaged")
        if export_hash(care_giver, self.counts, data["items"]["sha256"]) != self.export_hash:
            raise Refused(f"{path}: the export hash does not match its counts and items: the manifest was altered")

    def certificates(self, after: str) -> Iterator[tuple[str, list[bytes]]]:
        """(certificate id, its item lines) after id ``after``, in id order, read as a stream."""
        with open(self.items, "rb") as lines:
            keyed = ((_certificate_of(line), line) for line in lines)
            for certificate, group in itertools.groupby(keyed, key=lambda pair: pair[0]):
                if certificate > after:
                    yield certificate, [line for _, line in group]


_LINE_START = b'{"certificate":"'


def _certificate_of(line: bytes) -> str:
    """The certificate of an item line, the first of its keys (sorted) in the export's spelling:
    only that string is decoded, not the whole line (the file's hash was checked)."""
    if not line.startswith(_LINE_START):
        raise ValueError(f"not an item line of the export: {line[:80]!r}")
    certificate: str = scanstring(line.decode("utf-8"), len(_LINE_START))[0]
    return certificate


def _difference(expected: tuple[str, list[bytes]] | None, found: tuple[str, list[bytes]] | None) -> str | None:
    """Why the manifest's next certificate and the database's do not match, or None if they do."""
    if expected == found:
        return None
    if expected is None or (found is not None and found[0] < expected[0]):
        assert found is not None
        return f"certificate {found[0]} is in the database but not in the export (stored after it was made)"
    if found is None or expected[0] < found[0]:
        return f"certificate {expected[0]} is in the export but no longer in the database"
    paths = {json.loads(line)["path"].rsplit("/", 1)[-1] for line in set(expected[1]) ^ set(found[1])}
    return f"certificate {found[0]} has changed since the export ({', '.join(sorted(paths))})"


def _stale(manifest: Manifest, reason: str) -> Refused:
    return Refused(
        f"refused: the manifest {manifest.path} does not match the database: {reason}. Nothing more was "
        "removed; export the care giver again and erase with the new manifest"
    )


# -- erasure --------------------------------------------------------------------------------------


def erase(
    db: Database,
    care_giver: str,
    manifest_path: Path,
    operator: str,
    *,
    batch: int = DEFAULT_BATCH,
    clock: Callable[[], dt.datetime] = utc_now,
    progress: Callable[[int], None] | None = None,
) -> Receipt:
    """Erase ``care_giver`` as the export ``manifest_path`` allows; the receipt (resumes an erasure
    of the same export that stopped; a finished one is answered with its receipt)."""
    manifest = Manifest(manifest_path, care_giver)
    with db.read() as conn:
        receipt = lifecycle.find_receipt(conn, lifecycle.ERASURE, care_giver, manifest.export_hash)
    if receipt is not None and receipt.completed_at is not None:
        return receipt
    cursor = (receipt.cursor or "") if receipt is not None else ""
    _verify(db, manifest, cursor, batch)
    if receipt is None:
        with db.transaction() as conn:
            receipt = lifecycle.open_receipt(conn, lifecycle.ERASURE, care_giver, operator, clock(), manifest.export_hash)
    # Each certificate's record.json line (its last): see the module's description.
    expected = ((certificate, lines[-1:]) for certificate, lines in manifest.certificates(cursor))
    done = receipt.counts.get("certificates", 0)
    while True:
        with db.transaction() as conn:
            _secure_delete(conn)
            # Locked before the comparison, so that nothing can change between it and the removal
            # (db.transaction is a write transaction from its BEGIN on SQLite).
            records = lifecycle.records_after(conn, care_giver, cursor, batch, documents=False, lock=True)
            if not records:
                break
            for record in records:
                reason = _difference(next(expected, None), (record.id, [record_line(record)]))
                if reason is not None:
                    raise _stale(manifest, reason)
            ids = [record.id for record in records]
            counts = lifecycle.remove(conn, ids, whole_care_giver=care_giver)
            receipt = lifecycle.advance_receipt(conn, receipt, counts, ids[-1])
        cursor = ids[-1]
        done += len(ids)
        if progress is not None:
            progress(done)
    while True:
        with db.transaction() as conn:
            _secure_delete(conn)
            ids = lifecycle.test_certificate_ids_of(conn, care_giver, batch)
            if not ids:
                # The statistics rows are kept per care giver: all of them go at once, at the end.
                statistics.erase_care_giver(conn, care_giver)
                receipt = lifecycle.complete_receipt(conn, receipt, clock())
                break
            counts = lifecycle.remove(conn, ids, whole_care_giver=care_giver)
            counts["test_certificates"] = counts.pop("certificates")
            receipt = lifecycle.advance_receipt(conn, receipt, counts, cursor)
    wipe(db)
    return receipt


def _verify(db: Database, manifest: Manifest, cursor: str, batch: int) -> None:
    """Refuse unless the database's certificates after ``cursor`` are exactly the manifest's."""
    expected = manifest.certificates(cursor)
    for records in record_batches(db, manifest.care_giver, cursor, batch):
        for record in records:
            reason = _difference(next(expected, None), (record.id, item_lines(record)))
            if reason is not None:
                raise _stale(manifest, reason)
    reason = _difference(next(expected, None), None)
    if reason is not None:
        raise _stale(manifest, reason)


def _secure_delete(conn: Connection) -> None:
    # Per connection: every page this connection frees is overwritten with zeros.
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete=ON")


def wipe(db: Database) -> None:
    """SQLite: copy the WAL into the database file and truncate it, so the zeroed pages are the
    file's and no older copy of them is left in the WAL. PostgreSQL keeps dead row versions until
    (auto)vacuum reclaims them; nothing is done here (see the README)."""
    if db.is_sqlite:
        with db.engine.connect() as conn:
            # On the driver's connection: SQLAlchemy would open a transaction, inside which SQLite
            # cannot checkpoint.
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# -- destruction and purging ----------------------------------------------------------------------


def destroy(
    db: Database,
    certificate_id: str,
    decision: str,
    operator: str,
    sources: Sources,
    *,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Receipt:
    """Remove one certificate and everything derived from it after a decision to destroy the
    journal; the receipt names the decision reference and counts only."""
    if not decision.strip():
        raise Refused("a destruction needs the reference of the decision (--decision)")
    with db.transaction() as conn:
        _secure_delete(conn)
        if not lifecycle.exists(conn, certificate_id):
            raise Refused(f"no certificate {certificate_id} (already destroyed, or never stored)")
        receipt = lifecycle.open_receipt(conn, lifecycle.DESTRUCTION, decision, operator, clock())
        counts = lifecycle.remove(conn, [certificate_id])
        statistics.erase_certificate(conn, certificate_id, sources)
        receipt = lifecycle.complete_receipt(conn, lifecycle.advance_receipt(conn, receipt, counts, None), clock())
    wipe(db)
    return receipt


def purge_test_certificates(
    db: Database,
    before: dt.datetime,
    operator: str,
    sources: Sources,
    *,
    batch: int = DEFAULT_BATCH,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Receipt | None:
    """Remove every test and validation certificate received before ``before`` (naive UTC), in
    batches; a receipt when any was removed."""
    receipt: Receipt | None = None
    while True:
        with db.transaction() as conn:
            _secure_delete(conn)
            ids = lifecycle.test_certificate_ids(conn, before, batch)
            if not ids:
                if receipt is not None:
                    receipt = lifecycle.complete_receipt(conn, receipt, clock())
                break
            if receipt is None:
                receipt = lifecycle.open_receipt(conn, lifecycle.PURGE, f"received before {before.isoformat()}Z", operator, clock())
            for certificate_id in ids:
                statistics.erase_certificate(conn, certificate_id, sources)
            receipt = lifecycle.advance_receipt(conn, receipt, lifecycle.remove(conn, ids), None)
    if receipt is not None:
        wipe(db)
    return receipt


def purge_expired_test_certificates(db: Database, settings: Settings, operator: str, now: dt.datetime) -> Receipt | None:
    """The worker's purge: test and validation certificates older than
    ``test_certificate_max_age_days``."""
    before = now - dt.timedelta(days=settings.test_certificate_max_age_days)
    return purge_test_certificates(db, before, operator, Sources.from_settings(settings))
