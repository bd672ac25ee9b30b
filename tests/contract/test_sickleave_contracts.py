"""The three rehab contracts through the in-process app: certificates are registered (and revoked)
through their own contracts, so the sick-leave data is the one kept in their transactions. Every
answer is checked against the contract's schema (``sickleave_support.ask``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from intygstjanst.certificates import sickleave_upkeep
from intygstjanst.handlers.sickleave import ANSWER_CHAIN_GAP, PROTECTED_NAME
from intygstjanst.persistence.models import SickLeaveCertificate
from intygstjanst.registers.persons import FilePersonLookup, Person, PersonLookupError
from intygstjanst.settings import Settings

from intygstjanst.tests.recipient_calls import REVOKE, call, revoke_request
from intygstjanst.tests.sickleave_support import (
    ACTIVE,
    ACTIVE_NS,
    CARE,
    CARE_GIVER,
    care_unit_settings,
    DOCTOR,
    NOW,
    OTHER_UNIT,
    PERSON,
    PERSON_NS,
    RH,
    SUB_UNIT,
    T2,
    UNIT,
    Case,
    active_request,
    ask,
    care_request,
    cases,
    day,
    lisjp,
    listed,
    listed_ids,
    person_request,
)
from intygstjanst.tests.soap import OTHER_PERSON, REGISTER, TEST_PERSON, VALIDATION_PERSON, envelope, fault, post, result

PROTECTED_PERSON = "194011306380"
ANOTHER_PERSON = "199001012385"


pytestmark = pytest.mark.usefixtures("shared")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return care_unit_settings(tmp_path)


@pytest.fixture
def persons() -> FilePersonLookup:
    return FilePersonLookup(
        {
            TEST_PERSON: Person(TEST_PERSON, first_name="Tolvan", last_name="Tolvansson"),
            PROTECTED_PERSON: Person(PROTECTED_PERSON, protected=True),
        },
        [VALIDATION_PERSON],
    )


@pytest.fixture(autouse=True)
def _clock(services) -> None:  # type: ignore[no-untyped-def]
    services.clock = lambda: NOW


def register(client, payload: etree._Element) -> None:  # type: ignore[no-untyped-def]
    response = post(client, REGISTER, envelope(payload))
    assert result(response.content)[0] == "OK", response.text[:800]


def revoke(client, certificate_id: str, patient: str = TEST_PERSON) -> None:  # type: ignore[no-untyped-def]
    assert call(client, REVOKE, revoke_request(certificate_id, patient=patient)).code == "OK"


def only_case(client, max_gap: int = 5, **filters) -> Case:  # type: ignore[no-untyped-def]
    found = cases(ask(client, CARE, care_request(max_gap, **filters)))
    assert len(found) == 1, found
    return found[0]


# --- chaining certificates into cases --------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_between", "chained"),
    [(4, True), (5, True), (6, False)],
    ids=["below the limit", "at the limit", "above the limit"],
)
def test_a_gap_of_at_most_max_gap_days_joins_two_certificates(client, days_between: int, chained: bool) -> None:
    register(client, lisjp("earlier", [(-30, -11, 100)]))
    start = -11 + days_between + 1
    register(client, lisjp("current", [(start, 10, 100)]))

    case = only_case(client, max_gap=5)
    if chained:
        assert (case.start, case.certificates, case.days) == (day(-30), 2, 20 + (10 - start + 1))
    else:
        assert (case.start, case.certificates, case.days) == (day(start), 1, 10 - start + 1)
    assert case.end == day(10)


def test_overlapping_certificates_count_each_day_once(client) -> None:
    register(client, lisjp("first", [(-20, 0, 100)]))
    register(client, lisjp("second", [(-5, 9, 100)]))
    case = only_case(client)
    assert (case.start, case.end, case.days, case.certificates) == (day(-20), day(9), 30, 2)


def test_the_certificate_signed_last_decides_when_several_are_active_the_same_day(client) -> None:
    register(client, lisjp("morning", [(-3, 10, 100)], diagnosis="J22", signed=dt.datetime(2024, 3, 12, 8)))
    register(
        client,
        lisjp("afternoon", [(-1, 20, 100)], diagnosis="M545", doctor="SE2321000016-L002", signed=dt.datetime(2024, 3, 14, 15)),
    )
    case = only_case(client)
    assert (case.diagnosis, case.doctor, case.certificates, case.end) == ("M545", "SE2321000016-L002", 2, day(20))
    # The certificates behind it are all listed for the coordinator's own computation.
    assert set(listed_ids(ask(client, ACTIVE, active_request()))) == {"morning", "afternoon"}


def test_degree_changes_within_a_case(client) -> None:
    register(client, lisjp("stepping-down", [(-40, -21, 100), (-20, -11, 75), (-10, -1, 50)]))
    register(client, lisjp("back-to-full", [(0, 13, 100), (14, 27, 25)]))
    case = only_case(client)
    assert case.active_degree == 100
    # Each degree once, in the order the case first reached it (the contract allows at most four).
    assert case.degrees == (100, 75, 50, 25)
    assert (case.days, case.certificates) == (68, 2)
    periods = {e.certificate_id: e.periods for e in listed(ask(client, ACTIVE, active_request()))}
    assert periods["stepping-down"] == ((day(-40), day(-21), 100), (day(-20), day(-11), 75), (day(-10), day(-1), 50))


def test_length_and_doctor_filters(client) -> None:
    register(client, lisjp("short", [(-2, 5, 100)], patient=TEST_PERSON))
    register(client, lisjp("long", [(-60, 5, 100)], patient=ANOTHER_PERSON, doctor="SE2321000016-L002"))
    ask_cases = lambda **f: [c.patient_id for c in cases(ask(client, CARE, care_request(5, **f)))]  # noqa: E731
    assert ask_cases() == [TEST_PERSON, ANOTHER_PERSON]
    assert ask_cases(min_days=9) == [ANOTHER_PERSON]
    assert ask_cases(min_days=8, max_days=8) == [TEST_PERSON]
    assert ask_cases(max_days=7) == []
    assert ask_cases(doctors=["SE2321000016-L002"]) == [ANOTHER_PERSON]
    assert ask_cases(doctors=[DOCTOR, "SE2321000016-L002"]) == [TEST_PERSON, ANOTHER_PERSON]


def test_only_cases_ongoing_today_are_listed_for_care(client) -> None:
    register(client, lisjp("ended", [(-30, -1, 100)], patient=TEST_PERSON))
    register(client, lisjp("not-yet", [(1, 30, 100)], patient=ANOTHER_PERSON))
    assert cases(ask(client, CARE, care_request(5))) == []


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        (care_request(-1), "Request to ListSickLeavesForCare has invalid value for parameter 'maxDagarMellanIntyg': -1"),
        (care_request(5, min_days=30, max_days=10), "minstaSjukskrivningslangd (30) is greater than maxSjukskrivningslangd (10)"),
        (care_request(5, unit=" "), "Request to ListSickLeavesForCare is missing required parameter 'enhets-id'"),
    ],
)
def test_care_list_refuses_impossible_filters(client, request_body: bytes, message: str) -> None:
    response = post(client, CARE, envelope(request_body))
    assert response.status_code == 500
    assert message in fault(response.content)


# --- what is left out -------------------------------------------------------------------------------


def test_a_replaced_certificate_is_left_out_until_its_replacement_is_revoked(client) -> None:
    register(client, lisjp("original", [(-10, 10, 100)], diagnosis="J22"))
    register(client, lisjp("replacement", [(-10, 20, 50)], diagnosis="M545", relations=[("ERSATT", "original")]))
    assert listed_ids(ask(client, ACTIVE, active_request())) == ["replacement"]
    case = only_case(client)
    assert (case.diagnosis, case.certificates) == ("M545", 1)

    revoke(client, "replacement")
    assert listed_ids(ask(client, ACTIVE, active_request())) == ["original"]
    assert listed_ids(ask(client, PERSON, person_request())) == ["original"]
    assert only_case(client).diagnosis == "J22"


def test_a_completed_certificate_is_left_out(client) -> None:
    register(client, lisjp("incomplete", [(-10, 10, 100)]))
    register(client, lisjp("completion", [(-10, 10, 100)], relations=[("KOMPLT", "incomplete")]))
    assert listed_ids(ask(client, ACTIVE, active_request())) == ["completion"]


def test_a_renewal_does_not_hide_the_certificate_it_renews(client) -> None:
    register(client, lisjp("first", [(-20, 0, 100)]))
    register(client, lisjp("renewal", [(1, 20, 100)], relations=[("FRLANG", "first")]))
    assert listed_ids(ask(client, ACTIVE, active_request())) == ["first", "renewal"]
    assert only_case(client).certificates == 2


def test_a_revoked_certificate_is_left_out_everywhere(client) -> None:
    register(client, lisjp("earlier", [(-30, -6, 100)]))
    register(client, lisjp("revoked", [(-5, 10, 100)]))
    revoke(client, "revoked")
    assert listed_ids(ask(client, ACTIVE, active_request())) == []
    assert listed_ids(ask(client, PERSON, person_request())) == ["earlier"]
    assert cases(ask(client, CARE, care_request(5))) == []


def test_test_certificates_never_appear(client) -> None:
    register(client, lisjp("for-a-test-person", [(-5, 10, 100)], patient=VALIDATION_PERSON))
    assert listed_ids(ask(client, ACTIVE, active_request())) == []
    assert listed_ids(ask(client, ACTIVE, active_request(patient=VALIDATION_PERSON))) == []
    assert listed_ids(ask(client, PERSON, person_request(VALIDATION_PERSON))) == []
    assert cases(ask(client, CARE, care_request(5))) == []
    assert cases(ask(client, CARE, care_request(5, doctors=[DOCTOR]))) == []


def test_infection_control_certificates_are_not_sick_leave_data(client) -> None:
    register(client, lisjp("smittbararpenning", [(-5, 10, 100)], infection_control=True))
    assert listed_ids(ask(client, PERSON, person_request())) == []


# --- protected identities --------------------------------------------------------------------------


def test_protected_patients_are_left_out_of_a_coordinators_lists_and_unnamed_elsewhere(client) -> None:
    register(client, lisjp("open", [(-5, 10, 100)], patient=TEST_PERSON))
    register(client, lisjp("protected", [(-5, 10, 100)], patient=PROTECTED_PERSON))

    # The whole unit, nobody named: a rehab coordinator's view.
    assert listed_ids(ask(client, ACTIVE, active_request())) == ["open"]
    assert [c.patient_id for c in cases(ask(client, CARE, care_request(5)))] == [TEST_PERSON]

    # The caller names the patient, or the doctors: listed, but never by name (in every certificate
    # of the stored case).
    (entry,) = listed(ask(client, ACTIVE, active_request(patient=PROTECTED_PERSON)))
    assert (entry.certificate_id, entry.patient_name) == ("protected", PROTECTED_NAME)
    register(client, lisjp("protected-2", [(11, 20, 50)], patient=PROTECTED_PERSON))
    entries = listed(ask(client, ACTIVE, active_request(patient=PROTECTED_PERSON)))
    assert [(e.certificate_id, e.patient_name) for e in entries] == [("protected", PROTECTED_NAME), ("protected-2", PROTECTED_NAME)]
    assert [e.patient_name for e in listed(ask(client, PERSON, person_request(PROTECTED_PERSON)))] == [PROTECTED_NAME] * 2
    named = {c.patient_id: c.patient_name for c in cases(ask(client, CARE, care_request(5, doctors=[DOCTOR])))}
    assert named == {TEST_PERSON: "Tolvan Tolvansson", PROTECTED_PERSON: PROTECTED_NAME}


class _Unreachable:
    def lookup(self, person_id: str) -> Person:
        raise PersonLookupError("connection refused")


def test_no_list_without_the_person_register(client, services) -> None:
    register(client, lisjp("open", [(-5, 10, 100)]))
    services.persons = _Unreachable()
    answer = ask(client, ACTIVE, active_request())
    assert (answer.findtext(f"{{{ACTIVE_NS}}}resultCode"), listed_ids(answer)) == ("ERROR", [])
    assert "person register (PU) could not be reached" in (answer.findtext(f"{{{ACTIVE_NS}}}comment") or "")
    answer = ask(client, PERSON, person_request())
    assert answer.findtext(f"{{{PERSON_NS}}}result/{{{PERSON_NS}}}resultCode") == "ERROR"
    response = post(client, CARE, envelope(care_request(5)))
    assert response.status_code == 500 and "could not be reached" in fault(response.content)


# --- ListActiveSickLeavesForCareUnit: scope and content ------------------------------------------


def test_a_care_units_list_covers_its_sub_units_only(client) -> None:
    register(client, lisjp("at-unit", [(-5, 10, 100)], patient=TEST_PERSON, unit=UNIT))
    register(client, lisjp("at-sub-unit", [(-5, 10, 100)], patient=ANOTHER_PERSON, unit=SUB_UNIT))
    register(client, lisjp("at-other-unit", [(-5, 10, 100)], patient=OTHER_PERSON, unit=OTHER_UNIT))
    assert set(listed_ids(ask(client, ACTIVE, active_request(UNIT)))) == {"at-unit", "at-sub-unit"}
    assert listed_ids(ask(client, ACTIVE, active_request(SUB_UNIT))) == ["at-sub-unit"]
    assert listed_ids(ask(client, ACTIVE, active_request(OTHER_UNIT))) == ["at-other-unit"]
    assert {c.patient_id for c in cases(ask(client, CARE, care_request(5, unit=UNIT)))} == {TEST_PERSON, ANOTHER_PERSON}


def test_every_certificate_of_the_current_chain_is_listed_with_its_facts(client) -> None:
    register(client, lisjp("old-case", [(-400, -300, 100)], diagnosis="J22"))
    # ANSWER_CHAIN_GAP days between chain-1 and chain-2: one chain; more between old-case and chain-1.
    register(client, lisjp("chain-1", [(-200, -120, 100)]))
    register(client, lisjp("chain-2", [(-120 + ANSWER_CHAIN_GAP + 1, 5, 50)], secondary=("F321", "Z730")))
    register(client, lisjp("chain-3", [(6, 30, 25)]))
    answer = ask(client, ACTIVE, active_request())
    assert listed_ids(answer) == ["chain-1", "chain-2", "chain-3"]

    vardgivare = answer.find(f"{{{ACTIVE_NS}}}vardgivare")
    assert vardgivare.findtext(f"{{{RH}}}vardgivarId/{{{T2}}}extension") == CARE_GIVER
    assert vardgivare.findtext(f"{{{RH}}}vardgivarnamn") == "Region Test"
    assert answer.findtext(f"{{{ACTIVE_NS}}}resultCode") == "OK"
    data = answer.find(f"{{{ACTIVE_NS}}}intygsLista/{{{RH}}}intygsData[{{{RH}}}intygsId='chain-2']")
    created = data.find(f"{{{RH}}}skapadAv")
    assert created.findtext(f"{{{RH}}}personalId/{{{T2}}}extension") == DOCTOR
    assert created.findtext(f"{{{RH}}}fullstandigtNamn") == "Doktor Dolittle"
    assert [b.findtext(f"{{{T2}}}code") for b in created.iterfind(f"{{{RH}}}befattningar/{{{RH}}}befattning")] == ["203090"]
    assert created.findtext(f"{{{RH}}}enhet/{{{RH}}}enhetsnamn") == f"Enhet {UNIT}"
    assert data.findtext(f"{{{RH}}}patient/{{{RH}}}fullstandigtNamn") == "Tolvan Tolvansson"
    assert [e.text for e in data.iterfind(f"{{{RH}}}bidiagnoser")] == ["F321", "Z730"]
    assert [e.text for e in data.iterfind(f"{{{RH}}}sysselsattning")] == ["NUVARANDE_ARBETE"]
    assert data.findtext(f"{{{RH}}}signeringsTidpunkt") == dt.datetime.combine(day(-29), dt.time(9)).isoformat()
    assert data.findtext(f"{{{RH}}}enkeltIntyg") == "false"
    # The patient's whole history stays available through ListSickLeavesForPerson.
    assert listed_ids(ask(client, PERSON, person_request())) == ["old-case", "chain-1", "chain-2", "chain-3"]


def test_names_with_markup_characters_come_back_as_written(client) -> None:
    payload = lisjp("markup", [(-5, 10, 100)], unit=UNIT)
    payload.find(".//{*}skapadAv/{*}fullstandigtNamn").text = "Doktor <Dr> & Co"
    payload.find(".//{*}skapadAv/{*}enhet/{*}enhetsnamn").text = "Vård & Omsorg <Norr>"
    register(client, payload)
    data = ask(client, ACTIVE, active_request()).find(f"{{{ACTIVE_NS}}}intygsLista/{{{RH}}}intygsData")
    assert data.findtext(f"{{{RH}}}skapadAv/{{{RH}}}fullstandigtNamn") == "Doktor <Dr> & Co"
    assert data.findtext(f"{{{RH}}}skapadAv/{{{RH}}}enhet/{{{RH}}}enhetsnamn") == "Vård & Omsorg <Norr>"


@pytest.mark.parametrize(("recently_ended_days", "listed_now"), [(None, False), (2, False), (3, True), (14, True)])
def test_recently_ended_sick_leaves_are_listed_on_request(client, recently_ended_days: int | None, listed_now: bool) -> None:
    register(client, lisjp("ended-three-days-ago", [(-30, -3, 100)]))
    found = listed_ids(ask(client, ACTIVE, active_request(recently_ended_days=recently_ended_days)))
    assert found == (["ended-three-days-ago"] if listed_now else [])


def test_one_named_patient_at_the_unit(client) -> None:
    register(client, lisjp("mine", [(-5, 10, 100)], patient=TEST_PERSON))
    register(client, lisjp("theirs", [(-5, 10, 100)], patient=ANOTHER_PERSON))
    assert listed_ids(ask(client, ACTIVE, active_request(patient=ANOTHER_PERSON))) == ["theirs"]
    assert listed_ids(ask(client, ACTIVE, active_request(patient=OTHER_PERSON))) == []


def test_a_unit_outside_the_register_stands_alone_under_the_care_giver_its_certificates_name(client) -> None:
    register(client, lisjp("elsewhere", [(-5, 10, 100)], unit="SE2321000016-X999"))
    answer = ask(client, ACTIVE, active_request("SE2321000016-X999"))
    assert listed_ids(answer) == ["elsewhere"]
    assert answer.findtext(f"{{{ACTIVE_NS}}}vardgivare/{{{RH}}}vardgivarId/{{{T2}}}extension") == CARE_GIVER


@pytest.mark.parametrize("unit", ["SE2321000016-NONE", "SE2321000016-E002"])
def test_a_unit_without_certificates_gives_an_empty_list(client, unit: str) -> None:
    """Known to the care-unit register or not: an empty list, not a Fault, as the national service answers."""
    register(client, lisjp("elsewhere", [(-5, 10, 100)]))
    answer = ask(client, ACTIVE, active_request(unit))
    assert (answer.findtext(f"{{{ACTIVE_NS}}}resultCode"), listed_ids(answer)) == ("OK", [])


# --- ListSickLeavesForPerson: the care giver of the LogicalAddress ---------------------------------


def test_a_persons_list_holds_the_addressed_care_givers_certificates(client) -> None:
    register(client, lisjp("ours", [(-5, 10, 100)]))
    foreign = lisjp("theirs", [(-50, -20, 100)], unit="SE9999999999-E001")
    foreign.find(".//{*}vardgivare/{*}vardgivare-id/{*}extension").text = "SE9999999999-VG01"
    foreign.find(".//{*}vardgivare/{*}vardgivarnamn").text = "Region Annan"
    register(client, foreign)

    answer = ask(client, PERSON, person_request(), logical_address=CARE_GIVER)
    assert listed_ids(answer) == ["ours"]
    assert answer.findtext(f"{{{PERSON_NS}}}vardgivare/{{{RH}}}vardgivarnamn") == "Region Test"
    assert answer.findtext(f"{{{PERSON_NS}}}result/{{{PERSON_NS}}}resultCode") == "OK"
    # Addressed to one of the care giver's units: the same care giver.
    assert listed_ids(ask(client, PERSON, person_request(), logical_address=SUB_UNIT)) == ["ours"]
    # A care giver the register does not know is named as its certificates name it.
    answer = ask(client, PERSON, person_request(), logical_address="SE9999999999-VG01")
    assert listed_ids(answer) == ["theirs"]
    assert answer.findtext(f"{{{PERSON_NS}}}vardgivare/{{{RH}}}vardgivarnamn") == "Region Annan"


def test_rows_stored_before_their_answer_was_kept_are_answered_alike(client, db) -> None:  # type: ignore[no-untyped-def]
    register(client, lisjp("open", [(-5, 10, 100)], patient=TEST_PERSON, secondary=("F321",)))
    register(client, lisjp("protected", [(-5, 10, 100)], patient=PROTECTED_PERSON))
    # What registration kept is what the rows render, and the case bounds are the recomputed ones.
    assert sickleave_upkeep.check(db).clean
    requests = [(ACTIVE, active_request()), (ACTIVE, active_request(patient=PROTECTED_PERSON)), (PERSON, person_request())]
    kept = [etree.tostring(ask(client, path, body)) for path, body in requests]
    table = SickLeaveCertificate.__table__
    with db.transaction() as conn:
        conn.execute(table.update().values(fragment=None))  # as migration 0006 leaves existing rows
    assert [etree.tostring(ask(client, path, body)) for path, body in requests] == kept
    assert sickleave_upkeep.check(db).fragments == ["open", "protected"]
