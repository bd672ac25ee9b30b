"""The project's WSDLs: loadable by zeep, RIV-TA BP 2.1 naming, same contract as the official ones."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zeep
from lxml import etree

from intygstjanst.tests.differential.cases import CASES, ContractCase
from intygstjanst.tests.support import REPO_DIR, require_shared

WSDL_DIR = REPO_DIR / "wsdl"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
XS_NS = "http://www.w3.org/2001/XMLSchema"
LOGICAL_ADDRESS = "{urn:riv:itintegration:registry:1}LogicalAddress"


@dataclass(frozen=True)
class Wsdl:
    name: str
    major: int
    domain: str
    file: str  # in wsdl/
    xsd: str  # responder schema, relative to xsd/

    @property
    def responder_ns(self) -> str:
        return f"urn:riv:{self.domain}:{self.name}Responder:{self.major}"

    @property
    def wsdl_ns(self) -> str:
        return f"urn:riv:{self.domain}:{self.name}:{self.major}:rivtabp21"


WSDLS = [
    *(Wsdl(case.name, case.major, "clinicalprocess:healthcond:certificate", case.wsdl, case.project_xsd) for case in CASES),
    # No official file to compare with; written from the published RIV-TA contract.
    Wsdl(
        "PingForConfiguration",
        1,
        "itintegration:monitoring",
        "PingForConfigurationInteraction_1.0_RIVTABP21.wsdl",
        "interactions/PingForConfigurationResponder_1.0.xsd",
    ),
]


def by_file(wsdls: list[Wsdl]) -> list[object]:
    return [pytest.param(wsdl, id=wsdl.file) for wsdl in wsdls]


@pytest.mark.parametrize("wsdl", by_file(WSDLS))
def test_zeep_loads_the_wsdl_with_riv_names(wsdl: Wsdl) -> None:
    name = wsdl.name
    client = zeep.Client(str(WSDL_DIR / wsdl.file))
    assert list(client.wsdl.services) == [f"{name}ResponderService"]
    service = client.wsdl.services[f"{name}ResponderService"]
    assert list(service.ports) == [f"{name}ResponderPort"]
    binding = service.ports[f"{name}ResponderPort"].binding
    assert binding.name == etree.QName(wsdl.wsdl_ns, f"{name}ResponderBinding")
    assert list(binding.all()) == [name]

    operation = binding.get(name)
    assert operation.soapaction == f"{wsdl.responder_ns}:{name}"
    assert operation.input.body.qname == etree.QName(wsdl.responder_ns, name)
    assert operation.output.body.qname == etree.QName(wsdl.responder_ns, f"{name}Response")
    header = [(part, element.qname) for part, element in operation.input.header.type.elements]
    assert header == [("LogicalAddress", etree.QName(LOGICAL_ADDRESS))]


@pytest.mark.parametrize("wsdl", by_file(WSDLS))
def test_schema_imports_are_relative_and_exist(wsdl: Wsdl) -> None:
    path = WSDL_DIR / wsdl.file
    imports = etree.parse(str(path)).getroot().iterfind(f"{{{WSDL_NS}}}types/{{{XS_NS}}}schema/{{{XS_NS}}}import")
    locations = {item.get("namespace"): item.get("schemaLocation", "") for item in imports}
    assert locations == {
        wsdl.responder_ns: f"../xsd/{wsdl.xsd}",
        "urn:riv:itintegration:registry:1": "../xsd/core/itintegration_registry_1.0.xsd",
    }
    for location in locations.values():
        assert (path.parent / location).is_file(), f"{wsdl.file}: {location} does not exist"


def contract_outline(path: Path) -> dict[str, Any]:
    """Everything in a WSDL that a consumer depends on, with prefixes resolved to namespaces."""
    root = etree.parse(str(path)).getroot()

    def qname(element: etree._Element, attribute: str) -> str:
        value = element.get(attribute, "")
        prefix, _, local = value.rpartition(":")
        return f"{{{element.nsmap.get(prefix or None)}}}{local}"

    def find_all(element: etree._Element, xpath: str) -> list[etree._Element]:
        return element.findall(xpath, {"w": WSDL_NS, "s": SOAP_NS})

    def find(element: etree._Element, xpath: str) -> etree._Element:
        found = find_all(element, xpath)
        assert len(found) == 1, f"{path.name}: expected one {xpath} in {element.get('name')}"
        return found[0]

    outline: dict[str, Any] = {"targetNamespace": root.get("targetNamespace")}
    outline["messages"] = {
        message.get("name"): [(part.get("name"), qname(part, "element")) for part in find_all(message, "w:part")]
        for message in find_all(root, "w:message")
    }
    outline["portTypes"] = {
        port_type.get("name"): {
            operation.get("name"): (qname(find(operation, "w:input"), "message"), qname(find(operation, "w:output"), "message"))
            for operation in find_all(port_type, "w:operation")
        }
        for port_type in find_all(root, "w:portType")
    }
    outline["bindings"] = {
        binding.get("name"): {
            "type": qname(binding, "type"),
            "soap": dict(find(binding, "s:binding").attrib),
            "operations": {
                operation.get("name"): {
                    "soapAction": find(operation, "s:operation").get("soapAction"),
                    "style": find(operation, "s:operation").get("style"),
                    "input headers": [
                        (qname(header, "message"), header.get("part"), header.get("use"))
                        for header in find_all(operation, "w:input/s:header")
                    ],
                    "input body": [dict(body.attrib) for body in find_all(operation, "w:input/s:body")],
                    "output body": [dict(body.attrib) for body in find_all(operation, "w:output/s:body")],
                }
                for operation in find_all(binding, "w:operation")
            },
        }
        for binding in find_all(root, "w:binding")
    }
    outline["services"] = {
        service.get("name"): {port.get("name"): qname(port, "binding") for port in find_all(service, "w:port")}
        for service in find_all(root, "w:service")
    }
    return outline


@pytest.mark.parametrize("case", [pytest.param(case, id=case.wsdl) for case in CASES])
def test_wsdl_describes_the_same_contract_as_the_official_one(case: ContractCase) -> None:
    shared = require_shared()
    assert contract_outline(WSDL_DIR / case.wsdl) == contract_outline(shared / case.official_wsdl)
