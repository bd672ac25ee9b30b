"""Reading the routing header ahead of the payload (for refusing a caller before its body is parsed):
the same values read_envelope finds, in any encoding, and nothing when the document breaks first."""

from __future__ import annotations

import pytest

from intygstjanst.contracts.envelope import RoutingHeader, read_envelope, read_routing_header
from intygstjanst.contracts.xml import REGISTRY, SOAP11, WSA, HardenedParser, ParseLimits, UnsafeXml

PARSER = HardenedParser(ParseLimits())
HEADER = (
    f'<a:LogicalAddress xmlns:a="{REGISTRY}"> first </a:LogicalAddress>'
    f'<a:LogicalAddress xmlns:a="{REGISTRY}">\n second <b>x</b> tail</a:LogicalAddress>'
    f'<w:To xmlns:w="{WSA}">to</w:To>'
)


def message(header: str = HEADER, body: str = "<p/>", prolog: str = "") -> str:
    return f'{prolog}<s:Envelope xmlns:s="{SOAP11}"><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>'


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-32"])
def test_the_values_read_envelope_finds_in_any_encoding(encoding: str) -> None:
    # Without a byte-order mark the declaration names the encoding.
    declaration = "" if encoding in ("utf-16", "utf-32") else f'<?xml version="1.0" encoding="{encoding}"?>'
    data = message(prolog=declaration).encode(encoding)
    full = read_envelope(PARSER.parse(data))
    assert read_routing_header(PARSER, data) == RoutingHeader(full.logical_address, full.wsa_to) == RoutingHeader("second", "to")


def test_the_payload_is_not_read() -> None:
    # A broken payload: the parse fails, the header is read all the same.
    data = message(body="<p><q></p>").encode()
    with pytest.raises(UnsafeXml, match="not well-formed"):
        PARSER.parse(data)
    assert read_routing_header(PARSER, data) == RoutingHeader("second", "to")
    assert read_routing_header(PARSER, message(header="").encode()) == RoutingHeader(None, None)


@pytest.mark.parametrize(
    "data",
    [
        message(header="<x>").encode(),  # broken before the Body
        message(prolog='<!DOCTYPE s:Envelope SYSTEM "file:///etc/passwd">').encode(),
        message(prolog="<!DOCTYPE e [<!ENTITY x 'y'>]>").encode(),
        b"<Envelope><Body/></Envelope>",  # not SOAP 1.1
    ],
    ids=["broken header", "external DTD", "internal DTD", "not SOAP 1.1"],
)
def test_nothing_when_the_document_breaks_before_the_body(data: bytes) -> None:
    assert read_routing_header(PARSER, data) is None


def test_the_byte_limits_come_first() -> None:
    flood = " ".join(f'xmlns:n{i}="u:{i}"' for i in range(2_000))
    with pytest.raises(UnsafeXml, match="max_namespace_declarations"):
        read_routing_header(PARSER, message(header=f"<x {flood}/>").encode())
