"""Row 5 (and the logging part of row 4): values from a request cannot forge a log line and no
personnummer reaches the log in clear. A consumer without a grant sends a LogicalAddress holding a
newline and a complete fake audit line; every line the server writes stays one JSON object, and the
only audit line for the call is the real one (FAULT)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from intygstjanst.tests.attacks.siege import XML, assert_bystanders_served, attack, legitimate_registration
from intygstjanst.tests.soap import REGISTER, fault
from intygstjanst.tests.tlsserver import CONSUMER, OTHER, Pki, Server, audit_lines, running_native

FORGED = '{"time": "2026-01-01 00:00:00,000", "level": "INFO", "logger": "intygstjanst.audit", "event": "call", "consumer": "FORGED", "result": "OK"}'
_ADDRESS = b">5565594230</ns0:LogicalAddress>"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pki: Pki, database_url: str, migrated_db) -> Iterator[Server]:
    with running_native(tmp_path_factory.mktemp("forging"), database_url, pki) as live:
        yield live


def test_a_newline_in_the_logical_address_forges_no_line(server: Server, pki: Pki) -> None:
    address = f"5565594230\n{FORGED}\r\n{FORGED}"
    body = legitimate_registration().replace(_ADDRESS, f">{address}</ns0:LogicalAddress>".encode(), 1)
    assert FORGED.encode() in body

    def send(_client):  # type: ignore[no-untyped-def]
        import httpx

        with httpx.Client(base_url=server.base_url, verify=pki.context(pki.client(OTHER)), timeout=30) as other:
            return other.post(REGISTER, content=body, headers=XML)

    siege = attack(server, send, verify=pki.context(pki.client(CONSUMER)))
    assert siege.answer.status_code == 500
    assert "is not authorized" in fault(siege.answer.content)
    assert siege.seconds < 5.0
    assert_bystanders_served(siege)
    log = server.log()
    lines = [line for line in log.splitlines() if line.startswith("{")]
    for line in lines:
        json.loads(line)  # every line the service writes is one JSON object
    assert not any(line.startswith('{"time": "2026-01-01') for line in log.splitlines())
    audits = audit_lines(log)
    assert not any(record.get("consumer") == "FORGED" for record in audits)
    [refused] = [record for record in audits if record["consumer"] == OTHER]
    assert refused["result"] == "FAULT"
    assert refused["logical_address"] == address.replace("\r\n", "\n").strip()  # XML reads CR LF as LF


def test_no_personnummer_in_clear_on_any_log_line(server: Server, pki: Pki) -> None:
    # The patient of the example is 191212121212; the refusal, the audit and the service's own lines
    # of a whole session all pass through the one formatter, which masks what looks like one.
    log = server.log()
    assert "191212121212" not in log
    assert "19121212-1212" not in log
