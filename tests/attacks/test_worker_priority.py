"""The large-request workers (offload.py) run at a lower CPU priority than the server process, by
``large_request_nice``, so that on a machine with few cores a stream of large requests slows down
the large requests and not the ordinary calls on the event loop (benchmarks/under_attack.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from intygstjanst.app import create_app
from intygstjanst.persistence.db import Database
from intygstjanst.registers.persons import FilePersonLookup
from intygstjanst.services import Services
from intygstjanst.settings import Settings, SettingsError
from intygstjanst.tests.conftest import LiveServer


def _stat(pid: int) -> list[bytes]:
    """The fields of /proc/<pid>/stat after the command name (field 3, the state, comes first)."""
    return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()


def _children(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat(int(entry))[1]) == pid:  # field 4: the parent
                    children.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):  # ended meanwhile
                pass
    return children


def _nice(pid: int) -> int:
    return int(_stat(pid)[16])  # field 19


def test_the_workers_run_at_the_servers_nice_value_plus_large_request_nice(live_server: LiveServer) -> None:
    server = live_server.process.pid
    workers = _children(server)
    assert len(workers) == Settings().large_request_processes
    # The kernel caps nice values at 19.
    assert [_nice(worker) for worker in workers] == [min(19, _nice(server) + Settings().large_request_nice)] * len(workers)


@pytest.mark.parametrize("value", [-1, 20])
def test_a_nice_value_outside_0_to_19_is_refused(value: int, db: Database, persons: FilePersonLookup, tmp_path: Path) -> None:
    services = Services.build(Settings(data_dir=tmp_path, large_request_nice=value), db=db, persons=persons)
    with pytest.raises(SettingsError, match=f"large_request_nice must be 0 to 19, got {value}"):
        create_app(services=services, worker_processes=True)
