"""Sending one message to a recipient: a SOAP 1.1 call over (m)TLS, and what its answer means.

Every answer is classified with one of three verdicts:

* ``delivered``: the recipient answered OK or INFO;
* ``retry``: nothing says the message was refused for good: TECHNICAL_ERROR, a Server Fault, a
  timeout, a broken connection, or an HTTP 5xx / 408 / 429 without a logical answer;
* ``permanent``: sending the same bytes again will fail again: VALIDATION_ERROR, APPLICATION_ERROR
  (any ERROR other than TECHNICAL_ERROR), a Client Fault, or another HTTP status without a logical
  answer (a wrong URL, a refused certificate, a 200 without a ResultType). The outbox dead-letters
  these with the reason; an operator fixes the cause and revives them.

Each call carries a delivery id, as the HTTP header ``x-intyg-delivery-id`` and as a WS-Addressing
``MessageID`` header (``urn:uuid:<id>``), so that a recipient can recognise a message it already
processed when a worker repeats it after a crash (see the README section on delivery).
"""

from __future__ import annotations

import http.client
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol
from xml.sax.saxutils import escape

from lxml import etree

from intygstjanst.contracts.registry import ContractSpec, contract_specs
from intygstjanst.contracts.xml import REGISTRY, SOAP11, WSA
from intygstjanst.delivery.transport import KeepAlive, OutboundTransport

if TYPE_CHECKING:
    from intygstjanst.registers.recipients import Recipient, Recipients

log = logging.getLogger("intygstjanst.delivery")

DELIVERY_ID_HEADER = "x-intyg-delivery-id"



# The contracts this service calls at recipients (``called`` in contracts.toml), by ``Name:major``.
# The keys of certificate formats equal transform.formats.Format values, so a recipient's format is
# also the contract to call.
CONTRACTS: dict[str, ContractSpec] = {key: spec for key, spec in contract_specs().items() if spec.called}
CONTRACTS_BY_TAG: dict[str, ContractSpec] = {c.request_tag: c for c in CONTRACTS.values()}

# What a delivery attempt means for the message (see the module notes).
Verdict = Literal["delivered", "retry", "permanent"]


@dataclass(frozen=True)
class DeliveryResult:
    verdict: Verdict
    detail: str  # what happened, for logs, dead letters and the caller's resultText
    result_code: str | None = None  # OK / INFO / ERROR when the recipient answered with a ResultType
    error_id: str | None = None
    http_status: int | None = None

    @property
    def delivered(self) -> bool:
        return self.verdict == "delivered"


class Sender(Protocol):
    """What sends one message to a recipient now (a :class:`Deliverer`, or a test's stand-in)."""

    def send(
        self,
        recipient: Recipient,
        contract: str,
        payload: bytes,
        logical_address: str | None = None,
        delivery_id: str | None = None,
    ) -> DeliveryResult: ...


def warn_about_unreachable(recipients: Recipients, base_url: str) -> None:
    """Sending fails until recipients can be reached; say so at start, not at the first send."""
    missing = recipients.without_endpoint(base_url)
    if missing:
        log.warning(
            "no endpoint for the recipients %s: sending a certificate to them is answered "
            "ERROR/TECHNICAL_ERROR, and messages wait in the outbox, until delivery_base_url "
            "(--delivery-base-url) or their url in recipients_file is set; 'intygstjanst dev' runs "
            "a stub recipient that takes everything",
            ", ".join(r.id for r in missing),
        )


class Deliverer:
    """Sends messages to recipients over keep-alive connections (thread-safe: one set per thread)."""

    def __init__(self, transport: OutboundTransport) -> None:
        self.base_url = transport.base_url
        self._connections = KeepAlive(transport.context, transport.timeout)

    def endpoint(self, recipient: Recipient, contract: ContractSpec) -> str | None:
        base = recipient.url or self.base_url
        return f"{base}{contract.path}" if base else None

    def send(
        self,
        recipient: Recipient,
        contract: str,
        payload: bytes,
        logical_address: str | None = None,
        delivery_id: str | None = None,
    ) -> DeliveryResult:
        """Call ``contract`` (e.g. ``"RevokeCertificate:2"``) at ``recipient`` with ``payload``.

        ``logical_address`` defaults to the recipient's; ``delivery_id`` to a new UUID (pass the
        same one on every attempt of the same message). Never raises for network or answer
        problems: they are classified in the result.
        """
        spec = CONTRACTS.get(contract)
        if spec is None:
            return DeliveryResult("permanent", f"unknown outbound contract {contract!r}; known: {', '.join(sorted(CONTRACTS))}")
        url = self.endpoint(recipient, spec)
        if url is None:
            return DeliveryResult(
                "retry",
                f"no endpoint for {recipient.id}: the recipient has no url and delivery_base_url is not set "
                "(set --delivery-base-url or the recipient's url in recipients_file; 'intygstjanst dev' runs a stub recipient)",
            )
        delivery_id = delivery_id or str(uuid.uuid4())
        body = envelope(spec, logical_address or recipient.logical_address, payload, delivery_id)
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{spec.soap_action}"',
            DELIVERY_ID_HEADER: delivery_id,
        }
        what = f"{recipient.id} {spec.key}"
        try:
            status, answer = self._connections.post(url, body, headers)
        except TimeoutError:
            return DeliveryResult("retry", f"{what}: timed out at {url}")
        except (OSError, http.client.HTTPException) as exc:
            return DeliveryResult("retry", f"{what}: connection failed at {url}: {type(exc).__name__}: {exc}")
        return classify(status, answer, what)

    def close(self) -> None:
        self._connections.close()


_XML_DECLARATION_END = b"?>"


def envelope(contract: ContractSpec, logical_address: str, payload: bytes, delivery_id: str) -> bytes:
    """The SOAP 1.1 request: routing header of the contract's profile, the payload as given."""
    payload = payload.lstrip(b"\xef\xbb\xbf \t\r\n")
    if payload.startswith(b"<?xml"):
        payload = payload[payload.index(_XML_DECLARATION_END) + 2 :].lstrip()
    address = escape(logical_address)
    if contract.profile == "rivtabp20":
        routing = f'<wsa:To xmlns:wsa="{WSA}">{address}</wsa:To>'
    else:
        routing = f'<LogicalAddress xmlns="{REGISTRY}">{address}</LogicalAddress>'
    message_id = f'<wsa:MessageID xmlns:wsa="{WSA}">urn:uuid:{escape(delivery_id)}</wsa:MessageID>'
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<soap:Envelope xmlns:soap="{SOAP11}">'
        f"<soap:Header>{routing}{message_id}</soap:Header><soap:Body>"
    ).encode()
    return head + payload + b"</soap:Body></soap:Envelope>"


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_RETRY_STATUSES = {408, 425, 429}


def classify(status: int, body: bytes, what: str) -> DeliveryResult:
    """The verdict on an HTTP answer ``status`` / ``body``; ``what`` prefixes the detail text."""
    answer = _logical_answer(body)
    if isinstance(answer, _Fault):
        code = answer.code.rpartition(":")[2]
        text = f"{what}: SOAP Fault {answer.code}: {answer.text}"
        # Server faults are the recipient's own trouble; Client, VersionMismatch and MustUnderstand
        # faults say that this message is wrong.
        return DeliveryResult("retry" if code.startswith("Server") else "permanent", text, http_status=status)
    if isinstance(answer, _Result):
        described = f"{what}: {answer.code}" + (f" {answer.error_id}" if answer.error_id else "") + (f": {answer.text}" if answer.text else "")
        if answer.code in ("OK", "INFO"):
            verdict: Verdict = "delivered"
        elif answer.error_id == "TECHNICAL_ERROR":
            verdict = "retry"
        else:
            verdict = "permanent"
        return DeliveryResult(verdict, described, answer.code, answer.error_id, status)
    reason = f"{what}: HTTP {status} without a SOAP answer ({answer})"
    return DeliveryResult("retry" if status >= 500 or status in _RETRY_STATUSES else "permanent", reason, http_status=status)


@dataclass(frozen=True)
class _Fault:
    code: str
    text: str


@dataclass(frozen=True)
class _Result:
    code: str
    error_id: str | None
    text: str | None


def _logical_answer(body: bytes) -> _Fault | _Result | str:
    """The Fault or ResultType in a SOAP answer, or why there is none."""
    if not body.strip():
        return "empty body"
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        return f"not XML: {exc}"
    if root.tag != f"{{{SOAP11}}}Envelope":
        return f"root element is {root.tag}, not a SOAP 1.1 Envelope"
    soap_body = root.find(f"{{{SOAP11}}}Body")
    payload = next((child for child in soap_body if isinstance(child.tag, str)), None) if soap_body is not None else None
    if payload is None:
        return "no element in the SOAP Body"
    if payload.tag == f"{{{SOAP11}}}Fault":
        return _Fault((payload.findtext("faultcode") or "").strip(), (payload.findtext("faultstring") or "").strip())
    # ResultType elements are named alike in every family (core certificate:3, healthreporting:2,
    # Transportstyrelsen's services:1); only their namespace and the text element differ.
    code = _local(payload, "resultCode")
    if code is None:
        return f"{payload.tag} holds no resultCode"
    text = _local(payload, "resultText") or _local(payload, "errorText") or _local(payload, "infoText")
    return _Result(code, _local(payload, "errorId"), text)


def _local(element: etree._Element, name: str) -> str | None:
    for found in element.iter(f"{{*}}{name}"):
        return (found.text or "").strip()
    return None
