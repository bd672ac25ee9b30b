"""The threshold of the national and county statistics (persistence/threshold.py): counts 0-4 are
shown as 0, and no count below 5 can be derived from shown figures: their sums, the differences of
periods, of the nation and a county, or of two reports of the same cases."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from intygstjanst.persistence.threshold import THRESHOLD, CountKey, RowKey, county_rows, shown_changes, shown_of, suppress

MONTHS = (dt.date(2024, 1, 1), dt.date(2024, 2, 1))

rows = st.dictionaries(st.sampled_from("ABCDEFGH"), st.integers(0, 40), min_size=1)


def test_counts_below_five_are_shown_as_zero() -> None:
    assert suppress({"A": 4, "B": 3, "C": 2, "D": 1, "E": 0, "F": 5, "G": 6}) == {"A": 0, "B": 0, "C": 0, "D": 0, "E": 0, "F": 5, "G": 6}


def test_a_single_small_cell_takes_the_smallest_other_with_it() -> None:
    # Shown 20 and 7 of a true total known elsewhere to be 30 would reveal the 3.
    assert suppress({"A": 3, "B": 20, "C": 7}) == {"A": 0, "B": 20, "C": 0}
    assert suppress({"A": 3, "B": 2, "C": 9}) == {"A": 0, "B": 0, "C": 9}  # already 5 hidden
    assert suppress({"A": 5, "B": 9}) == {"A": 5, "B": 9}


@given(rows)
def test_what_is_shown_is_exact_or_zero_and_the_hidden_part_is_never_small(row: dict[str, int]) -> None:
    shown = suppress(row)
    assert shown.keys() == row.keys()
    for category, count in shown.items():
        assert count == 0 or (count == row[category] and count >= THRESHOLD)
    hidden = sum(row.values()) - sum(shown.values())
    # A row whose total is below 5 hides everything in every report of the same cases.
    assert hidden == 0 or hidden >= THRESHOLD or sum(shown.values()) == 0


# Changes to the counts of a few county rows (report, county, month index, category, delta).
changes = st.lists(
    st.lists(
        st.tuples(st.sampled_from(("alder", "grad")), st.sampled_from(("lan:01", "lan:12")), st.integers(0, 1),
                  st.sampled_from("ABC"), st.integers(-3, 12)),
        min_size=1, max_size=6,
    ),
    min_size=1, max_size=8,
)


@given(changes)
def test_the_shown_figures_kept_ahead_equal_those_computed_afresh(batches: list[list[tuple[str, str, int, str, int]]]) -> None:
    counts: Counter[CountKey] = Counter()
    kept: Counter[CountKey] = Counter()
    for batch in batches:
        for report, scope, month, category, delta in batch:
            if counts[(report, scope, MONTHS[month], category)] + delta >= 0:
                counts[(report, scope, MONTHS[month], category)] += delta
        touched = county_rows((report, scope, MONTHS[month], category) for report, scope, month, category, _ in batch)

        def cells(source: Counter[CountKey], row: RowKey) -> dict[str, int]:
            return {c: n for (r, s, m, c), n in source.items() if (r, s, m) == row and n}

        kept.update(shown_changes({row: cells(counts, row) for row in touched}, {row: cells(kept, row) for row in touched}))
    assert +kept == +shown_of(counts)
