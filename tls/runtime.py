"""Running uvicorn so that SIGHUP reloads the authorization table and the certificate types in every
process, and finding the running server again for ``intygstjanst authorization reload`` and
``intygstjanst types reload``.

A server owns its data directory by holding an exclusive lock on ``<data_dir>/serve.lock`` for as
long as it runs, and only the owner writes ``serve.json`` (its pid, mode and authorization file). The
kernel drops the lock when the process ends, however it ends, so a held lock proves that the process
that wrote the file is alive and serving: a pid left behind by a crash, now reused by another
program, is never signalled. A second server for the same directory is refused before it touches the
file, and the port is bound before either, so a busy port fails without disturbing the running server.

uvicorn's own multi-process supervisor answers SIGHUP by replacing every worker. Each worker would
then read the authorization file at start-up, which works for a valid file but leaves a broken one
to fail the new workers. Forwarding the signal instead lets each worker reload in place and keep its
table when the new file is refused, the same as a single process does.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import BinaryIO

import uvicorn
from uvicorn.supervisors import Multiprocess

STATE_FILE = "serve.json"  # in the data directory, while the server runs
LOCK_FILE = "serve.lock"  # held (flock, exclusive) by the server of the data directory


class ServerStartError(RuntimeError):
    """The server cannot start here: the port is taken, or another server owns the data directory."""


class SighupForwarding(Multiprocess):
    """uvicorn's supervisor, passing SIGHUP on to the workers instead of restarting them."""

    def handle_hup(self) -> None:
        for process in self.processes:
            if process.process.pid is not None and process.process.is_alive():
                os.kill(process.process.pid, signal.SIGHUP)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound now so that a taken port is known before anything is announced."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServerStartError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = "the port is in use (another server?)" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise ServerStartError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)  # uvicorn's worker processes serve on it
    return sock


def run(config: uvicorn.Config, sock: socket.socket | None = None, *, forward_sighup: bool = False) -> bool:
    """Serve on ``sock`` (default: bound now to the config's host and port) until SIGINT/SIGTERM;
    False when a single-process server could not start. With ``forward_sighup``, every worker must
    handle SIGHUP itself (the app factory installs the handler); a worker that receives it before
    then dies and is replaced."""
    sock = sock or listen(config.host, config.port)
    if config.workers > 1:
        supervisor = SighupForwarding if forward_sighup else Multiprocess
        supervisor(config, sockets=[sock]).run()
        return True
    server = uvicorn.Server(config)
    # After a graceful shutdown uvicorn raises the signal that asked for it again; SIGTERM's default
    # action would then end the process before ``finally`` blocks (e.g. removing serve.json) run.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        server.run(sockets=[sock])
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
        holder = _lock_holder(data_dir / LOCK_FILE)
        if holder is None:
            raise LookupError(
                f"{path} names process {state.pid}, but no server holds {data_dir / LOCK_FILE}: "
                "the server has ended and the file is stale"
            )
        if holder and holder != state.pid:
            raise LookupError(f"{path} names process {state.pid}, but process {holder} holds {data_dir / LOCK_FILE}")
        return state


@contextmanager
def server_state(
    data_dir: Path, mode: str, authorization_file: Path | None, certificate_types_dir: Path | None = None
) -> Iterator[None]:
    """Own ``data_dir`` and announce this process as its server for as long as the block runs.

    Raises ServerStartError, leaving the directory as it was, when another server owns it.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = (data_dir / LOCK_FILE).open("a+b")
    try:
        if not _lock_exclusively(lock):
            try:
                owner = f" (pid {ServerState.read(data_dir).pid})"
            except LookupError:
                owner = ""
            raise ServerStartError(
                f"another server{owner} uses the data directory {data_dir.resolve()}; stop it, or give this one "
                "its own --data-dir"
            ) from None
        path = data_dir / STATE_FILE
        # Absolute, since the admin command may run from another directory.
        grants = str(authorization_file.resolve()) if authorization_file else None
        types = str(certificate_types_dir.resolve()) if certificate_types_dir else None
        state = {"pid": os.getpid(), "mode": mode, "authorization_file": grants, "certificate_types_dir": types}
        path.write_text(json.dumps(state) + "\n", encoding="utf-8")
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
    finally:
        lock.close()  # releases the lock


def _lock_exclusively(lock: BinaryIO) -> bool:
    # An admin command probing the lock holds it shared for an instant; that is no reason to refuse.
    for attempt in range(5):
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(0.05 * (attempt + 1))
    return False


def _lock_holder(path: Path) -> int | None:
    """The pid holding ``path`` locked, 0 when it is held but the holder cannot be named, or None
    when nobody holds it."""
    try:
        probe = path.open("rb")
    except FileNotFoundError:
        return None
    with probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            status = os.fstat(probe.fileno())
            return _holder_from_proc_locks(status.st_dev, status.st_ino)
        fcntl.flock(probe, fcntl.LOCK_UN)
        return None


def _holder_from_proc_locks(device: int, inode: int) -> int:
    """Linux names the holder of every lock in /proc/locks (``1: FLOCK ADVISORY WRITE <pid> <dev>:<inode> ...``)."""
    where = f"{os.major(device):02x}:{os.minor(device):02x}:{inode}"
    try:
        lines = Path("/proc/locks").read_text(encoding="ascii").splitlines()
    except OSError:
        return 0
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[3] == "WRITE" and fields[5] == where:
            return int(fields[4]) if fields[4].isdigit() else 0
    return 0
