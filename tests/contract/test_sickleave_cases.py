"""The sick-leave cases kept at write time: after every random sequence of register / replace /
complete / revoke, each row's stored case bounds equal those the definitions give (computed here
from the rows' flags, slowly and literally), the repository's own check finds no difference, and
the lists read from the current cases give exactly what the patients' whole history gives."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, inspect, select, text
from sqlalchemy.engine import Connection

from intygstjanst.cli import main
from intygstjanst.certificates.sickleave import current_chains
from intygstjanst.persistence import certificates as certificate_repo
from intygstjanst.persistence import sickleave as repo
from intygstjanst.persistence.case_cache import CaseCache
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import Base, SickLeaveCase, SickLeaveCertificate

from intygstjanst.tests.support import postgresql_only

BASE = dt.date(2026, 1, 1)
PATIENTS = ("191212121212", "194011306125")
GIVERS = {"U1": "G1", "U2": "G1", "U3": "G2"}


@dataclass(frozen=True)
class Register:
    certificate_id: str
    patient: str
    unit: str
    periods: tuple[tuple[int, int], ...]  # day offsets from BASE, inclusive
    test: bool
    relation: tuple[str, str] | None  # (ERSATT or KOMPLT, the id it points at)


@dataclass(frozen=True)
class Revoke:
    certificate_id: str


Operation = Register | Revoke
IDS = [f"C{i}" for i in range(12)]


@st.composite
def operations(draw: st.DrawFn) -> list[Operation]:
    result: list[Operation] = []
    registered: list[str] = []
    ends: list[int] = []
    for certificate_id in IDS[: draw(st.integers(1, len(IDS)))]:
        if registered and draw(st.integers(0, 4)) == 0:
            result.append(Revoke(draw(st.sampled_from(registered))))
        periods = []
        # Spans far apart and close together, so that chains join, split and bridge; often right at
        # the largest gap a case tolerates, or one day beyond it.
        if ends and draw(st.booleans()):
            first = draw(st.sampled_from(ends)) + 1 + draw(st.integers(repo.CASE_GAP - 1, repo.CASE_GAP + 2))
        else:
            first = draw(st.integers(0, 400))
        for _ in range(draw(st.integers(1, 2))):
            last = first + draw(st.integers(0, 40))
            periods.append((first, last))
            ends.append(last)
            first = last + 1 + draw(st.integers(0, 100))
        relation = None
        if draw(st.integers(0, 3)) == 0:
            # Also to an id registered later: a replacement may arrive before the original.
            relation = (draw(st.sampled_from(("ERSATT", "KOMPLT"))), draw(st.sampled_from(IDS)))
        result.append(
            Register(
                certificate_id,
                draw(st.sampled_from(PATIENTS)),
                draw(st.sampled_from(sorted(GIVERS))),
                tuple(periods),
                draw(st.integers(0, 9)) == 0,
                relation,
            )
        )
        registered.append(certificate_id)
    return result


def apply(conn: Connection, operation: Operation) -> None:
    """What RegisterCertificate and RevokeCertificate do to the tables the cases depend on."""
    at = dt.datetime(2026, 6, 1)
    if isinstance(operation, Revoke):
        certificate_repo.add_state(conn, operation.certificate_id, "CANCELLED", "HSVARD", at)
        repo.mark_revoked(conn, operation.certificate_id)
        return
    day = BASE.toordinal()
    periods = tuple((dt.date.fromordinal(day + a), dt.date.fromordinal(day + b), 100) for a, b in operation.periods)
    signed = dt.datetime.combine(periods[0][0], dt.time(9))
    relations = [certificate_repo.RelationEntry(*operation.relation)] if operation.relation else []
    record = repo.NewSickLeave(
        operation.certificate_id, "LISJP", operation.patient, "Namn", operation.unit, "", GIVERS[operation.unit], "",
        "D1", "", (), signed, "M54", "", (), (), periods, operation.test, fragment=f"[{operation.certificate_id}]".encode(),
    )
    supersedes = [r.to_id for r in relations if r.kind in repo.SUPERSEDING_RELATIONS]
    # As handlers.certificate sends them: the case's first reads with the certificate's insert.
    read = certificate_repo.insert_certificate(
        conn,
        certificate_repo.NewCertificate(
            operation.certificate_id, "LISJP", "1.0", operation.patient, operation.unit, "", GIVERS[operation.unit],
            "D1", "", signed, None, None, operation.test, "test", b"<x/>",
        ),
        at,
        relations,
        along=repo.first_reads(conn, record, supersedes),
    )
    repo.store(conn, record, supersedes, read)


def expected_bounds(conn: Connection) -> dict[str, tuple[dt.date | None, dt.date | None]]:
    """The definitions, literally: listed rows of one patient at one care giver that lie at most
    CASE_GAP whole days apart are one case, joined transitively; unlisted rows have no case."""
    rows = list(conn.execute(select(SickLeaveCertificate.__table__)))
    listed = [r for r in rows if not (r.deleted or r.superseded or r.is_test)]
    cases: list[set[str]] = []
    by_id = {r.certificate_id: r for r in listed}

    def joined(a: str, b: str) -> bool:
        x, y = by_id[a], by_id[b]
        return (x.patient_id, x.care_giver_id) == (y.patient_id, y.care_giver_id) and (
            (y.first_day - x.last_day).days <= repo.CASE_GAP + 1 and (x.first_day - y.last_day).days <= repo.CASE_GAP + 1
        )

    for row in listed:
        linked = [case for case in cases if any(joined(row.certificate_id, other) for other in case)]
        cases = [case for case in cases if case not in linked] + [{row.certificate_id}.union(*linked)]
    bounds: dict[str, tuple[dt.date | None, dt.date | None]] = {r.certificate_id: (None, None) for r in rows}
    for case in cases:
        span = (min(by_id[i].first_day for i in case), max(by_id[i].last_day for i in case))
        bounds.update(dict.fromkeys(case, span))
    return bounds


def stored_bounds(conn: Connection) -> dict[str, tuple[dt.date | None, dt.date | None]]:
    table = SickLeaveCertificate.__table__
    return {r.certificate_id: (r.case_start, r.case_end) for r in conn.execute(select(table.c.certificate_id, table.c.case_start, table.c.case_end))}


def _empty(database: Database) -> None:
    with database.transaction() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations(), st.integers(-10, 500), st.sampled_from((0, 5, 30, 90)), st.integers(0, 14))
# A chain whose gap holds the date: no certificate there reaches into the window, so no one is listed.
@example([Register("C0", PATIENTS[0], "U1", ((0, 0), (1, 1)), False, None), Register("C1", PATIENTS[0], "U1", ((3, 3),), False, None)], 2, 5, 0)
def test_stored_cases_equal_recomputed_cases_after_every_operation(
    migrated_db: Database, sequence: list[Operation], active: int, gap: int, recently_ended_days: int
) -> None:
    _empty(migrated_db)
    # One process's answers of stored cases, kept across the changes as a serving process keeps them.
    cache = CaseCache(1 << 20)
    for operation in sequence:
        with migrated_db.transaction() as conn:
            apply(conn, operation)
        with migrated_db.read() as conn:
            assert stored_bounds(conn) == expected_bounds(conn), operation
            assert repo.case_differences(conn) == []
            assert repo.case_row_differences(conn) == [], operation
            # Nothing the cache holds answers for a case that has changed since.
            assert unit_list_answer(conn, ["U1", "U2"], BASE, BASE, 0, cache) == unit_list_answer(conn, ["U1", "U2"], BASE, BASE, 0)

    active_date = BASE + dt.timedelta(days=active)
    since = active_date - dt.timedelta(days=recently_ended_days)
    with migrated_db.read() as conn:
        for units in (["U1"], ["U1", "U2"], ["U3"]):
            whole_history = repo.in_window_at_units(conn, units, since, active_date, max_gap=repo.CASE_GAP + 1)
            from_cases = repo.in_window_at_units(conn, units, since, active_date, max_gap=gap)
            listed = repo.listed_at_units(conn, units, since, active_date)
            expected = [r.certificate_id for r in current_chains(whole_history, active_date, gap, recently_ended_days)]
            assert [r.certificate_id for r in current_chains(from_cases, active_date, gap, recently_ended_days)] == expected
            assert [r.certificate_id for r in current_chains(listed, active_date, gap, recently_ended_days)] == expected
            # The certificate lists' read (chains merged with CASE_GAP days): the stored cases
            # answer for whom they can, the rows for the others, together what the history gives.
            answer_chains = current_chains(whole_history, active_date, repo.CASE_GAP, recently_ended_days)
            assert unit_list_answer(conn, units, since, active_date, recently_ended_days, cache) == (
                [r.certificate_id for r in answer_chains],
                Counter((r.patient_id, r.care_giver_id, r.care_unit_id) for r in answer_chains),
            )


def unit_list_answer(
    conn: Connection,
    units: list[str],
    since: dt.date,
    active_date: dt.date,
    recently_ended_days: int,
    cache: CaseCache | None = None,
) -> tuple[list[str], Counter[tuple[str, str, str]]]:
    """The certificates a list of ``units`` answers with (as ListActiveSickLeavesForCareUnit puts
    them together from ``unit_list``) and the disclosed counts."""
    found = repo.unit_list(conn, units, since, active_date, cache=cache)
    chained = current_chains(found.rows, active_date, repo.CASE_GAP, recently_ended_days)
    assert not set(found.cases) & {r.patient_id for r in chained}
    parts = [(c.patient_id, c.fragments.decode()) for c in found.cases.values()]
    parts += [(r.patient_id, (r.fragment or b"").decode()) for r in chained]
    parts.sort(key=lambda part: part[0])
    disclosed = Counter[tuple[str, str, str]]()
    for c in found.cases.values():
        for unit, n in c.units:
            disclosed[(c.patient_id, c.care_giver_id, unit)] += n
    disclosed.update((r.patient_id, r.care_giver_id, r.care_unit_id) for r in chained)
    return re.findall(r"\[(\w+)\]", "".join(text for _, text in parts)), disclosed


def test_rebuild_restores_bounds_the_check_reports(db: Database) -> None:
    with db.transaction() as conn:
        apply(conn, Register("A", PATIENTS[0], "U1", ((0, 10),), False, None))
        apply(conn, Register("B", PATIENTS[0], "U2", ((60, 70),), False, None))
        apply(conn, Register("C", PATIENTS[0], "U1", ((300, 310),), False, None))
    table = SickLeaveCertificate.__table__
    with db.transaction() as conn:
        conn.execute(table.update().where(table.c.certificate_id == "B").values(case_end=None))
        conn.execute(table.update().where(table.c.certificate_id == "C").values(case_start=BASE))
    with db.read() as conn:
        differences = repo.case_differences(conn)
    day = BASE.toordinal()
    assert [(d.certificate_id, d.stored, d.recomputed) for d in differences] == [
        ("B", (BASE, None), (BASE, dt.date.fromordinal(day + 70))),
        ("C", (BASE, dt.date.fromordinal(day + 310)), (dt.date.fromordinal(day + 300), dt.date.fromordinal(day + 310))),
    ]
    with db.transaction() as conn:
        assert repo.rebuild_cases(conn) == 2
    with db.read() as conn:
        assert repo.case_differences(conn) == []
        assert stored_bounds(conn) == expected_bounds(conn)


def test_the_check_command_fails_on_a_difference_and_rebuild_repairs_it(
    db: Database, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with db.transaction() as conn:
        apply(conn, Register("A", PATIENTS[0], "U1", ((0, 10),), False, None))
        apply(conn, Register("B", PATIENTS[0], "U1", ((20, 30),), False, None))
    table = SickLeaveCertificate.__table__
    with db.transaction() as conn:
        conn.execute(table.update().where(table.c.certificate_id == "A").values(case_end=BASE))
    flags = ["--database-url", database_url]
    # Fragments are rendered by the handler; these rows were stored without one.
    assert main(["sickleave", "check", *flags]) == 1
    out = capsys.readouterr().out
    assert "2 sick-leave rows: 1 with case bounds differing from recomputed, 2 with their answer differing" in out
    assert f"case bounds of A: stored {BASE}..{BASE}, recomputed {BASE}..{BASE + dt.timedelta(days=30)}" in out
    assert main(["sickleave", "rebuild", *flags]) == 0
    assert "1 with case bounds rewritten, 2 with their answer rewritten" in capsys.readouterr().out
    assert main(["sickleave", "check", *flags]) == 0
    assert "0 with case bounds differing from recomputed, 0 with their answer differing" in capsys.readouterr().out
    with db.read() as conn:
        fragment = conn.execute(select(table.c.fragment).where(table.c.certificate_id == "A")).scalar_one()
    assert fragment.startswith(b"<intygsData><intygsId>A</intygsId>")


def test_migration_0006_computes_the_bounds_of_existing_rows_and_goes_back(scratch_url: str) -> None:
    from alembic import command

    database = Database(scratch_url)
    try:
        database.upgrade("0004")
        metadata = MetaData()
        metadata.reflect(database.engine)
        certificate, sick_leave = metadata.tables["certificate"], metadata.tables["sick_leave_certificate"]
        day = BASE.toordinal()
        with database.transaction() as conn:
            for certificate_id, first, last, deleted in (("A", 0, 10, False), ("B", 50, 60, False), ("C", 200, 210, False), ("D", 5, 8, True)):
                signed = dt.datetime(2026, 1, 1, 9)
                conn.execute(certificate.insert().values(
                    id=certificate_id, type_code="LISJP", type_version="1.0", patient_id=PATIENTS[0], care_unit_id="U1",
                    care_unit_name="", care_giver_id="G1", signing_doctor_id="D1", signing_doctor_name="", signed_at=signed,
                    is_test=False, deleted_by_care_giver=False, received_at=signed, source="test", original=b"<x/>",
                ))
                conn.execute(sick_leave.insert().values(
                    certificate_id=certificate_id, type_code="LISJP", patient_id=PATIENTS[0], patient_name="Namn",
                    care_unit_id="U1", care_unit_name="", care_giver_id="G1", care_giver_name="", doctor_id="D1",
                    doctor_name="", doctor_titles="", signed_at=signed, diagnosis_code="M54", diagnosis_code_system="",
                    secondary_diagnoses="", employment="", periods=f"{dt.date.fromordinal(day + first)}/{dt.date.fromordinal(day + last)}/100",
                    first_day=dt.date.fromordinal(day + first), last_day=dt.date.fromordinal(day + last),
                    is_test=False, deleted=deleted, superseded=False,
                ))
        database.upgrade()
        with database.read() as conn:
            assert stored_bounds(conn) == expected_bounds(conn) == {
                "A": (BASE, dt.date.fromordinal(day + 60)),
                "B": (BASE, dt.date.fromordinal(day + 60)),
                "C": (dt.date.fromordinal(day + 200), dt.date.fromordinal(day + 210)),
                "D": (None, None),
            }
            assert repo.case_differences(conn) == []
        command.downgrade(database.alembic_config(), "0005")
        assert "case_end" not in {c["name"] for c in inspect(database.engine).get_columns("sick_leave_certificate")}
        database.upgrade()
        with database.read() as conn:
            assert repo.case_differences(conn) == []
    finally:
        database.dispose()


def test_a_case_wholly_in_the_scope_is_answered_from_its_stored_row(db: Database) -> None:
    with db.transaction() as conn:
        apply(conn, Register("A", PATIENTS[0], "U1", ((0, 10),), False, None))
        apply(conn, Register("B", PATIENTS[0], "U2", ((5, 30),), False, None))
        apply(conn, Register("C", PATIENTS[0], "U1", ((100, 110),), False, None))  # a hole 31..99
        apply(conn, Register("D", PATIENTS[1], "U1", ((0, 10),), False, None))
    day = BASE.toordinal()
    with db.read() as conn:
        whole = repo.unit_list(conn, ["U1", "U2"], BASE, BASE)
        assert whole.rows == {}
        assert whole.cases[PATIENTS[0]].fragments == b"[A][B][C]"
        assert whole.cases[PATIENTS[0]].units == (("U1", 2), ("U2", 1))
        assert whole.cases[PATIENTS[1]].fragments == b"[D]"
        # Only part of the case at the unit: its rows, chained again by the caller.
        part = repo.unit_list(conn, ["U1"], BASE, BASE)
        assert set(part.cases) == {PATIENTS[1]}
        assert [r.certificate_id for r in part.rows[PATIENTS[0]]] == ["A", "C"]
        # A window inside the case's hole: no certificate reaches into it, no one is listed.
        in_hole = dt.date.fromordinal(day + 50)
        nobody = repo.unit_list(conn, ["U1", "U2"], in_hole, in_hole)
        assert (nobody.cases, nobody.rows) == ({}, {})
        assert repo.case_row_differences(conn) == []


def test_a_window_in_any_of_a_cases_holes_lists_no_one(db: Database) -> None:
    """The holes are stored in order and the read skips them by their first start and last end
    (``_in_hole``): a window in the first, the last or neither hole."""
    with db.transaction() as conn:
        apply(conn, Register("A", PATIENTS[0], "U1", ((0, 10),), False, None))
        apply(conn, Register("B", PATIENTS[0], "U1", ((20, 30),), False, None))  # a hole 11..19
        apply(conn, Register("C", PATIENTS[0], "U1", ((40, 50),), False, None))  # a hole 31..39
    day = BASE.toordinal()

    def listed(since: int, until: int) -> set[str]:
        with db.read() as conn:
            found = repo.unit_list(conn, ["U1"], dt.date.fromordinal(day + since), dt.date.fromordinal(day + until))
        assert found.rows == {}
        return set(found.cases)

    for since, until in ((11, 19), (15, 15), (31, 39), (33, 37)):
        assert listed(since, until) == set(), (since, until)
    for since, until in ((0, 0), (10, 11), (19, 20), (25, 25), (15, 35), (39, 40), (50, 60), (0, 50)):
        assert listed(since, until) == {PATIENTS[0]}, (since, until)


def test_the_check_reports_a_stored_case_that_differs_and_rebuild_repairs_it(db: Database) -> None:
    with db.transaction() as conn:
        apply(conn, Register("A", PATIENTS[0], "U1", ((0, 10),), False, None))
        apply(conn, Register("B", PATIENTS[0], "U1", ((20, 30),), False, None))
        apply(conn, Register("C", PATIENTS[1], "U3", ((0, 30),), False, None))
    cases = SickLeaveCase.__table__
    with db.transaction() as conn:
        conn.execute(cases.update().where(cases.c.patient_id == PATIENTS[0]).values(fragments=b"[B][A]"))
        conn.execute(cases.delete().where(cases.c.patient_id == PATIENTS[1]))
        conn.execute(cases.insert().values(
            patient_id="190101010101", care_giver_id="G1", case_start=BASE, care_unit_id="U1", case_end=BASE,
            certificates=1, units="U1", holes="", fragments=b"[X]",
        ))
    with db.read() as conn:
        assert repo.case_row_differences(conn) == [("190101010101", "G1"), (PATIENTS[0], "G1"), (PATIENTS[1], "G2")]
    with db.transaction() as conn:
        assert len(repo.rebuild_case_rows(conn)) == 3
    with db.read() as conn:
        assert repo.case_row_differences(conn) == []
        assert repo.unit_list(conn, ["U1"], BASE, BASE).cases[PATIENTS[0]].fragments == b"[A][B]"


def test_concurrent_registrations_of_one_patient_at_a_care_giver_keep_one_case(db: Database) -> None:
    """Two registrations of one patient at one care giver at the same moment, on two connections:
    the second, started while the first holds its transaction open after its upkeep, waits for the
    case's lock and then reads the first's row, so the two certificates end up in one case, bounds
    and stored row alike. (Without the lock, read committed lets it miss the uncommitted row: two
    stale cases, until a rebuild.)"""
    postgresql_only(db.is_sqlite)
    start = threading.Barrier(2)
    kept, second_started, second_done = threading.Event(), threading.Event(), threading.Event()
    waited_for_lock = []

    def first() -> None:
        with db.transaction() as conn:
            start.wait(10)
            apply(conn, Register("A", PATIENTS[0], "U1", ((0, 10),), False, None))
            kept.set()
            assert second_started.wait(10)
            # Open until the second has either finished (no lock) or waits on the lock.
            deadline = time.monotonic() + 10
            while not second_done.is_set() and time.monotonic() < deadline:
                with db.engine.connect() as watcher:
                    if watcher.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
                    )).scalar_one():
                        waited_for_lock.append(True)
                        break
                time.sleep(0.01)

    def second() -> None:
        start.wait(10)
        assert kept.wait(10)
        with db.transaction() as conn:
            second_started.set()
            apply(conn, Register("B", PATIENTS[0], "U2", ((20, 30),), False, None))
        second_done.set()

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(first), pool.submit(second)]:
            future.result()
    with db.read() as conn:
        assert repo.case_differences(conn) == []
        assert repo.case_row_differences(conn) == []
        assert stored_bounds(conn) == dict.fromkeys(("A", "B"), (BASE, BASE + dt.timedelta(days=30)))
    assert waited_for_lock == [True]


def test_a_list_takes_the_answers_it_has_read_from_the_cache_and_reads_a_changed_case_again(db: Database) -> None:
    with db.transaction() as conn:
        apply(conn, Register("A", PATIENTS[0], "U1", ((0, 10),), False, None))
        apply(conn, Register("B", PATIENTS[1], "U1", ((0, 10),), False, None))
    cache = CaseCache(1 << 20)
    with db.read() as conn:
        first = repo.unit_list(conn, ["U1"], BASE, BASE, cache=cache)
    assert {p: c.fragments for p, c in first.cases.items()} == {PATIENTS[0]: b"[A]", PATIENTS[1]: b"[B]"}
    assert cache.get_many([repo.answer_digest(b"[A]"), repo.answer_digest(b"[B]")]) == [b"[A]", b"[B]"]
    # What is held is not read again: an answer changed behind the digest's back (and, on
    # PostgreSQL, behind the row's revision) still lists as it was.
    cases = SickLeaveCase.__table__
    with db.transaction() as conn:
        conn.execute(cases.update().where(cases.c.patient_id == PATIENTS[1]).values(fragments=b"[X]"))
    with db.read() as conn:
        assert repo.unit_list(conn, ["U1"], BASE, BASE, cache=cache).cases[PATIENTS[1]].fragments == b"[B]"
        assert repo.unit_list(conn, ["U1"], BASE, BASE).cases[PATIENTS[1]].fragments == b"[X]"
    # A case that changes gets a new digest (and its rows new revisions): its new answer is read.
    with db.transaction() as conn:
        apply(conn, Register("C", PATIENTS[0], "U1", ((11, 20),), False, None))
    with db.read() as conn:
        assert repo.unit_list(conn, ["U1"], BASE, BASE, cache=cache).cases[PATIENTS[0]].fragments == b"[A][C]"
    assert cache.get_many([repo.answer_digest(b"[A][C]")]) == [b"[A][C]"]


def test_a_units_listing_is_kept_until_a_row_of_its_window_is_written_added_or_removed(db: Database) -> None:
    postgresql_only(db.is_sqlite)  # SQLite's lists keep answers only
    with db.transaction() as conn:
        apply(conn, Register("A", PATIENTS[0], "U1", ((0, 10),), False, None))
        apply(conn, Register("B", PATIENTS[1], "U1", ((0, 10),), False, None))
        apply(conn, Register("D", PATIENTS[1], "U3", ((0, 10),), False, None))  # another care giver
    cache = CaseCache(1 << 20)
    cases = SickLeaveCase.__table__

    def listed() -> dict[str, bytes]:
        with db.read() as conn:
            return {p: c.fragments for p, c in repo.unit_list(conn, ["U1"], BASE, BASE, cache=cache).cases.items()}

    assert listed() == {PATIENTS[0]: b"[A]", PATIENTS[1]: b"[B]"}
    # A stored case changed without a new revision (no code of ours writes so): the listing holds.
    with db.transaction() as conn:
        conn.execute(cases.update().where(cases.c.patient_id == PATIENTS[0]).values(holes=f"{BASE}/{BASE}"))
    assert listed() == {PATIENTS[0]: b"[A]", PATIENTS[1]: b"[B]"}
    with db.transaction() as conn:
        conn.execute(cases.update().where(cases.c.patient_id == PATIENTS[0]).values(holes=""))
    # Rows outside the window, or of other units, leave it alone; a row written in it does not.
    with db.transaction() as conn:
        apply(conn, Register("E", PATIENTS[1], "U3", ((11, 20),), False, None))
        apply(conn, Register("F", PATIENTS[0], "U1", ((300, 310),), False, None))
    assert listed() == {PATIENTS[0]: b"[A]", PATIENTS[1]: b"[B]"}
    with db.transaction() as conn:
        apply(conn, Register("C", PATIENTS[0], "U1", ((5, 20),), False, None))
    assert listed() == {PATIENTS[0]: b"[A][C]", PATIENTS[1]: b"[B]"}
    # Removed: the case leaves the window, and the listing with it.
    with db.transaction() as conn:
        apply(conn, Revoke("B"))
    assert listed() == {PATIENTS[0]: b"[A][C]"}


def test_migration_0016_gives_the_stored_cases_of_0015_their_digests(scratch_url: str) -> None:
    from alembic import command

    database = Database(scratch_url)
    try:
        database.upgrade()
        with database.transaction() as conn:
            apply(conn, Register("A", PATIENTS[0], "U1", ((0, 10),), False, None))
            apply(conn, Register("B", PATIENTS[0], "U2", ((5, 30),), False, None))
            apply(conn, Register("C", PATIENTS[1], "U3", ((0, 30),), False, None))
        command.downgrade(database.alembic_config(), "0015")
        assert "digest" not in {c["name"] for c in inspect(database.engine).get_columns("sick_leave_case")}
        with database.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM sick_leave_case")).scalar() == 3
        database.upgrade()
        with database.read() as conn:
            assert repo.case_row_differences(conn) == []
            assert conn.execute(text("SELECT count(*) FROM sick_leave_case WHERE digest IS NOT NULL")).scalar() == 2
            found = repo.unit_list(conn, ["U1", "U2"], BASE, BASE, cache=CaseCache(1 << 20))
            assert found.cases[PATIENTS[0]].fragments == b"[A][B]"
    finally:
        database.dispose()
