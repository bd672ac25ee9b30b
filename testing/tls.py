"""Serving an ASGI app over real mutual TLS inside a test process.

Interop tests need the real stack (handshake, client certificate, TLS extension), not a test client
that skips the socket. The server runs in a background thread on a loopback socket bound to a free
port before uvicorn starts, so there is no race for the port.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from intygstjanst.tls.identity import peer_hsa_id
from intygstjanst.tls.server import ServerTlsFiles
from intygstjanst.tls.uvicorn_mtls import HttpImplementation, uvicorn_config

_START_TIMEOUT = 10.0


async def echo_tls_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers any request with JSON: the caller's HSA-id and the TLS extension the server provided."""
    tls = dict(scope["extensions"]["tls"])
    tls["client_cert_chain"] = list(tls["client_cert_chain"])
    body = json.dumps({"hsa_id": peer_hsa_id(scope), "tls": tls}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def serving_mtls(
    app: Any,
    tls: ssl.SSLContext | ServerTlsFiles,
    *,
    http: HttpImplementation = "httptools",
    loop: str = "auto",
    host: str = "127.0.0.1",
    **kwargs: Any,
) -> Iterator[int]:
    """Serve ``app`` over mTLS in a background thread; yields the port, stops the server on exit."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    port: int = sock.getsockname()[1]
    kwargs.setdefault("log_config", None)  # leave the test process's logging alone
    kwargs.setdefault("lifespan", "off")
    server = uvicorn.Server(uvicorn_config(app, tls, host=host, port=port, http=http, loop=loop, **kwargs))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"mtls-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"mTLS test server on {host}:{port} did not start")
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(_START_TIMEOUT)
        sock.close()
