"""``intygstjanst dev``: the service, a delivery worker and a stub recipient, as three real processes.

The embedded default of ``serve`` has nowhere to deliver to (the national platform is not here), so
sending is answered ERROR/TECHNICAL_ERROR and messages wait in the outbox. ``dev`` points
``delivery_base_url`` at a stub recipient that takes every outbound contract, so a fresh checkout can
register, send and exchange messages at once. Each part is the ordinary command in its own process
(``serve``, ``worker``, ``stub-recipient``); when one of them ends, or on Ctrl-C / SIGTERM, the others
are stopped too.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from intygstjanst.persistence.db import Database
from intygstjanst.settings import Settings

START_SECONDS = 120.0  # a part compiling schemas on a loaded machine takes well over 30 s
STOP_SECONDS = 10.0


@dataclass
class Part:
    name: str
    process: subprocess.Popen[bytes]


class DevFailure(RuntimeError):
    """A part did not start; the message says which and how it ended."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status  # the part's own exit status, e.g. 2 for a setting it could not use


def run(settings: Settings, stub_port: int, record: Path | None) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the readiness probes are not news
    # A database that cannot be used is one line naming the setting (SettingsError, exit status 2),
    # as for serve, before any part is started.
    Database.open(settings.effective_database_url, settings.database_setting).dispose()
    environment = _child_environment(settings)
    parts: list[Part] = []
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stub_url = ""
        if not settings.delivery_base_url:
            port = stub_port or _free_port(settings.host)
            stub_url = f"http://{settings.host}:{port}"
            record = record or settings.data_dir / "stub-recipient.jsonl"
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            parts.append(_start("stub recipient", ["stub-recipient", "--host", settings.host, "--port", str(port), "--record", str(record)], environment))
            _wait(parts[-1], lambda: _answers(f"{stub_url}/health"), stopping.is_set)
            environment["INTYG_DELIVERY_BASE_URL"] = stub_url
        parts.append(_start("service", ["serve"], environment))
        _wait(parts[-1], lambda: _serves(settings.data_dir, parts[-1].process.pid), stopping.is_set)
        # After the service, which has brought the database to the newest schema.
        parts.append(_start("delivery worker", ["worker"], environment))
        if stopping.is_set():
            return 0
        running = ", ".join(f"{part.name} (pid {part.process.pid})" for part in parts)
        print(f"intygstjanst dev: running {running}", flush=True)
        if stub_url:
            print(
                f"intygstjanst dev: every recipient is reached at the stub recipient {stub_url}, which records what it "
                f"receives in {record} (GET {stub_url}/stub/received); Ctrl-C stops all three",
                flush=True,
            )
        while not stopping.is_set():
            for part in parts:
                if part.process.poll() is not None:
                    print(f"intygstjanst dev: the {part.name} ended (exit status {part.process.returncode}); stopping the others", file=sys.stderr)
                    return part.process.returncode or 1
            time.sleep(0.2)
        return 0
    except DevFailure as exc:
        print(f"intygstjanst dev: error: {exc}", file=sys.stderr)
        return exc.status
    finally:
        _stop_all(parts)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _child_environment(settings: Settings) -> dict[str, str]:
    """These settings and nothing else: flags, file and environment have been merged already, so the
    children must not read INTYG_* variables or the config file again."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("INTYG_")}
    return {**inherited, **settings.as_environment()}


def _start(name: str, command: list[str], environment: dict[str, str]) -> Part:
    return Part(name, subprocess.Popen([sys.executable, "-m", "intygstjanst.cli", *command], env=dict(environment)))


def _wait(part: Part, ready: Callable[[], bool], stopping: Callable[[], bool]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        if stopping():
            return
        if part.process.poll() is not None:
            status = part.process.returncode
            raise DevFailure(f"the {part.name} did not start (exit status {status})", status if status > 0 else 1)
        if time.monotonic() > deadline:
            raise DevFailure(f"the {part.name} did not start within {START_SECONDS:.0f} s")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _serves(data_dir: Path, pid: int) -> bool:
    """Whether ``pid`` has bound its port and owns the data directory (serve.json and its lock)."""
    from intygstjanst.tls.runtime import ServerState

    try:
        return ServerState.read(data_dir).pid == pid
    except LookupError:
        return False


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _stop_all(parts: list[Part]) -> None:
    for part in reversed(parts):
        if part.process.poll() is None:
            part.process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for part in parts:
        try:
            part.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            part.process.kill()
            part.process.wait()
