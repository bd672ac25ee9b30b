"""Row 4: values longer than their database column (a 300-character first name or care-giver name,
an over-long care unit name) are a VALIDATION_ERROR naming the element, checked against the table
definitions before the transaction, so the answer is the same on SQLite and PostgreSQL (run this
module with INTYG_TEST_DATABASE_URL for the latter); nothing is stored and no traceback is logged."""

from __future__ import annotations

import uuid

import httpx
import pytest

from intygstjanst.tests.attacks.siege import XML, assert_bystanders_served, attack, legitimate_registration
from intygstjanst.tests.soap import REGISTER, result

LONG = "Å" * 300

CASES = {
    "first name": (b"<fornamn>Konrad</fornamn>", f"<fornamn>{LONG}</fornamn>", "patient/fornamn, mellannamn and efternamn is 314 characters, more than 255"),
    "care giver name": (
        "<vardgivarnamn>Exempelvårdgivaren</vardgivarnamn>".encode(),
        f"<vardgivarnamn>{LONG}</vardgivarnamn>",
        "skapadAv/enhet/vardgivare/vardgivarnamn is 300 characters, more than 255",
    ),
    "care unit name": (
        b"<enhetsnamn>Exempelenheten</enhetsnamn>",
        f"<enhetsnamn>{LONG}</enhetsnamn>",
        "skapadAv/enhet/enhetsnamn is 300 characters, more than 255",
    ),
    "doctor name": (
        "<fullstandigtNamn>Ada Exempelläkare</fullstandigtNamn>".encode(),
        f"<fullstandigtNamn>{LONG}</fullstandigtNamn>",
        "skapadAv/fullstandigtNamn is 300 characters, more than 255",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_an_overlong_value_is_a_validation_error_naming_the_element(live_server, name: str) -> None:
    original, replacement, message = CASES[name]
    certificate_id = f"long-{uuid.uuid4().hex[:10]}"
    body = legitimate_registration(certificate_id)
    assert original in body
    body = body.replace(original, replacement.encode(), 1)
    siege = attack(live_server, lambda client: client.post(live_server.base_url + REGISTER, content=body, headers=XML))
    assert siege.answer.status_code == 200
    code, error_id, text = result(siege.answer.content)
    assert (code, error_id) == ("ERROR", "VALIDATION_ERROR")
    assert message in (text or ""), text
    assert siege.seconds < 5.0
    assert_bystanders_served(siege)
    # Nothing was stored: the same id with ordinary values is a new certificate.
    again = httpx.post(live_server.base_url + REGISTER, content=legitimate_registration(certificate_id), headers=XML, timeout=10)
    assert result(again.content)[0] == "OK"
    log = live_server.log()
    assert "Traceback" not in log and '"traceback"' not in log
    assert LONG not in log
