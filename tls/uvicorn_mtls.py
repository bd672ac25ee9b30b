"""Native mutual TLS with uvicorn: the client certificate reaches the app through the ASGI TLS extension.

Released uvicorn versions terminate TLS but do not tell the app which client certificate was
presented. The protocol classes here wrap uvicorn's own HTTP/1.1 implementations (httptools and h11)
and add ``scope["extensions"]["tls"]`` (https://asgi.readthedocs.io/en/latest/specs/tls.html) to every
request of a TLS connection. The TLS information is read once per connection: the protocol's
``connection_made`` comes after the handshake (run by ``tls/handshake.py``), and renegotiation is disabled by ``load_server_tls``, so
the peer certificate cannot change afterwards.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

import uvicorn
from cryptography import x509
from uvicorn.protocols.http.h11_impl import H11Protocol

from intygstjanst.tls.handshake import AcceptorFactory
from intygstjanst.tls.http_limits import HttpLimits, LimitedHttpToolsProtocol, http_protocol
from intygstjanst.tls.runtime import run
from intygstjanst.tls.server import ServerTlsFiles

if TYPE_CHECKING:  # uvicorn's ASGI type names live in a private module: typing only
    from uvicorn._types import (
        ASGI3Application,
        ASGIReceiveCallable,
        ASGISendCallable,
        Scope,
    )

HttpImplementation = Literal["httptools", "h11"]

# Wire values of the protocol versions, as the extension reports them.
_TLS_VERSIONS = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}

# Python only exposes the negotiated suite's OpenSSL name; the context's cipher list maps names to
# OpenSSL ids, whose low 16 bits are the IANA suite number the extension wants.
_cipher_ids: weakref.WeakKeyDictionary[ssl.SSLContext, dict[str, int]] = weakref.WeakKeyDictionary()


def _cipher_suite(ssl_object: ssl.SSLObject) -> int | None:
    negotiated = ssl_object.cipher()
    if negotiated is None:
        return None
    context = ssl_object.context
    ids = _cipher_ids.get(context)
    if ids is None:
        ids = {cipher["name"]: cipher["id"] & 0xFFFF for cipher in context.get_ciphers()}
        _cipher_ids[context] = ids
    return ids.get(negotiated[0])


def tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The ASGI TLS extension for a connection, or None when it is not a TLS connection."""
    ssl_object: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    version = ssl_object.version()
    return {
        # The spec allows None when the server does not know it; Python does not expose our own cert.
        "server_cert": None,
        # Only the leaf: the verified chain is not available from Python's ssl before 3.13.
        "client_cert_chain": (ssl.DER_cert_to_PEM_cert(der),) if der else (),
        "client_cert_name": x509.load_der_x509_certificate(der).subject.rfc4514_string() if der else None,
        # A certificate that fails verification aborts the handshake (the context requires a valid
        # one), so a certificate that got this far has no error.
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(version) if version else None,
        "cipher_suite": _cipher_suite(ssl_object),
    }


def _with_tls_extension(app: ASGI3Application, tls: Mapping[str, Any]) -> ASGI3Application:
    async def app_with_tls(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        # A copy per request, so an app that edits its scope cannot affect the next request.
        extensions = cast("dict[str, Any]", scope).setdefault("extensions", {})
        extensions["tls"] = dict(tls)
        await app(scope, receive, send)

    return app_with_tls


class _TlsExtensionProtocol(asyncio.Protocol):
    """Mixin: wraps the connection's app so each request scope carries the TLS extension."""

    app: ASGI3Application

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        tls = tls_extension(transport)
        if tls is not None:
            self.app = _with_tls_extension(self.app, tls)


class MtlsHttpToolsProtocol(_TlsExtensionProtocol, LimitedHttpToolsProtocol):
    """uvicorn's httptools HTTP/1.1 protocol with the ASGI TLS extension (and the HTTP limits)."""


class MtlsH11Protocol(_TlsExtensionProtocol, H11Protocol):
    """uvicorn's h11 HTTP/1.1 protocol with the ASGI TLS extension."""


PROTOCOLS: dict[HttpImplementation, type[asyncio.Protocol]] = {
    "httptools": MtlsHttpToolsProtocol,
    "h11": MtlsH11Protocol,
}


def uvicorn_config(
    app: Any,
    tls: ssl.SSLContext | ServerTlsFiles,
    *,
    host: str = "127.0.0.1",
    port: int = 8443,
    http: HttpImplementation = "httptools",
    limits: HttpLimits | None = None,
    **kwargs: Any,
) -> uvicorn.Config:
    """A uvicorn Config serving ``app`` over mutual TLS.

    ``tls`` is a context from :func:`load_server_tls`, or the files as :class:`ServerTlsFiles`, which
    several worker processes need (``workers=N``, with ``app`` as an import string). The files are
    checked here either way, so configuration errors surface before anything listens. A context must
    require client certificates: the app treats a certificate in the TLS extension as verified.
    ``limits`` (default: those of the default settings) apply to the httptools protocol, the one ``serve`` uses.
    Other keyword arguments go to ``uvicorn.Config``. WebSockets are off by default because uvicorn's
    WebSocket protocols would not carry the TLS extension.
    """
    if isinstance(tls, ServerTlsFiles):
        tls.load()
    else:
        if tls.verify_mode != ssl.CERT_REQUIRED:
            raise ValueError("native mTLS needs an SSL context with verify_mode CERT_REQUIRED (see load_server_tls)")
        if kwargs.get("workers", 1) > 1:
            raise ValueError("several workers need ServerTlsFiles: an SSLContext cannot be sent to worker processes")
    kwargs.setdefault("ws", "none")
    # The handshake runs in TlsAcceptor through loop.start_tls; uvloop delivers a connection's first
    # bytes (the ClientHello) to the protocol even after it paused reading in connection_made, so
    # they would be lost to the handshake. asyncio's loop does not.
    if kwargs.setdefault("loop", "asyncio") not in ("auto", "asyncio"):
        raise ValueError(f"native mTLS runs on the asyncio event loop, not {kwargs['loop']!r} (see tls/handshake.py)")
    kwargs["loop"] = "asyncio"
    limits = limits or HttpLimits.from_settings()
    protocol: Callable[..., asyncio.Protocol] = PROTOCOLS[http]
    if http == "httptools":
        protocol = http_protocol(limits, MtlsHttpToolsProtocol)
        kwargs = {**limits.uvicorn_options(), **kwargs}
    # The handshake is ours, not the event loop's (tls/handshake.py): uvicorn itself sees plain TCP.
    acceptor = AcceptorFactory(protocol, tls, limits.header_timeout)
    return uvicorn.Config(app, host=host, port=port, http=cast(Any, acceptor), **kwargs)


def serve(app: Any, tls: ssl.SSLContext | ServerTlsFiles, **options: Any) -> None:
    """Run uvicorn in the foreground until SIGINT/SIGTERM (``options`` as for :func:`uvicorn_config`)."""
    run(uvicorn_config(app, tls, **options))
