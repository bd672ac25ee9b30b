"""The access log's chain on the database: ``verify`` finds an edited, a deleted and a missing last
entry, an edited or removed patient row, and names the first bad one; entries written before
migration 0013 (one patient each) still verify; the extract holds the patient's entries only; pruning keeps the
rest verifiable; concurrent writers (threads, and processes with their own connections) chain
without a gap. Through ``intygstjanst access-log`` where a command is what an operator runs."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from intygstjanst.cli import main
from intygstjanst.persistence import access_log
from intygstjanst.persistence.access_log import (
    APPEND_ONLY_TABLES,
    AccessLog,
    Asker,
    append_only_trigger,
    drop_append_only_trigger,
    entry_hash,
)
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import AccessLogEntry, AccessLogHead, AccessLogIndexed, AccessLogPatient
from intygstjanst.settings import Settings

from intygstjanst.tests.soap import OTHER_PERSON, TEST_PERSON

KEY = b"chain-test-key"
NAMED = ("patient_key", "care_giver_id", "care_unit_id", "certificates")
ASKER = Asker("GetCertificate", "2.1", "SE-CONSUMER", "SE-ORIGINAL", "SE-ADDRESS")
START = dt.datetime(2024, 3, 1, 9, 0)


@dataclass(frozen=True)
class Shown:
    patient_id: str
    care_giver_id: str = "SE-GIVER"
    care_unit_id: str = "SE-UNIT"
    certificates: int = 1


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "access-log.key"
    path.write_bytes(KEY + b"\n")
    return path


@pytest.fixture
def log(db: Database) -> AccessLog:
    return AccessLog(db, KEY)


@contextmanager
def intruder(db: Database) -> Iterator[Connection]:
    """A connection of someone who can drop the append-only triggers (a database owner): the
    triggers are gone while the block runs and back afterwards."""
    dialect = db.engine.dialect.name
    with db.transaction() as conn:
        for table in APPEND_ONLY_TABLES:
            conn.execute(text(drop_append_only_trigger(dialect, table)))
        yield conn
        for table in APPEND_ONLY_TABLES:
            conn.execute(text(append_only_trigger(dialect, table)))


def fill(log: AccessLog, count: int, patient: str = TEST_PERSON, start: dt.datetime = START) -> None:
    for n in range(count):
        log.append(ASKER, [Shown(patient, care_unit_id=f"SE-UNIT-{n}")], start + dt.timedelta(days=n), f"call{n}")


@pytest.fixture
def cli(database_url: str, key_file: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    """``intygstjanst access-log ARGS`` on the test database with the test key: (status, output)."""

    def run(*args: str) -> tuple[int, str]:
        status = main(["access-log", *args, "--database-url", database_url, "--access-log-key-file", str(key_file)])
        return status, capsys.readouterr().out

    return run


def test_an_intact_chain_verifies(log: AccessLog, cli: Callable[..., tuple[int, str]]) -> None:
    assert cli("verify")[0] == 0  # an empty log is intact
    fill(log, 5)
    log.append(ASKER, [Shown(TEST_PERSON), Shown(OTHER_PERSON)], START, "call-two")  # one call, one entry
    status, out = cli("verify")
    verdict = log.verify()
    assert status == 0 and verdict.problem is None and verdict.entries == 6
    assert f"6 entries; head entry 6, hash {verdict.head_hash}" in out


def test_the_database_refuses_to_change_an_entry(log: AccessLog, db: Database) -> None:
    fill(log, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        with db.transaction() as conn:
            conn.execute(update(AccessLogEntry).where(AccessLogEntry.seq == 1).values(consumer="SE-SOMEONE-ELSE"))
    with pytest.raises(DBAPIError, match="append-only"):
        with db.transaction() as conn:
            conn.execute(update(AccessLogPatient).where(AccessLogPatient.seq == 1).values(certificates=5))
    assert log.verify().problem is None


def test_verify_names_an_edited_entry(log: AccessLog, db: Database, cli: Callable[..., tuple[int, str]]) -> None:
    fill(log, 5)
    with intruder(db) as conn:
        conn.execute(update(AccessLogEntry).where(AccessLogEntry.seq == 3).values(consumer="SE-SOMEONE-ELSE"))
    status, out = cli("verify")
    assert status == 1 and "entry 3 changed" in out and "2 entries checked" in out


def test_verify_names_an_edited_entry_whose_hash_was_recomputed_by_the_next(log: AccessLog, db: Database) -> None:
    fill(log, 5)
    with intruder(db) as conn:
        rows = {r.seq: r._asdict() for r in conn.execute(AccessLogEntry.__table__.select())}
        [named] = conn.execute(select(*(AccessLogPatient.__table__.c[n] for n in NAMED)).where(AccessLogPatient.seq == 3))
        conn.execute(update(AccessLogPatient).where(AccessLogPatient.seq == 3).values(certificates=0))
        forged = entry_hash(rows[2]["hash"], rows[3], [(*named[:3], 0)])
        conn.execute(update(AccessLogEntry).where(AccessLogEntry.seq == 3).values(hash=forged))
    assert log.verify().problem == "entry 4 changed: its content does not give its hash (or the entry before it was changed)"


def test_verify_names_the_entry_of_an_edited_or_removed_patient(log: AccessLog, db: Database) -> None:
    fill(log, 2)
    log.append(ASKER, [Shown(TEST_PERSON), Shown(OTHER_PERSON), Shown(TEST_PERSON, care_unit_id="SE-UNIT-9")], START, "call-three")
    fill(log, 2)
    assert log.verify().problem is None and log.verify().entries == 5
    with db.transaction() as conn:
        conn.execute(delete(AccessLogPatient).where(AccessLogPatient.seq == 3, AccessLogPatient.care_unit_id == "SE-UNIT-9"))
    assert log.verify().problem == "entry 3 changed: its content does not give its hash (or the entry before it was changed)"
    with db.transaction() as conn:
        conn.execute(delete(AccessLogPatient).where(AccessLogPatient.seq == 3))  # all of them
    assert log.verify().problem == "entry 3 changed: its content does not give its hash (or the entry before it was changed)"


def test_an_entry_names_all_its_patients_for_their_extracts(log: AccessLog) -> None:
    log.append(ASKER, [Shown(TEST_PERSON, certificates=2), Shown(OTHER_PERSON), Shown(TEST_PERSON, care_unit_id="SE-UNIT-9")], START, "c")
    assert [(e.care_unit_id, e.certificates, e.contract) for e in log.extract(TEST_PERSON)] == [
        ("SE-UNIT", 2, "GetCertificate"),
        ("SE-UNIT-9", 1, "GetCertificate"),
    ]
    assert [(e.care_unit_id, e.certificates) for e in log.extract(OTHER_PERSON)] == [("SE-UNIT", 1)]
    # The key is HMAC-SHA256 of the personnummer, kept or not (the older entries are found by it).
    expected = hmac.new(KEY, TEST_PERSON.encode(), hashlib.sha256).hexdigest()
    assert log.patient_key(TEST_PERSON) == expected == AccessLog(log.db, KEY).patient_key(TEST_PERSON)


def test_the_hash_is_sha256_over_the_documented_canonical_form() -> None:
    """The rows' part is written without the JSON encoder (it is faster): the same text, also for
    strings the encoder escapes, non-ASCII ones and large counts; the rows in any order."""
    entry: dict[str, Any] = {
        "seq": 7, "at": dt.datetime(2026, 12, 4, 20, 1, 2, 345), "call_id": "c\u00e5ll", "contract": "GetCertificate",
        "version": "2.1", "consumer": None, "original_consumer": 'SE-"Q"', "logical_address": "SE-ÅÄÖ\n",
    }
    named = [("b" * 64, 'SE-GIVER-"\\', "SE-UNIT-\u2028\x01\t", 2), ("a" * 64, "SE-GIVÉR", "SE-UNIT/ü", 10**12), ("a" * 64, "SE-GIVER", "Ω", 1)]
    columns = [entry[c.name] for c in AccessLogEntry.__table__.columns if c.name not in ("hash", "patients")]
    columns[1] = entry["at"].isoformat(timespec="microseconds")
    canonical = json.dumps([*columns, *(v for row in sorted(named) for v in row)], separators=(",", ":"), ensure_ascii=False)
    expected = hashlib.sha256(b"f" * 64 + canonical.encode("utf-8")).hexdigest()
    assert entry_hash("f" * 64, entry, named) == entry_hash("f" * 64, entry, named[::-1]) == expected
    # Appending takes a shorter way when the strings need no escaping (hex keys, plain care givers
    # and units), and the longer one otherwise: both write the same text.
    for givers in (("SE-GIVER", "SE-GIVÉR"), ('SE-"GIVER"', "SE-GIVER\t")):
        rows = sorted((hashlib.sha256(bytes([n])).hexdigest(), givers[n % 2], f"SE-UNIT-{n % 3}", n) for n in range(7))
        text = json.dumps([*columns, *(v for row in rows for v in row)], separators=(",", ":"), ensure_ascii=False)
        appended = access_log._entry_hash("f" * 64, entry, access_log._columns(rows), hex_keys=True)
        assert appended == hashlib.sha256(b"f" * 64 + text.encode("utf-8")).hexdigest() == entry_hash("f" * 64, entry, rows)
    alone = json.dumps(columns, separators=(",", ":"), ensure_ascii=False)
    assert entry_hash("f" * 64, entry, []) == hashlib.sha256(b"f" * 64 + alone.encode("utf-8")).hexdigest()


def test_patient_rows_keep_values_with_tabs_backslashes_and_line_breaks(log: AccessLog) -> None:
    """PostgreSQL takes an entry's patient rows by COPY in its text format: such values are escaped."""
    units = ["SE-UNIT\t1", "SE-UNIT\\N", "SE-UNIT\n\r2", "SE-ÅÄÖ\\t"]
    log.append(ASKER, [Shown(TEST_PERSON, care_giver_id="SE-GIVER\\", care_unit_id=u, certificates=n + 1) for n, u in enumerate(units)], START, "c")
    log.append(ASKER, [Shown(OTHER_PERSON, care_unit_id=u) for u in units], START, "d")
    assert [(e.care_giver_id, e.care_unit_id, e.certificates) for e in log.extract(TEST_PERSON)] == sorted(
        ("SE-GIVER\\", u, n + 1) for n, u in enumerate(units)
    )
    assert sorted(e.care_unit_id for e in log.extract(OTHER_PERSON)) == sorted(units)
    assert log.verify().problem is None


def test_verify_names_a_deleted_entry(log: AccessLog, db: Database, cli: Callable[..., tuple[int, str]]) -> None:
    fill(log, 5)
    with db.transaction() as conn:
        conn.execute(delete(AccessLogEntry).where(AccessLogEntry.seq == 2))
    status, out = cli("verify")
    assert status == 1 and "entry 2 deleted (the chain goes on at entry 3)" in out


def test_verify_finds_deleted_last_entries_and_a_deleted_head(log: AccessLog, db: Database) -> None:
    fill(log, 5)
    with db.transaction() as conn:
        conn.execute(delete(AccessLogEntry).where(AccessLogEntry.seq >= 4))
    assert log.verify().problem == "entries 4 to 5 deleted (the head names entry 5)"
    with db.transaction() as conn:
        conn.execute(delete(AccessLogHead))
    assert log.verify().problem == "the chain's head row is missing (entries from 1 on exist)"


def test_the_extract_holds_the_patients_entries_only(
    log: AccessLog, cli: Callable[..., tuple[int, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    fill(log, 3)
    fill(log, 2, patient=OTHER_PERSON)
    status, out = cli("extract", "--patient", "19121212-1212")
    lines = out.splitlines()
    assert status == 0 and "3 entries" in lines[0] and len(lines) == 4
    assert lines[1] == (
        "2024-03-01T10:00:00+01:00  SE-CONSUMER on behalf of SE-ORIGINAL  asked through GetCertificate 2.1"
        " (logical address SE-ADDRESS): 1 certificate(s) of care giver SE-GIVER, care unit SE-UNIT-0"
    )
    assert TEST_PERSON not in out.replace("19121212-1212", "")  # printed only where the operator typed it
    # --from and --to are inclusive days in Sweden.
    status, out = cli("extract", "--patient", TEST_PERSON, "--from", "2024-03-02", "--to", "2024-03-02")
    assert "1 entries" in out and "care unit SE-UNIT-1" in out and "SE-UNIT-0" not in out
    assert [e.care_unit_id for e in log.extract(OTHER_PERSON)] == ["SE-UNIT-0", "SE-UNIT-1"]
    # Another key finds nothing: the entries hold the keyed hash only.
    assert AccessLog(log.db, b"another key").extract(TEST_PERSON) == []
    assert cli("extract", "--patient", "12345")[0] == 2
    # Without the key file the server wrote with, the extract refuses instead of finding nothing.
    missing = main(["access-log", "extract", "--patient", TEST_PERSON, "--database-url", log.db.url, "--access-log-key-file", "/nonexistent/access-log.key"])
    assert missing == 2 and "access_log_key_file: /nonexistent/access-log.key does not exist" in capsys.readouterr().err


def test_pruning_keeps_the_chain_verifiable(log: AccessLog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("intygstjanst.persistence.access_log.PRUNE_BATCH", 2)  # several batches
    fill(log, 7)
    assert log.prune(START + dt.timedelta(days=5)) == 5
    assert [e.care_unit_id for e in log.extract(TEST_PERSON)] == ["SE-UNIT-5", "SE-UNIT-6"]
    verdict = log.verify()
    assert verdict.problem is None and verdict.entries == 2 and verdict.head_seq == 7
    fill(log, 1, start=START + dt.timedelta(days=30))
    assert log.prune(START) == 0 and log.verify().problem is None


def test_pruning_takes_few_entries_at_a_time_when_they_name_many_patients(log: AccessLog, monkeypatch: pytest.MonkeyPatch, db: Database) -> None:
    monkeypatch.setattr("intygstjanst.persistence.access_log.PRUNE_ROWS", 3)
    for n, patients in enumerate((2, 2, 5, 1, 1)):  # entries 1-5, a day apart
        log.append(ASKER, [Shown(TEST_PERSON, care_unit_id=f"SE-UNIT-{n}-{p}") for p in range(patients)], START + dt.timedelta(days=n), f"c{n}")
    transactions = 0
    opened = db.transaction

    def counted() -> Any:
        nonlocal transactions
        transactions += 1
        return opened()

    monkeypatch.setattr(db, "transaction", counted)
    assert log.prune(START + dt.timedelta(days=10)) == 5
    # Entry 1; entry 2; entry 3 (five rows, whole); entries 4 and 5; one that finds nothing left.
    assert transactions == 5
    verdict = log.verify()
    assert verdict.problem is None and verdict.entries == 0 and verdict.head_seq == 5
    with db.read() as conn:
        assert conn.execute(select(AccessLogPatient.seq)).first() is None


def test_prune_uses_the_retention_setting(log: AccessLog, cli: Callable[..., tuple[int, str]]) -> None:
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=3 * 365)
    fill(log, 2, start=old)
    fill(log, 1, start=old + dt.timedelta(days=2 * 365))
    status, out = cli("prune")  # the default, 10 years: nothing
    assert status == 0 and "0 entries" in out
    assert cli("prune", "--access-log-retention-years", "2")[0] == 0 and len(log.extract(TEST_PERSON)) == 1 and log.verify().problem is None


def test_the_worker_prunes_past_the_retention(log: AccessLog, db: Database, tmp_path: Path) -> None:
    from intygstjanst.delivery.cli import WorkerParts
    from intygstjanst.delivery.worker import Worker

    fill(log, 3)  # 1, 2 and 3 March 2024

    def run_at(now: dt.datetime, years: int) -> None:
        settings = Settings(data_dir=tmp_path, access_log_retention_years=years, test_certificate_max_age_days=0)
        parts = WorkerParts.build(settings, db)
        Worker(WorkerParts(parts.settings, parts.db, parts.recipients, parts.transport, clock=lambda: now), concurrency=1).run(once=True)

    run_at(dt.datetime(2034, 3, 2, 12, 0), 0)  # 0: kept for ever
    assert len(log.extract(TEST_PERSON)) == 3
    run_at(dt.datetime(2034, 3, 2, 12, 0), 10)  # ten years: the first two are past it
    assert [e.care_unit_id for e in log.extract(TEST_PERSON)] == ["SE-UNIT-2"]
    assert log.verify().problem is None


def test_concurrent_writers_in_threads_chain_without_a_gap(log: AccessLog) -> None:
    def write(n: int) -> None:
        log.append(ASKER, [Shown(TEST_PERSON), Shown(OTHER_PERSON)], START, f"thread{n}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(40)))
    verdict = log.verify()
    assert verdict.problem is None and verdict.entries == 40


def _append_in_a_process(url: str, writer: int, count: int) -> None:
    database = Database(url)
    try:
        log = AccessLog(database, KEY)
        for n in range(count):
            log.append(ASKER, [Shown(TEST_PERSON, care_unit_id=f"W{writer}")], START, f"w{writer}n{n}")
    finally:
        database.dispose()


def test_concurrent_writer_processes_chain_without_a_gap(log: AccessLog, database_url: str) -> None:
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        for done in [pool.submit(_append_in_a_process, database_url, w, 25) for w in range(2)]:
            done.result()
    verdict = log.verify()
    assert verdict.problem is None and verdict.entries == 50
    assert sorted({e.care_unit_id for e in log.extract(TEST_PERSON)}) == ["W0", "W1"]


def test_migration_0013_keeps_the_older_entries_verifiable_and_goes_back(scratch_url: str) -> None:
    """Entries written one per patient before 0013, hashed as they were then (written here by hand:
    the columns as a JSON array), verify after it and are in the patient's extract."""
    import json

    from alembic import command
    from sqlalchemy import MetaData

    database = Database(scratch_url)
    try:
        database.upgrade("0012")
        metadata = MetaData()
        metadata.reflect(database.engine)
        log = AccessLog(database, KEY)
        previous = "0" * 64
        with database.transaction() as conn:
            for seq, patient in ((1, TEST_PERSON), (2, OTHER_PERSON)):
                at = START + dt.timedelta(days=seq)
                values = [seq, at.isoformat(timespec="microseconds"), "old", "GetCertificate", "2.1", "SE-CONSUMER", None,
                          "SE-ADDRESS", log.patient_key(patient), "SE-GIVER", f"SE-UNIT-{seq}", 1]
                previous = hashlib.sha256(previous.encode() + json.dumps(values, separators=(",", ":")).encode()).hexdigest()
                conn.execute(metadata.tables["access_log"].insert().values(
                    seq=seq, at=at, call_id="old", contract="GetCertificate", version="2.1", consumer="SE-CONSUMER",
                    original_consumer=None, logical_address="SE-ADDRESS", patient_key=log.patient_key(patient),
                    care_giver_id="SE-GIVER", care_unit_id=f"SE-UNIT-{seq}", certificates=1, hash=previous,
                ))
            conn.execute(metadata.tables["access_log_head"].insert().values(id=1, seq=2, hash=previous, anchor_seq=0, anchor_hash="0" * 64))
        database.upgrade()
        assert log.verify().problem is None and log.verify().entries == 2
        log.append(ASKER, [Shown(TEST_PERSON)], START + dt.timedelta(days=3), "new")
        assert log.verify().problem is None and log.verify().entries == 3
        assert [e.care_unit_id for e in log.extract(TEST_PERSON)] == ["SE-UNIT-1", "SE-UNIT"]
        command.downgrade(database.alembic_config(), "0012")
        with database.read() as conn:
            assert [r.care_unit_id for r in conn.execute(text("SELECT care_unit_id FROM access_log ORDER BY seq"))] == [
                "SE-UNIT-1", "SE-UNIT-2", "SE-UNIT",
            ]
        database.upgrade()
        log.append(ASKER, [Shown(TEST_PERSON), Shown(OTHER_PERSON)], START + dt.timedelta(days=4), "two")
        assert log.verify().problem is None
        with pytest.raises(RuntimeError, match="1 access log entries name several patients"):
            command.downgrade(database.alembic_config(), "0012")
    finally:
        database.dispose()


# --- Large entries hold their patient rows, indexed afterwards -------------------------------------


def unit_list(log: AccessLog, day: int, patients: int = access_log.HELD_ABOVE + 6) -> None:
    """An entry naming more patient rows than HELD_ABOVE (a unit's list): TEST_PERSON at two units."""
    shown = [Shown(f"19500101{n:04d}") for n in range(patients - 2)]
    shown += [Shown(TEST_PERSON, care_unit_id="SE-UNIT-B", certificates=2), Shown(TEST_PERSON, care_unit_id="SE-UNIT-A")]
    log.append(ASKER, shown, START + dt.timedelta(days=day), f"list{day}")


def index_rows(db: Database) -> dict[int, int]:
    """The number of access_log_patient rows of each entry."""
    with db.read() as conn:
        rows = conn.execute(text("SELECT seq, count(*) FROM access_log_patient GROUP BY seq")).all()
    return {seq: count for seq, count in rows}


def test_a_large_entry_is_extracted_before_and_after_indexing_exactly_once(
    log: AccessLog, db: Database, cli: Callable[..., tuple[int, str]]
) -> None:
    fill(log, 1)
    unit_list(log, 1)
    fill(log, 1, start=START + dt.timedelta(days=2))
    held = access_log.HELD_ABOVE + 6
    assert index_rows(db) == {1: 1, 3: 1}  # the list's rows are in its entry only, until indexed
    expected = [("SE-UNIT-0", 1, 1), ("SE-UNIT-A", 1, 2), ("SE-UNIT-B", 2, 2), ("SE-UNIT-0", 1, 3)]

    def extracted(start: dt.datetime | None = None) -> list[tuple[str, int, int]]:
        return [(e.care_unit_id, e.certificates, e.at.day) for e in log.extract(TEST_PERSON, start)]

    assert extracted() == expected and extracted(START + dt.timedelta(days=2)) == expected[3:]
    assert log.verify().problem is None
    status, out = cli("index")
    assert status == 0 and "held in 1 entries indexed" in out
    assert index_rows(db) == {1: 1, 2: held, 3: 1} and extracted() == expected and log.verify().problem is None
    assert log.index_pending() == 0 and index_rows(db) == {1: 1, 2: held, 3: 1}  # idempotent
    unit_list(log, 3)
    assert extracted()[-2:] == [("SE-UNIT-A", 1, 4), ("SE-UNIT-B", 2, 4)]


def test_verify_checks_held_rows_and_their_index(log: AccessLog, db: Database) -> None:
    fill(log, 2)
    unit_list(log, 2)  # entry 3
    log.index_pending()
    unit_list(log, 3)  # entry 4, not indexed
    fill(log, 1, start=START + dt.timedelta(days=4))
    assert log.verify().problem is None and log.verify().entries == 5
    with db.transaction() as conn:  # hiding the list's access from the extract
        conn.execute(delete(AccessLogPatient).where(AccessLogPatient.seq == 3, AccessLogPatient.patient_key == log.patient_key(TEST_PERSON)))
    assert [e.at.day for e in log.extract(TEST_PERSON)] == [1, 2, 4, 4, 5]
    assert log.verify().problem == "entry 3: its patient index differs from the rows it holds"


def test_verify_names_an_entry_whose_held_rows_were_changed(log: AccessLog, db: Database) -> None:
    fill(log, 1)
    unit_list(log, 1)
    fill(log, 1, start=START + dt.timedelta(days=2))
    with db.read() as conn:
        held = conn.execute(select(AccessLogEntry.patients).where(AccessLogEntry.seq == 2)).scalar_one()
    with intruder(db) as conn:  # one row fewer: the first line removed
        conn.execute(update(AccessLogEntry).where(AccessLogEntry.seq == 2).values(patients=held[held.index(b"\n") + 1 :]))
    assert log.verify().problem == "entry 2 changed: its content does not give its hash (or the entry before it was changed)"


def test_concurrent_indexers_copy_each_entry_once(log: AccessLog, db: Database) -> None:
    for day in range(12):
        unit_list(log, day)
    with ThreadPoolExecutor(4) as pool:
        indexed = list(pool.map(lambda _: log.index_pending(batch=1), range(4)))
    assert sum(indexed) == 12 and index_rows(db) == {seq: access_log.HELD_ABOVE + 6 for seq in range(1, 13)}
    assert log.verify().problem is None and len(log.extract(TEST_PERSON)) == 24


def test_pruning_removes_held_entries_and_keeps_the_watermark(log: AccessLog, db: Database) -> None:
    unit_list(log, 0)
    log.index_pending()
    unit_list(log, 1)
    unit_list(log, 2)  # entries 2 and 3 not indexed
    assert log.prune(START + dt.timedelta(days=2)) == 2
    assert index_rows(db) == {} and [e.at.day for e in log.extract(TEST_PERSON)] == [3, 3]
    with db.read() as conn:
        assert conn.execute(select(AccessLogIndexed.indexed_seq)).scalar_one() == 2
    assert log.verify().problem is None and log.index_pending() == 1 and set(index_rows(db)) == {3}
    assert log.verify().problem is None


def test_the_worker_indexes_held_entries(log: AccessLog, db: Database, tmp_path: Path) -> None:
    from intygstjanst.delivery.cli import WorkerParts
    from intygstjanst.delivery.worker import Worker

    unit_list(log, 0)
    parts = WorkerParts.build(Settings(data_dir=tmp_path, access_log_retention_years=0, test_certificate_max_age_days=0), db)
    Worker(parts, concurrency=1).run(once=True)
    assert index_rows(db) == {1: access_log.HELD_ABOVE + 6}


def test_migration_0018_goes_back_once_every_held_entry_is_indexed(scratch_url: str) -> None:
    from alembic import command

    database = Database(scratch_url)
    try:
        database.upgrade()
        log = AccessLog(database, KEY)
        unit_list(log, 0)
        with pytest.raises(RuntimeError, match="1 access log entries hold patient rows not indexed yet"):
            command.downgrade(database.alembic_config(), "0017")
        log.index_pending()
        command.downgrade(database.alembic_config(), "0017")
        database.upgrade()
        assert log.verify().problem is None and len(log.extract(TEST_PERSON)) == 2
    finally:
        database.dispose()


def test_a_large_list_named_again_is_an_entry_of_its_own_and_one_naming_others_names_them(log: AccessLog, db: Database) -> None:
    """A unit's list names the same rows call after call, and the log reuses the last large entry's
    prepared rows when they are the same: each entry still names exactly its own."""
    listed = tuple(Shown(f"19500101{n:04d}") for n in range(access_log.HELD_ABOVE + 4))
    log.append(ASKER, listed, START, "a")
    log.append(ASKER, listed, START + dt.timedelta(days=1), "b")
    log.append(ASKER, (*listed[1:], Shown(TEST_PERSON, certificates=3)), START + dt.timedelta(days=2), "c")
    log.append(ASKER, tuple(listed), START + dt.timedelta(days=3), "d")  # equal, not the same tuple
    # Another unit's list in between, twice: each list's rows are reused for its own entries.
    another = tuple(Shown(f"19600101{n:04d}", care_unit_id="SE-UNIT-2") for n in range(access_log.HELD_ABOVE + 2))
    for day, names in ((4, another), (5, listed), (6, another)):
        log.append(ASKER, names, START + dt.timedelta(days=day), f"e{day}")
    log.index_pending()
    assert log.verify().problem is None
    assert [e.at.day for e in log.extract(listed[0].patient_id)] == [1, 2, 4, 6]
    assert [e.at.day for e in log.extract(listed[1].patient_id)] == [1, 2, 3, 4, 6]
    assert [(e.at.day, e.care_unit_id) for e in log.extract(another[0].patient_id)] == [(5, "SE-UNIT-2"), (7, "SE-UNIT-2")]
    assert [(e.at.day, e.certificates) for e in log.extract(TEST_PERSON)] == [(3, 3)]
    assert index_rows(db) == {seq: len(another if seq in (5, 7) else listed) for seq in range(1, 8)}
