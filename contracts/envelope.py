"""The SOAP 1.1 envelope: reading a request's routing header and payload, wrapping a response."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from intygstjanst.contracts.faults import SoapFault
from intygstjanst.contracts.xml import REGISTRY, SOAP11, SOAP12, WSA, HardenedParser, StopReading, is_element

_ENVELOPE = f"{{{SOAP11}}}Envelope"
_HEADER = f"{{{SOAP11}}}Header"
_BODY = f"{{{SOAP11}}}Body"
_LOGICAL_ADDRESS = f"{{{REGISTRY}}}LogicalAddress"
_WSA_TO = f"{{{WSA}}}To"
_MUST_UNDERSTAND = f"{{{SOAP11}}}mustUnderstand"
_ACTOR = f"{{{SOAP11}}}actor"
_NEXT = "http://schemas.xmlsoap.org/soap/actor/next"


@dataclass(frozen=True)
class RequestEnvelope:
    payload: etree._Element
    logical_address: str | None  # rivtabp21 LogicalAddress header
    wsa_to: str | None  # rivtabp20 wsa:To header

    @property
    def qname(self) -> str:
        return self.payload.tag


def read_envelope(root: etree._Element) -> RequestEnvelope:
    tag = etree.QName(root)
    if tag.localname == "Envelope" and tag.namespace == SOAP12:
        raise SoapFault(
            "SOAP 1.2 envelopes are not supported; RIV-TA services use SOAP 1.1 "
            f"(envelope namespace {SOAP11})",
            code="VersionMismatch",
        )
    if tag.localname != "Envelope" or tag.namespace != SOAP11:
        raise SoapFault(f"expected a SOAP 1.1 Envelope ({{{SOAP11}}}Envelope) as the document root, got {root.tag}")
    header = body = None
    for child in root:
        if not is_element(child):
            continue  # comments and processing instructions
        if child.tag == _HEADER and header is None and body is None:
            header = child
        elif child.tag == _BODY and body is None:
            body = child
        else:
            raise SoapFault(f"unexpected element {child.tag} in the SOAP Envelope")
    if body is None:
        raise SoapFault("the SOAP Envelope has no Body")
    payloads = [child for child in body if isinstance(child.tag, str)]
    if not payloads:
        raise SoapFault("the SOAP Body is empty")
    if len(payloads) > 1:
        raise SoapFault(f"the SOAP Body must hold exactly one element, found {len(payloads)}")
    logical_address = wsa_to = None
    if header is not None:
        for entry in header:
            if not is_element(entry):
                continue
            _understood(entry)
            if entry.tag == _LOGICAL_ADDRESS:
                logical_address = (entry.text or "").strip()
            elif entry.tag == _WSA_TO:
                wsa_to = (entry.text or "").strip()
    return RequestEnvelope(payloads[0], logical_address, wsa_to)


def _understood(entry: etree._Element) -> None:
    """SOAP 1.1 section 4.2.3: a header entry meant for us with ``mustUnderstand="1"`` that we do not
    process is answered with a MustUnderstand Fault, and the call is not processed. We understand the
    routing headers: LogicalAddress and the WS-Addressing headers."""
    if entry.get(_MUST_UNDERSTAND, "0").strip() not in ("1", "true"):
        return
    if entry.get(_ACTOR, _NEXT) != _NEXT:
        return  # meant for another node on the path
    if entry.tag == _LOGICAL_ADDRESS or etree.QName(entry).namespace == WSA:
        return
    raise SoapFault(
        f'the SOAP header {entry.tag} has mustUnderstand="1" but this service does not understand it',
        code="MustUnderstand",
    )


@dataclass(frozen=True)
class RoutingHeader:
    logical_address: str | None
    wsa_to: str | None


class _NotAnEnvelope(Exception):
    """The document is not one whose header can be read ahead (read_envelope says why)."""


class _HeaderReader:
    """A parser target reading the routing headers of a SOAP 1.1 Envelope; it stops at the Body."""

    def __init__(self) -> None:
        self.depth = 0
        self.values: dict[str, str] = {}
        self.reading: str | None = None  # the routing header whose text is being read
        self.in_header = False

    def doctype(self, *_args: object) -> None:
        raise _NotAnEnvelope()

    def start(self, tag: str, _attrib: object) -> None:
        self.depth += 1
        self.reading = None  # an entry's own text ends at its first child, as in read_envelope
        if self.depth == 1 and tag != _ENVELOPE:
            raise _NotAnEnvelope()
        if self.depth == 2:
            if tag == _BODY:
                raise StopReading()
            self.in_header = tag == _HEADER
        elif self.depth == 3 and self.in_header and tag in (_LOGICAL_ADDRESS, _WSA_TO):
            self.reading = tag
            self.values[tag] = ""  # the last one counts, as in read_envelope

    def data(self, text: str) -> None:
        if self.reading is not None:
            self.values[self.reading] += text

    def end(self, _tag: str) -> None:
        self.depth -= 1
        self.reading = None

    def close(self) -> None:
        return None


def read_routing_header(parser: HardenedParser, data: bytes) -> RoutingHeader | None:
    """The routing headers of the SOAP 1.1 request ``data``, read without parsing its Body, or None
    when the document breaks (or is not a SOAP 1.1 Envelope) before the Body: then only a full
    parse and :func:`read_envelope` can say what is wrong. For refusing a caller before its payload
    costs anything; limits over the bytes are checked first (UnsafeXml)."""
    reader = _HeaderReader()
    if not parser.read_prefix(data, reader):
        return None
    address = reader.values.get(_LOGICAL_ADDRESS)
    wsa_to = reader.values.get(_WSA_TO)
    return RoutingHeader(None if address is None else address.strip(), None if wsa_to is None else wsa_to.strip())


_OPEN = f'<?xml version="1.0" encoding="UTF-8"?>\n<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body>'.encode()
_CLOSE = b"</soap:Body></soap:Envelope>"


def wrap(payload: etree._Element | bytes | tuple[bytes, ...]) -> bytes:
    """The response envelope around ``payload`` (an element, or one already serialised as UTF-8,
    whole or in parts)."""
    if isinstance(payload, tuple):
        return b"".join((_OPEN, *payload, _CLOSE))
    if not isinstance(payload, bytes):
        payload = etree.tostring(payload, encoding="utf-8")
    return _OPEN + payload + _CLOSE
