"""Helpers for the attacks on the HTTP layer (tests/attacks/test_slow_clients.py, test_header_floods.py):
a real server with chosen limits, raw-socket clients that misbehave, and a bystander, a legitimate
consumer calling ``/health`` and RegisterCertificate the whole time on its own keep-alive connection."""

from __future__ import annotations

import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from intygstjanst.tests.conftest import LiveServer, free_port, start_server, stop_server
from intygstjanst.tests.soap import REGISTER, certificate, envelope, result

XML = {"content-type": "text/xml; charset=utf-8"}


@contextmanager
def server_with(
    tmp_path: Path, database_url: str, *flags: str, env: dict[str, str] | None = None, verify: ssl.SSLContext | None = None
) -> Iterator[LiveServer]:
    """``intygstjanst serve`` (one process) with extra ``flags``: plain HTTP, or HTTPS when the
    client context to reach it (``verify``) is given."""
    port = free_port()
    base = f"{'https' if verify else 'http'}://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    process = start_server(
        ["serve", "--port", str(port), "--database-url", database_url, "--data-dir", str(tmp_path / "data"), *flags],
        env or {"INTYG_TLS_MODE": "off"},
        log_path,
        f"{base}/health",
        verify if verify else True,
    )
    try:
        yield LiveServer(base, process, log_path)
    finally:
        stop_server(process)


def port_of(server: LiveServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


def head_request(path: str = REGISTER, *headers: str) -> bytes:
    return "".join([f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n", *(f"{h}\r\n" for h in headers)]).encode()


@dataclass
class Exchange:
    """What a raw client got back: the bytes until the server closed, and when it closed."""

    answer: bytes
    closed_after: float  # seconds from the first byte sent; inf when the server never closed

    @property
    def status(self) -> int | None:
        return int(self.answer.split(b" ", 2)[1]) if self.answer.startswith(b"HTTP/1.1 ") else None


def exchange(port: int, data: bytes, wait: float, drip: bytes = b"", every: float = 0.5) -> Exchange:
    """Send ``data`` (stopping quietly when the server stops reading), then ``drip`` every ``every``
    seconds, and read until the server closes or ``wait`` seconds have passed."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        answer = b""
        try:
            sock.sendall(data)
        except OSError:  # the server refused before taking it all, and said why (read below)
            pass
        sock.settimeout(every if drip else wait)
        while time.monotonic() - started < wait:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if drip:
                    try:
                        sock.sendall(drip)
                    except OSError:
                        pass
                continue
            except ConnectionResetError:
                return Exchange(answer, time.monotonic() - started)
            if not chunk:
                return Exchange(answer, time.monotonic() - started)
            answer += chunk
        return Exchange(answer, float("inf"))


@dataclass
class Call:
    what: str
    ok: bool
    seconds: float
    detail: str


@dataclass
class Bystander:
    """A legitimate consumer calling the whole time on one keep-alive connection opened beforehand."""

    base_url: str
    verify: ssl.SSLContext | bool = True
    pause: float = 0.2
    calls: list[Call] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        prefix = f"bystander-{uuid.uuid4().hex[:8]}"
        with httpx.Client(base_url=self.base_url, timeout=30, verify=self.verify) as client:
            self._call(client, "health", prefix, 0)  # the connection exists before the attack starts
            self._started.set()
            n = 0
            while not self._stop.is_set():
                n += 1
                self._call(client, "health", prefix, n)
                self._call(client, "register", prefix, n)
                self._stop.wait(self.pause)

    def _call(self, client: httpx.Client, what: str, prefix: str, n: int) -> None:
        started = time.monotonic()
        try:
            if what == "health":
                response = client.get("/health")
                ok, detail = response.status_code == 200, str(response.status_code)
            else:
                response = client.post(REGISTER, content=envelope(certificate(f"{prefix}-{n}")), headers=XML)
                code = result(response.content)[0] if response.status_code == 200 else str(response.status_code)
                ok, detail = code == "OK", code
        except httpx.HTTPError as exc:
            ok, detail = False, repr(exc)
        self.calls.append(Call(what, ok, time.monotonic() - started, detail))

    @contextmanager
    def watching(self) -> Iterator[Bystander]:
        self._started = threading.Event()
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        assert self._started.wait(30), "the bystander's first call did not return"
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(60)

    def assert_served(self, within: float) -> None:
        """Both kinds of call were made during the attack, and every one was answered in time."""
        assert {c.what for c in self.calls} == {"health", "register"}, self.calls
        failed = [c for c in self.calls if not c.ok or c.seconds > within]
        assert not failed, f"{len(failed)} of {len(self.calls)} legitimate calls failed or took over {within} s: {failed[:5]}"
