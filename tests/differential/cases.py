"""The contracts under differential test: official schema, project schema, samples and seeds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from intygstjanst.tests.differential import seeds as s
from intygstjanst.tests.differential.mutations import CORE_NS, TYPES_NS, Seed

OFFICIAL_INTERACTIONS = "rivta/clinicalprocess-healthcond-certificate/schemas/interactions"


@dataclass(frozen=True)
class ContractCase:
    name: str  # interaction name, e.g. "RegisterCertificate"
    schema_version: str  # responder schema version, e.g. "3.1"
    wsdl_version: str  # interaction (WSDL) version, e.g. "3.0"
    seeds: Callable[[Path], list[Seed]] = field(compare=False)
    # Samples live in ../shared/riv-contracts/samples/<dir>; several contracts have none.
    sample_dirs: tuple[str, ...] = ()
    # Minimum number of mutants per payload element (local name) for the major contracts.
    min_mutants: Mapping[str, int] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        return f"{self.name} {self.schema_version}"

    @property
    def major(self) -> int:
        return int(self.schema_version.split(".")[0])

    @property
    def namespace(self) -> str:
        return s.responder_ns(self.name, self.major)

    @property
    def official_xsd(self) -> str:
        """Path relative to ``shared_dir()``."""
        return f"{OFFICIAL_INTERACTIONS}/{self.name}Interaction/{self.name}Responder_{self.schema_version}.xsd"

    @property
    def project_xsd(self) -> str:
        """Path relative to the repository's ``xsd/``."""
        return f"interactions/{self.name}Responder_{self.schema_version}.xsd"

    @property
    def wsdl(self) -> str:
        """File name in the repository's ``wsdl/``."""
        return f"{self.name}Interaction_{self.wsdl_version}_RIVTABP21.wsdl"

    @property
    def official_wsdl(self) -> str:
        return f"{OFFICIAL_INTERACTIONS}/{self.name}Interaction/{self.wsdl}"

    @property
    def mutation_namespaces(self) -> tuple[str, ...]:
        return (self.namespace, CORE_NS, TYPES_NS)


CASES: tuple[ContractCase, ...] = (
    ContractCase(
        "RegisterCertificate",
        "3.1",
        "3.0",
        s.register_certificate_seeds,
        sample_dirs=("RegisterCertificate",),
        min_mutants={"RegisterCertificate": 200, "RegisterCertificateResponse": 100},
    ),
    ContractCase(
        "GetCertificate",
        "2.1",
        "2.0",
        s.get_certificate_seeds,
        sample_dirs=("GetCertificate",),
        min_mutants={"GetCertificate": 200, "GetCertificateResponse": 200},
    ),
    ContractCase(
        "RevokeCertificate",
        "2.1",
        "2.0",
        s.revoke_certificate_seeds,
        sample_dirs=("RevokeCertificate",),
        min_mutants={"RevokeCertificate": 200, "RevokeCertificateResponse": 100},
    ),
    ContractCase(
        "SendCertificateToRecipient",
        "2.1",
        "2.0",
        s.send_certificate_to_recipient_seeds,
        min_mutants={"SendCertificateToRecipient": 200, "SendCertificateToRecipientResponse": 100},
    ),
    ContractCase(
        "SetCertificateStatus",
        "2.0",
        "2.0",
        s.set_certificate_status_seeds,
        min_mutants={"SetCertificateStatus": 200, "SetCertificateStatusResponse": 100},
    ),
    ContractCase(
        "ListCertificatesForCare",
        "3.1",
        "3.0",
        s.list_certificates_for_care_seeds,
        sample_dirs=("ListCertificatesForCare",),
        min_mutants={"ListCertificatesForCare": 200, "ListCertificatesForCareResponse": 200},
    ),
    ContractCase(
        "ListCertificatesForCitizen",
        "3.0",
        "3.0",
        s.list_certificates_for_citizen_seeds(3),
        min_mutants={"ListCertificatesForCitizen": 200, "ListCertificatesForCitizenResponse": 200},
    ),
    ContractCase(
        "ListCertificatesForCitizen",
        "4.0",
        "4.0",
        s.list_certificates_for_citizen_seeds(4),
        min_mutants={"ListCertificatesForCitizen": 200, "ListCertificatesForCitizenResponse": 200},
    ),
    ContractCase(
        "SendMessageToCare",
        "2.0",
        "2.0",
        s.send_message_to_care_seeds,
        sample_dirs=("SendMessageToCare",),
        min_mutants={"SendMessageToCare": 200, "SendMessageToCareResponse": 100},
    ),
    ContractCase(
        "SendMessageToRecipient",
        "2.1",
        "2.0",
        s.send_message_to_recipient_seeds,
        sample_dirs=("SendMessageToRecipient",),
        min_mutants={"SendMessageToRecipient": 200, "SendMessageToRecipientResponse": 100},
    ),
    ContractCase(
        "ListSickLeavesForCare",
        "1.0",
        "1.0",
        s.list_sick_leaves_for_care_seeds,
        min_mutants={"ListSickLeavesForCare": 200, "ListSickLeavesForCareResponse": 200},
    ),
)

CASES_BY_KEY: dict[str, ContractCase] = {case.key: case for case in CASES}
