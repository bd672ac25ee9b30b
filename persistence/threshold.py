"""The threshold that protects small counts in national and county figures (a care giver's own
figures are exact), and the shown figures kept ahead by it.

The counts are suppressed at their finest grain, one county's categories of one report in one month
(a "row"), and every other figure is a sum of suppressed cells:

* primary suppression: a cell below ``THRESHOLD`` (5) becomes 0;
* secondary suppression: when the cells hidden in a row add up to 1-4, the row's smallest shown
  cells are hidden too until they add up to at least 5 (so the hidden part of a row, which is what
  the row's total misses compared with another report of the same cases, is never a small count);
* totals, period sums and national figures are sums of suppressed cells (national = the sum of the
  counties' suppressed cells), so any sum or difference of shown figures, within a report, between
  periods, or between the nation and a county, is a sum of cells that are each 0 or at least 5.

The shown cells of every county row and their national sums are kept ahead (``stat_shown``, scopes
"lan:<county>" and ``NATIONAL_SCOPE``) beside the exact counts, by :func:`shown_changes` with every
change and by :func:`shown_of` in a rebuild, so a national report reads its sums rather than every
county's counts.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

THRESHOLD = 5
COUNTY_PREFIX = "lan:"
NATIONAL_SCOPE = "riket"

# (report, scope, month, category)
CountKey = tuple[str, str, dt.date, str]
# (report, scope, month): a row
RowKey = tuple[str, str, dt.date]


def suppress(row: Mapping[str, int]) -> dict[str, int]:
    """One row's cells as shown: primary and secondary suppression (module docstring)."""
    shown = {category: (count if count >= THRESHOLD else 0) for category, count in row.items()}
    hidden = sum(row.values()) - sum(shown.values())
    while 0 < hidden < THRESHOLD:
        visible = [category for category, count in shown.items() if count > 0]
        if not visible:
            break
        smallest = min(visible, key=lambda category: (shown[category], category))
        hidden += shown[smallest]
        shown[smallest] = 0
    return shown


def county_rows(keys: Iterable[CountKey]) -> set[RowKey]:
    """The county rows the counts ``keys`` lie in."""
    return {(report, scope, month) for report, scope, month, _ in keys if scope.startswith(COUNTY_PREFIX)}


def shown_of(counts: Mapping[CountKey, int]) -> Counter[CountKey]:
    """Every shown cell of the county rows in ``counts`` (all of a store's counts) and their
    national sums; zeros left out."""
    rows: dict[RowKey, dict[str, int]] = defaultdict(dict)
    for (report, scope, month, category), count in counts.items():
        if count and scope.startswith(COUNTY_PREFIX):
            rows[(report, scope, month)][category] = count
    shown: Counter[CountKey] = Counter()
    for (report, scope, month), row in rows.items():
        for category, count in suppress(row).items():
            if count:
                shown[(report, scope, month, category)] = count
                shown[(report, NATIONAL_SCOPE, month, category)] += count
    return shown


def shown_changes(counts: Mapping[RowKey, Mapping[str, int]], before: Mapping[RowKey, Mapping[str, int]]) -> Counter[CountKey]:
    """For county rows whose counts changed (``counts``, as they are now) and were shown as
    ``before``: what each of their shown cells, and the national sums, change by."""
    changes: Counter[CountKey] = Counter()
    for row_key in set(counts) | set(before):
        shown = suppress(counts.get(row_key, {}))
        old = before.get(row_key, {})
        report, scope, month = row_key
        for category in set(shown) | set(old):
            change = shown.get(category, 0) - old.get(category, 0)
            if change:
                changes[(report, scope, month, category)] += change
                changes[(report, NATIONAL_SCOPE, month, category)] += change
    return changes
