"""Tests for the sick-leave case engine: worked examples, a brute-force oracle and invariants."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from intygstjanst.certificates.sickleave import (
    CaseStatus,
    Diagnosis,
    SickLeaveCase,
    SickLeaveCertificate,
    SickLeavePeriod,
    case_for_patient,
    compute_cases,
    days_in,
    merge_intervals,
    without_superseded,
)

# Dates in the examples are day offsets from DAY0, which keeps the gap arithmetic readable.
DAY0 = date(2024, 3, 1)
SIGNED0 = datetime(2024, 2, 1, 8, 0)


def day(offset: int) -> date:
    return DAY0 + timedelta(days=offset)


def period(first: int, last: int, degree: int = 100) -> SickLeavePeriod:
    return SickLeavePeriod(day(first), day(last), degree)


def cert(
    certificate_id: str,
    *periods: SickLeavePeriod,
    patient: str = "191212121212",
    signed: int = 0,
    doctor: str = "DOC-1",
    diagnosis: str = "F32",
    deleted: bool = False,
    test: bool = False,
) -> SickLeaveCertificate:
    """A certificate for `patient`; `signed` is in minutes after SIGNED0."""
    return SickLeaveCertificate(
        certificate_id=certificate_id,
        patient_id=patient,
        patient_name=f"Name of {patient}",
        care_unit_id="UNIT-1",
        care_unit_name="Vårdcentralen",
        care_giver_id="GIVER-1",
        doctor_id=doctor,
        doctor_name=f"Dr {doctor}",
        signed=SIGNED0 + timedelta(minutes=signed),
        diagnosis=Diagnosis(diagnosis, ("M54",)),
        periods=periods,
        employment=("NUVARANDE_ARBETE",),
        deleted=deleted,
        test=test,
    )


def case_on(
    certs: Sequence[SickLeaveCertificate], active: int, max_gap: int = 5, recent: int = 0
) -> SickLeaveCase | None:
    return case_for_patient(certs, day(active), max_gap, recent)


def active_case(
    certs: Sequence[SickLeaveCertificate], active: int, max_gap: int = 5, recent: int = 0
) -> SickLeaveCase:
    case = case_on(certs, active, max_gap, recent)
    assert case is not None
    assert case.status is CaseStatus.ACTIVE
    return case


# --- gaps ----------------------------------------------------------------------------------------

# A ends on day 9; with max_gap 5 the days 10..14 may lie between, so B may start on day 15 at most.
GAP_CASES = [
    pytest.param(12, True, id="gap-below-limit"),
    pytest.param(15, True, id="gap-at-limit"),
    pytest.param(16, False, id="gap-above-limit"),
]


@pytest.mark.parametrize(("b_start", "connected"), GAP_CASES)
def test_gap_extending_to_the_right(b_start: int, connected: bool) -> None:
    certs = [cert("A", period(0, 9)), cert("B", period(b_start, b_start + 9))]
    case = active_case(certs, active=5)
    assert case.certificate_ids == (("A", "B") if connected else ("A",))
    assert case.end == (day(b_start + 9) if connected else day(9))


@pytest.mark.parametrize(("b_start", "connected"), GAP_CASES)
def test_gap_extending_to_the_left(b_start: int, connected: bool) -> None:
    certs = [cert("A", period(0, 9)), cert("B", period(b_start, b_start + 9))]
    case = active_case(certs, active=b_start + 2)
    assert case.certificate_ids == (("A", "B") if connected else ("B",))
    assert case.start == (day(0) if connected else day(b_start))
    assert case.days == (20 if connected else 10)  # the gap days are not sick-leave days


@pytest.mark.parametrize(("b_start", "connected"), [(10, True), (11, False)])
def test_zero_gap_joins_only_back_to_back_certificates(b_start: int, connected: bool) -> None:
    certs = [cert("A", period(0, 9)), cert("B", period(b_start, 20))]
    assert (active_case(certs, active=15, max_gap=0).certificate_count == 2) is connected


def test_left_extension_uses_the_longest_reach_not_the_previous_certificate() -> None:
    # Sorted by start: LONG (0..30), SHORT (2..3), ACTIVE (33..40). SHORT ended 29 days before
    # ACTIVE starts, but LONG still reaches it, so all three are one case.
    certs = [
        cert("LONG", period(0, 30)),
        cert("SHORT", period(2, 3)),
        cert("ACTIVE", period(33, 40)),
    ]
    case = active_case(certs, active=35, max_gap=3)
    assert case.certificate_ids == ("LONG", "SHORT", "ACTIVE")
    assert (case.start, case.end, case.days) == (day(0), day(40), 39)


def test_chain_bridged_through_several_certificates() -> None:
    # Each link is within the gap, although the ends of the chain are far apart.
    certs = [cert(f"C{i}", period(20 * i, 20 * i + 16)) for i in range(5)]
    case = active_case(certs, active=90, max_gap=3)
    assert case.certificate_ids == ("C0", "C1", "C2", "C3", "C4")
    assert case.days == 5 * 17


def test_overlapping_certificates_count_shared_days_once() -> None:
    certs = [cert("A", period(0, 19)), cert("B", period(10, 29), signed=5)]
    case = active_case(certs, active=12)
    assert (case.start, case.end, case.days) == (day(0), day(29), 30)


def test_earlier_and_later_separate_chains_stay_out_of_the_case() -> None:
    certs = [
        cert("OLD", period(0, 9)),
        cert("NOW", period(30, 39)),
        cert("FUTURE", period(60, 69)),
    ]
    assert active_case(certs, active=35).certificate_ids == ("NOW",)


# --- which certificates count --------------------------------------------------------------------


def test_replaced_certificate_is_dropped_by_the_caller() -> None:
    original = cert("ORIGINAL", period(0, 13, 100), signed=0, diagnosis="F32")
    replacement = cert("REPLACEMENT", period(0, 20, 50), signed=60, diagnosis="F33")
    both = [original, replacement]

    case = active_case(without_superseded(both, {"ORIGINAL"}), active=5)
    assert case.certificate_ids == ("REPLACEMENT",)
    assert (case.degrees, case.diagnosis.code) == ((50,), "F33")

    # Without the caller's filtering the replaced certificate would still shape the case.
    assert active_case(both, active=5).degrees == (100, 50)


def test_revoked_certificate_never_counts() -> None:
    certs = [
        cert("REVOKED", period(0, 9), signed=0, deleted=True),
        cert("B", period(10, 19), signed=10),
        cert("REVOKED-LATER", period(12, 30, 25), signed=99, deleted=True),
    ]
    case = active_case(certs, active=15)
    assert case.certificate_ids == ("B",)
    assert (case.start, case.end, case.current_degree) == (day(10), day(19), 100)


def test_test_certificates_never_count() -> None:
    certs = [cert("TEST", period(0, 30), test=True), cert("REAL", period(20, 25))]
    assert active_case(certs, active=22).certificate_ids == ("REAL",)
    assert case_on(certs, active=5) is None


def test_only_excluded_certificates_give_no_case() -> None:
    certs = [cert("A", period(0, 9), deleted=True), cert("B", period(0, 9), test=True)]
    assert case_on(certs, active=5) is None
    assert compute_cases(certs, day(5), 5) == []


# --- active certificate, degrees -----------------------------------------------------------------


def test_latest_signed_active_certificate_wins() -> None:
    certs = [
        cert("EARLY", period(0, 20, 100), signed=0, doctor="DOC-A", diagnosis="F32"),
        cert("LATE", period(5, 25, 50), signed=30, doctor="DOC-B", diagnosis="M54"),
        cert("LATEST-BUT-NOT-COVERING", period(21, 30, 25), signed=90, doctor="DOC-C"),
    ]
    case = active_case(certs, active=10)
    assert case.anchor.certificate_id == "LATE"
    assert (case.doctor_id, case.doctor_name, case.diagnosis.code) == ("DOC-B", "Dr DOC-B", "M54")
    assert case.current_degree == 50
    assert case.certificate_count == 3


def test_equal_signing_time_is_broken_by_certificate_id() -> None:
    certs = [cert("X1", period(0, 9, 100)), cert("X2", period(0, 9, 50))]
    assert active_case(certs, active=3).anchor.certificate_id == "X2"
    assert active_case(list(reversed(certs)), active=3).anchor.certificate_id == "X2"


def test_degree_changes_within_a_case() -> None:
    certs = [
        cert("A", period(0, 9, 100), period(10, 19, 50), signed=0),
        cert("B", period(20, 29, 50), period(30, 39, 100), signed=20),
    ]
    assert active_case(certs, active=5).current_degree == 100
    case = active_case(certs, active=25)
    assert case.current_degree == 50
    # Consecutive repeats collapse; a return to an earlier degree is kept.
    assert case.degrees == (100, 50, 100)
    assert case.days == 40


def test_degrees_of_periods_starting_together_follow_signing_order() -> None:
    certs = [cert("B", period(0, 9, 75), signed=10), cert("A", period(0, 9, 25), signed=5)]
    assert active_case(certs, active=5).degrees == (25, 75)


def test_certificate_with_a_hole_between_its_periods() -> None:
    hole = cert("HOLE", period(0, 9, 100), period(20, 29, 50))
    # The hole is wider than max_gap but lies inside one certificate, so the case is not split;
    # its days are not counted.
    case = active_case([hole], active=25, max_gap=0)
    assert (case.start, case.end, case.days) == (day(0), day(29), 20)
    assert (case.current_degree, case.degrees) == (50, (100, 50))
    # In the hole no period covers the date, and the case has not ended either.
    assert case_on([hole], active=15, max_gap=0, recent=14) is None


def test_date_in_a_tolerated_gap_between_certificates_gives_no_case() -> None:
    certs = [cert("A", period(0, 9)), cert("B", period(12, 20))]
    assert case_on(certs, active=11, max_gap=5, recent=14) is None
    assert active_case(certs, active=12).certificate_ids == ("A", "B")


# --- recently ended ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("active", "recent", "expected"),
    [
        pytest.param(19, 0, CaseStatus.ACTIVE, id="last-day-is-active"),
        pytest.param(20, 0, None, id="ended-yesterday-n0"),
        pytest.param(20, 1, CaseStatus.RECENTLY_ENDED, id="ended-yesterday-n1"),
        pytest.param(26, 7, CaseStatus.RECENTLY_ENDED, id="within-n"),
        pytest.param(26, 6, None, id="beyond-n"),
    ],
)
def test_recently_ended(active: int, recent: int, expected: CaseStatus | None) -> None:
    certs = [
        cert("A", period(0, 9, 100), signed=0, doctor="DOC-A"),
        cert("B", period(10, 19, 50), signed=10, doctor="DOC-B"),
    ]
    case = case_on(certs, active=active, recent=recent)
    assert (case.status if case else None) is expected
    if case is not None:
        assert case.certificate_ids == ("A", "B")
        assert case.end == day(19)


def test_recently_ended_case_reads_from_its_last_certificate() -> None:
    certs = [
        cert("LONG", period(0, 19, 100), signed=50, doctor="DOC-LONG"),
        cert("SHORT", period(5, 9, 50), signed=60, doctor="DOC-SHORT"),
    ]
    case = case_on(certs, active=22, recent=5)
    assert case is not None and case.status is CaseStatus.RECENTLY_ENDED
    assert (case.anchor.certificate_id, case.doctor_id) == ("LONG", "DOC-LONG")
    assert case.current_degree is None


def test_recently_ended_ignores_a_chain_that_starts_after_the_active_date() -> None:
    certs = [cert("PAST", period(0, 9)), cert("NEXT", period(30, 39))]
    case = case_on(certs, active=12, recent=5)
    assert case is not None and case.status is CaseStatus.RECENTLY_ENDED
    assert case.certificate_ids == ("PAST",)


# --- compute_cases over many patients, argument checks -------------------------------------------


def test_compute_cases_gives_one_case_per_patient_ordered_by_patient() -> None:
    certs = [
        cert("P2-A", period(0, 9), patient="P2"),
        cert("P1-A", period(0, 9), patient="P1"),
        cert("P1-B", period(12, 20), patient="P1"),
        cert("P3-OLD", period(-40, -30), patient="P3"),
        cert("P4-ENDED", period(-10, 1), patient="P4"),
    ]
    cases = compute_cases(certs, day(5), max_gap=5, recently_ended_days=5)
    assert [(c.patient_id, c.status, c.certificate_ids) for c in cases] == [
        ("P1", CaseStatus.ACTIVE, ("P1-A", "P1-B")),
        ("P2", CaseStatus.ACTIVE, ("P2-A",)),
        ("P4", CaseStatus.RECENTLY_ENDED, ("P4-ENDED",)),
    ]


def test_same_record_twice_counts_once_but_conflicting_ids_are_rejected() -> None:
    a = cert("A", period(0, 9))
    assert active_case([a, a], active=5).certificate_ids == ("A",)
    with pytest.raises(ValueError, match="certificate 'A': passed twice with different contents"):
        compute_cases([a, cert("A", period(0, 10))], day(5), 5)


def test_case_for_patient_rejects_several_patients() -> None:
    certs = [cert("A", period(0, 9), patient="P1"), cert("B", period(0, 9), patient="P2")]
    with pytest.raises(ValueError, match="belong to 2 patients, expected one"):
        case_for_patient(certs, day(5), 5)
    assert case_for_patient([], day(5), 5) is None


@pytest.mark.parametrize(
    ("active_date", "max_gap", "recent", "error", "message"),
    [
        (datetime(2024, 3, 5, 12), 5, 0, TypeError, "active_date must be a datetime.date"),
        (day(5), -1, 0, ValueError, "max_gap must be a whole number of days >= 0, got -1"),
        (day(5), 5, -2, ValueError, "recently_ended_days must be .* got -2"),
        (day(5), True, 0, ValueError, "max_gap must be"),
    ],
)
def test_arguments_are_checked(
    active_date: date, max_gap: int, recent: int, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        compute_cases([cert("A", period(0, 9))], active_date, max_gap, recent)


def test_record_validation_names_the_rule() -> None:
    with pytest.raises(ValueError, match="2024-03-10..2024-03-01: end date lies before"):
        period(9, 0)
    for degree in (0, 101):
        with pytest.raises(ValueError, match=f"degree {degree} is not a whole percentage from 1 to 100"):
            period(0, 9, degree)
    assert period(0, 9, 40).degree == 40  # AG1-14 writes any percentage
    with pytest.raises(ValueError, match="certificate 'EMPTY': has no sick-leave period"):
        cert("EMPTY")


def test_records_do_not_print_personal_data() -> None:
    case = active_case([cert("A", period(0, 9), patient="191212121212")], active=5)
    for text in (repr(case), repr(case.anchor)):
        assert "191212121212" not in text and "F32" not in text
    assert "'A'" in repr(case)


# --- interval helpers ----------------------------------------------------------------------------


def test_merge_intervals_joins_overlapping_and_touching_intervals() -> None:
    intervals = [(day(20), day(25)), (day(0), day(4)), (day(5), day(9)), (day(2), day(3))]
    assert merge_intervals(intervals) == [(day(0), day(9)), (day(20), day(25))]
    assert merge_intervals([(day(0), day(4)), (day(6), day(9))]) == [
        (day(0), day(4)),
        (day(6), day(9)),
    ]
    assert days_in(intervals) == 16
    assert days_in([]) == 0
    with pytest.raises(ValueError, match="interval 2024-03-05..2024-03-01: end date lies before"):
        merge_intervals([(day(4), day(0))])


# --- at scale ------------------------------------------------------------------------------------


def _realistic_population(patients: int, per_patient: int) -> list[SickLeaveCertificate]:
    rnd = random.Random(20240301)
    certs = []
    for p in range(patients):
        offset = -rnd.randint(100, 700)
        for k in range(per_patient):
            offset += rnd.choice([-5, 0, 1, 3, 6, 20, 40])
            periods = []
            for _ in range(rnd.randint(1, 3)):
                length = rnd.randint(3, 30)
                periods.append(period(offset, offset + length, rnd.choice([25, 50, 75, 100])))
                offset += length + 1
            certs.append(
                cert(
                    f"{p}-{k}",
                    *periods,
                    patient=f"19{p:010d}",
                    signed=offset * 1440 + k,
                    deleted=rnd.random() < 0.02,
                    test=rnd.random() < 0.01,
                )
            )
    rnd.shuffle(certs)
    return certs


def test_fifty_thousand_certificates_give_the_same_cases_in_any_order() -> None:
    """A population of realistic size; how fast is benchmarks/sick_leave.py's figure ("compute_cases
    alone"), not a wall-clock bound here, which a loaded machine breaks without a regression."""
    certs = _realistic_population(5_000, 10)
    cases = compute_cases(certs, DAY0, max_gap=5, recently_ended_days=14)
    assert len(cases) > 1_000
    random.Random(7).shuffle(certs)
    assert compute_cases(certs, DAY0, max_gap=5, recently_ended_days=14) == cases


# --- property-based: a brute-force oracle and invariants -----------------------------------------

PATIENTS = ("P1", "P2", "P3")


@st.composite
def certificates(
    draw: st.DrawFn, patient: str | None = None, ident: str = "C"
) -> list[SickLeaveCertificate]:
    result = []
    for index in range(draw(st.integers(0, 8))):
        first = draw(st.integers(0, 60))
        periods = []
        for _ in range(draw(st.integers(1, 3))):
            last = first + draw(st.integers(0, 12))
            periods.append(period(first, last, draw(st.sampled_from((25, 50, 75, 100)))))
            first = last + 1 + draw(st.integers(0, 8))  # 0 = back to back, else a hole
        result.append(
            cert(
                f"{ident}{index}",
                *periods,
                patient=patient or draw(st.sampled_from(PATIENTS)),
                signed=draw(st.integers(0, 4)),  # few values, so ties in signing time occur
                deleted=draw(st.integers(0, 9)) == 0,
                test=draw(st.integers(0, 9)) == 0,
            )
        )
    return result


def _oracle(
    certs: list[SickLeaveCertificate], active: date, max_gap: int, recent: int
) -> tuple[CaseStatus, str, set[str], int] | None:
    """The definitions applied literally and slowly: (status, anchor id, chain ids, days)."""
    counted = [c for c in certs if not (c.deleted or c.test)]

    def joined(a: SickLeaveCertificate, b: SickLeaveCertificate) -> bool:
        return (b.first_day - a.last_day).days <= max_gap + 1 and (
            a.first_day - b.last_day
        ).days <= max_gap + 1

    by_id = {c.certificate_id: c for c in counted}
    chains: list[set[str]] = []
    for c in counted:
        linked = [ch for ch in chains if any(joined(c, by_id[o]) for o in ch)]
        merged = {c.certificate_id}.union(*linked)
        chains = [ch for ch in chains if ch not in linked] + [merged]

    def chain_of(cid: str) -> set[str]:
        return next(ch for ch in chains if cid in ch)

    covering = [c for c in counted if any(p.start <= active <= p.end for p in c.periods)]
    if covering:
        anchor = max(covering, key=lambda c: (c.signed, c.certificate_id))
        status = CaseStatus.ACTIVE
        chain = chain_of(anchor.certificate_id)
    else:
        started = [ch for ch in chains if min(by_id[i].first_day for i in ch) <= active]
        if not started:
            return None
        chain = max(started, key=lambda ch: min(by_id[i].first_day for i in ch))
        end = max(by_id[i].last_day for i in chain)
        if not (end < active and (active - end).days <= recent):
            return None
        anchor = max(
            (by_id[i] for i in chain), key=lambda c: (c.last_day, c.signed, c.certificate_id)
        )
        status = CaseStatus.RECENTLY_ENDED
    sick_days = {
        p.start + timedelta(days=n)
        for i in chain
        for p in by_id[i].periods
        for n in range(p.days)
    }
    return status, anchor.certificate_id, chain, len(sick_days)


PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
active_offsets = st.integers(-5, 90)
gaps = st.integers(0, 7)
recent_days = st.integers(0, 14)


@PROPERTY_SETTINGS
@given(certificates(patient="P1"), active_offsets, gaps, recent_days)
def test_engine_agrees_with_brute_force_oracle(
    certs: list[SickLeaveCertificate], active: int, max_gap: int, recent: int
) -> None:
    case = case_on(certs, active, max_gap, recent)
    expected = _oracle(certs, day(active), max_gap, recent)
    if expected is None:
        assert case is None
        return
    assert case is not None
    actual = (case.status, case.anchor.certificate_id, set(case.certificate_ids), case.days)
    assert actual == expected


@PROPERTY_SETTINGS
@given(certificates(), active_offsets, gaps, recent_days)
def test_case_invariants(
    certs: list[SickLeaveCertificate], active: int, max_gap: int, recent: int
) -> None:
    for case in compute_cases(certs, day(active), max_gap, recent):
        assert 0 < case.days <= (case.end - case.start).days + 1
        assert all(c.patient_id == case.patient_id for c in case.certificates)
        assert all(not (c.deleted or c.test) for c in case.certificates)
        assert case.certificate_count == len(set(case.certificate_ids))
        assert case.anchor in case.certificates
        assert case.start == min(c.first_day for c in case.certificates)
        assert case.end == max(c.last_day for c in case.certificates)
        if case.status is CaseStatus.ACTIVE:
            covering = [p for p in case.anchor.periods if p.covers(day(active))]
            assert covering and case.days >= max(p.days for p in covering)
            assert case.current_degree in {p.degree for p in covering}
        else:
            assert 0 < (day(active) - case.end).days <= recent


@PROPERTY_SETTINGS
@given(certificates(), active_offsets, gaps, recent_days, st.randoms(use_true_random=False))
def test_input_order_never_matters(
    certs: list[SickLeaveCertificate], active: int, max_gap: int, recent: int, rnd: random.Random
) -> None:
    shuffled = list(certs)
    rnd.shuffle(shuffled)
    assert compute_cases(shuffled, day(active), max_gap, recent) == compute_cases(
        certs, day(active), max_gap, recent
    )


@PROPERTY_SETTINGS
@given(
    certificates(patient="P1"),
    active_offsets,
    gaps,
    recent_days,
    st.sampled_from(("left", "right")),
    st.integers(0, 20),
    st.integers(0, 20),
    st.integers(-10, 10),
)
def test_non_adjacent_certificate_never_changes_the_case(
    certs: list[SickLeaveCertificate],
    active: int,
    max_gap: int,
    recent: int,
    side: str,
    distance: int,
    length: int,
    signed: int,
) -> None:
    case = case_on(certs, active, max_gap, recent)
    assume(case is not None)
    assert case is not None
    if side == "right":
        # Beyond the reach of the case end, and after the active date so that it cannot become the
        # active certificate or a more recent chain.
        first = max(case.end + timedelta(days=max_gap + 2), day(active + 1))
        first += timedelta(days=distance)
        last = first + timedelta(days=length)
    else:
        last = case.start - timedelta(days=max_gap + 2 + distance)
        first = last - timedelta(days=length)
    extra = cert("EXTRA", SickLeavePeriod(first, last, 100), patient="P1", signed=signed)
    assert case_on([*certs, extra], active, max_gap, recent) == case
