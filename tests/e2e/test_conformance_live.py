"""The conformance kit against real producers in other processes: our server as the README starts
it, the CI gate over mTLS with authorization, a deliberately broken copy, and the stub recipient."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from intygstjanst.conformance.suites import all_suites
from intygstjanst.persistence.db import Database
from intygstjanst.tests.conftest import free_port, start_server, stop_server
from intygstjanst.tests.support import REPO_DIR
from intygstjanst.tests.unit.test_conformance_kit import check_junit
from intygstjanst.tls.client import ClientTls
from lxml import etree

ALL_CASES = {f"{suite.id}/{case.id}" for suite in all_suites() for case in suite.all_cases()}
NOT_AUTHORIZED = {case for case in ALL_CASES if case.endswith("/not-authorized")}


@dataclass
class KitRun:
    code: int
    output: str
    outcomes: dict[str, set[str]]  # passed / failed / skipped -> case ids
    reasons: dict[str, str]  # failed case id -> reason

    def assert_no_failures(self) -> None:
        failed = self.outcomes["failed"]
        assert not failed, "\n".join(f"{case}: {self.reasons[case]}" for case in sorted(failed))
        assert self.code == 0, self.output


def kit(endpoint: str, tmp_path: Path, *extra: str) -> KitRun:
    """Run ``intygstjanst conformance run`` as a tester would, and read its JUnit XML."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    junit = tmp_path / "junit.xml"
    process = subprocess.run(
        [sys.executable, "-m", "intygstjanst.cli", "conformance", "run", "--endpoint", endpoint,
         "--junit", str(junit), "--failures-dir", str(tmp_path / "failures"), *extra],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    output = process.stdout + process.stderr
    assert "Traceback" not in output, output
    return _read_junit(process.returncode, output, junit)


def _read_junit(code: int, output: str, junit: Path) -> KitRun:
    outcomes: dict[str, set[str]] = {"passed": set(), "failed": set(), "skipped": set()}
    reasons = {}
    for case in check_junit(junit.read_bytes()).iter("testcase"):
        case_id = f"{case.get('classname')}/{case.get('name')}"
        failure = case.find("failure")
        kind = "failed" if failure is not None else "skipped" if case.find("skipped") is not None else "passed"
        outcomes[kind].add(case_id)
        if failure is not None:
            reasons[case_id] = failure.get("message", "")
    return KitRun(code, output, outcomes, reasons)


def launch(args: list[str], log_path: Path, ready: Callable[[], bool], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``python <args>`` and wait until ``ready()`` says it serves."""
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, *args], stdout=log, stderr=subprocess.STDOUT, cwd=REPO_DIR, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{args} exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            if ready():
                return process
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.2)
    stop_server(process)
    raise RuntimeError(f"{args} did not become ready:\n{log_path.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def stub_recipient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The stub recipient: a producer under test here, and where our servers deliver certificates."""
    tmp_path = tmp_path_factory.mktemp("stub")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_server(
        ["stub-recipient", "--port", str(port), "--record", str(tmp_path / "record.jsonl")], {}, tmp_path / "stub.log", f"{base}/health"
    )
    try:
        yield base
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def readme_server(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db: Database, stub_recipient: str
) -> Iterator[tuple[str, ClientTls]]:
    """``intygstjanst serve`` with the README's defaults: native mTLS on the development PKI it creates
    under the data directory, whose development grants let its client certificates call everything.
    Only the recipients' address is configured (delivery_base_url, through the environment)."""
    data_dir = tmp_path_factory.mktemp("readme") / "var"
    port = free_port()
    endpoint = f"https://localhost:{port}"

    def client_tls() -> ClientTls | None:
        clients = sorted((data_dir / "tls" / "clients").glob("*.pem"))
        return ClientTls(clients[0], clients[0].with_suffix(".key"), data_dir / "tls" / "ca.pem") if clients else None

    def ready() -> bool:
        tls = client_tls()
        if tls is None:
            return False
        with tls.httpx_client(timeout=httpx.Timeout(2.0)) as client:
            return client.get(f"{endpoint}/ready").status_code == 200

    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTYG_")}
    process = launch(
        ["-m", "intygstjanst.cli", "serve", "--port", str(port), "--data-dir", str(data_dir), "--database-url", database_url],
        data_dir.parent / "server.log",
        ready,
        env={**environment, "INTYG_DELIVERY_BASE_URL": stub_recipient},
    )
    try:
        tls = client_tls()
        assert tls is not None
        yield endpoint, tls
    finally:
        stop_server(process)


def test_kit_passes_against_the_server_started_as_in_the_readme(readme_server: tuple[str, ClientTls], tmp_path: Path) -> None:
    endpoint, tls = readme_server
    run = kit(endpoint, tmp_path, "--cert", str(tls.cert), "--key", str(tls.key), "--ca", str(tls.ca), "--require-all")
    run.assert_no_failures()
    # The development grants allow every logical address, so there is none to be refused for.
    assert run.outcomes["skipped"] == NOT_AUTHORIZED
    assert run.outcomes["passed"] | run.outcomes["failed"] == ALL_CASES - NOT_AUTHORIZED


def test_ci_gate_runs_every_case_over_mtls_with_authorization(tmp_path: Path, database_url: str, migrated_db: Database) -> None:
    junit = tmp_path / "ci.xml"
    process = subprocess.run(
        [sys.executable, "-m", "intygstjanst.conformance.ci", "--junit", str(junit), "--work-dir", str(tmp_path / "work"), "--database-url", database_url],
        capture_output=True, text=True, timeout=600,
    )
    run = _read_junit(process.returncode, process.stdout + process.stderr, junit)
    run.assert_no_failures()
    assert run.outcomes["skipped"] == set()
    assert run.outcomes["passed"] | run.outcomes["failed"] == ALL_CASES
    # Certificates really went to the recipient (over mTLS): the stub recorded them.
    assert "SendCertificateToRecipient:2/valid" in run.outcomes["passed"]
    assert (tmp_path / "work" / "recipient.jsonl").read_text().strip()


def _plain_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, command: list[str], env: dict[str, str]
) -> Iterator[str]:
    tmp_path = tmp_path_factory.mktemp(name)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = launch(
        [*command, "--port", str(port)],
        tmp_path / "server.log",
        lambda: httpx.get(f"{base}/health", timeout=2).status_code == 200,
        env={**os.environ, **env, "INTYG_DATA_DIR": str(tmp_path / "data"), "INTYG_TLS_MODE": "off"},
    )
    try:
        yield base
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db: Database, stub_recipient: str) -> Iterator[str]:
    """The real service over plain HTTP, to compare the broken copy with."""
    env = {"INTYG_DATABASE_URL": database_url, "INTYG_DELIVERY_BASE_URL": stub_recipient}
    yield from _plain_server(tmp_path_factory, "plain", ["-m", "intygstjanst.cli", "serve"], env)


@pytest.fixture(scope="module")
def broken_server(tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db: Database, stub_recipient: str) -> Iterator[str]:
    """A copy of the service answering repeated registrations OK instead of INFO (plain HTTP)."""
    env = {"INTYG_DATABASE_URL": database_url, "INTYG_DELIVERY_BASE_URL": stub_recipient}
    command = ["-m", "uvicorn", "--factory", "intygstjanst.tests.conformance_broken:duplicates_answered_ok", "--log-level", "warning"]
    yield from _plain_server(tmp_path_factory, "broken", command, env)


def test_a_broken_producer_fails_exactly_the_case_about_its_fault(plain_server: str, broken_server: str, tmp_path: Path) -> None:
    real = kit(plain_server, tmp_path / "real")
    broken = kit(broken_server, tmp_path / "broken")
    assert "RegisterCertificate:3/duplicate" not in real.outcomes["failed"]
    assert broken.outcomes["failed"] == real.outcomes["failed"] | {"RegisterCertificate:3/duplicate"}, broken.output
    assert broken.code == 1
    assert broken.reasons["RegisterCertificate:3/duplicate"] == (
        "step 2/2 (register it again): expected resultCode INFO, text 'Certificate already exists', got resultCode OK"
    )
    saved = next((tmp_path / "broken" / "failures").glob("*/RegisterCertificate_3/duplicate"))
    second = etree.parse(str(saved / "02-response.xml")).getroot()
    assert second.findtext(".//{*}resultCode") == "OK"  # the offending answer is kept for the tester
    assert (saved / "02-request.xml").is_file() and "duplicate" in (saved / "reason.txt").read_text()


def test_against_the_stub_recipient_the_kit_reports_failures_without_crashing(stub_recipient: str, tmp_path: Path) -> None:
    run = kit(stub_recipient, tmp_path)
    assert run.code == 1
    assert set().union(*run.outcomes.values()) == ALL_CASES  # every case ran to a verdict
    # The stub takes registrations without checking them and serves no WSDL.
    assert {"RegisterCertificate:3/duplicate", "RegisterCertificate:3/invalid-patient-id", "RegisterCertificate:3/wsdl"} <= run.outcomes["failed"]
    assert "RegisterCertificate:3/valid" in run.outcomes["passed"]
    assert run.reasons["RegisterCertificate:3/invalid-patient-id"] == "expected resultCode ERROR, errorId VALIDATION_ERROR, got resultCode OK"
    assert run.reasons["RegisterCertificate:3/wsdl"].endswith("answered HTTP 405, expected HTTP 200 with the WSDL")
    assert all(run.reasons[case] for case in run.outcomes["failed"])
    assert "Failures:" in run.output
