"""Running uvicorn so that SIGHUP reloads the authorization table and the certificate types in every
process, and finding the running server again for ``intygstjanst authorization reload`` and
``intygstjanst types reload``.

uvicorn's own multi-process supervisor answers SIGHUP by replacing every worker. Each worker would
then read the authorization file at start-up, which works for a valid file but leaves a broken one
to fail the new workers. Forwarding the signal instead lets each worker reload in place and keep its
table when the new file is refused, the same as a single process does.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn
from uvicorn.supervisors import Multiprocess

STATE_FILE = "serve.json"  # in the data directory, while the server runs


class SighupForwarding(Multiprocess):
    """uvicorn's supervisor, passing SIGHUP on to the workers instead of restarting them."""

    def handle_hup(self) -> None:
        for process in self.processes:
            if process.process.pid is not None and process.process.is_alive():
                os.kill(process.process.pid, signal.SIGHUP)


def run(config: uvicorn.Config, *, forward_sighup: bool = False) -> bool:
    """Serve until SIGINT/SIGTERM; False when a single-process server could not start (e.g. the port
    is taken). With ``forward_sighup``, every worker must handle SIGHUP itself (the app factory
    installs the handler); a worker that receives it before then dies and is replaced."""
    if config.workers > 1:
        supervisor = SighupForwarding if forward_sighup else Multiprocess
        supervisor(config, sockets=[config.bind_socket()]).run()
        return True
    server = uvicorn.Server(config)
    # After a graceful shutdown uvicorn raises the signal that asked for it again; SIGTERM's default
    # action would then end the process before ``finally`` blocks (e.g. removing serve.json) run.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return server.started


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@dataclass(frozen=True)
class ServerState:
    """What a running ``serve`` leaves in its data directory for the admin commands."""

    pid: int
    mode: str
    authorization_file: Path | None
    certificate_types_dir: Path | None = None

    @classmethod
    def read(cls, data_dir: Path) -> ServerState:
        """Raises LookupError with an explanation when no live server owns ``data_dir``."""
        path = data_dir / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            types_dir = data.get("certificate_types_dir")
            state = cls(
                int(data["pid"]),
                str(data["mode"]),
                Path(data["authorization_file"]) if data["authorization_file"] else None,
                Path(types_dir) if types_dir else None,
            )
        except FileNotFoundError:
            raise LookupError(f"no running server uses the data directory {data_dir.resolve()} ({STATE_FILE} not found)") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LookupError(f"{path} cannot be read: {exc}") from None
        try:
            os.kill(state.pid, 0)
        except ProcessLookupError:
            raise LookupError(f"{path} names process {state.pid}, which is not running (a stale file)") from None
        except PermissionError:
            pass  # it exists, owned by someone else: the signal itself will say whether we may
        # After a crash the number may belong to another program by now, which SIGHUP could end.
        command_line = Path(f"/proc/{state.pid}/cmdline")
        if command_line.exists() and b"intygstjanst" not in command_line.read_bytes():
            raise LookupError(f"{path} names process {state.pid}, which is not intygstjanst (a stale file)")
        return state


@contextmanager
def server_state(
    data_dir: Path, mode: str, authorization_file: Path | None, certificate_types_dir: Path | None = None
) -> Iterator[None]:
    """Announce this process as the server of ``data_dir`` for as long as the block runs."""
    path = data_dir / STATE_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    # Absolute, since the admin command may run from another directory.
    grants = str(authorization_file.resolve()) if authorization_file else None
    types = str(certificate_types_dir.resolve()) if certificate_types_dir else None
    state = {"pid": os.getpid(), "mode": mode, "authorization_file": grants, "certificate_types_dir": types}
    path.write_text(json.dumps(state) + "\n", encoding="utf-8")
    try:
        yield
    finally:
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass
