"""SetCertificateStatus v2 and the legacy v1 through the in-process app."""

from __future__ import annotations

import datetime as dt

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
from intygstjanst.tests.support import require_shared


@pytest.fixture(autouse=True)
def _setup() -> None:
    require_shared()


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


def test_citizen_archives_and_restores(client, db, services) -> None:
    register(client, "s-1")
    start = services.clock().replace(microsecond=0)

    def at(minutes: int) -> str:
        return (start + dt.timedelta(minutes=minutes)).isoformat()

    assert call(client, SET_STATUS, set_status_request("s-1", "INVANA", "DELETED", at(10))) == Answer("OK", None, None)
    again = call(client, SET_STATUS, set_status_request("s-1", "INVANA", "DELETED", at(11)))
    assert (again.code, again.text) == ("INFO", "certificate s-1 is already archived; nothing changed")
    assert call(client, SET_STATUS, set_status_request("s-1", "INVANA", "RESTORED", at(20))).code == "OK"
    restored = call(client, SET_STATUS, set_status_request("s-1", "INVANA", "RESTORED", at(21)))
    assert (restored.code, restored.text) == ("INFO", "certificate s-1 is not archived; nothing changed")
    with db.read() as conn:
        entries = repo.states(conn, "s-1")
    assert [(e.state, e.target) for e in entries][1:] == [("DELETED", "INVANA"), ("RESTORED", "INVANA")]
    assert entries[1].at == start + dt.timedelta(minutes=10)  # the time the caller reports, not the call's


def test_recipient_reports_sent_and_received(client, db) -> None:
    register(client, "s-2")
    assert call(client, SET_STATUS, set_status_request("s-2", "FKASSA", "SENT")).code == "OK"
    assert call(client, SET_STATUS, set_status_request("s-2", "FKASSA", "RECEIVED")).code == "OK"
    assert call(client, SET_STATUS, set_status_request("s-2", "FKASSA", "SENT")).text == (
        "certificate s-2 is already recorded as sent to FKASSA; nothing changed"
    )
    assert call(client, SET_STATUS, set_status_request("s-2", "FKASSA", "RECEIVED")).code == "INFO"
    assert call(client, SET_STATUS, set_status_request("s-2", "TRANSP", "SENT")).code == "OK"
    assert states(db, "s-2") == {("RECEIVED", "HSVARD"), ("SENT", "FKASSA"), ("RECEIVED", "FKASSA"), ("SENT", "TRANSP")}


@pytest.mark.parametrize(
    ("part", "status", "reason"),
    [
        ("INVANA", "SENT", "status SENT cannot be set for part INVANA (the citizen); allowed: DELETED, RESTORED"),
        ("FKASSA", "DELETED", "status DELETED cannot be set for recipient FKASSA; allowed: RECEIVED, SENT"),
        ("HSVARD", "RECEIVED", "part HSVARD records no status with SetCertificateStatus"),
        ("INVANA", "CANCELLED", "CANCELLED cannot be set with SetCertificateStatus; revoke the certificate with RevokeCertificate"),
        ("FKASSA", "CANCELLED", "CANCELLED cannot be set with SetCertificateStatus"),
        ("NOSUCH", "SENT", "part 'NOSUCH' is neither a recipient nor a part known to this service"),
        ("FKASSA", "NOSUCH", "status NOSUCH cannot be set for recipient FKASSA"),
    ],
)
def test_combinations_outside_the_table_are_refused(client, db, part: str, status: str, reason: str) -> None:
    register(client, "s-3")
    answer = call(client, SET_STATUS, set_status_request("s-3", part, status))
    assert (answer.code, answer.error_id) == ("ERROR", "VALIDATION_ERROR")
    assert answer.text is not None and answer.text.startswith(reason)
    assert states(db, "s-3") == {("RECEIVED", "HSVARD")}


def test_unknown_certificate(client) -> None:
    answer = call(client, SET_STATUS, set_status_request("nope", "INVANA", "DELETED"))
    assert answer == Answer("ERROR", "APPLICATION_ERROR", "certificate nope does not exist")


def test_sent_on_a_test_certificate_is_refused(client, db) -> None:
    register(client, "s-test", patient=VALIDATION_PERSON)
    answer = call(client, SET_STATUS, set_status_request("s-test", "FKASSA", "SENT"))
    assert (answer.code, answer.error_id) == ("ERROR", "VALIDATION_ERROR")
    assert "test certificate" in (answer.text or "")
    # The citizen may still archive it, and a recipient confirm it received it.
    assert call(client, SET_STATUS, set_status_request("s-test", "INVANA", "DELETED")).code == "OK"
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
    repeated = call(client, SET_STATUS_V1, set_status_v1_request("v1-1", "FKASSA", "SENT"))
    assert (repeated.code, repeated.error_id, repeated.text) == ("INFO", None, "certificate v1-1 is already recorded as sent to FKASSA; nothing changed")


def test_v1_another_patient_is_answered_as_unknown(client, db) -> None:
    register(client, "v1-2")
    answer = call(client, SET_STATUS_V1, set_status_v1_request("v1-2", "FKASSA", "SENT", patient=OTHER_PERSON))
    assert answer == Answer("ERROR", "APPLICATION_ERROR", "certificate v1-2 does not exist for this patient")
    assert states(db, "v1-2") == {("RECEIVED", "HSVARD")}


@pytest.mark.parametrize("status", ["UNHANDLED", "IN_PROGRESS", "PROCESSED", "CANCELLED"])
def test_v1_statuses_without_a_place_in_the_state_model_are_refused(client, status: str) -> None:
    register(client, "v1-3")
    answer = call(client, SET_STATUS_V1, set_status_v1_request("v1-3", "FKASSA", status))
    assert (answer.code, answer.error_id) == ("ERROR", "VALIDATION_ERROR")
    assert status in (answer.text or "")


def test_v1_a_time_that_cannot_be_stored_is_a_validation_error(client) -> None:
    register(client, "v1-4")
    answer = call(client, SET_STATUS_V1, set_status_v1_request("v1-4", "FKASSA", "RECEIVED", timestamp="2024-05-01T24:00:00"))
    assert (answer.code, answer.error_id) == ("ERROR", "VALIDATION_ERROR")
    assert "2024-05-01T24:00:00" in (answer.text or "")
