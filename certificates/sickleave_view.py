"""A unit's sick-leave cases on a date, filtered: shared by ListSickLeavesForCare and the operator's
JSON view (``intygstjanst sickleave list``), which also counts each patient's unanswered messages
from Försäkringskassan.

Filters (all optional, all must hold): diagnosis codes (a code matches itself and its
sub-codes: ``F32`` matches ``F321``) and ICD-10 chapters or ranges of codes (``F00-F99``), the
patient's age on the date, the case's length in days, its current degree, the doctor who signed
its active certificate, and a text search on the patient's name. The name search never matches a
patient with a protected identity: where such a patient is listed at all (see ``Visibility``), the
name is not theirs to search by.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from intygstjanst.certificates.sickleave import (
    Diagnosis,
    SickLeaveCase,
    SickLeaveCertificate,
    SickLeavePeriod,
    compute_cases,
    current_chains,
)
from intygstjanst.certificates.sickleave_answer import PROTECTED_NAME, person_root
from intygstjanst.persistence import messages as message_repo
from intygstjanst.persistence import sickleave as repo
from intygstjanst.persistence.sickleave import StoredSickLeave

_CHAPTER = re.compile(r"([A-Z][0-9]{2})-([A-Z][0-9]{2})")


@dataclass(frozen=True)
class Filters:
    diagnoses: tuple[str, ...] = ()  # codes: each matches itself and its sub-codes
    chapters: tuple[tuple[str, str], ...] = ()  # (first, last) three-character codes, inclusive
    min_age: int | None = None
    max_age: int | None = None
    min_days: int | None = None
    max_days: int | None = None
    degrees: frozenset[int] = frozenset()  # the current degree
    doctors: frozenset[str] = frozenset()  # HSA-ids of the doctor of the active certificate
    name: str | None = None  # a part of the patient's name, in any case

    def __post_init__(self) -> None:
        for low, high in ((self.min_age, self.max_age), (self.min_days, self.max_days)):
            if low is not None and high is not None and low > high:
                raise ValueError(f"a range from {low} to {high} is empty: the minimum is above the maximum")
        object.__setattr__(self, "diagnoses", tuple(normalized(c) for c in self.diagnoses))

    @staticmethod
    def chapter(text: str) -> tuple[str, str]:
        """``A00-B99`` as a chapter range; ValueError naming the form otherwise."""
        found = _CHAPTER.fullmatch(normalized(text))
        if found is None or found[1] > found[2]:
            raise ValueError(f"chapter {text!r}: expected a range of three-character ICD-10 codes such as F00-F99")
        return found[1], found[2]

    def wants(self, case: SickLeaveCase, active_date: dt.date, protected: bool) -> bool:
        code = normalized(case.diagnosis.code)
        age = age_on(case.patient_id, active_date)
        return (
            (not self.diagnoses or any(code.startswith(d) for d in self.diagnoses))
            and (not self.chapters or any(low <= code[:3] <= high for low, high in self.chapters))
            and (self.min_age is None or (age is not None and age >= self.min_age))
            and (self.max_age is None or (age is not None and age <= self.max_age))
            and (self.min_days is None or case.days >= self.min_days)
            and (self.max_days is None or case.days <= self.max_days)
            and (not self.degrees or case.current_degree in self.degrees)
            and (not self.doctors or case.doctor_id in self.doctors)
            and (self.name is None or (not protected and self.name.casefold() in case.patient_name.casefold()))
        )


def normalized(code: str) -> str:
    """A diagnosis code as compared: upper case, without the dot some systems write (F32.1)."""
    return code.strip().upper().replace(".", "")


def age_on(person_id: str, day: dt.date) -> int | None:
    """Age in whole years from a personnummer or samordningsnummer (day + 60); None when the number
    holds no date."""
    try:
        day_of_month = int(person_id[6:8])
        born = dt.date(int(person_id[0:4]), int(person_id[4:6]), day_of_month - 60 if day_of_month > 60 else day_of_month)
    except ValueError:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def engine_record(row: StoredSickLeave) -> SickLeaveCertificate:
    """A stored row as the engine's input."""
    return SickLeaveCertificate(
        certificate_id=row.certificate_id,
        patient_id=row.patient_id,
        patient_name=row.patient_name,
        care_unit_id=row.care_unit_id,
        care_unit_name=row.care_unit_name,
        care_giver_id=row.care_giver_id,
        doctor_id=row.doctor_id,
        doctor_name=row.doctor_name,
        signed=row.signed_at,
        diagnosis=Diagnosis(row.diagnosis_code, tuple(repo.codes(row.secondary_diagnoses))),
        periods=tuple(SickLeavePeriod(start, end, degree) for start, end, degree in repo.periods_of(row)),
        employment=tuple(repo.codes(row.employment)),
    )


@dataclass(frozen=True)
class UnitCases:
    cases: list[SickLeaveCase]
    rows: dict[str, StoredSickLeave] = field(repr=False)  # certificate id -> its stored row


def unit_cases(
    conn: Connection, units: Sequence[str], active_date: dt.date, max_gap: int, recently_ended_days: int = 0
) -> UnitCases:
    """The cases on ``active_date`` (active, or ended at most ``recently_ended_days`` before) of
    the certificates issued at ``units``, merged with ``max_gap`` days."""
    since = active_date - dt.timedelta(days=recently_ended_days)
    by_patient = repo.in_window_at_units(conn, units, since=since, until=active_date, max_gap=max_gap)
    rows = current_chains(by_patient, active_date, max_gap, recently_ended_days)
    cases = compute_cases(map(engine_record, rows), active_date, max_gap, recently_ended_days)
    return UnitCases(cases, {r.certificate_id: r for r in rows})


# Who may see a protected patient (as the contracts decide it): a view that names doctors is theirs
# (the patients are listed, unnamed); a whole unit's view naming no one leaves them out.
Visibility = Callable[[Iterable[str]], set[str]]  # patient ids -> those with a protected identity


class RegisterUnavailable(RuntimeError):
    """The person register could not be asked: no view may be given, it could expose someone."""


def view(
    conn: Connection,
    units: Sequence[str],
    active_date: dt.date,
    max_gap: int,
    filters: Filters,
    protected_among: Visibility,
    recently_ended_days: int = 0,
) -> list[dict[str, object]]:
    """The operator's view: one JSON-ready object per case that passes ``filters``, in patient
    order. ``protected_among`` asks the person register (and raises when it cannot)."""
    found = unit_cases(conn, units, active_date, max_gap, recently_ended_days)
    protected = protected_among(c.patient_id for c in found.cases)
    if not filters.doctors:
        cases = [c for c in found.cases if c.patient_id not in protected]
    else:
        cases = found.cases
    cases = [c for c in cases if filters.wants(c, active_date, c.patient_id in protected)]
    messages = message_repo.unanswered_from_recipient(conn, units, [c.patient_id for c in cases], "FKASSA")
    return [_row(c, found.rows[c.anchor.certificate_id], active_date, c.patient_id in protected, messages) for c in cases]


def _row(
    case: SickLeaveCase,
    anchor: StoredSickLeave,
    active_date: dt.date,
    protected: bool,
    messages: dict[str, message_repo.Unanswered],
) -> dict[str, object]:
    unanswered = messages.get(case.patient_id, message_repo.Unanswered())
    return {
        "patient": {
            "id": case.patient_id,
            "root": person_root(case.patient_id),
            "name": PROTECTED_NAME if protected else case.patient_name,
            "age": age_on(case.patient_id, active_date),
        },
        "status": case.status.value,
        "start": case.start.isoformat(),
        "end": case.end.isoformat(),
        "days": case.days,
        "certificates": list(case.certificate_ids),
        "diagnosis": {"code": case.diagnosis.code, "code_system": anchor.diagnosis_code_system,
                      "secondary": list(case.diagnosis.secondary_codes)},
        "current_degree": case.current_degree,
        "degrees": list(case.degrees),
        "doctor": {"id": case.doctor_id, "name": case.doctor_name},
        "unit": {"id": case.care_unit_id, "name": anchor.care_unit_name},
        "unanswered_messages": unanswered.questions,
        "reminders": unanswered.reminders,
    }
