"""Talking to the producer: SOAP 1.1 envelopes over HTTP(S), optionally with a client certificate.

Every request and answer is kept as an :class:`Exchange`, so that a failed case can be saved with
exactly what was sent and received.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import requests
import zeep.transports
from lxml import etree

from intygstjanst.contracts.xml import REGISTRY, SOAP11, WSA
from intygstjanst.tls.client import ClientTls, SslContextAdapter
from intygstjanst.contracts.registry import ContractSpec

ORIGINAL_CONSUMER_HEADER = "x-rivta-original-serviceconsumer-hsaid"


@dataclass
class Exchange:
    """One HTTP round trip: what was sent, what came back (or why nothing did)."""

    label: str
    method: str
    url: str
    request: bytes = b""
    request_headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    response: bytes = b""
    response_headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # transport failure: refused, timeout, TLS
    seconds: float = 0.0


@dataclass(frozen=True)
class TlsFiles:
    """``--cert/--key/--ca``: a client certificate (mutual TLS) and the CA that signed the server's."""

    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None

    def ssl_context(self) -> ssl.SSLContext | bool:
        if self.cert or self.key:
            if not (self.cert and self.key and self.ca):
                raise ValueError("a client certificate needs --cert, --key and --ca together")
            return ClientTls(self.cert, self.key, self.ca).ssl_context()
        if self.ca:
            return ssl.create_default_context(cafile=str(self.ca))
        return True  # https with the system's trust store; plain http ignores it


def envelope(payload: etree._Element, spec: ContractSpec, address: str | None) -> bytes:
    """A SOAP 1.1 envelope addressed the way the contract's RIV-TA profile says (or not at all)."""
    root = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soapenv": SOAP11})
    header = etree.SubElement(root, f"{{{SOAP11}}}Header")
    if address is not None:
        tag = f"{{{WSA}}}To" if spec.uses_wsa_to else f"{{{REGISTRY}}}LogicalAddress"
        etree.SubElement(header, tag).text = address
    etree.SubElement(root, f"{{{SOAP11}}}Body").append(payload)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


class Transport:
    """One HTTP client for the whole run (connections are reused), plus zeep transports on demand."""

    def __init__(self, tls: TlsFiles, timeout: float = 30.0, original_consumer: str = "") -> None:
        self._verify = tls.ssl_context()
        self.client_certificate = tls.cert is not None
        self._timeout = timeout
        self._headers = {ORIGINAL_CONSUMER_HEADER: original_consumer} if original_consumer else {}
        self._client = httpx.Client(verify=self._verify, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def post_soap(self, label: str, url: str, body: bytes, soap_action: str) -> Exchange:
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{soap_action}"', **self._headers}
        return self._send(Exchange(label, "POST", url, body, headers))

    def get(self, label: str, url: str) -> Exchange:
        return self._send(Exchange(label, "GET", url, request_headers=dict(self._headers)))

    def _send(self, exchange: Exchange) -> Exchange:
        started = time.perf_counter()
        try:
            response = self._client.request(
                exchange.method, exchange.url, content=exchange.request or None, headers=exchange.request_headers
            )
        except httpx.HTTPError as exc:
            exchange.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            exchange.status = response.status_code
            exchange.response = response.content
            exchange.response_headers = dict(response.headers)
        exchange.seconds = time.perf_counter() - started
        return exchange

    def zeep_transport(self) -> zeep.transports.Transport:
        """A zeep transport with the same TLS settings, for loading WSDLs as a zeep client would."""
        session = requests.Session()
        session.headers.update(self._headers)
        if isinstance(self._verify, ssl.SSLContext):
            session.mount("https://", SslContextAdapter(self._verify))
        return zeep.transports.Transport(session=session, timeout=self._timeout)
