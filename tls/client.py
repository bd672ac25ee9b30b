"""Outbound mutual TLS: our function certificate when we call recipients (and in interop tests)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import requests
import zeep.transports
from cryptography.x509.oid import ExtendedKeyUsageOID
from requests.adapters import HTTPAdapter

from intygstjanst.tls.files import load_cert_and_key, load_trust_anchors, openssl_step, utc_now

# Connect quickly or give up (the outbox retries); allow the recipient time to answer.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30.0)


class SslContextAdapter(HTTPAdapter):
    """A requests adapter that uses one prebuilt SSLContext for every HTTPS connection.

    requests otherwise assembles TLS settings per request from ``verify``/``cert``: ``verify=True``
    loads certifi's public CAs into the context, ``verify=False`` turns verification off. Neither may
    touch a context that already holds our trust anchors and client certificate.
    """

    def __init__(self, context: ssl.SSLContext, **kwargs: Any) -> None:
        self.ssl_context = context
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, _ = super().build_connection_pool_key_attributes(request, verify, cert)
        return host_params, {"ssl_context": self.ssl_context, "cert_reqs": "CERT_REQUIRED"}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Deliberately nothing: the context already carries trust anchors and client certificate."""


@dataclass(frozen=True)
class ClientTls:
    """Our client certificate and key, and the CAs we trust for the servers we call."""

    cert: Path
    key: Path
    ca: Path

    def ssl_context(self) -> ssl.SSLContext:
        """A checked client context: TLS 1.2+, server certificate and host name verified against ``ca``.

        Raises :class:`TlsConfigError` naming the file for the same problems as ``load_server_tls``.
        """
        now = utc_now()
        load_cert_and_key(self.cert, self.key, "client", ExtendedKeyUsageOID.CLIENT_AUTH, now)
        load_trust_anchors(self.ca, "server CA file", now)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname by default
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        openssl_step("client certificate", self.cert, lambda: context.load_cert_chain(str(self.cert), str(self.key)))
        openssl_step("server CA file", self.ca, lambda: context.load_verify_locations(cafile=str(self.ca)))
        return context

    def httpx_client(
        self,
        *,
        base_url: str = "",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        limits: httpx.Limits = DEFAULT_LIMITS,
        **kwargs: Any,
    ) -> httpx.Client:
        """A pooled httpx client presenting our certificate. Close it (or use ``with``) when done."""
        return httpx.Client(
            verify=self.ssl_context(), base_url=base_url, timeout=timeout, limits=limits, **kwargs
        )

    def requests_session(self, *, pool_maxsize: int = 10) -> requests.Session:
        """A pooled requests session presenting our certificate on every https:// URL."""
        session = requests.Session()
        session.mount("https://", SslContextAdapter(self.ssl_context(), pool_maxsize=pool_maxsize))
        return session

    def zeep_transport(self, *, timeout: float = 30, operation_timeout: float = 30) -> zeep.transports.Transport:
        """A zeep transport over :meth:`requests_session`.

        ``timeout`` applies to loading WSDL/XSD, ``operation_timeout`` to calls. zeep does not close a
        session it was given: call ``transport.session.close()`` when done.
        """
        return zeep.transports.Transport(
            session=self.requests_session(), timeout=timeout, operation_timeout=operation_timeout
        )
