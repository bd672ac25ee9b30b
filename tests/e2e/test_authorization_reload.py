"""Changing the grants of a running server: ``intygstjanst authorization reload`` and SIGHUP, with one
process and with several workers (each of which must take the new table, or keep the old one)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from intygstjanst.persistence.db import Database

from intygstjanst.tests.soap import GET, GET_NS, envelope, fault, get_request
from intygstjanst.tests.support import REPO_DIR
from intygstjanst.tests.tlsserver import (
    ADDRESS,
    CONSUMER,
    OTHER,
    STANDARD_GRANTS,
    Pki,
    Server,
    grants,
    native_args,
    running,
    soap,
    standard_grants,
)

WITH_OTHER = STANDARD_GRANTS + grants((OTHER, ADDRESS, GET_NS))
CONNECTIONS = 8  # new connections per check, so that with two workers both answer some


@pytest.fixture(scope="module", params=[1, 2], ids=["one process", "two workers"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pki: Pki, database_url: str, migrated_db: Database
) -> Iterator[tuple[Server, Path, int]]:
    workers: int = request.param
    tmp = tmp_path_factory.mktemp("reload")
    authorization = standard_grants(tmp)
    args = [*native_args(pki, authorization), "--workers", str(workers)]
    with running(tmp, database_url, args, lambda: pki.context(pki.client(CONSUMER))) as live:
        yield live, authorization, workers


def authorized(server: Server, pki: Pki, hsa_id: str) -> list[bool]:
    """Whether each of several calls on fresh connections got past call authorization."""
    outcomes = []
    for _ in range(CONNECTIONS):
        with httpx.Client(base_url=server.base_url, verify=pki.context(pki.client(hsa_id)), timeout=30) as http:
            response = soap(http, GET, envelope(get_request("not-there"), logical_address=ADDRESS))
        outcomes.append(response.status_code == 200 or not fault(response.content).startswith(f"consumer {hsa_id} is not authorized"))
    return outcomes


def eventually(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.2)


def reload_command(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "intygstjanst.cli", "authorization", "reload", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        cwd=REPO_DIR,
        timeout=60,
    )


def set_grants(server: Server, authorization: Path, text: str) -> subprocess.CompletedProcess[str]:
    authorization.write_text(text, encoding="utf-8")
    return reload_command(server.data_dir)


def test_reload_command_puts_a_changed_table_in_force(server: tuple[Server, Path, int], pki: Pki) -> None:
    live, authorization, _ = server
    assert set_grants(live, authorization, STANDARD_GRANTS).returncode == 0
    eventually(lambda: not any(authorized(live, pki, OTHER)), "the grant-less consumer is refused everywhere")

    done = set_grants(live, authorization, WITH_OTHER)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"asked the server (pid {live.process.pid}) to reload {authorization}: 4 grant(s)")
    eventually(lambda: all(authorized(live, pki, OTHER)), "the new grant is in force in every process")
    assert f"authorization table reloaded from {authorization}: 4 grant(s)" in live.log()


def test_a_broken_file_is_not_sent_and_is_refused_by_the_server_too(server: tuple[Server, Path, int], pki: Pki) -> None:
    live, authorization, workers = server
    assert set_grants(live, authorization, WITH_OTHER).returncode == 0
    eventually(lambda: all(authorized(live, pki, OTHER)), "the grant is in force")

    refused = set_grants(live, authorization, WITH_OTHER + grants(("*", "*", "*")))
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"intygstjanst authorization reload: error: authorization file {authorization}: grant #5: "
        "consumer must be one HSA-id; '*' is not allowed for the consumer"
    )
    # Signalled directly, every process refuses the file and keeps the table it had.
    failures_before = live.log().count("authorization reload failed; the previous table stays in force")
    os.kill(live.process.pid, signal.SIGHUP)
    eventually(
        lambda: live.log().count("authorization reload failed; the previous table stays in force") == failures_before + workers,
        "each process reports the refused file",
    )
    assert all(authorized(live, pki, OTHER))
    assert live.process.poll() is None


def test_reload_command_without_a_running_server(tmp_path: Path) -> None:
    done = reload_command(tmp_path)
    assert done.returncode == 1
    assert f"no running server uses the data directory {tmp_path} (serve.json not found)" in done.stderr


def test_reload_command_does_not_signal_a_process_that_is_not_the_server(tmp_path: Path) -> None:
    """A serve.json left by a crash may name a pid that now belongs to something else, even to a
    process whose command line says intygstjanst: only the holder of the data directory's lock is
    the server."""
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "intygstjanst", "serve"])
    try:
        (tmp_path / "serve.json").write_text(f'{{"pid": {bystander.pid}, "mode": "native", "authorization_file": "x.toml"}}')
        for lock_left_behind in (False, True):
            if lock_left_behind:
                (tmp_path / "serve.lock").touch()
            done = reload_command(tmp_path)
            assert done.returncode == 1
            assert f"names process {bystander.pid}, but no server holds {tmp_path / 'serve.lock'}" in done.stderr
            assert "the file is stale" in done.stderr
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_reload_command_signals_only_the_process_holding_the_lock(tmp_path: Path) -> None:
    """A lock held by one process and a serve.json naming another: the file is not believed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
         "print('locked', flush=True); time.sleep(60)", str(tmp_path / "serve.lock")],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        (tmp_path / "serve.json").write_text(f'{{"pid": {bystander.pid}, "mode": "native", "authorization_file": "x.toml"}}')
        done = reload_command(tmp_path)
        assert done.returncode == 1
        assert f"names process {bystander.pid}, but process {holder.pid} holds {tmp_path / 'serve.lock'}" in done.stderr
        assert bystander.poll() is None and holder.poll() is None
    finally:
        for process in (holder, bystander):
            process.kill()
            process.wait()
