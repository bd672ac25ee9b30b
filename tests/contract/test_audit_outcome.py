"""The audit line records the outcome the handler answered with: its result code and errorId, or
FAULT; a refusal the handler leaves to the dispatcher is answered in the contract's own result
structure."""

from __future__ import annotations

import logging

import pytest

from intygstjanst.tests.recipient_calls import SET_STATUS_V1, Answer, call, set_status_v1_request
from intygstjanst.tests.soap import REGISTER, certificate, envelope, post
from intygstjanst.tests.support import require_shared


def _audited(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str | None]]:
    lines = [vars(r)["fields"] for r in caplog.records if r.name == "intygstjanst.audit"]
    return [(line["result"], line["error_id"]) for line in lines]


def test_each_outcome_is_audited_as_answered(client, caplog) -> None:
    require_shared()
    payload = certificate("audit-1")
    with caplog.at_level(logging.INFO, logger="intygstjanst.audit"):
        assert call(client, REGISTER, payload).code == "OK"
        assert call(client, REGISTER, payload).code == "INFO"
        # SetCertificateStatus v1 leaves "no such certificate" to the dispatcher, which answers in the
        # contract's ResultOfCall (``call`` checks the answer against the contract's schema).
        refused = call(client, SET_STATUS_V1, set_status_v1_request("no-such-certificate", "FKASSA", "SENT"))
        assert refused == Answer("ERROR", "VALIDATION_ERROR", "Unknown certificate ID: no-such-certificate")
        post(client, REGISTER, envelope(payload), SOAPAction='"urn:wrong"')
    assert _audited(caplog) == [("OK", None), ("INFO", None), ("ERROR", "VALIDATION_ERROR"), ("FAULT", None)]
