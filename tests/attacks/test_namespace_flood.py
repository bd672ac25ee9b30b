"""Row 1 (and the other parse limits): a request with 50,000 to 200,000 namespace declarations, or
too many attributes, or over-long names and values, is refused by a count made before the tree is
built (or, for what a count cannot bound, right after), with a Fault naming the limit; meanwhile
/health and a legitimate registration are answered."""

from __future__ import annotations

import httpx
import pytest

from intygstjanst.contracts.xml import SOAP11
from intygstjanst.settings import Settings
from intygstjanst.tests.attacks.siege import (
    XML,
    assert_bystanders_served,
    attack,
    attribute_flood,
    legitimate_registration,
    namespace_flood,
)
from intygstjanst.tests.soap import REGISTER, fault

DEFAULTS = Settings()


def _envelope(root_attributes: str = "", body: str = "<x/>") -> bytes:
    return f'<soap:Envelope xmlns:soap="{SOAP11}" {root_attributes}><soap:Body>{body}</soap:Body></soap:Envelope>'.encode()


FLOODS = {
    "50,000 declarations on the Envelope": (namespace_flood(50_000), "max_namespace_declarations"),
    "200,000 declarations on the Envelope": (namespace_flood(200_000), "max_namespace_declarations"),
    "100,000 declarations, one per element": (
        _envelope(body="".join(f'<x xmlns:n="urn:example:{i}"/>' for i in range(100_000))),
        "max_namespace_declarations",
    ),
    "200,000 declarations in UTF-16": (
        namespace_flood(200_000).decode().encode("utf-16"),
        "max_namespace_declarations",
    ),
    "250,000 attributes on one element": (
        attribute_flood(250_000),
        "max_attributes",
    ),
    "100 attributes on one element": (
        _envelope(body="<x " + " ".join(f'a{i}="1"' for i in range(100)) + "/>"),
        "max_attributes_per_element",
    ),
    "a 5,000-character element name": (_envelope(body=f"<{'x' * 5_000}/>"), "max_name_length"),
    "a 5,000-character attribute name": (_envelope(body=f"<x {'a' * 5_000}=\"1\"/>"), "max_name_length"),
    "a 1 MB attribute value": (_envelope(body=f'<x a="{"v" * 1_000_000}"/>'), "max_attribute_length"),
    "300,000 elements": (_envelope(body="<x/>" * 300_000), "max_elements"),
}


@pytest.mark.parametrize("name", list(FLOODS))
def test_flood_is_refused_naming_the_limit_while_others_are_served(live_server, name: str) -> None:
    body, limit = FLOODS[name]
    siege = attack(live_server, lambda client: client.post(live_server.base_url + REGISTER, content=body, headers=XML))
    assert siege.answer.status_code == 500
    assert f"(limit {limit})" in fault(siege.answer.content), fault(siege.answer.content)
    assert siege.seconds < 5.0, f"{name} took {siege.seconds:.2f} s"
    assert_bystanders_served(siege)


def test_a_legitimate_registration_is_within_every_limit(live_server) -> None:
    # The limits leave room: a registration declaring a namespace on every element passes.
    body = legitimate_registration()
    assert body.count(b"xmlns") < DEFAULTS.max_namespace_declarations
    response = httpx.post(live_server.base_url + REGISTER, content=body, headers=XML, timeout=10)
    assert b"resultCode>OK<" in response.content
