"""A care giver's inventory, export and erasure (persistence/lifecycle.py, lifecycle/): the export
holds every real certificate byte for byte with everything about it, an erasure needs the manifest
of a complete export of the same data, and afterwards no row (and on SQLite no byte of the files)
holds anything of the care giver but its receipt."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from intygstjanst.lifecycle.erase import Refused, erase
from intygstjanst.lifecycle.export import MANIFEST, export
from intygstjanst.persistence import certificates, lifecycle, receivers
from intygstjanst.persistence.access_log import AccessLog, Asker
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import Base, Certificate, Message, StatCertificate
from intygstjanst.settings import Settings
from intygstjanst.statistics import store as statistics
from intygstjanst.statistics.events import StatisticsEvent
from intygstjanst.statistics.store import Sources

from intygstjanst.tests.lifecycle_support import (
    ANSWER,
    NEEDLES,
    OTHER_GIVER,
    OTHER_GIVER_CERT,
    OTHER_PATIENT,
    QUESTION,
    REPLACEMENT,
    TEST_CERTIFICATE,
    Fresh,
    file_bytes_mentioning,
    rows_mentioning,
)
from intygstjanst.tests.messages_support import CARE_GIVER, CARE_UNIT, CERT, OTHER_CERT
from intygstjanst.tests.soap import TEST_PERSON
from intygstjanst.tests.support import postgresql_only


def stored_originals(fresh: Fresh) -> dict[str, bytes]:
    with fresh.db.read() as conn:
        rows = conn.execute(select(Certificate.id, Certificate.original).where(Certificate.care_giver_id == CARE_GIVER))
        return {row.id: row.original for row in rows}


def archive_items(directory: Path) -> dict[str, bytes]:
    found = {}
    for part in sorted(directory.glob("part-*.tar")):
        with tarfile.open(part) as tar:
            for member in tar.getmembers():
                extracted = tar.extractfile(member)
                assert extracted is not None
                found[member.name] = extracted.read()
    return found


def test_inventory_counts_the_care_givers_data(fresh: Fresh) -> None:
    with fresh.db.read() as conn:
        found = lifecycle.inventory(conn, CARE_GIVER)
    assert (found["certificates"], found["test_certificates"]) == (4, 1)
    assert found["by_type"] == {"LISJP": 4}
    assert found["by_unit"] == {CARE_UNIT: 4}
    assert found["by_state"]["SENT"] == 2
    assert (found["messages"], found["approved_receivers"], found["relations"]) == (2, 2, 1)
    assert found["sick_leave_rows"] == 2
    assert found["outbox"] == {"PENDING": 2}
    assert found["signed"]["first"] is not None


def test_export_holds_every_real_certificate_byte_for_byte_and_never_the_test_one(fresh: Fresh, tmp_path: Path) -> None:
    manifest = export(fresh.db, CARE_GIVER, tmp_path / "export", batch=2)
    items = archive_items(tmp_path / "export")
    originals = stored_originals(fresh)
    for certificate_id in (CERT, OTHER_CERT, REPLACEMENT):
        assert items[f"certificates/{certificate_id}/original.xml"] == originals[certificate_id]
    assert not any(TEST_CERTIFICATE in name for name in items)
    with fresh.db.read() as conn:
        question = conn.execute(select(Message.original).where(Message.id == QUESTION)).scalar_one()
    assert items[f"certificates/{CERT}/messages/{QUESTION}.xml"] == question
    record = json.loads(items[f"certificates/{CERT}/record.json"])
    assert [s["state"] for s in record["states"]] == ["RECEIVED", "SENT"]
    assert record["relations"][0]["kind"] == "ERSATT" and record["relations"][0]["from"] == REPLACEMENT
    assert {m["id"] for m in record["messages"]} == {QUESTION, ANSWER}
    assert {(a["receiver_id"], a["approval"]) for a in record["approved_receivers"]} == {("FKASSA", "YES"), ("AF", "NO")}
    # The manifest's lines name each item's hash and size.
    lines = [json.loads(line) for line in (tmp_path / "export" / "items.jsonl").read_text().splitlines()]
    assert len(lines) == len(items) == manifest["counts"]["items"]
    for line in lines:
        assert hashlib.sha256(items[line["path"]]).hexdigest() == line["sha256"] and len(items[line["path"]]) == line["size"]
    assert manifest["counts"]["certificates"] == 3 and manifest["counts"]["messages"] == 2
    for part in manifest["parts"]:
        data = (tmp_path / "export" / part["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == part["sha256"]


def test_an_interrupted_export_continues_where_it_stopped(fresh: Fresh, tmp_path: Path) -> None:
    class Stop(Exception):
        pass

    def stop_after_first(done: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        export(fresh.db, CARE_GIVER, tmp_path / "resumed", batch=1, progress=stop_after_first)
    assert not (tmp_path / "resumed" / MANIFEST).exists()
    (tmp_path / "resumed" / "part-000002.tar.tmp").write_bytes(b"half a part, as a crash leaves it")
    resumed = export(fresh.db, CARE_GIVER, tmp_path / "resumed", batch=1)
    whole = export(fresh.db, CARE_GIVER, tmp_path / "whole", batch=1)
    assert resumed["export_hash"] == whole["export_hash"]
    assert [p["sha256"] for p in resumed["parts"]] == [p["sha256"] for p in whole["parts"]]
    assert not list((tmp_path / "resumed").glob("*.tmp"))


def test_export_then_erase_leaves_nothing_of_the_care_giver_but_its_receipt(fresh: Fresh, tmp_path: Path) -> None:
    sources = Sources.from_settings(Settings(data_dir=tmp_path))
    statistics.ingest(fresh.db, StatisticsEvent("created", CERT, "LISJP", body=stored_originals(fresh)[CERT]), sources)
    with fresh.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(StatCertificate)).scalar_one() == 1
    manifest = export(fresh.db, CARE_GIVER, tmp_path / "export")
    if fresh.sqlite_file is not None:
        assert set(file_bytes_mentioning(fresh.sqlite_file, NEEDLES)) == set(NEEDLES)  # the search finds them
    # One certificate per batch: the replacement and the certificate it replaces go in different ones.
    receipt = erase(fresh.db, CARE_GIVER, tmp_path / "export" / MANIFEST, "operator-1", batch=1)
    assert receipt.completed_at is not None and receipt.export_hash == manifest["export_hash"]
    assert receipt.counts["certificates"] == 3 and receipt.counts["test_certificates"] == 1 and receipt.counts["relations"] == 1
    assert receipt.counts["messages"] == 2 and receipt.counts["approved_receivers"] == 2
    assert receipt.counts["sick_leave_rows"] == 2 and receipt.counts["outbox_items"] == 2
    assert rows_mentioning(fresh.db, NEEDLES) == []
    # The statistics rows (which hold the care giver) went too: only the receipt names it.
    assert rows_mentioning(fresh.db, [CARE_GIVER]) == [f"lifecycle_receipt.subject = {CARE_GIVER}"]
    if fresh.sqlite_file is not None:
        assert file_bytes_mentioning(fresh.sqlite_file, NEEDLES) == []
    with fresh.db.read() as conn:
        assert lifecycle.exists(conn, OTHER_GIVER_CERT)
        assert lifecycle.inventory(conn, OTHER_GIVER)["certificates"] == 1
        assert lifecycle.inventory(conn, CARE_GIVER)["certificates"] == 0
    # Running it again answers the same receipt.
    again = erase(fresh.db, CARE_GIVER, tmp_path / "export" / MANIFEST, "operator-1")
    assert again.as_json() == receipt.as_json()


@dataclass(frozen=True)
class Disclosure:
    patient_id: str
    care_giver_id: str
    care_unit_id: str
    certificates: int


def test_erase_leaves_the_access_log_naming_the_care_giver_and_unit_but_no_patient(fresh: Fresh, tmp_path: Path) -> None:
    """The access log is the accountability record the patient data law asks for: an erasure leaves
    it whole (README, Data lifecycle). Of the erased care giver it then names the care giver and the
    unit in clear; the patient only as a keyed hash."""
    log = AccessLog(fresh.db, bytes(32))
    asker = Asker("GetCertificate", "2", "SE-CONSUMER", None, CARE_GIVER)
    log.append(asker, [Disclosure(TEST_PERSON, CARE_GIVER, CARE_UNIT, 1)], dt.datetime(2026, 12, 1, 9, 0), "call-1")
    export(fresh.db, CARE_GIVER, tmp_path / "export")
    erase(fresh.db, CARE_GIVER, tmp_path / "export" / MANIFEST, "operator-1")
    verdict = log.verify()
    assert verdict.problem is None and verdict.entries == 1
    assert sorted(rows_mentioning(fresh.db, [*NEEDLES, CARE_GIVER])) == [
        f"access_log.logical_address = {CARE_GIVER}",
        f"access_log_patient.care_giver_id = {CARE_GIVER}",
        f"access_log_patient.care_unit_id = {CARE_UNIT}",
        f"lifecycle_receipt.subject = {CARE_GIVER}",
    ]
    assert [entry.certificates for entry in log.extract(TEST_PERSON)] == [1]


def test_erase_refuses_a_stale_manifest_and_removes_nothing(fresh: Fresh, tmp_path: Path) -> None:
    export(fresh.db, CARE_GIVER, tmp_path / "export")
    with fresh.db.transaction() as conn:
        certificates.add_state(conn, OTHER_CERT, "DELETED", "INVANA", dt.datetime(2030, 2, 1, 9, 0))
    with pytest.raises(Refused, match=f"certificate {OTHER_CERT} has changed since the export \\(record.json\\)"):
        erase(fresh.db, CARE_GIVER, tmp_path / "export" / MANIFEST, "operator-1")
    with fresh.db.read() as conn:
        assert lifecycle.inventory(conn, CARE_GIVER)["certificates"] == 4
        assert lifecycle.receipts(conn) == []


RACED_AT = dt.datetime(2030, 2, 1, 9, 0)
RACING_REPLACEMENT = certificates.NewCertificate(
    "lifecycle-racing-replacement", "LISJP", "1.0", OTHER_PATIENT, "SE2321000016-OTHERUNIT", "Other unit", OTHER_GIVER,
    "SE2321000016-DOCTOR", "Doctor", RACED_AT, None, None, False, "RegisterCertificate:3", b"<intyg/>",
)  # fmt: skip
# Writes that change what the export holds of OTHER_CERT: a state (a foreign key to the certificate),
# approvals and a relation from another care giver's new certificate (neither has one).
RACING_WRITES: dict[str, Callable[[Connection], None]] = {
    "state": lambda conn: certificates.add_state(conn, OTHER_CERT, "DELETED", "INVANA", RACED_AT),
    "approvals": lambda conn: receivers.replace_approvals(conn, OTHER_CERT, "LISJP", [("FKASSA", "NO")], RACED_AT),
    "relation": lambda conn: certificates.insert_certificate(
        conn, RACING_REPLACEMENT, RACED_AT, [certificates.RelationEntry("ERSATT", OTHER_CERT)]
    ),
}


@pytest.mark.parametrize("write", sorted(RACING_WRITES))
def test_erase_waits_for_a_racing_write_and_refuses_its_certificate(fresh: Fresh, tmp_path: Path, write: str) -> None:
    """A write still open when the erasure reaches its certificate is waited for (the batch's rows
    are locked before the comparison) and then seen: the batch is refused, not removed unexported.
    PostgreSQL only: on SQLite the racing write transaction excludes the erasure's altogether."""
    postgresql_only(fresh.db.is_sqlite)
    export(fresh.db, CARE_GIVER, tmp_path / "export")
    outcome: list[object] = []

    def erasure() -> None:
        try:
            outcome.append(erase(fresh.db, CARE_GIVER, tmp_path / "export" / MANIFEST, "operator-1", batch=1))
        except Exception as exc:  # the test's verdict, below
            outcome.append(exc)

    def waiting_for_a_lock() -> bool:
        with fresh.db.read() as conn:
            waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            return bool(conn.execute(text(waiting)).scalar_one())

    thread = threading.Thread(target=erasure)
    with fresh.db.engine.begin() as racing:
        RACING_WRITES[write](racing)
        thread.start()
        # The erasure either waits for the racing transaction or (were nothing locked) finishes.
        deadline = time.monotonic() + 120
        while thread.is_alive() and not waiting_for_a_lock() and time.monotonic() < deadline:
            time.sleep(0.05)
    thread.join(120)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], Refused), outcome
    assert f"certificate {OTHER_CERT} has changed since the export" in str(outcome[0])
    with fresh.db.read() as conn:
        assert lifecycle.exists(conn, OTHER_CERT)


def test_erase_compares_each_batch_again_and_refuses_one_changed_after_the_whole_check(fresh: Fresh, tmp_path: Path) -> None:
    """A state added after the check of the whole export, between two batches, stops the erasure at
    that certificate's batch: the batches before it are gone, it and those after it stay."""
    export(fresh.db, CARE_GIVER, tmp_path / "export")
    first, second, third = sorted((CERT, OTHER_CERT, REPLACEMENT))

    def change_the_next(done: int) -> None:
        if done == 1:
            with fresh.db.transaction() as conn:
                certificates.add_state(conn, second, "DELETED", "INVANA", RACED_AT)

    with pytest.raises(Refused, match=f"certificate {second} has changed since the export \\(record.json\\)"):
        erase(fresh.db, CARE_GIVER, tmp_path / "export" / MANIFEST, "operator-1", batch=1, progress=change_the_next)
    with fresh.db.read() as conn:
        assert [lifecycle.exists(conn, certificate) for certificate in (first, second, third)] == [False, True, True]


def test_erase_refuses_a_manifest_missing_a_newer_certificate(fresh: Fresh, tmp_path: Path) -> None:
    from intygstjanst.tests.listing import store

    export(fresh.db, CARE_GIVER, tmp_path / "export")
    store(fresh.db, "lifecycle-arrived-later", unit=CARE_UNIT, care_giver=CARE_GIVER)
    with pytest.raises(Refused, match="lifecycle-arrived-later is in the database but not in the export"):
        erase(fresh.db, CARE_GIVER, tmp_path / "export" / MANIFEST, "operator-1")


def test_erase_refuses_another_care_givers_or_an_altered_manifest(fresh: Fresh, tmp_path: Path) -> None:
    export(fresh.db, OTHER_GIVER, tmp_path / "other")
    with pytest.raises(Refused, match=f"is the export of care giver '{OTHER_GIVER}', not of '{CARE_GIVER}'"):
        erase(fresh.db, CARE_GIVER, tmp_path / "other" / MANIFEST, "operator-1")
    export(fresh.db, CARE_GIVER, tmp_path / "export")
    path = tmp_path / "export" / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["counts"]["certificates"] = 2
    path.write_text(json.dumps(manifest))
    with pytest.raises(Refused, match="the export hash does not match its counts and items: the manifest was altered"):
        erase(fresh.db, CARE_GIVER, path, "operator-1")
    items = tmp_path / "export" / "items.jsonl"
    items.write_bytes(items.read_bytes().replace(b'"size":', b'"size": ', 1))
    manifest["counts"]["certificates"] = 3
    path.write_text(json.dumps(manifest))
    with pytest.raises(Refused, match="does not have the hash its manifest names"):
        erase(fresh.db, CARE_GIVER, path, "operator-1")
    with fresh.db.read() as conn:
        assert lifecycle.inventory(conn, CARE_GIVER)["certificates"] == 4


def test_migration_creates_the_receipt_table_and_the_outbox_index_as_modelled(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, Base.metadata) if "lifecycle_receipt" in repr(d) or "ix_outbox_reference" in repr(d)]
    assert differences == []
