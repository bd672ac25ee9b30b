"""The conformance kit against real producers in other processes: our server as the README starts
it, the CI gate over mTLS with authorization, a deliberately broken copy, and the stub recipient."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from intygstjanst.conformance.suites import all_suites
from intygstjanst.persistence.db import Database
from intygstjanst.tests.conftest import free_port, start_server, stop_server
from intygstjanst.tests.support import REPO_DIR
from intygstjanst.tests.test_conformance_kit import check_junit
from intygstjanst.tls.client import ClientTls

ALL_CASES = {f"{suite.id}/{case.id}" for suite in all_suites() for case in suite.all_cases()}
NOT_AUTHORIZED = {case for case in ALL_CASES if case.endswith("/not-authorized")}


def kit(endpoint: str, tmp_path: Path, *extra: str) -> tuple[int, str, dict[str, set[str]]]:
    """Run ``intygstjanst conformance run`` as a tester would; returns the exit status, the output and
    the case ids by outcome as the JUnit XML tells them."""
    junit = tmp_path / "junit.xml"
    process = subprocess.run(
        [sys.executable, "-m", "intygstjanst.cli", "conformance", "run", "--endpoint", endpoint,
         "--junit", str(junit), "--failures-dir", str(tmp_path / "failures"), *extra],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    output = process.stdout + process.stderr
    assert "Traceback" not in output, output
    outcomes: dict[str, set[str]] = {"passed": set(), "failed": set(), "skipped": set()}
    for case in check_junit(junit.read_bytes()).iter("testcase"):
        kind = "failed" if case.find("failure") is not None else "skipped" if case.find("skipped") is not None else "passed"
        outcomes[kind].add(f"{case.get('classname')}/{case.get('name')}")
    return process.returncode, output, outcomes


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
def readme_server(tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db: Database) -> Iterator[tuple[str, ClientTls]]:
    """``intygstjanst serve`` with the README's defaults: native mTLS on the development PKI it creates
    under the data directory, whose development grants let its client certificates call everything."""
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

    process = launch(
        ["-m", "intygstjanst.cli", "serve", "--port", str(port), "--data-dir", str(data_dir), "--database-url", database_url],
        data_dir.parent / "server.log",
        ready,
        env={k: v for k, v in os.environ.items() if not k.startswith("INTYG_")},
    )
    try:
        tls = client_tls()
        assert tls is not None
        yield endpoint, tls
    finally:
        stop_server(process)


def test_kit_passes_against_the_server_started_as_in_the_readme(readme_server: tuple[str, ClientTls], tmp_path: Path) -> None:
    endpoint, tls = readme_server
    code, output, outcomes = kit(endpoint, tmp_path, "--cert", str(tls.cert), "--key", str(tls.key), "--ca", str(tls.ca), "--require-all")
    assert code == 0, output
    assert outcomes["failed"] == set()
    # The development grants allow every logical address, so there is none to be refused for.
    assert outcomes["skipped"] == NOT_AUTHORIZED
    assert outcomes["passed"] == ALL_CASES - NOT_AUTHORIZED
    assert not (tmp_path / "failures").exists()


def test_ci_gate_runs_every_case_over_mtls_with_authorization(tmp_path: Path, database_url: str, migrated_db: Database) -> None:
    junit = tmp_path / "ci.xml"
    process = subprocess.run(
        [sys.executable, "-m", "intygstjanst.conformance.ci", "--junit", str(junit), "--work-dir", str(tmp_path / "work"), "--database-url", database_url],
        capture_output=True, text=True, timeout=600,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    root = check_junit(junit.read_bytes())
    assert (root.get("failures"), root.get("skipped")) == ("0", "0")
    assert int(root.get("tests")) == len(ALL_CASES)
    assert "not-authorized" in process.stdout and "FAIL" not in process.stdout


@pytest.fixture(scope="module")
def broken_server(tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db: Database) -> Iterator[str]:
    """A copy of the service answering repeated registrations OK instead of INFO (plain HTTP)."""
    tmp_path = tmp_path_factory.mktemp("broken")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = launch(
        ["-m", "uvicorn", "--factory", "intygstjanst.tests.conformance_broken:duplicates_answered_ok", "--port", str(port), "--log-level", "warning"],
        tmp_path / "server.log",
        lambda: httpx.get(f"{base}/health", timeout=2).status_code == 200,
        env={**os.environ, "INTYG_DATABASE_URL": database_url, "INTYG_DATA_DIR": str(tmp_path / "data"), "INTYG_TLS_MODE": "off"},
    )
    try:
        yield base
    finally:
        stop_server(process)


def test_a_broken_producer_fails_exactly_the_case_about_its_fault(broken_server: str, tmp_path: Path) -> None:
    code, output, outcomes = kit(broken_server, tmp_path)
    assert code == 1
    assert outcomes["failed"] == {"RegisterCertificate:3/duplicate"}, output
    assert outcomes["passed"] == ALL_CASES - NOT_AUTHORIZED - outcomes["failed"]
    assert "expected resultCode INFO, text 'Certificate already exists', got resultCode OK" in output
    saved = next((tmp_path / "failures").glob("*/RegisterCertificate_3/duplicate"))
    second = etree.parse(str(saved / "02-response.xml")).getroot()
    assert second.findtext(".//{*}resultCode") == "OK"  # the offending answer is kept for the tester
    assert (saved / "02-request.xml").is_file() and "duplicate" in (saved / "reason.txt").read_text()


@pytest.fixture(scope="module")
def stub_recipient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
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


def test_against_the_stub_recipient_the_kit_reports_failures_without_crashing(stub_recipient: str, tmp_path: Path) -> None:
    code, output, outcomes = kit(stub_recipient, tmp_path)
    assert code == 1
    assert set().union(*outcomes.values()) == ALL_CASES  # every case ran to a verdict
    # The stub takes registrations without checking them and serves no WSDL.
    assert {"RegisterCertificate:3/duplicate", "RegisterCertificate:3/invalid-patient-id", "RegisterCertificate:3/wsdl"} <= outcomes["failed"]
    assert "RegisterCertificate:3/valid" in outcomes["passed"]
    assert "expected resultCode ERROR, errorId VALIDATION_ERROR, got resultCode OK" in output
    assert "answered HTTP 405, expected HTTP 200 with the WSDL" in output
    assert "Failures:" in output
