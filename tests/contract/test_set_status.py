"""SetCertificateStatus v2 and the legacy v1 through the in-process app."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from intygstjanst.persistence import certificates as repo

from intygstjanst.tests.recipient_calls import (
    SET_STATUS,
    SET_STATUS_V1,
    Answer,
    call,
    set_status_request,
    set_status_v1_request,
)
from intygstjanst.tests.soap import OTHER_PERSON, REGISTER, VALIDATION_PERSON, certificate, envelope, post, result


pytestmark = pytest.mark.usefixtures("shared")


def register(client, certificate_id: str, patient: str = "191212121212") -> None:
    payload = certificate(certificate_id, patient=patient)
    if patient == VALIDATION_PERSON:
        payload.find(".//{*}patient/{*}person-id/{*}root").text = "1.2.752.129.2.1.3.3"
    response = post(client, REGISTER, envelope(payload))
    assert result(response.content)[0] == "OK", response.text


def states(db, certificate_id: str) -> set[tuple[str, str]]:
    """(state, part) entries; as a set, since states are ordered by the times callers report."""
    with db.read() as conn:
        return {(s.state, s.target) for s in repo.states(conn, certificate_id)}


def test_citizen_archives_and_restores_with_the_national_codes(client, db, services) -> None:
    register(client, "s-1")
    start = services.clock().replace(microsecond=0)

    def at(minutes: int) -> str:
        return (start + dt.timedelta(minutes=minutes)).isoformat()

    assert call(client, SET_STATUS, set_status_request("s-1", "INVANA", "DELETE", at(10))) == Answer("OK", None, None)
    assert call(client, SET_STATUS, set_status_request("s-1", "INVANA", "RESTOR", at(20))) == Answer("OK", None, None)
    # Recorded again, as the national service does: every call adds its state.
    assert call(client, SET_STATUS, set_status_request("s-1", "INVANA", "RESTOR", at(21))).code == "OK"
    with db.read() as conn:
        entries = repo.states(conn, "s-1")
    assert [(e.state, e.target) for e in entries][1:] == [("DELETED", "INVANA"), ("RESTORED", "INVANA"), ("RESTORED", "INVANA")]
    assert entries[1].at == start + dt.timedelta(minutes=10)  # the time the caller reports, not the call's


@pytest.mark.parametrize(
    ("code", "state"), [("RECEIV", "RECEIVED"), ("SENTTO", "SENT"), ("DELETE", "DELETED"), ("RESTOR", "RESTORED")]
)
def test_any_recipient_or_part_may_set_any_code(client, db, code: str, state: str) -> None:
    register(client, f"s-{code}")
    assert call(client, SET_STATUS, set_status_request(f"s-{code}", "FKASSA", code)) == Answer("OK", None, None)
    assert call(client, SET_STATUS, set_status_request(f"s-{code}", "HSVARD", code)).code == "OK"
    assert states(db, f"s-{code}") == {("RECEIVED", "HSVARD"), (state, "FKASSA"), (state, "HSVARD")}


def test_cancel_withdraws_the_certificate_without_telling_recipients(client, db) -> None:
    register(client, "s-cancel")
    assert call(client, SET_STATUS, set_status_request("s-cancel", "HSVARD", "CANCEL")).code == "OK"
    assert states(db, "s-cancel") == {("RECEIVED", "HSVARD"), ("CANCELLED", "HSVARD")}


@pytest.mark.parametrize(
    ("part", "status", "text"),
    [
        ("NOSUCH", "SENTTO", "No recipient found for recipient id: NOSUCH"),
        ("fkassa", "SENTTO", "No recipient found for recipient id: fkassa"),  # compared exactly
        ("FKASSA", "SENT", "No enum constant StatusKod.SENT"),  # a stored name is not a wire code
        ("FKASSA", "NOSUCH", "No enum constant StatusKod.NOSUCH"),
    ],
)
def test_unknown_part_or_code(client, db, part: str, status: str, text: str) -> None:
    register(client, "s-3")
    assert call(client, SET_STATUS, set_status_request("s-3", part, status)) == Answer("ERROR", "VALIDATION_ERROR", text)
    assert states(db, "s-3") == {("RECEIVED", "HSVARD")}


def test_unknown_certificate(client) -> None:
    answer = call(client, SET_STATUS, set_status_request("nope", "INVANA", "DELETE"))
    assert answer == Answer("ERROR", "VALIDATION_ERROR", "Unknown certificate ID: nope")


def test_sent_on_a_test_certificate_is_refused(client, db) -> None:
    register(client, "s-test", patient=VALIDATION_PERSON)
    answer = call(client, SET_STATUS, set_status_request("s-test", "FKASSA", "SENTTO"))
    assert answer == Answer("ERROR", "VALIDATION_ERROR", "Cannot set the certificate to SENT as it is flagged as a test certificate")
    assert call(client, SET_STATUS, set_status_request("s-test", "INVANA", "DELETE")).code == "OK"
    assert states(db, "s-test") == {("RECEIVED", "HSVARD"), ("DELETED", "INVANA")}


# -- v1 (insuranceprocess) ------------------------------------------------------------------------


def test_v1_records_with_the_callers_time_or_now(client, db, services) -> None:
    register(client, "v1-1")
    assert call(client, SET_STATUS_V1, set_status_v1_request("v1-1", "FKASSA", "RECEIVED", timestamp="2024-05-01T12:00:00+02:00")) == Answer(
        "OK", None, None
    )
    assert call(client, SET_STATUS_V1, set_status_v1_request("v1-1", "FKASSA", "SENT", patient="19121212-1212")).code == "OK"
    with db.read() as conn:
        entries = repo.states(conn, "v1-1")
    at = {(e.state, e.target): e.at for e in entries}
    assert set(at) == {("RECEIVED", "HSVARD"), ("RECEIVED", "FKASSA"), ("SENT", "FKASSA")}
    assert at["RECEIVED", "FKASSA"] == dt.datetime(2024, 5, 1, 10, 0)  # a zoned time is stored in UTC
    assert abs((at["SENT", "FKASSA"] - services.clock()).total_seconds()) < 60


def test_v1_target_fk_means_fkassa_and_nothing_else_is_translated(client, db) -> None:
    register(client, "v1-fk")
    assert call(client, SET_STATUS_V1, set_status_v1_request("v1-fk", "FK", "SENT", patient="121212+1212")) == Answer("OK", None, None)
    assert call(client, SET_STATUS_V1, set_status_v1_request("v1-fk", "MI", "SENT")) == Answer(
        "ERROR", "VALIDATION_ERROR", "No recipient found for recipient id: MI"
    )
    assert states(db, "v1-fk") == {("RECEIVED", "HSVARD"), ("SENT", "FKASSA")}


def test_v1_another_patient_is_named_by_its_pseudonym(client, db, services) -> None:
    register(client, "v1-2")
    answer = call(client, SET_STATUS_V1, set_status_v1_request("v1-2", "FKASSA", "SENT", patient=OTHER_PERSON))
    user = hashlib.sha256((services.settings.pseudonym_salt + OTHER_PERSON).encode()).hexdigest()
    assert answer == Answer("ERROR", "VALIDATION_ERROR", f"Certificate 'v1-2' does not exist for user '{user}'")
    assert call(client, SET_STATUS_V1, set_status_v1_request("nope", "FKASSA", "SENT")) == Answer(
        "ERROR", "VALIDATION_ERROR", "Unknown certificate ID: nope"
    )
    assert states(db, "v1-2") == {("RECEIVED", "HSVARD")}


def test_v1_an_unparsable_personnummer(client, db) -> None:
    register(client, "v1-5")
    answer = call(client, SET_STATUS_V1, set_status_v1_request("v1-5", "FKASSA", "SENT", patient="abc"))
    assert answer == Answer("ERROR", "APPLICATION_ERROR", "Could not parse passed personnummer")


@pytest.mark.parametrize("status", ["UNHANDLED", "IN_PROGRESS", "PROCESSED", "CANCELLED"])
def test_v1_every_status_of_the_contract_is_recorded(client, db, status: str) -> None:
    register(client, f"v1-{status}")
    assert call(client, SET_STATUS_V1, set_status_v1_request(f"v1-{status}", "FKASSA", status)) == Answer("OK", None, None)
    assert (status, "FKASSA") in states(db, f"v1-{status}")


def test_v1_a_time_that_cannot_be_stored_is_a_validation_error(client) -> None:
    register(client, "v1-4")
    answer = call(client, SET_STATUS_V1, set_status_v1_request("v1-4", "FKASSA", "RECEIVED", timestamp="2024-05-01T24:00:00"))
    assert (answer.code, answer.error_id) == ("ERROR", "VALIDATION_ERROR")
    assert "2024-05-01T24:00:00" in (answer.text or "")
