"""HTTP/1.1 limits that uvicorn's httptools protocol does not have: nothing a client sends, or fails
to send, holds memory or a connection beyond a set bound.

- **Header size and count.** httptools buffers a header until it ends, so an 8 MB header is 8 MB in
  memory before any callback sees it. The bytes of the request line and headers are counted as they
  arrive and the parser is fed no more than the limit allows: beyond ``max_header_bytes``, or
  ``max_header_count`` headers, the answer is ``431 Request Header Fields Too Large`` and the
  connection is closed.
- **Header read timeout.** A request's line and headers must arrive within ``header_timeout`` seconds
  of its first byte, or of the connection's start (a connection that never sends anything is also
  closed then). Slowloris connections are dropped instead of held.
- **Body read timeout.** The body must arrive within ``body_timeout`` seconds of the end of the
  headers: a Content-Length larger than what is sent, or a chunked body that never ends, gets
  ``408 Request Timeout`` (unless the answer has begun) and the connection is closed.
- **Keep-alive timeout.** uvicorn's own ``timeout_keep_alive``, from ``keep_alive_timeout``.
- **Connection cap.** A worker process holding ``max_connections`` connections answers a new one
  with ``503 Service Unavailable`` at once and closes it; established connections carry on. (uvicorn's
  ``limit_concurrency`` would instead answer 503 to requests on established connections too.)

The limits reach uvicorn's worker processes inside the (picklable) protocol factory, see
:func:`http_protocol`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from asyncio import TimerHandle
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from intygstjanst.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger("intygstjanst.http")


@dataclass(frozen=True)
class HttpLimits:
    """The limits, as the settings of the same names give them (the defaults are there)."""

    max_header_bytes: int
    max_header_count: int
    header_timeout: float
    body_timeout: float
    keep_alive_timeout: float
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> HttpLimits:
        settings = settings or Settings()
        return cls(
            settings.max_header_bytes,
            settings.max_header_count,
            settings.header_timeout,
            settings.body_timeout,
            settings.keep_alive_timeout,
            settings.max_connections,
        )

    def uvicorn_options(self) -> dict[str, Any]:
        """What uvicorn's Config takes for these limits, besides the protocol."""
        return {"timeout_keep_alive": self.keep_alive_timeout}


@functools.cache
def _default_limits() -> HttpLimits:
    return HttpLimits.from_settings()


class _HeaderLimitReached(Exception):
    """Raised from a parser callback; httptools turns it into an HttpParserError."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools HTTP/1.1 protocol with :class:`HttpLimits`."""

    def __init__(self, *args: Any, limits: HttpLimits | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Without limits (a subclass given to uvicorn directly, as the stub recipient's): the defaults.
        self.limits = limits or _default_limits()
        self._reading_headers = True  # between the end of one request (or the start) and the next one's headers
        self._header_bytes = 0
        self._header_count = 0
        self._too_large = False
        self._deadline: TimerHandle | None = None

    # Connection cap and the first header timeout.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            log.warning("connection from %s refused: %d connections open (max_connections)", _peer(self.client), len(self.connections) - 1)
            self._refuse(503, b"too many connections, try again later")
            return
        self._arm(self.limits.header_timeout, self._header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # Header size: the parser is never fed more header bytes than the limit allows.
    def data_received(self, data: bytes) -> None:
        while data and not self.transport.is_closing():
            if not self._reading_headers:
                super().data_received(data)
                return
            if self._deadline is None:  # the first byte of a request after an idle keep-alive
                self._arm(self.limits.header_timeout, self._header_timeout)
            room = self.limits.max_header_bytes - self._header_bytes
            if room <= 0:
                self._refuse_headers(f"more than {self.limits.max_header_bytes} bytes of request line and headers")
                return
            chunk, data = data[:room], data[room:]
            self._header_bytes += len(chunk)
            super().data_received(chunk)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_header_count:
            self._too_large = True
            raise _HeaderLimitReached
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._refuse_headers(f"more than {self.limits.max_header_count} headers")
        else:
            super().send_400_response(msg)

    # Body timeout: from the end of the headers to the end of the body.
    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._header_bytes = 0
        self._disarm()
        super().on_headers_complete()
        if not self.transport.is_closing():
            self._arm(self.limits.body_timeout, self._body_timeout)

    def on_message_complete(self) -> None:
        self._disarm()
        self._reading_headers = True
        super().on_message_complete()

    def _header_timeout(self) -> None:
        self._deadline = None
        if self._header_bytes == 0:  # nothing of a request arrived: just an idle connection
            self.transport.close()
            return
        log.warning("request from %s: headers not received within %s s (header_timeout)", _peer(self.client), self.limits.header_timeout)
        self._refuse(408, b"request headers not received in time")

    def _body_timeout(self) -> None:
        self._deadline = None
        log.warning("request from %s: body not received within %s s (body_timeout)", _peer(self.client), self.limits.body_timeout)
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()
        else:
            self._refuse(408, b"request body not received in time")

    def _refuse_headers(self, what: str) -> None:
        log.warning("request from %s refused: %s", _peer(self.client), what)
        self._refuse(431, f"request header fields too large: {what}".encode())

    def _refuse(self, status: int, text: bytes) -> None:
        """Answer ``status`` and close, whatever state the request is in."""
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the app's answer, if it still comes, is dropped
        self.transport.write(
            STATUS_LINE[status]
            + b"content-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(text)
            + text
        )
        self.transport.close()

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "unknown peer"


def http_protocol(limits: HttpLimits, protocol: type[LimitedHttpToolsProtocol] = LimitedHttpToolsProtocol) -> Any:
    """The protocol factory for uvicorn's ``http`` option: picklable for worker processes."""
    return functools.partial(protocol, limits=limits)

