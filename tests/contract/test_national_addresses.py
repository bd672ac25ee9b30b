"""Every contract is also served at the address the national certificate service publishes it under
(``/inera-certificate/...``), with its WSDL there, as the same contract: same handler, same
authorization, same audit line."""

from __future__ import annotations

import logging
import re

import pytest
from lxml import etree

from intygstjanst.app import create_app
from intygstjanst.contracts.dispatch import Caller
from intygstjanst.contracts.registry import CONTRACTS_FILE, Contract, ContractError, ContractRegistry, read_specs
from intygstjanst.contracts.faults import SoapFault
from starlette.testclient import TestClient

from intygstjanst.tests.recipient_calls import call
from intygstjanst.tests.soap import GET, REGISTER, certificate, envelope, fault, get_request, post
from intygstjanst.tests.support import require_shared, shared_dir

REGISTRY = ContractRegistry.load()
NATIONAL = [c for c in REGISTRY if c.national_path is not None]
WSDL_NS = {"soap": "http://schemas.xmlsoap.org/wsdl/soap/"}

def _spec_addresses() -> dict[tuple[str, int], str]:
    """(contract, major) -> national path, from the tables of the fault-to-response spec."""
    text = (shared_dir().parent / "specs" / "fault-to-response.md").read_text(encoding="utf-8")
    context = re.search(r"context path \*\*`(/[\w-]+)`\*\*", text)
    assert context is not None
    rows = re.findall(r"^\| (\w+) v(\d+)(?:\.\d+)?(?: \(legacy\))? \| `(/[^`]+)`", text, re.MULTILINE)
    return {(name, int(major)): context.group(1) + path for name, major, path in rows}


def test_the_national_addresses_are_those_the_national_service_publishes() -> None:
    require_shared()
    published = _spec_addresses()
    ours = {(c.name, c.major): c.national_path for c in NATIONAL}
    assert len(published) >= 25
    assert published == ours
    # Served contracts the national service publishes no address for keep only the platform path.
    assert {c.name for c in REGISTRY if c.national_path is None} <= {"PingForConfiguration", "RegisterTSBas", "GetTSBas"}


@pytest.mark.parametrize("contract", NATIONAL, ids=lambda c: c.key)
def test_each_national_address_serves_the_contract_and_its_wsdl(client, contract: Contract) -> None:
    assert REGISTRY.by_path(contract.national_path or "") is contract
    described = client.get(contract.national_path)
    assert described.status_code == 200 and f"{contract.name} {contract.version}" in described.text
    wsdl = client.get(f"{contract.national_path}?wsdl")
    assert wsdl.status_code == 200
    root = etree.fromstring(wsdl.content)
    # A client built from this WSDL calls the address it was read from.
    assert root.xpath("//soap:address/@location", namespaces=WSDL_NS) == [f"http://testserver{contract.national_path}"]
    assert root.get("targetNamespace") == etree.fromstring(client.get(f"{contract.path}?wsdl").content).get("targetNamespace")


@pytest.mark.parametrize("contract", NATIONAL, ids=lambda c: c.key)
def test_a_call_at_the_national_address_reaches_the_contract(client, contract: Contract) -> None:
    """A body that is not the contract's request element is refused naming the contract (no
    contract is dispatched by an address it does not own)."""
    wrong = b'<x:Nothing xmlns:x="urn:nothing"/>'
    answer = post(client, contract.national_path or "", envelope(wrong, logical_address="A", wsa_to="A"))
    assert f"this endpoint serves {contract.name} {contract.version}" in fault(answer.content)


def test_register_at_the_national_address_then_read_at_the_platform_address(client) -> None:
    require_shared()
    register = REGISTRY.by_path(REGISTER)
    get = REGISTRY.by_path(GET)
    assert register is not None and get is not None and register.national_path and get.national_path
    assert call(client, register.national_path, certificate("national-1")).code == "OK"
    assert call(client, REGISTER, certificate("national-1")).code == "INFO"
    for path in (GET, get.national_path):
        answer = post(client, path, envelope(get_request("national-1")))
        assert answer.status_code == 200 and b"national-1" in answer.content


def test_authorization_and_audit_see_one_contract_at_both_addresses(services, caplog) -> None:
    require_shared()
    seen: list[tuple[Contract, str]] = []

    def authorizer(caller: Caller, contract: Contract, logical_address: str) -> str | None:
        seen.append((contract, logical_address))
        if logical_address != "GRANTED":
            raise SoapFault(f"not authorized to call {contract.name}")
        return "SE-CONSUMER"

    register = REGISTRY.by_path(REGISTER)
    assert register is not None and register.national_path
    with TestClient(create_app(services=services, authorizer=authorizer)) as client:
        with caplog.at_level(logging.INFO, logger="intygstjanst.audit"):
            for path in (REGISTER, register.national_path):
                assert post(client, path, envelope(certificate("national-auth"), logical_address="GRANTED")).status_code == 200
                refused = post(client, path, envelope(certificate("national-auth"), logical_address="OTHER"))
                assert fault(refused.content) == "not authorized to call RegisterCertificate"
    assert [(c.key, address) for c, address in seen] == [("RegisterCertificate:3", a) for a in ("GRANTED", "OTHER") * 2]
    lines = [vars(r)["fields"] for r in caplog.records if r.name == "intygstjanst.audit"]
    assert [(line["contract"], line["version"], line["result"]) for line in lines] == [
        ("RegisterCertificate", "3.1", "OK"),
        ("RegisterCertificate", "3.1", "FAULT"),
        ("RegisterCertificate", "3.1", "INFO"),
        ("RegisterCertificate", "3.1", "FAULT"),
    ]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ('"/register-certificate-se/v3.0"', "must start with /inera-certificate/"),
        ('"/inera-certificate/register-certificate-se/v3.0/"', "not end in '/'"),
    ],
)
def test_a_national_path_outside_the_context_path_stops_loading(tmp_path, value: str, why: str) -> None:
    register = REGISTRY.by_path(REGISTER)
    assert register is not None
    source = register.national_path
    text = CONTRACTS_FILE.read_text(encoding="utf-8").replace(f'"{source}"', value, 1)
    path = tmp_path / "contracts.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContractError, match=re.escape(why)):
        read_specs(path)


def test_two_contracts_may_not_share_a_national_address(tmp_path) -> None:
    get = REGISTRY.by_path(GET)
    register = REGISTRY.by_path(REGISTER)
    assert get is not None and register is not None
    text = CONTRACTS_FILE.read_text(encoding="utf-8").replace(f'"{get.national_path}"', f'"{register.national_path}"', 1)
    path = tmp_path / "contracts.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContractError, match="is already served by RegisterCertificate"):
        ContractRegistry.load(path)
