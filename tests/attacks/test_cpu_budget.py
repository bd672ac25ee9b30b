"""The per-request CPU budget: a large request runs in a worker process of its own (offload.py);
past ``request_cpu_seconds`` of that worker's CPU it is answered as a server error (RegisterCertificate:
the ERROR answer the national service gives for one, APPLICATION_ERROR), nothing of it is stored,
and its worker is killed and replaced, while /health and legitimate registrations are answered."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from intygstjanst.tests.attacks.siege import XML, assert_bystanders_served, attack, legitimate_registration, supplementary_flood
from intygstjanst.tests.conftest import LiveServer, free_port, start_server, stop_server
from intygstjanst.tests.soap import REGISTER, result

BUDGET = "0.5"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("budget")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["serve", "--port", str(port), "--database-url", database_url, "--data-dir", str(tmp / "data")]
    process = start_server([*args, "--request-cpu-seconds", BUDGET], {"INTYG_TLS_MODE": "off"}, tmp / "server.log", f"{base}/health")
    try:
        yield LiveServer(base, process, tmp / "server.log")
    finally:
        stop_server(process)


def large_registration(certificate_id: str) -> bytes:
    """A legitimate registration padded past large_request_bytes (64 KiB), so it goes to a worker."""
    return legitimate_registration(certificate_id).replace(b"</soapenv:Envelope>", b" " * 70_000 + b"</soapenv:Envelope>")


def test_a_request_over_its_cpu_budget_is_abandoned_and_its_worker_replaced(server: LiveServer) -> None:
    certificate_id = f"budget-{uuid.uuid4().hex[:12]}"
    body = supplementary_flood(60_000, certificate_id)  # seconds of CPU in the rules
    siege = attack(server, lambda client: client.post(server.base_url + REGISTER, content=body, headers=XML))
    code, error_id, text = result(siege.answer.content)
    assert siege.answer.status_code == 200
    assert (code, error_id) == ("ERROR", "APPLICATION_ERROR"), siege.answer.content[:500]
    assert text == f"the request used more than {BUDGET} s of processor time (limit request_cpu_seconds) and was abandoned"
    assert_bystanders_served(siege)
    assert "abandoned RegisterCertificate after 0.5 s of CPU (request_cpu_seconds)" in server.log()
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        # Nothing of it was stored: the same id registers anew (OK, not INFO "already exists"), on
        # a large request, so on a worker; and the workers keep answering after the kill.
        answer = client.post(REGISTER, content=large_registration(certificate_id), headers=XML)
        assert result(answer.content)[0] == "OK", answer.content[:500]
        for attempt in range(3):
            answer = client.post(REGISTER, content=large_registration(f"{certificate_id}-{attempt}"), headers=XML)
            assert result(answer.content)[0] == "OK", answer.content[:500]
