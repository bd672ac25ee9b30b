"""Offline validation of message files: which contract a message belongs to, and whether it is valid.

The same checks the server runs before a handler (schema) plus, for certificates, the
certificate-type rules, so a journal-system developer sees locally what the service would answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from intygstjanst.certificates.certtypes import CertificateTypes
from intygstjanst.contracts.envelope import read_envelope
from intygstjanst.contracts.faults import SoapFault
from intygstjanst.contracts.registry import Contract, ContractRegistry
from intygstjanst.contracts.xml import CORE, SOAP11, TYPES, HardenedParser, ParseLimits, UnsafeXml, schema_errors
from intygstjanst.settings import Settings


@dataclass(frozen=True)
class Verdict:
    contract: str | None
    schema_errors: list[str] = field(default_factory=list)  # also: not XML, not a known contract
    rule_errors: list[str] = field(default_factory=list)  # certificate-type rules

    @property
    def schema_valid(self) -> bool:
        return self.contract is not None and not self.schema_errors

    @property
    def valid(self) -> bool:
        return self.schema_valid and not self.rule_errors

    @property
    def errors(self) -> list[str]:
        return [*self.schema_errors, *self.rule_errors]


class MessageValidator:
    def __init__(self, contracts: ContractRegistry, types: CertificateTypes, parser: HardenedParser) -> None:
        self.contracts = contracts
        self.types = types
        self.parser = parser

    @classmethod
    def with_limits_of(cls, settings: Settings, types: CertificateTypes) -> MessageValidator:
        """A validator with the served contracts and the parser limits the server uses."""
        return cls(ContractRegistry.load(), types, HardenedParser(ParseLimits.of(settings)))

    def validate(self, data: bytes) -> Verdict:
        try:
            root = self.parser.parse(data)
            payload = read_envelope(root).payload if root.tag == f"{{{SOAP11}}}Envelope" else root
        except (UnsafeXml, SoapFault) as exc:
            return Verdict(None, [str(exc)])
        contract = self._contract_for(payload)
        if contract is None:
            return Verdict(None, [f"{payload.tag} is not the request or response of a served contract"])
        label = f"{contract.name} {contract.version}"
        if not contract.schema.validate(payload):
            return Verdict(label, [f"{e.path} (line {e.line}): {e.message}" for e in schema_errors(contract.schema)])
        intyg = payload.find("{*}intyg") if payload.tag == contract.request_tag else None
        if intyg is not None and contract.name == "RegisterCertificate":
            return Verdict(label, rule_errors=self._certificate_rules(intyg))
        return Verdict(label)

    def _contract_for(self, payload: etree._Element) -> Contract | None:
        contract = self.contracts.by_request_tag(payload.tag)
        if contract is not None:
            return contract
        return next((c for c in self.contracts if payload.tag == f"{{{c.namespace}}}{c.response}"), None)

    def _certificate_rules(self, intyg: etree._Element) -> list[str]:
        code = intyg.findtext(f"{{{CORE}}}typ/{{{TYPES}}}code", "").strip()
        version = intyg.findtext(f"{{{CORE}}}version", "").strip()
        certificate_type = self.types.find(code, version)
        if certificate_type is None:
            return [f"certificate type {code} version {version} is not supported"]
        return [str(v) for v in certificate_type.validate(intyg)]


def print_verdicts(validator: MessageValidator, paths: Iterable[Path], as_json: bool) -> bool:
    """One line per message file (a JSON object with ``as_json``); True when every file is valid."""
    all_valid = True
    for path in paths:
        try:
            verdict = validator.validate(path.read_bytes())
        except OSError as exc:
            print(json.dumps({"file": str(path), "valid": False, "error": str(exc)}) if as_json else f"{path}: invalid: {exc}")
            all_valid = False
            continue
        all_valid &= verdict.valid
        if as_json:
            fields = {
                "file": str(path),
                "contract": verdict.contract,
                "valid": verdict.valid,
                "schema_valid": verdict.schema_valid,
                "schema_errors": verdict.schema_errors,
                "rule_errors": verdict.rule_errors,
            }
            print(json.dumps(fields, ensure_ascii=False))
        else:
            print(f"{path}: {'valid' if verdict.valid else f'invalid: {verdict.errors[0]}'}")
    return all_valid
