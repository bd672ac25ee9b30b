"""The reports over a generated store (statistics/reports.py): national and county figures obey the
threshold in every sum and difference a reader can form; a care giver's own reports are exact."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import Counter

from intygstjanst.persistence import statistics as repo
from intygstjanst.persistence.db import Database
from intygstjanst.statistics import store
from intygstjanst.statistics.reports import NATIONAL, REPORTS, Scope, report
from intygstjanst.persistence.threshold import THRESHOLD

MONTHS = [dt.date(2024, m, 1) for m in range(1, 7)]
COUNTIES = ["01", "12", "14"]
CARE_GIVERS = {"01": "VG-A", "12": "VG-B", "14": "VG-C"}


def small_or_not(rng: random.Random) -> int:
    return rng.choice([0, 1, 2, 3, 4, rng.randint(5, 30)])


def generate(db: Database) -> Counter[repo.CountKey]:
    """Counts straight into the store, many of them small; returns the true ones by county scope."""
    rng = random.Random(13)
    counts: Counter[repo.CountKey] = Counter()
    for definition, month, county in itertools.product(REPORTS, MONTHS, COUNTIES):
        categories = [code for code, _ in definition.categories()] if definition.categories else ["LISJP", "AG7804", "DB"]
        for category in categories[:6]:
            n = small_or_not(rng)
            for scope in store.scopes(CARE_GIVERS[county], county):
                counts[(definition.key, scope, month, category)] += n
    with db.transaction() as conn:
        store.write_counts(conn, counts)
    return counts


def ok(value: int) -> bool:
    return value == 0 or value >= THRESHOLD


def test_national_and_county_figures_never_reveal_a_small_count(db: Database) -> None:
    truth = generate(db)
    periods = [(MONTHS[0], MONTHS[-1]), (MONTHS[0], MONTHS[2]), (MONTHS[1], MONTHS[1]), (MONTHS[0], MONTHS[3])]
    with db.read() as conn:
        for definition in REPORTS:
            whole = report(conn, definition.key, NATIONAL, *periods[0])
            counties = {c: report(conn, definition.key, Scope("county", c), *periods[0]) for c in COUNTIES}
            for r in (whole, *counties.values()):
                for month in r.months:
                    assert ok(r.month_total(month))
                    for code, _ in r.categories:
                        assert ok(r.count(month, code)), (definition.key, r.scope, month, code)
                for code, _ in r.categories:
                    assert ok(r.category_total(code))
                assert ok(r.total)
            # Nation minus a county: the other counties' shown cells.
            for county, part in counties.items():
                for month in whole.months:
                    for code, _ in whole.categories:
                        assert ok(whole.count(month, code) - part.count(month, code))
                    # What a county's row hides, compared with its true total, is never small.
                    true_total = sum(n for (k, s, m, _), n in truth.items() if k == definition.key and s == f"lan:{county}" and m == month)
                    hidden = true_total - part.month_total(month)
                    assert ok(hidden) or part.month_total(month) == 0
            # Period differences.
            for (a_first, a_last), (b_first, b_last) in itertools.permutations(periods, 2):
                if a_first <= b_first and b_last <= a_last:
                    outer = report(conn, definition.key, NATIONAL, a_first, a_last)
                    inner = report(conn, definition.key, NATIONAL, b_first, b_last)
                    for code, _ in outer.categories:
                        assert ok(outer.category_total(code) - inner.category_total(code))


def test_counts_of_one_to_four_are_shown_as_zero_nationally(db: Database) -> None:
    with db.transaction() as conn:
        store.write_counts(conn, {
            (store.CASES, "lan:01", MONTHS[0], "K"): 4,
            (store.CASES, "lan:12", MONTHS[0], "K"): 3,
            (store.CASES, "lan:01", MONTHS[0], "M"): 1,
            (store.CASES, "vg:VG-A", MONTHS[0], "K"): 4,
            (store.CASES, "lan:14", MONTHS[1], "M"): 9,
        })
    with db.read() as conn:
        national = report(conn, store.CASES, NATIONAL, MONTHS[0], MONTHS[1])
        own = report(conn, store.CASES, Scope("care_giver", "VG-A"), MONTHS[0], MONTHS[1])
    assert national.count(MONTHS[0], "K") == 0  # 7 in truth, but 4 + 3 from two counties
    assert national.count(MONTHS[0], "M") == 0 and national.count(MONTHS[1], "M") == 9
    assert national.as_json()["total"] == 9
    assert own.count(MONTHS[0], "K") == 4 and not own.as_json()["suppressed"]


def test_the_completion_share_is_computed_from_the_shown_counts(db: Database) -> None:
    with db.transaction() as conn:
        store.write_counts(conn, {
            (store.COMPLETIONS, "lan:01", MONTHS[0], "med"): 5,
            (store.COMPLETIONS, "lan:01", MONTHS[0], "utan"): 15,
            (store.COMPLETIONS, "lan:12", MONTHS[0], "med"): 2,
            (store.COMPLETIONS, "lan:12", MONTHS[0], "utan"): 30,
        })
    with db.read() as conn:
        data = report(conn, store.COMPLETIONS, NATIONAL, MONTHS[0], MONTHS[0]).as_json()
    # County 12: the 2 hidden, and the 30 with it (secondary), else 32 - 30 would show.
    assert data["months"][0]["counts"] == {"med": 5, "utan": 15}
    assert data["share"] == 0.25
