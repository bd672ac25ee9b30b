"""The contract facts the kit checks answers against: names, namespaces, paths and schemas.

They come from the project's contract definitions (``contracts/contracts.toml`` and the XSDs in
``xsd/``), read directly rather than through ``ContractRegistry.load()``, which also imports the
server's handlers: the kit tests any producer and must not depend on our implementation.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

from lxml import etree

from intygstjanst.contracts.naming import ContractName
from intygstjanst.contracts.registry import CONTRACTS_FILE, XSD_DIR

RIV_PROFILES = ("rivtabp20", "rivtabp21")


@dataclass(frozen=True, kw_only=True)
class ContractSpec(ContractName):
    """A contract the kit can test: its names (the platform's conventions) and its schema."""

    xsd: Path = field(repr=False)

    @cached_property
    def schema(self) -> etree.XMLSchema:
        return etree.XMLSchema(etree.parse(str(self.xsd)))


@lru_cache(maxsize=4)
def load_specs(path: Path = CONTRACTS_FILE) -> dict[str, ContractSpec]:
    """Every contract defined in ``path``, by ``Name:major``."""
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("contract", [])
    specs: dict[str, ContractSpec] = {}
    for entry in entries:
        spec = ContractSpec(
            name=entry["name"],
            version=str(entry["version"]),
            domain=entry["domain"],
            profile=entry["profile"],
            namespace=entry["namespace"],
            request=entry["request"],
            response=entry["response"],
            xsd=XSD_DIR / entry["xsd"],
            published_action=entry.get("soap_action"),
        )
        specs[spec.key] = spec
    return specs
