"""Who is calling: the consumer's HSA-id as the transport establishes it, and the original consumer
that a platform may pass on.

The transport is the ``tls_mode`` setting:

- ``native``: we terminate mutual TLS; the HSA-id comes from the verified client certificate.
- ``proxy``: a proxy terminated mutual TLS and forwards the verified certificate in a header. The
  header is believed only when the TCP peer is a configured proxy address; every other peer is
  refused, since anyone who can reach the port could write the header.
- ``off``: plain HTTP without identity, for development and tests.

A header claiming an identity that the transport cannot vouch for is refused, never ignored: a
forwarded certificate in ``native`` or ``off`` mode, or from a peer that is not a trusted proxy, and an
original-consumer header from a caller that is not a configured platform. Ignoring them would let a
misconfigured deployment run with an identity other than the one its operators believe, and would
hide forgery attempts from the log.

Refusals are returned as ``Caller.refusal`` rather than raised, so the call is answered with a Fault
once its contract and logical address are known and is audited like every other call.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from starlette.requests import Request

from intygstjanst.contracts.dispatch import Caller
from intygstjanst.tls.errors import PeerIdentityError
from intygstjanst.tls.identity import HSA_ID, HSA_ID_RULE, hsa_id_from_forwarded_cert, peer_hsa_id

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

ORIGINAL_CONSUMER_HEADER = "x-rivta-original-serviceconsumer-hsaid"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TlsMode(StrEnum):
    OFF = "off"
    NATIVE = "native"
    PROXY = "proxy"


class _Refused(Exception):
    pass


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Proxy addresses as networks (a single address is a /32 or /128); ValueError names the bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"trusted proxy {value!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)") from None
    return tuple(networks)


def _peer_address(scope: Scope) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The TCP peer: uvicorn runs with proxy_headers off, so X-Forwarded-For cannot change it."""
    client = scope.get("client")
    host = client[0] if client else None
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # e.g. a Unix socket: not an address a proxy can be configured by
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, proxies: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in proxies)


def _single(request: Request, header: str) -> str | None:
    """The header's one value; several copies are refused since each hop might read a different one."""
    values = request.headers.getlist(header)
    if len(values) > 1:
        raise _Refused(f"the request carries {len(values)} {header} headers; at most one is allowed")
    return values[0] if values else None


@dataclass(frozen=True)
class CallerResolver:
    """Turns a request into a :class:`Caller` for the dispatcher (``create_app(caller_resolver=...)``)."""

    mode: TlsMode
    platforms: frozenset[str] = frozenset()
    proxies: tuple[Network, ...] = ()
    cert_header: str = "x-ssl-client-cert"

    def __call__(self, request: Request) -> Caller:
        consumer: str | None = None
        try:
            consumer = self._consumer(request)
            original = self._original_consumer(consumer, request)
        except _Refused as refused:
            return Caller(consumer, refusal=str(refused))
        return Caller(consumer, original)

    def _consumer(self, request: Request) -> str | None:
        forwarded = _single(request, self.cert_header)
        if self.mode is TlsMode.PROXY:
            return self._proxied_consumer(request, forwarded)
        if forwarded is not None:
            raise _Refused(
                f"a forwarded client certificate ({self.cert_header}) is only accepted from a trusted proxy in proxy "
                f"mode; this server runs in {self.mode} mode"
            )
        if self.mode is TlsMode.OFF:
            return None
        try:
            consumer = peer_hsa_id(request.scope)
        except PeerIdentityError as exc:
            raise _Refused(str(exc)) from None
        if consumer is None:
            raise _Refused("the connection carries no verified client certificate")
        return consumer

    def _proxied_consumer(self, request: Request, forwarded: str | None) -> str:
        peer = _peer_address(request.scope)
        if not _is_trusted(peer, self.proxies):
            if forwarded is not None:
                raise _Refused(f"a forwarded client certificate ({self.cert_header}) came from {peer}, which is not a trusted proxy")
            raise _Refused(f"calls must come through a trusted proxy that verified the client certificate; {peer} is not one")
        if not forwarded:
            raise _Refused(
                f"the proxy {peer} forwarded no client certificate in {self.cert_header}; "
                "it must require and verify client certificates (nginx: ssl_verify_client on)"
            )
        try:
            return hsa_id_from_forwarded_cert(forwarded)
        except PeerIdentityError as exc:
            raise _Refused(str(exc)) from None

    def _original_consumer(self, consumer: str | None, request: Request) -> str | None:
        claimed = _single(request, ORIGINAL_CONSUMER_HEADER)
        if claimed is None:
            return None
        if consumer not in self.platforms:
            who = f"consumer {consumer}" if consumer else "an unauthenticated caller"
            raise _Refused(f"{ORIGINAL_CONSUMER_HEADER} is only accepted from platform consumers; {who} is not one")
        original = claimed.strip()
        if not HSA_ID.fullmatch(original):
            raise _Refused(f"{ORIGINAL_CONSUMER_HEADER} {claimed!r} from platform {consumer} is not an HSA-id ({HSA_ID_RULE})")
        return original


class TrustedProxyScheme:
    """ASGI middleware: requests relayed by a trusted proxy were made over https.

    The proxy terminated (mutual) TLS, so URLs the service builds for the caller, such as the endpoint
    address in a served WSDL, must say https. The proxy's ``Host`` header supplies the public host and
    port. X-Forwarded-* headers are deliberately not used: uvicorn's handling of them would also replace
    the TCP peer address that the trusted-proxy check depends on.
    """

    def __init__(self, app: ASGIApp, proxies: tuple[Network, ...]) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _is_trusted(_peer_address(scope), self.proxies):
            scope = dict(scope, scheme="https")
        await self.app(scope, receive, send)
