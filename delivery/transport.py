"""How this service reaches recipients: the outbound TLS context, timeouts and base URL built from
the settings, and the keep-alive HTTP connections the deliverers post over."""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
import time
import weakref
from dataclasses import dataclass
from urllib.parse import urlsplit

from intygstjanst.settings import Settings, SettingsError
from intygstjanst.tls.client import ClientTls


class DeliveryConfigError(SettingsError):
    """Outbound settings that cannot work (half-configured client certificate)."""


@dataclass(frozen=True)
class OutboundTransport:
    """The outbound settings, checked: built once at start-up, so a bad certificate file stops it
    instead of failing every delivery."""

    context: ssl.SSLContext  # our client certificate and the CAs we trust, when configured
    timeout: float  # seconds for a recipient's answer
    base_url: str  # for recipients without their own url; empty when not set

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundTransport:
        cert, key, ca = settings.outbound_tls_cert, settings.outbound_tls_key, settings.outbound_tls_ca
        if cert is not None and key is not None and ca is not None:
            context = ClientTls(cert, key, ca).ssl_context()
        elif cert is None and key is None and ca is None:
            context = ssl.create_default_context()
        else:
            missing = [name for name, value in (("cert", cert), ("key", key), ("ca", ca)) if value is None]
            raise DeliveryConfigError(
                f"outbound mTLS needs all of outbound_tls_cert/key/ca; missing {', '.join(f'outbound_tls_{m}' for m in missing)}"
            )
        return cls(context, settings.delivery_timeout, settings.delivery_base_url.rstrip("/"))


class KeepAlive:
    """HTTP/1.1 POSTs over persistent connections, one per host and thread.

    The standard library's client, not httpx: on this workload httpx spent about 1.1 ms of CPU per
    call against 0.45 ms here, and a worker on two shared cores is bound by exactly that. Every
    sender thread keeps its own connections, so no pool lock is needed.
    """

    IDLE_SECONDS = 30.0  # a connection unused this long is not trusted to still be open
    MAX_ANSWER = 10 * 1024 * 1024

    def __init__(self, context: ssl.SSLContext, timeout: float) -> None:
        self.context = context
        self.timeout = timeout
        self.connect_timeout = min(5.0, timeout)
        self._local = threading.local()
        # Every open connection, so that close() reaches those of other (sender) threads too.
        self._open: weakref.WeakSet[http.client.HTTPConnection] = weakref.WeakSet()
        self._open_lock = threading.Lock()

    def _pool(self) -> dict[tuple[str, str, int], tuple[http.client.HTTPConnection, float]]:
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        return pool

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise http.client.InvalidURL(f"not an http(s) URL: {url}")
        key = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        pool = self._pool()
        connection = self._reusable(pool.pop(key, None))
        if connection is None:
            connection = self._connect(*key)
        try:
            connection.request("POST", parts.path + (f"?{parts.query}" if parts.query else ""), body, headers)
            response = connection.getresponse()
            answer = response.read(self.MAX_ANSWER)
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            pool[key] = (connection, time.monotonic())
        return response.status, answer

    def _connect(self, scheme: str, host: str, port: int) -> http.client.HTTPConnection:
        if scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=self.connect_timeout, context=self.context)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.connect_timeout)
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(self.timeout)
        with self._open_lock:
            self._open.add(connection)
        return connection

    def _reusable(self, pooled: tuple[http.client.HTTPConnection, float] | None) -> http.client.HTTPConnection | None:
        """The pooled connection, unless it idled too long or the server has closed it meanwhile."""
        if pooled is None:
            return None
        connection, last_used = pooled
        sock = connection.sock
        if sock is None or time.monotonic() - last_used > self.IDLE_SECONDS or _readable(sock):
            connection.close()
            return None
        return connection

    def close(self) -> None:
        """Close every connection, of all threads (call when no thread is sending any more)."""
        with self._open_lock:
            connections = list(self._open)
            self._open.clear()
        for connection in connections:
            connection.close()


def _readable(sock: socket.socket) -> bool:
    """An idle keep-alive socket that is readable has been closed (or written to) by the server.

    poll, not select: select cannot watch descriptors above 1024, which a busy service reaches.
    """
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))
