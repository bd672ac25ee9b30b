"""The de-identified statistics store (statistics/store.py): events in, rows and counts out;
idempotent, revocation and erasure remove what they should, cases joined by the sick-leave engine
across gaps of at most five days, and no personnummer, id or free text stored."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from intygstjanst.persistence import statistics as repo
from intygstjanst.persistence.db import Database
from intygstjanst.persistence import threshold
from intygstjanst.statistics import store

from intygstjanst.tests.sickleave_support import CARE_GIVER, UNIT
from intygstjanst.tests.statistics_support import (
    FAR_UNIT, OTHER_CARE_GIVER, created, message, recount, revoked, sources, stored_counts, stored_shown,
)

PATIENT = "191212121212"
WOMAN = "198502022384"


def ingest(db: Database, *events: object) -> None:
    for event in events:
        store.ingest(db, event, sources())  # type: ignore[arg-type]


def cases(db: Database) -> list[repo.CaseRow]:
    with db.read() as conn:
        return sorted((repo.CaseRow(**{n: getattr(r, n) for n in repo.CaseRow.__slots__})
                       for r in conn.execute(select(repo.CASES))), key=lambda c: (c.care_giver_id, c.start))


def national(db: Database, report: str) -> dict[str, int]:
    """The true national counts of ``report`` (the sum of the county scopes, unsuppressed)."""
    with db.read() as conn:
        counts = stored_counts(conn)
    out: dict[str, int] = {}
    for (key, scope, _, category), count in counts.items():
        if key == report and scope.startswith(threshold.COUNTY_PREFIX) and count:
            out[category] = out.get(category, 0) + count
    return out


def consistent(db: Database) -> None:
    with db.read() as conn:
        assert stored_counts(conn) == recount(conn)
        assert stored_shown(conn) == threshold.shown_of(stored_counts(conn))


def test_a_certificate_counts_once_however_often_it_arrives(db: Database) -> None:
    event = created("s-1", [(0, 13, 100)])
    ingest(db, event, event)
    assert national(db, store.TYPES) == {"LISJP": 1}
    assert national(db, store.CASES) == {"M": 1}
    assert national(db, store.LENGTHS) == {"<15 dagar": 1}
    assert national(db, store.DEGREES) == {"100": 1}
    assert national(db, store.DIAGNOSES) == {"M00-M99": 1}
    assert national(db, store.COUNTIES) == {"01": 1}
    with db.read() as conn:
        assert stored_counts(conn)[(store.TYPES, "lan:01", dt.date(2024, 3, 1), "LISJP")] == 1
        assert stored_counts(conn)[(store.TYPES, f"vg:{CARE_GIVER}", dt.date(2024, 3, 1), "LISJP")] == 1
    consistent(db)


def test_certificates_five_days_apart_are_one_case_six_days_apart_two(db: Database) -> None:
    ingest(db, created("a-1", [(0, 9, 100)]), created("a-2", [(15, 29, 50)]))  # 5 days between: one case
    (case,) = cases(db)
    assert (case.start, case.end, case.days, case.degree) == (dt.date(2024, 3, 15), dt.date(2024, 4, 13), 25, 100)
    ingest(db, created("b-1", [(100, 109, 100)], patient=WOMAN), created("b-2", [(116, 120, 25)], patient=WOMAN))
    assert len(cases(db)) == 3  # 6 days between: two cases
    assert national(db, store.CASES) == {"M": 1, "K": 2}
    consistent(db)


def test_a_certificate_filling_the_gap_joins_two_cases_and_its_revocation_splits_them_again(db: Database) -> None:
    ingest(db, created("c-1", [(0, 9, 100)]), created("c-3", [(30, 39, 100)]))
    assert len(cases(db)) == 2
    ingest(db, created("c-2", [(12, 27, 50)]))
    assert [(c.start, c.days) for c in cases(db)] == [(dt.date(2024, 3, 15), 36)]
    ingest(db, revoked("c-2"), revoked("c-2"))
    assert len(cases(db)) == 2
    assert national(db, store.TYPES) == {"LISJP": 2}
    consistent(db)


def test_the_same_patient_at_two_care_givers_has_two_cases(db: Database) -> None:
    ingest(db, created("d-1", [(0, 9, 100)]), created("d-2", [(3, 9, 100)], unit=FAR_UNIT, care_giver=OTHER_CARE_GIVER))
    assert [c.care_giver_id for c in cases(db)] == [CARE_GIVER, OTHER_CARE_GIVER]
    assert national(db, store.COUNTIES) == {"01": 1, "12": 1}
    consistent(db)


def test_revocation_removes_everything_and_a_late_creation_is_ignored(db: Database) -> None:
    ingest(db, revoked("e-1"), created("e-1", [(0, 9, 100)]))
    assert national(db, store.TYPES) == {}
    ingest(db, created("e-2", [(0, 9, 100)]), message("m-1", "e-2"), revoked("e-2"))
    assert national(db, store.TYPES) == {} and cases(db) == []
    assert national(db, store.MESSAGES) == {"KOMPLT": 1}  # the message was still sent
    consistent(db)


def test_a_completion_request_marks_its_certificate_once(db: Database) -> None:
    ingest(db, created("f-1", [(0, 9, 100)]), created("f-2", [(0, 9, 100)], patient=WOMAN))
    ingest(db, message("m-1", "f-1"), message("m-1", "f-1"), message("m-2", "f-1"), message("m-3", "f-2", "OVRIGT"))
    assert national(db, store.COMPLETIONS) == {"med": 1, "utan": 1}
    assert national(db, store.MESSAGES) == {"KOMPLT": 2, "OVRIGT": 1}
    # The request may arrive before its certificate.
    ingest(db, message("m-4", "f-3"), created("f-3", [(0, 9, 100)]))
    assert national(db, store.COMPLETIONS) == {"med": 2, "utan": 1}
    consistent(db)


def test_erasing_a_care_giver_and_a_certificate(db: Database) -> None:
    ingest(
        db,
        created("g-1", [(0, 9, 100)]),
        created("g-2", [(0, 9, 100)], unit=FAR_UNIT, care_giver=OTHER_CARE_GIVER),
        created("g-3", [(0, 9, 100)], patient=WOMAN),
        message("m-1", "g-1"),
    )
    with db.transaction() as conn:
        store.erase_care_giver(conn, OTHER_CARE_GIVER)
    assert national(db, store.COUNTIES) == {"01": 2}
    with db.transaction() as conn:
        store.erase_certificate(conn, "g-1", sources())
    assert national(db, store.TYPES) == {"LISJP": 1} and national(db, store.MESSAGES) == {}
    assert [c.gender for c in cases(db)] == ["K"]
    with db.read() as conn:
        assert not any(scope == f"vg:{OTHER_CARE_GIVER}" for _, scope, _, _ in stored_counts(conn))
    consistent(db)


def test_no_personnummer_id_name_or_text_is_stored(db: Database) -> None:
    ingest(db, created("secret-certificate-id", [(0, 9, 100)], patient=WOMAN), message("secret-message-id", "secret-certificate-id"))
    with db.read() as conn:
        values = [str(v) for table in repo.ALL_TABLES for row in conn.execute(select(table)) for v in row]
    assert values
    for forbidden in (WOMAN, WOMAN[2:], "secret", "Tolvan", "Doktor", "Please complete"):
        assert not any(forbidden in v for v in values), forbidden


def test_the_migration_creates_the_statistics_tables_as_modelled(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from intygstjanst.persistence.models import Base

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, Base.metadata) if "stat_" in repr(d)]
    assert differences == []


def test_concurrent_writers_keep_the_shown_figures_equal_to_a_recount(db: Database) -> None:
    """Events of different patients ingested side by side touch the same county rows: no two writers
    deadlock, and the figures kept ahead end up as a recount gives them."""
    from concurrent.futures import ThreadPoolExecutor

    from stdnum import luhn

    def patient(number: int) -> str:
        digits = f"8501{number % 28 + 1:02d}{number:03d}"
        return f"19{digits}{luhn.calc_check_digit(digits)}"

    def ingest_some(worker: int) -> None:
        for number in range(worker * 6, worker * 6 + 6):
            event = created(f"c-{number}", [(number % 3, 13, 100)], patient=patient(number), unit=(UNIT, FAR_UNIT)[number % 2],
                            care_giver=(CARE_GIVER, OTHER_CARE_GIVER)[number % 2])
            ingest(db, event)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(ingest_some, range(4)))
    consistent(db)
    assert sum(national(db, store.TYPES).values()) == 24
