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

from ..contracts.registry import CONTRACTS_FILE, XSD_DIR

RIV_PROFILES = ("rivtabp20", "rivtabp21")


@dataclass(frozen=True)
class ContractSpec:
    name: str
    version: str
    domain: str
    profile: str
    namespace: str
    request: str
    response: str
    xsd: Path = field(repr=False)
    published_action: str | None = None  # the soapAction the contract publishes, where not <namespace>:<name>

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def key(self) -> str:
        """``Name:major``: how suites and the command line name a contract."""
        return f"{self.name}:{self.major}"

    @property
    def path(self) -> str:
        """The national platform's path convention ``/<domain parts>/<Name>/<major>/<profile>``."""
        return "/" + "/".join([*self.domain.split(":"), self.name, str(self.major), self.profile])

    @property
    def soap_action(self) -> str:
        """RIV-TA's ``<namespace>:<name>``; a few helper contracts publish another one (their
        namespace lacks the ``Responder`` part that their soapAction has)."""
        return self.published_action or f"{self.namespace}:{self.name}"

    @property
    def request_tag(self) -> str:
        return f"{{{self.namespace}}}{self.request}"

    @property
    def response_tag(self) -> str:
        return f"{{{self.namespace}}}{self.response}"

    @property
    def uses_wsa_to(self) -> bool:
        """RIV-TA profile 2.0 addresses with ``wsa:To`` instead of ``LogicalAddress``."""
        return self.profile == "rivtabp20"

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
