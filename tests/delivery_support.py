"""Real processes for the delivery tests: the stub recipient and outbox workers, plus message builders."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from intygstjanst.persistence import outbox
from intygstjanst.persistence.db import Database
from intygstjanst.tests.conftest import free_port
from intygstjanst.tests.support import REPO_DIR

RCV = "urn:riv:clinicalprocess:healthcond:certificate:RevokeCertificateResponder:2"
GN = "urn:riv:clinicalprocess:healthcond:certificate:3"
TP = "urn:riv:clinicalprocess:healthcond:certificate:types:3"


def revoke_payload(certificate_id: str, patient: str = "191212121212") -> bytes:
    """A complete RevokeCertificate v2 request payload, as care sends it (valid against the XSD)."""
    return f"""<rc:RevokeCertificate xmlns:rc="{RCV}" xmlns:gn="{GN}" xmlns:tp="{TP}">
  <rc:meddelande>Fel patient</rc:meddelande>
  <rc:skickatTidpunkt>2026-11-20T09:30:00</rc:skickatTidpunkt>
  <rc:intygs-id><tp:root>SE2321000016-1003</tp:root><tp:extension>{certificate_id}</tp:extension></rc:intygs-id>
  <rc:patientPerson-id><tp:root>1.2.752.129.2.1.3.1</tp:root><tp:extension>{patient}</tp:extension></rc:patientPerson-id>
  <rc:skickatAv>
    <gn:personal-id><tp:root>1.2.752.129.2.1.4.1</tp:root><tp:extension>SE2321000016-D1</tp:extension></gn:personal-id>
    <gn:fullstandigtNamn>Ajla Doktor</gn:fullstandigtNamn>
    <gn:enhet>
      <gn:enhets-id><tp:root>1.2.752.129.2.1.4.1</tp:root><tp:extension>SE2321000016-E1</tp:extension></gn:enhets-id>
      <gn:arbetsplatskod><tp:root>1.2.752.29.4.71</tp:root><tp:extension>1234567890</tp:extension></gn:arbetsplatskod>
      <gn:enhetsnamn>Vårdcentralen Alfa</gn:enhetsnamn>
      <gn:postadress>Storgatan 1</gn:postadress>
      <gn:postnummer>12345</gn:postnummer>
      <gn:postort>Småstad</gn:postort>
      <gn:telefonnummer>0101234567</gn:telefonnummer>
      <gn:vardgivare>
        <gn:vardgivare-id><tp:root>1.2.752.129.2.1.4.1</tp:root><tp:extension>SE2321000016-VG</tp:extension></gn:vardgivare-id>
        <gn:vardgivarnamn>Region Alfa</gn:vardgivarnamn>
      </gn:vardgivare>
    </gn:enhet>
  </rc:skickatAv>
</rc:RevokeCertificate>""".encode()


def enqueue_revokes(db: Database, count: int, recipient: str = "FKASSA", prefix: str = "cert") -> None:
    with db.transaction() as conn:
        for i in range(count):
            outbox.enqueue(
                conn,
                recipient=recipient,
                contract="RevokeCertificate:2",
                payload=revoke_payload(f"{prefix}-{i}"),
                dedupe_key=f"revoke:{prefix}-{i}:{recipient}",
                reference=f"{prefix}-{i}",
            )


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _spawn(args: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "intygstjanst.cli", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=REPO_DIR,
        )


@dataclass
class StubRecipient:
    """The stub recipient in its own process; ``start`` again after ``kill`` keeps port and record."""

    directory: Path
    port: int = field(default_factory=free_port)
    tls: tuple[Path, Path, Path] | None = None  # server cert, key, client CA
    client: httpx.Client | None = None  # for the operator endpoints (needs a client cert with tls)
    process: subprocess.Popen[bytes] | None = None

    @property
    def record(self) -> Path:
        return self.directory / "received.jsonl"

    @property
    def log_path(self) -> Path:
        return self.directory / "stub.log"

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> StubRecipient:
        args = ["stub-recipient", "--port", str(self.port), "--record", str(self.record)]
        if self.tls:
            args += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1]), "--tls-ca", str(self.tls[2])]
        self.process = _spawn(args, self.log_path)
        http = self.client or httpx.Client()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"stub exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                if http.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"stub did not start:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def _http(self) -> httpx.Client:
        return self.client or httpx.Client()

    def received(self) -> dict[str, list[dict[str, Any]]]:
        response = self._http().get(f"{self.base_url}/stub/received", timeout=10)
        response.raise_for_status()
        return response.json()

    def fail(self, mode: str, count: int, delay: float | None = None) -> None:
        params: dict[str, Any] = {"mode": mode, "count": count}
        if delay is not None:
            params["delay"] = delay
        self._http().post(f"{self.base_url}/stub/fail", params=params, timeout=5).raise_for_status()


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout: float = 30) -> int:
        self.process.terminate()
        return self.process.wait(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


# Fast retries and a short lease, so the crash tests finish in seconds rather than minutes.
FAST_DELIVERY_ENV = {
    "INTYG_RETRY_BASE_DELAY": "0.2",
    "INTYG_RETRY_MAX_DELAY": "1",
    "INTYG_DELIVERY_TIMEOUT": "3",
    "INTYG_OUTBOX_LEASE": "4",
}


def start_worker(
    database_url: str,
    base_url: str,
    log_path: Path,
    *,
    concurrency: int = 8,
    once: bool = False,
    env: dict[str, str] | None = None,
) -> WorkerProcess:
    args = ["worker", "--database-url", database_url, "--concurrency", str(concurrency)] + (["--once"] if once else [])
    environment = {**FAST_DELIVERY_ENV, "INTYG_DELIVERY_BASE_URL": base_url, **(env or {})}
    return WorkerProcess(_spawn(args, log_path, environment), log_path)


def receipt_ids(received: dict[str, list[dict[str, Any]]]) -> list[str]:
    return [r["delivery_id"] for r in received["receipts"]]
