"""``intygstjanst serve`` as a process: what it says at start-up, and a second ``serve`` on a busy port
or on a data directory in use failing cleanly: one line saying why, nothing announced, and the
running server's ``serve.json`` left as it was."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from intygstjanst.persistence.db import Database
from intygstjanst.tls.runtime import ServerState

from intygstjanst.tests.conftest import free_port, start_server, stop_server
from intygstjanst.tests.support import REPO_DIR


@pytest.fixture(scope="module")
def first(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db: Database
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    tmp = tmp_path_factory.mktemp("first")
    port = free_port()
    data_dir = tmp / "data"
    process = start_server(
        ["serve", "--port", str(port), "--database-url", database_url, "--data-dir", str(data_dir)],
        {"INTYG_TLS_MODE": "off"},
        tmp / "server.log",
        f"http://127.0.0.1:{port}/health",
    )
    try:
        yield process, port, data_dir
    finally:
        stop_server(process)


def test_the_start_up_names_the_recipients_without_an_endpoint(first: tuple[subprocess.Popen[bytes], int, Path]) -> None:
    log = (first[2].parent / "server.log").read_text(encoding="utf-8")
    assert log.index("serving on") < log.index("no endpoint for the recipients")
    assert (
        "no endpoint for the recipients AF, FKASSA, SKV, SOS, TRANSP: sending a certificate to them is answered "
        "ERROR/TECHNICAL_ERROR, and messages wait in the outbox, until delivery_base_url (--delivery-base-url) "
        "or their url in recipients_file is set; 'intygstjanst dev' runs a stub recipient that takes everything"
    ) in log


def second(database_url: str, port: int, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "intygstjanst.cli", "serve", "--tls-mode", "off", "--port", str(port),
         "--database-url", database_url, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        cwd=REPO_DIR,
        timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("same_data_dir", [False, True], ids=["other data dir", "same data dir"])
def test_a_busy_port_fails_before_anything_is_announced(
    first: tuple[subprocess.Popen[bytes], int, Path], database_url: str, tmp_path: Path, same_data_dir: bool
) -> None:
    process, port, data_dir = first
    state_before = (data_dir / "serve.json").read_bytes()
    done = second(database_url, port, data_dir if same_data_dir else tmp_path / "data")
    assert done.returncode == 1
    assert done.stderr.strip() == f"intygstjanst serve: error: cannot listen on 127.0.0.1:{port}: the port is in use (another server?)"
    assert "serving on" not in done.stdout
    assert (data_dir / "serve.json").read_bytes() == state_before
    assert ServerState.read(data_dir).pid == process.pid
    assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200


def test_a_data_directory_in_use_is_refused_and_left_alone(first: tuple[subprocess.Popen[bytes], int, Path], database_url: str) -> None:
    process, port, data_dir = first
    state_before = (data_dir / "serve.json").read_bytes()
    other_port = free_port()
    done = second(database_url, other_port, data_dir)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"intygstjanst serve: error: another server (pid {process.pid}) uses the data directory {data_dir}; "
        "stop it, or give this one its own --data-dir"
    )
    assert "serving on" not in done.stdout
    assert (data_dir / "serve.json").read_bytes() == state_before
    assert ServerState.read(data_dir).pid == process.pid
    with pytest.raises(httpx.ConnectError):  # the second server let go of its port again
        httpx.get(f"http://127.0.0.1:{other_port}/health")


def test_the_worker_names_the_recipients_without_an_endpoint_too(tmp_path: Path) -> None:
    upgraded = subprocess.run([sys.executable, "-m", "intygstjanst.cli", "db", "upgrade", "--data-dir", str(tmp_path)], cwd=REPO_DIR, timeout=60)
    assert upgraded.returncode == 0
    done = subprocess.run(
        [sys.executable, "-m", "intygstjanst.cli", "worker", "--once", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO_DIR,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "no endpoint for the recipients AF, FKASSA, SKV, SOS, TRANSP: sending a certificate" in done.stderr
    with_endpoint = subprocess.run(
        [sys.executable, "-m", "intygstjanst.cli", "worker", "--once", "--data-dir", str(tmp_path), "--delivery-base-url", "https://ntjp.example"],
        capture_output=True,
        text=True,
        cwd=REPO_DIR,
        timeout=60,
    )
    assert with_endpoint.returncode == 0 and "no endpoint" not in with_endpoint.stderr
