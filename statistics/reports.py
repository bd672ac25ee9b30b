"""The reports of the built-in statistics, read from the counts kept ahead (``stat_count``), and the
threshold that protects small counts.

Every report counts by month: sick-leave cases in the month they began, certificates in the month
they were signed, messages in the month they were sent. A report over a period adds up its months.

The threshold (national and county reports; a care giver's own reports are exact): every count
below ``THRESHOLD`` is shown as 0, and no small count can be derived from the others
(``persistence/threshold.py``). National and county reports read the shown figures kept ahead
(``stat_shown``), a care giver's its exact counts (``stat_count``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from intygstjanst.persistence import statistics as repo
from intygstjanst.statistics import dimensions, store
from intygstjanst.persistence.threshold import COUNTY_PREFIX, NATIONAL_SCOPE, THRESHOLD

SUBJECTS = (
    ("AVSTMN", "Avstämningsmöte"),
    ("KOMPLT", "Komplettering"),
    ("KONTKT", "Kontakt"),
    ("OVRIGT", "Övrigt"),
    ("PAMINN", "Påminnelse"),
)


@dataclass(frozen=True)
class Definition:
    key: str
    title: str
    unit: str  # what is counted: sjukfall, intyg, meddelanden
    # Fixed categories (code, label) in order; None: those found in the data (certificate types).
    categories: Callable[[], Sequence[tuple[str, str]]] | None
    per_month: bool  # shown as a series per month (else: per category over the period)


def _fixed(pairs: Iterable[tuple[str, str]]) -> Callable[[], Sequence[tuple[str, str]]]:
    values = tuple(pairs)
    return lambda: values


def _chapters() -> Sequence[tuple[str, str]]:
    return [(c.code, f"{c.code} {c.name}") for c in dimensions.chapters()] + [(dimensions.UNKNOWN, "Okänd diagnos")]


REPORTS = (
    Definition(store.CASES, "Sjukfall per månad och kön", "sjukfall", _fixed((("K", "Kvinnor"), ("M", "Män"))), True),
    Definition(store.DIAGNOSES, "Sjukfall per diagnoskapitel", "sjukfall", _chapters, False),
    Definition(store.AGES, "Sjukfall per åldersgrupp", "sjukfall", _fixed((a, f"{a} år") for a in dimensions.AGE_GROUPS), False),
    Definition(store.DEGREES, "Sjukfall per sjukskrivningsgrad", "sjukfall", _fixed((d, f"{d} %") for d in dimensions.DEGREES), False),
    Definition(store.LENGTHS, "Sjukfall per sjukskrivningslängd", "sjukfall", _fixed((n, n) for n, _ in dimensions.LENGTHS), False),
    Definition(
        store.COUNTIES, "Sjukfall per län", "sjukfall",
        _fixed([*dimensions.COUNTIES.items(), (dimensions.UNKNOWN, "Okänt län")]), False,
    ),
    Definition(store.TYPES, "Intyg per typ och månad", "intyg", None, True),
    Definition(store.MESSAGES, "Meddelanden per ämne och månad", "meddelanden", _fixed(SUBJECTS), True),
    Definition(
        store.COMPLETIONS, "Andel intyg med kompletteringsbegäran", "intyg",
        _fixed(((store.WITH_COMPLETION, "Med kompletteringsbegäran"), (store.WITHOUT_COMPLETION, "Utan kompletteringsbegäran"))),
        True,
    ),
)
BY_KEY = {d.key: d for d in REPORTS}


@dataclass(frozen=True)
class Scope:
    """National (``kind`` "national"), one county ("county", its län code) or one care giver
    ("care_giver", its HSA-id)."""

    kind: str
    id: str = ""

    @property
    def suppressed(self) -> bool:
        return self.kind != "care_giver"

    @property
    def prefix(self) -> str:
        if self.kind == "care_giver":
            return store.care_giver_scope(self.id)
        return COUNTY_PREFIX + self.id  # national: every county scope


NATIONAL = Scope("national")


@dataclass
class Report:
    definition: Definition
    scope: Scope
    months: list[dt.date]
    categories: list[tuple[str, str]]
    cells: dict[tuple[dt.date, str], int] = field(default_factory=dict)  # (month, category) -> shown count

    def count(self, month: dt.date, category: str) -> int:
        return self.cells.get((month, category), 0)

    def month_total(self, month: dt.date) -> int:
        return sum(self.count(month, code) for code, _ in self.categories)

    def category_total(self, category: str) -> int:
        return sum(self.count(month, category) for month in self.months)

    @property
    def total(self) -> int:
        return sum(self.month_total(month) for month in self.months)

    def share(self, month: dt.date | None = None) -> float | None:
        """For the completion report: the share of certificates with a completion request."""
        if month is None:
            with_, all_ = self.category_total(store.WITH_COMPLETION), self.total
        else:
            with_, all_ = self.count(month, store.WITH_COMPLETION), self.month_total(month)
        return with_ / all_ if all_ else None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "report": self.definition.key,
            "title": self.definition.title,
            "unit": self.definition.unit,
            "scope": {"kind": self.scope.kind, "id": self.scope.id or None},
            "from": _month_text(self.months[0]),
            "to": _month_text(self.months[-1]),
            "suppressed": self.scope.suppressed,
            "threshold": THRESHOLD if self.scope.suppressed else None,
            "categories": [{"code": code, "label": label, "total": self.category_total(code)} for code, label in self.categories],
            "months": [
                {"month": _month_text(m), "counts": {code: self.count(m, code) for code, _ in self.categories}, "total": self.month_total(m)}
                for m in self.months
            ],
            "total": self.total,
        }
        if self.definition.key == store.COMPLETIONS:
            data["share"] = self.share()
            for entry, month in zip(data["months"], self.months):
                entry["share"] = self.share(month)
        return data


def _month_text(month: dt.date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def month_range(first: dt.date, last: dt.date) -> list[dt.date]:
    months = []
    month = first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def report(conn: Connection, key: str, scope: Scope, first: dt.date, last: dt.date) -> Report:
    """Report ``key`` for ``scope`` over the months ``first``..``last``; raises KeyError for an
    unknown report."""
    definition = BY_KEY[key]
    months = month_range(first, last)
    where = NATIONAL_SCOPE if scope.kind == "national" else scope.prefix
    rows = repo.counts(conn, key, where, months[0], months[-1], shown=scope.suppressed)
    cells = {(month, category): count for month, category, count in rows}
    if definition.categories is not None:
        categories = list(definition.categories())
    else:
        # Found in the data: only those with something to show, so an all-hidden category does not
        # even reveal that it exists.
        categories = [(code, code) for code in sorted({category for _, category in cells})]
    return Report(definition, scope, months, categories, cells)


def available_months(conn: Connection, scope: Scope) -> tuple[dt.date, dt.date] | None:
    """The months with data: every certificate counts in the type report, every message in the
    message report."""
    return repo.months(conn, scope.prefix, (store.TYPES, store.MESSAGES))
