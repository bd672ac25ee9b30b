"""The long-lived collaborators a request needs, built once at start-up from Settings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from intygstjanst.certificates.certtypes import CertificateTypes
from intygstjanst.contracts.registry import ContractRegistry
from intygstjanst.contracts.xml import ParseLimits
from intygstjanst.certificates.schematron import SchematronValidator
from intygstjanst.persistence.db import Database
from intygstjanst.registers.persons import FilePersonLookup, PersonLookup
from intygstjanst.settings import Settings, SettingsError


def utc_now() -> dt.datetime:
    """Naive UTC, the form stored in the database; rendered as local-less ISO times."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class Services:
    settings: Settings
    db: Database
    contracts: ContractRegistry
    certificate_types: CertificateTypes
    persons: PersonLookup
    clock: Callable[[], dt.datetime] = utc_now
    # The certificate owners' official Schematron, run in addition to our rules when configured.
    schematron: SchematronValidator | None = None
    # Optional collaborators added by later layers (authorization, recipients, outbox, ...).
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def parse_limits(self) -> ParseLimits:
        settings = self.settings
        return ParseLimits(settings.max_body_bytes, settings.max_depth, settings.max_elements)

    @classmethod
    def build(cls, settings: Settings, **overrides: Any) -> Services:
        db = overrides.pop("db", None) or Database(settings.effective_database_url)
        extra_type_dirs = [settings.certificate_types_dir] if settings.certificate_types_dir else []
        services = cls(
            settings=settings,
            db=db,
            contracts=overrides.pop("contracts", None) or ContractRegistry.load(),
            certificate_types=overrides.pop("certificate_types", None) or CertificateTypes.load(extra_type_dirs),
            persons=overrides.pop("persons", None)
            or FilePersonLookup.from_files(settings.persons_file, settings.validation_persons_file),
            **overrides,
        )
        if settings.schematron_dir is not None and services.schematron is None:
            services.schematron = SchematronValidator(settings.schematron_dir, services.certificate_types)
        services.add_delivery()
        services.add_care_units()
        return services

    def add_care_units(self) -> None:
        """The care-unit register (units and their sub-units), checked at start-up."""
        from intygstjanst.registers.care_units import CareUnits, CareUnitsError

        if "care_units" not in self.extensions:
            try:
                self.extensions["care_units"] = CareUnits.load(self.settings.care_units_file)
            except CareUnitsError as exc:
                raise SettingsError(f"care_units_file: {exc}") from exc

    def add_delivery(self) -> None:
        """The recipient registry and the deliverer (unless given in ``extensions``)."""
        from intygstjanst.registers.recipients import Recipients
        from intygstjanst.delivery.deliverer import Deliverer

        if "recipients" not in self.extensions:
            self.extensions["recipients"] = Recipients.load(self.settings.recipients_file, self.certificate_types)
        if "deliverer" not in self.extensions:
            self.extensions["deliverer"] = Deliverer(self)
