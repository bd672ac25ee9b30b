"""``current_chains`` cuts a unit's stored history down before the engine runs; the engine must not
be able to tell. For any gap up to the one the cut used, and any recently-ended window, the cases
computed from the cut rows equal those computed from everything."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from intygstjanst.certificates.sickleave import current_chains
from intygstjanst.certificates.sickleave import Diagnosis, SickLeaveCertificate, SickLeavePeriod, compute_cases

ACTIVE_DATE = dt.date(2024, 3, 15)


@st.composite
def histories(draw: st.DrawFn, gaps: tuple[int, ...]) -> list[SickLeaveCertificate]:
    """Two patients' certificates in sequence; the days between two certificates are often exactly
    around one of ``gaps``, where chaining decides, and otherwise anything from overlap to weeks."""
    certificates = []
    between = st.one_of(st.sampled_from([d for g in gaps for d in (g - 1, g, g + 1) if d >= 0]), st.integers(-10, 40))
    for patient in ("191212121212", "199001012385"):
        start = draw(st.integers(-160, 0))
        for _ in range(draw(st.integers(0, 6))):
            periods = []
            for _ in range(draw(st.integers(1, 3))):
                end = start + draw(st.integers(0, 40))
                degree = draw(st.sampled_from([25, 50, 75, 100]))
                periods.append(SickLeavePeriod(_on(start), _on(end), degree))
                start = end + 1 + draw(st.integers(0, 5))  # a hole inside one certificate
            certificates.append(
                SickLeaveCertificate(
                    certificate_id=f"c{len(certificates)}",
                    patient_id=patient,
                    patient_name="",
                    care_unit_id="U",
                    care_unit_name="",
                    care_giver_id="G",
                    doctor_id="D",
                    doctor_name="",
                    signed=dt.datetime(2024, 1, 1) + dt.timedelta(hours=draw(st.integers(0, 2000))),
                    diagnosis=Diagnosis("M54"),
                    periods=tuple(periods),
                )
            )
            start = (periods[-1].end - ACTIVE_DATE).days + 1 + draw(between)
    return certificates


def _on(offset: int) -> dt.date:
    return ACTIVE_DATE + dt.timedelta(days=offset)


def _rows(certificates: list[SickLeaveCertificate]) -> dict[str, list[Any]]:
    """Stand-ins for stored rows, as the repository gives them: by patient, then by first day."""
    by_patient: dict[str, list[Any]] = {}
    for c in sorted(certificates, key=lambda c: (c.patient_id, c.first_day, c.certificate_id)):
        row = SimpleNamespace(patient_id=c.patient_id, first_day=c.first_day, last_day=c.last_day, certificate=c)
        by_patient.setdefault(c.patient_id, []).append(row)
    return by_patient


@settings(max_examples=400, deadline=None)
@given(st.data(), st.integers(0, 20), st.integers(0, 20), st.integers(0, 14))
def test_cutting_to_the_current_chain_never_changes_a_case(
    data: st.DataObject, gap: int, extra: int, recently_ended_days: int
) -> None:
    cut_gap = gap + extra  # ListActiveSickLeavesForCareUnit cuts with a gap larger than the consumer's
    certificates = data.draw(histories((gap, cut_gap)))
    kept = [r.certificate for r in current_chains(_rows(certificates), ACTIVE_DATE, cut_gap, recently_ended_days)]
    assert compute_cases(kept, ACTIVE_DATE, gap, recently_ended_days) == compute_cases(
        certificates, ACTIVE_DATE, gap, recently_ended_days
    )


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(0, 20))
def test_the_cut_with_the_engines_own_gap_keeps_exactly_each_cases_chain(data: st.DataObject, gap: int) -> None:
    certificates = data.draw(histories((gap,)))
    kept = current_chains(_rows(certificates), ACTIVE_DATE, gap, 0)
    with_case = {c.patient_id for c in compute_cases(certificates, ACTIVE_DATE, gap)}
    # A chain that straddles the date in a gap has no case, yet must be kept for smaller gaps.
    assert with_case <= {r.patient_id for r in kept}
    for case in compute_cases(certificates, ACTIVE_DATE, gap):
        assert set(case.certificates) == {r.certificate for r in kept if r.patient_id == case.patient_id}
