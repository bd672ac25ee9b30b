"""The threshold of the national and county statistics (statistics/reports.py), row by row: counts
0-4 are shown as 0, and what a row hides is never a count below 5, so no small count can be derived
from shown figures (their sums, the differences of periods, of the nation and a county, or of two
reports of the same cases: tests/contract/test_statistics_reports.py). The suppression is done by
the database as it reads the counts, so each row goes through a real one."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intygstjanst.persistence import statistics as repo
from intygstjanst.persistence.db import Database
from intygstjanst.statistics import store
from intygstjanst.statistics.reports import THRESHOLD, Scope, report

MONTH = dt.date(2024, 1, 1)
rows = st.dictionaries(st.sampled_from("ABCDEFGH"), st.integers(0, 40), min_size=1)


def shown(db: Database, row: dict[str, int]) -> dict[str, int]:
    """``row`` as one county's certificate types in one month, as the county report shows it
    (stored and read in a transaction that is rolled back)."""
    with db.engine.connect() as conn:
        transaction = conn.begin()
        repo.add_counts(conn, {(store.TYPES, "lan:01", MONTH, category): count for category, count in row.items()})
        shown = report(conn, store.TYPES, Scope("county", "01"), MONTH, MONTH)
        transaction.rollback()
    return {category: shown.count(MONTH, category) for category in row}


def test_counts_below_five_are_shown_as_zero(db: Database) -> None:
    row = {"A": 4, "B": 3, "C": 2, "D": 1, "E": 0, "F": 5, "G": 6}
    assert shown(db, row) == {"A": 0, "B": 0, "C": 0, "D": 0, "E": 0, "F": 5, "G": 6}


def test_a_single_small_cell_takes_the_smallest_other_with_it(db: Database) -> None:
    # Shown 20 and 7 of a true total known elsewhere to be 30 would reveal the 3.
    assert shown(db, {"A": 3, "B": 20, "C": 7}) == {"A": 0, "B": 20, "C": 0}
    assert shown(db, {"A": 3, "B": 2, "C": 9}) == {"A": 0, "B": 0, "C": 9}  # already 5 hidden
    assert shown(db, {"A": 5, "B": 9}) == {"A": 5, "B": 9}
    assert shown(db, {"A": 1, "B": 7, "C": 7}) == {"A": 0, "B": 0, "C": 7}  # a tie: the first in code-point order


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows)
def test_what_is_shown_is_exact_or_zero_and_the_hidden_part_is_never_small(db: Database, row: dict[str, int]) -> None:
    shown_row = shown(db, row)
    for category, count in shown_row.items():
        assert count == 0 or (count == row[category] and count >= THRESHOLD)
    hidden = sum(row.values()) - sum(shown_row.values())
    # A row whose total is below 5 hides everything in every report of the same cases.
    assert hidden == 0 or hidden >= THRESHOLD or sum(shown_row.values()) == 0
