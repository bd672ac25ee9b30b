"""Sick-leave case (sjukfall) computation for rehab coordination.

Pure functions over plain records: no database, no XML, no I/O. The handlers for
ListActiveSickLeavesForCareUnit / ListSickLeavesForPerson map stored certificates into
`SickLeaveCertificate` records, call `compute_cases` and render the result.

Definitions (all dates are whole days, period end dates are inclusive):

* Only certificates that are neither deleted (revoked) nor test certificates count; the engine
  drops the others itself. Certificates that were replaced or completed by a newer one must be
  dropped by the caller, who knows the relations (see `without_superseded`).
* A certificate's *span* runs from its earliest period start to its latest period end. A hole
  between two periods of one certificate does not split the case (the doctor wrote them as one
  certificate), but the hole's days are not sick-leave days.
* Two certificates *connect* when the later-starting one starts at most `max_gap + 1` days after
  the other's span ends (so at most `max_gap` whole days lie between them; overlap is fine). A
  *chain* is a connected group, found by sweeping the spans in start order and tracking the running
  maximum end. The running maximum matters when extending to the left: a long certificate that
  started early can connect a later one even though a shorter certificate in between ended too
  early to do so.
* A certificate is *active* on the active date when one of its periods covers that date. If several
  are, the one signed last (then the greatest certificate id, to stay deterministic) is the chain's
  anchor and the case is ACTIVE.
* Otherwise the patient's most recent chain that started on or before the active date is
  RECENTLY_ENDED when its end lies 1..N days before the active date, N being
  `recently_ended_days` (so N = 0 reports active cases only). Its anchor is the certificate ending
  last (then signed last, then greatest id).
* A chain that straddles the active date without any period covering it (the date falls in a
  tolerated gap, or in a hole inside a certificate) has neither an active certificate nor an end
  before the active date, so it yields no case. A chain that only starts after the active date is
  not yet relevant and is ignored.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import attrgetter
from typing import Protocol, TypeVar

# Degrees of reduced work capacity in whole percent. FK7263 and the LISJP family express 25, 50, 75
# or 100; AG1-14 any percentage (0 % is no sick leave). The lists' schema allows 1 to 100.
ALLOWED_DEGREES = frozenset(range(1, 101))


@dataclass(frozen=True, slots=True)
class SickLeavePeriod:
    """One period of reduced work capacity; `end` is the last sick-leave day (inclusive)."""

    start: date
    end: date
    degree: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(
                f"sick-leave period {self.start}..{self.end}: end date lies before the start date"
            )
        if self.degree not in ALLOWED_DEGREES:
            raise ValueError(
                f"sick-leave period {self.start}..{self.end}: degree {self.degree!r} is not a whole "
                "percentage from 1 to 100"
            )

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class Diagnosis:
    code: str
    secondary_codes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Callers often have lists from a parser; freezing them keeps the record hashable.
        object.__setattr__(self, "secondary_codes", tuple(self.secondary_codes))


# repr=False: the default repr would print personal identity numbers, names and diagnoses into logs
# and tracebacks; the certificate id is enough to find the record.
@dataclass(frozen=True, slots=True, repr=False)
class SickLeaveCertificate:
    """The facts about one signed certificate that the engine needs.

    `signed` values must be comparable with each other (all naive local time, or all aware).
    """

    certificate_id: str
    patient_id: str
    patient_name: str
    care_unit_id: str
    care_unit_name: str
    care_giver_id: str
    doctor_id: str
    doctor_name: str  # may be empty for staff with a protected identity
    signed: datetime
    diagnosis: Diagnosis
    periods: tuple[SickLeavePeriod, ...]
    employment: tuple[str, ...] = ()
    deleted: bool = False
    test: bool = False
    # Derived once here so that the engine's sweeps do not recompute them on every call.
    first_day: date = field(init=False, compare=False)
    last_day: date = field(init=False, compare=False)

    def __post_init__(self) -> None:
        periods = tuple(self.periods)
        if not periods:
            raise ValueError(f"certificate {self.certificate_id!r}: has no sick-leave period")
        object.__setattr__(self, "periods", periods)
        object.__setattr__(self, "employment", tuple(self.employment))
        object.__setattr__(self, "first_day", min(p.start for p in periods))
        object.__setattr__(self, "last_day", max(p.end for p in periods))

    def __repr__(self) -> str:
        return f"SickLeaveCertificate({self.certificate_id!r})"

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day and any(p.covers(day) for p in self.periods)


class CaseStatus(enum.Enum):
    ACTIVE = "active"
    RECENTLY_ENDED = "recently_ended"


@dataclass(frozen=True, slots=True, repr=False)
class SickLeaveCase:
    """One patient's sick-leave case as seen on the active date.

    `anchor` is the certificate the case is read from (diagnosis, doctor, care unit): the active
    certificate for an ACTIVE case, the chain's last-ending certificate for a RECENTLY_ENDED one.
    `certificates` is the chain in chronological order: by first day, then signing time, then id.
    `degrees` lists the degrees of all the chain's periods ordered by period start (ties: earlier
    signed certificate first, then certificate id, then period end) with *consecutive* repeats
    removed, so 100 -> 50 -> 100 stays visible as a return to full sick leave.
    `current_degree` is the anchor's degree on the active date (if malformed data has overlapping
    periods in one certificate, the highest); None for a RECENTLY_ENDED case.
    """

    status: CaseStatus
    anchor: SickLeaveCertificate
    certificates: tuple[SickLeaveCertificate, ...]
    start: date
    end: date
    days: int
    current_degree: int | None
    degrees: tuple[int, ...]

    def __repr__(self) -> str:
        return (
            f"SickLeaveCase({self.status.value}, {self.start}..{self.end}, days={self.days}, "
            f"certificates={list(self.certificate_ids)})"
        )

    @property
    def patient_id(self) -> str:
        return self.anchor.patient_id

    @property
    def patient_name(self) -> str:
        return self.anchor.patient_name

    @property
    def diagnosis(self) -> Diagnosis:
        return self.anchor.diagnosis

    @property
    def doctor_id(self) -> str:
        return self.anchor.doctor_id

    @property
    def doctor_name(self) -> str:
        return self.anchor.doctor_name

    @property
    def care_unit_id(self) -> str:
        return self.anchor.care_unit_id

    @property
    def care_giver_id(self) -> str:
        return self.anchor.care_giver_id

    @property
    def certificate_ids(self) -> tuple[str, ...]:
        return tuple(c.certificate_id for c in self.certificates)

    @property
    def certificate_count(self) -> int:
        return len(self.certificates)


# --- interval helpers --------------------------------------------------------------------------

_ONE_DAY = timedelta(days=1)


def merge_intervals(intervals: Iterable[tuple[date, date]]) -> list[tuple[date, date]]:
    """Merge inclusive day intervals that overlap or touch (end + 1 day == next start)."""
    merged: list[tuple[date, date]] = []
    for start, end in sorted(intervals):
        if end < start:
            raise ValueError(f"interval {start}..{end}: end date lies before the start date")
        if merged and start <= merged[-1][1] + _ONE_DAY:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def days_in(intervals: Iterable[tuple[date, date]]) -> int:
    """Number of distinct days covered by inclusive intervals (overlaps counted once)."""
    return sum((end - start).days + 1 for start, end in merge_intervals(intervals))


# --- the engine --------------------------------------------------------------------------------


def without_superseded(
    certificates: Iterable[SickLeaveCertificate], superseded_ids: Collection[str]
) -> list[SickLeaveCertificate]:
    """Drop certificates that a newer certificate has replaced or completed.

    The engine cannot see certificate relations, so the caller collects `superseded_ids`: the parent
    ids of ERSATT (replace) and KOMPLT (completion) relations whose child certificate is signed and
    not revoked. Use a set: membership is tested once per certificate.
    """
    return [c for c in certificates if c.certificate_id not in superseded_ids]


def compute_cases(
    certificates: Iterable[SickLeaveCertificate],
    active_date: date,
    max_gap: int,
    recently_ended_days: int = 0,
) -> list[SickLeaveCase]:
    """One case per patient with an active or recently ended chain, ordered by patient id.

    The result does not depend on the order of `certificates`. The same record passed twice counts
    once; two different records with the same certificate id are rejected.
    """
    _check_arguments(active_date, max_gap, recently_ended_days)
    cases = []
    by_patient = _by_patient(certificates)
    for patient_id in sorted(by_patient):
        case = _case(by_patient[patient_id], active_date, max_gap, recently_ended_days)
        if case is not None:
            cases.append(case)
    return cases


def case_for_patient(
    certificates: Iterable[SickLeaveCertificate],
    active_date: date,
    max_gap: int,
    recently_ended_days: int = 0,
) -> SickLeaveCase | None:
    """The case of one patient, or None; every counted certificate must belong to that patient."""
    _check_arguments(active_date, max_gap, recently_ended_days)
    by_patient = _by_patient(certificates)
    if len(by_patient) > 1:
        raise ValueError(
            f"case_for_patient: certificates belong to {len(by_patient)} patients, expected one"
        )
    if not by_patient:
        return None
    (group,) = by_patient.values()
    return _case(group, active_date, max_gap, recently_ended_days)


def _check_arguments(active_date: date, max_gap: int, recently_ended_days: int) -> None:
    # A datetime is a date subclass but cannot be compared with dates, which would fail deep inside.
    if not isinstance(active_date, date) or isinstance(active_date, datetime):
        raise TypeError(f"active_date must be a datetime.date, got {type(active_date).__name__}")
    for name, value in (("max_gap", max_gap), ("recently_ended_days", recently_ended_days)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number of days >= 0, got {value!r}")


_FIRST_DAY = attrgetter("first_day")


def _by_patient(
    certificates: Iterable[SickLeaveCertificate],
) -> dict[str, list[SickLeaveCertificate]]:
    """Counted certificates grouped by patient, each group sorted by first day.

    Sorting the small groups is much cheaper than one global sort of all certificates, and sorting
    by first day alone suffices for the sweep: certificates starting on the same day always land in
    the same chain, whatever their order. Only the final chain is put in full chronological order.
    """
    seen: dict[str, SickLeaveCertificate] = {}
    by_patient: dict[str, list[SickLeaveCertificate]] = {}
    for cert in certificates:
        earlier = seen.get(cert.certificate_id)
        if earlier is not None:
            if earlier == cert:
                continue
            raise ValueError(
                f"certificate {cert.certificate_id!r}: passed twice with different contents"
            )
        seen[cert.certificate_id] = cert
        if cert.deleted or cert.test:
            continue
        group = by_patient.get(cert.patient_id)
        if group is None:
            by_patient[cert.patient_id] = [cert]
        else:
            group.append(cert)
    for group in by_patient.values():
        group.sort(key=_FIRST_DAY)
    return by_patient


class DaySpan(Protocol):
    """The days a certificate's sick leave spans, first to last."""

    @property
    def first_day(self) -> date: ...
    @property
    def last_day(self) -> date: ...


def last_chain(by_first_day: Sequence[DaySpan], active_date: date, max_gap: int) -> tuple[int, int, date] | None:
    """The last chain starting on or before ``active_date`` among spans sorted by first day, as
    (lo, hi, last day of the chain): the chain is ``by_first_day[lo:hi]``. None when the first span
    starts after ``active_date``.

    The sweep goes in start order and opens a new chain whenever a span starts beyond the running
    end + ``max_gap`` + 1 days; the first chain that starts after the active date ends it, since it
    cannot hold a case on that date.
    """
    if by_first_day[0].first_day > active_date:
        return None
    reach = timedelta(days=max_gap + 1)
    lo, hi = 0, len(by_first_day)
    chain_end = by_first_day[0].last_day
    for i in range(1, hi):
        span = by_first_day[i]
        if span.first_day > chain_end + reach:
            if span.first_day > active_date:
                hi = i
                break
            lo, chain_end = i, span.last_day
        elif span.last_day > chain_end:
            chain_end = span.last_day
    return lo, hi, chain_end


def _case(
    by_first_day: list[SickLeaveCertificate],
    active_date: date,
    max_gap: int,
    recently_ended_days: int,
) -> SickLeaveCase | None:
    found = last_chain(by_first_day, active_date, max_gap)
    if found is None:
        return None
    lo, hi, chain_end = found
    chain = sorted(by_first_day[lo:hi], key=lambda c: (c.first_day, c.signed, c.certificate_id))

    current_degree: int | None
    if chain_end >= active_date:
        covering = [c for c in chain if c.covers(active_date)]
        if not covering:
            return None  # the active date falls in a gap or hole of a continuing chain
        anchor = max(covering, key=lambda c: (c.signed, c.certificate_id))
        status = CaseStatus.ACTIVE
        current_degree = max(p.degree for p in anchor.periods if p.covers(active_date))
    elif (active_date - chain_end).days <= recently_ended_days:
        anchor = max(chain, key=lambda c: (c.last_day, c.signed, c.certificate_id))
        status = CaseStatus.RECENTLY_ENDED
        current_degree = None
    else:
        return None

    timeline = sorted(
        (p.start, c.signed, c.certificate_id, p.end, p.degree) for c in chain for p in c.periods
    )
    degrees: list[int] = []
    for *_, degree in timeline:
        if not degrees or degrees[-1] != degree:
            degrees.append(degree)
    return SickLeaveCase(
        status=status,
        anchor=anchor,
        certificates=tuple(chain),
        start=chain[0].first_day,
        end=chain_end,
        days=days_in((start, end) for start, _, _, end, _ in timeline),
        current_degree=current_degree,
        degrees=tuple(degrees),
    )


Span = TypeVar("Span", bound=DaySpan)


def current_chains(
    by_patient: Mapping[str, Sequence[Span]], active_date: date, max_gap: int, recently_ended_days: int
) -> list[Span]:
    """For each patient, the spans of the chain that can hold a case on ``active_date``; in the
    order of ``by_patient``, which maps each patient to spans ordered by first day (as the stored
    rows come from ``persistence.sickleave``).

    The sweep is ``last_chain`` on bare day spans: applied to stored rows before building engine
    records, it keeps a unit's long history out of the work. The kept chain is the patient's last
    one starting on or before ``active_date``, if it ends no earlier than ``recently_ended_days``
    before it. Merging with a larger gap only joins chains, so the chain kept for ``max_gap``
    contains the one any smaller gap would give.
    """
    earliest_end = active_date - timedelta(days=recently_ended_days)
    kept: list[Span] = []
    for group in by_patient.values():
        found = last_chain(group, active_date, max_gap)
        if found is not None and found[2] >= earliest_end:
            kept.extend(group[found[0] : found[1]])
    return kept
