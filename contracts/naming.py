"""What identifies a RIV-TA contract on the wire: its names, namespace, profile and where it lives.

Shared by the contracts this service serves, the ones it calls and the ones the conformance kit
tests (all described in contracts.toml, see ``registry``), so that the platform's conventions
(endpoint path, SOAPAction, routing header) are written once.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from intygstjanst.contracts.result import ResultShape
from intygstjanst.contracts.xml import element


@dataclass(frozen=True, kw_only=True)
class ContractName:
    name: str  # interaction name, e.g. RegisterCertificate
    version: str  # responder schema version, e.g. "3.1"; its major part is in the path
    domain: str  # colon-separated, as in the namespace, e.g. clinicalprocess:healthcond:certificate
    profile: str  # rivtabp21 (LogicalAddress header) or rivtabp20 (wsa:To header)
    namespace: str  # of the request and response payload elements
    request: str  # local name of the request payload element
    response: str  # local name of the response payload element
    # The published soapAction when it is not the RIV-TA default ``<namespace>:<name>`` (some
    # contracts were published with "Responder" or an old major version in it).
    published_action: str | None = None
    # The result structure of the answer (for contracts whose answer carries one).
    result: ResultShape = ResultShape.RESULT_TYPE
    # The address the national certificate service publishes the contract under
    # (``/inera-certificate/...``), served as well, so that a routing table pointing at the national
    # service only changes its host; None where it publishes none.
    national_path: str | None = None

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def key(self) -> str:
        """``Name:major``, how the outbox, recipients' formats and the kit name a contract."""
        return f"{self.name}:{self.major}"

    @property
    def path(self) -> str:
        """The national platform's path convention, so a consumer only changes its base URL."""
        return "/" + "/".join([*self.domain.split(":"), self.name, str(self.major), self.profile])

    @property
    def paths(self) -> tuple[str, ...]:
        """Every address the contract is served at: the platform's convention, then the national one."""
        return (self.path,) if self.national_path is None else (self.path, self.national_path)

    @property
    def soap_action(self) -> str:
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

    def response_element(self, **prefixes: str) -> etree._Element:
        """An empty response payload element, the responder namespace as default namespace and
        ``prefixes`` (prefix -> namespace) declared on it."""
        nsmap: dict[str | None, str] = {None: self.namespace}
        nsmap.update(prefixes)
        return element(self.response_tag, nsmap)
