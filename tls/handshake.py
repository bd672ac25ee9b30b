"""The server's TLS handshakes, with one JSON line for every refused one.

uvicorn hands TLS to the event loop, and both asyncio and uvloop drop a failed server-side handshake
silently (they log it only in debug mode): a client refused for an expired, revoked or foreign
certificate, or for presenting none, left no trace. So the handshake is run here instead, with
``loop.start_tls`` on the accepted connection (:class:`TlsAcceptor`), where a refusal is an exception
beside the peer's address, and the connection is then handed to the HTTP protocol.

Which certificate was refused is not in OpenSSL's error. The context's message callback sees the
client's Certificate message as it arrives, and the connection's ``SSLObject``
(:class:`RememberingSSLObject`) keeps its first certificate and attaches it to the exception that
ends the handshake. The line::

    {"event": "tls_refused", "peer": "10.0.0.7:51234", "reason": "certificate has expired",
     "subject": "CN=SE2321000016-A001,serialNumber=SE2321000016-A001,O=...,C=SE", "hsa_id": "SE2321000016-A001"}

``subject`` and ``hsa_id`` are null when no certificate was presented (or it could not be read).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from cryptography import x509

from intygstjanst.contracts.logs import structured
from intygstjanst.tls.errors import PeerIdentityError
from intygstjanst.tls.identity import hsa_id_from_certificate

if TYPE_CHECKING:
    from intygstjanst.tls.server import ServerTlsFiles

log = logging.getLogger("intygstjanst.tls")

_PRESENTED = "presented_certificate"  # the attribute carrying the client's certificate (DER)


class RememberingSSLObject(ssl.SSLObject):
    """An SSLObject that gives a failed handshake's exception the certificate the client presented."""

    def do_handshake(self) -> None:
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except ssl.SSLError as exc:
            setattr(exc, _PRESENTED, getattr(self, _PRESENTED, None))
            raise


def remember_presented_certificates(context: ssl.SSLContext) -> None:
    """Make ``context``'s connections keep the client's certificate for :func:`log_refusal`."""
    context.sslobject_class = RememberingSSLObject
    # The message callback is CPython's (a debugging hook, private but present since 3.8).
    setattr(context, "_msg_callback", _on_tls_message)


def _on_tls_message(conn: object, direction: str, version: object, content_type: object, msg_type: object, data: bytes) -> None:
    if direction == "read" and msg_type == ssl._TLSMessageType.CERTIFICATE and content_type == ssl._TLSContentType.HANDSHAKE:  # type: ignore[attr-defined]
        setattr(conn, _PRESENTED, first_certificate(data, tls13=version == ssl.TLSVersion.TLSv1_3))


def first_certificate(message: bytes, tls13: bool) -> bytes | None:
    """The first (the client's own) certificate of a TLS Certificate handshake message, DER; None for
    an empty list. TLS 1.3 puts a request context before the list (RFC 8446 4.4.2, RFC 5246 7.4.2)."""
    at = 4  # message type and length
    if tls13:
        at += 1 + message[at] if len(message) > at else 0
    at += 3  # the list's length
    if len(message) < at + 3:
        return None
    length = int.from_bytes(message[at : at + 3], "big")
    der = message[at + 3 : at + 3 + length]
    return der if length and len(der) == length else None


def reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return str(exc.verify_message)
    if isinstance(exc, ssl.SSLError) and exc.reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE":
        return "no client certificate"
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    if isinstance(exc, (TimeoutError, ConnectionAbortedError)):
        return f"handshake not completed within {timeout:g} s"
    return str(exc) or type(exc).__name__


def log_refusal(peer: Any, exc: BaseException, timeout: float) -> None:
    """One JSON line for a refused handshake, from fields only (a subject cannot forge a line)."""
    subject = hsa_id = None
    der = getattr(exc, _PRESENTED, None)
    if der:
        try:
            cert = x509.load_der_x509_certificate(der)
            subject = cert.subject.rfc4514_string()
            hsa_id = hsa_id_from_certificate(cert)
        except (ValueError, PeerIdentityError):
            pass
    address = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)
    log.warning(
        "tls_refused", extra=structured("tls_refused", peer=address, reason=reason(exc, timeout), subject=subject, hsa_id=hsa_id)
    )


class _Waiting(asyncio.Protocol):
    """Holds what arrives between the end of the handshake and the hand-over to the HTTP protocol."""

    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.eof = False
        self.lost: tuple[Exception | None] | None = None

    def data_received(self, data: bytes) -> None:
        self.data.append(data)

    def eof_received(self) -> bool:
        self.eof = True
        return True  # the HTTP protocol decides, once it has the connection

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = (exc,)

    def hand_over(self, transport: asyncio.Transport, protocol: asyncio.Protocol) -> None:
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        for data in self.data:
            protocol.data_received(data)
        if self.eof and not protocol.eof_received():
            transport.close()
        if self.lost is not None:
            protocol.connection_lost(self.lost[0])


class TlsAcceptor(asyncio.Protocol):
    """A plain connection's first protocol: runs the TLS handshake, logs a refusal, and otherwise
    hands the TLS connection to ``protocol`` (which sees only the TLS side)."""

    def __init__(self, protocol: asyncio.Protocol, context: ssl.SSLContext, timeout: float) -> None:
        self.protocol = protocol
        self.context = context
        self.timeout = timeout
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        raw = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        raw.pause_reading()  # nothing is read before start_tls takes over
        self._task = asyncio.get_running_loop().create_task(self._handshake(raw))

    async def _handshake(self, raw: asyncio.Transport) -> None:
        peer = raw.get_extra_info("peername")
        waiting = _Waiting()
        loop = asyncio.get_running_loop()
        try:
            tls = await loop.start_tls(raw, waiting, self.context, server_side=True, ssl_handshake_timeout=self.timeout)
        except (ssl.SSLError, TimeoutError, ConnectionAbortedError) as exc:
            log_refusal(peer, exc, self.timeout)
            raw.close()
            return
        except OSError:  # the client went away before or during the handshake: nothing was refused
            raw.close()
            return
        if tls is None:  # the loop reports a closed connection so
            raw.close()
            return
        waiting.hand_over(tls, self.protocol)


@dataclass(frozen=True)
class AcceptorFactory:
    """uvicorn's ``http`` protocol factory for native TLS: each connection gets
    ``protocol(**uvicorn's arguments)`` behind a :class:`TlsAcceptor`. Picklable for worker
    processes when ``tls`` is a :class:`ServerTlsFiles` (each process then loads its own context)."""

    protocol: Callable[..., asyncio.Protocol]
    tls: ssl.SSLContext | ServerTlsFiles
    timeout: float

    def __call__(self, **kwargs: Any) -> TlsAcceptor:
        return TlsAcceptor(self.protocol(**kwargs), self.context(), self.timeout)

    def context(self) -> ssl.SSLContext:
        if isinstance(self.tls, ssl.SSLContext):
            return self.tls
        context = _contexts.get(self.tls)
        if context is None:
            context = _contexts[self.tls] = self.tls.load()
        return context


_contexts: dict[ServerTlsFiles, ssl.SSLContext] = {}  # per process
