"""The long-lived collaborators a call needs, built once at start-up from the settings.

May import: ``settings``, ``contracts``, ``certificates``, ``registers``, ``persistence`` and
``delivery``. Handlers and the app take ``Services``; nothing below them imports it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from intygstjanst.certificates.certtypes import CertificateTypes
from intygstjanst.certificates.schematron import SchematronValidator
from intygstjanst.certificates.signature import SignatureChecker
from intygstjanst.contracts.dispatch import Access
from intygstjanst.contracts.registry import ContractRegistry
from intygstjanst.contracts.xml import ParseLimits
from intygstjanst.delivery.deliverer import Deliverer, Sender
from intygstjanst.delivery.transport import OutboundTransport
from intygstjanst.persistence.access_log import AccessLog, Asker
from intygstjanst.persistence.case_cache import CaseCache
from intygstjanst.persistence.db import Database, utc_now
from intygstjanst.registers.care_units import CareUnits, CareUnitsError
from intygstjanst.registers.persons import FilePersonLookup, PersonLookup
from intygstjanst.registers.recipients import Recipients
from intygstjanst.settings import Settings, SettingsError

__all__ = ["Services", "utc_now"]


@dataclass
class Services:
    settings: Settings
    db: Database
    contracts: ContractRegistry
    certificate_types: CertificateTypes
    persons: PersonLookup
    recipients: Recipients  # the recipient registry (recipients_file)
    care_units: CareUnits  # the care-unit register (care_units_file)
    transport: OutboundTransport  # how recipients are reached (outbound TLS, timeout, base URL)
    deliverer: Sender  # sends to a recipient now (SendCertificateToRecipient)
    access_log: AccessLog  # who was disclosed which patient's data
    clock: Callable[[], dt.datetime] = utc_now  # naive UTC
    # The certificate owners' official Schematron, run in addition to our rules when configured.
    schematron: SchematronValidator | None = None
    # The doctor's signature: verified, judged and recorded per signature_mode.
    signatures: SignatureChecker = field(default_factory=SignatureChecker)
    # The sick-leave lists' answers of stored cases read so far (sick_leave_cache_mb).
    case_cache: CaseCache = field(default_factory=lambda: CaseCache(0))

    @property
    def parse_limits(self) -> ParseLimits:
        return ParseLimits.of(self.settings)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        db: Database | None = None,
        contracts: ContractRegistry | None = None,
        certificate_types: CertificateTypes | None = None,
        persons: PersonLookup | None = None,
        recipients: Recipients | None = None,
        care_units: CareUnits | None = None,
        deliverer: Sender | None = None,
    ) -> Services:
        """Everything from ``settings``, except what is given (tests and tools pass their own)."""
        types = certificate_types or CertificateTypes.configured(settings)
        transport = OutboundTransport.from_settings(settings)
        database = db or Database(settings.effective_database_url)
        return cls(
            settings=settings,
            db=database,
            contracts=contracts or ContractRegistry.load(),
            certificate_types=types,
            persons=persons or FilePersonLookup.from_files(settings.persons_file, settings.validation_persons_file),
            recipients=recipients or Recipients.load(settings.recipients_file, types),
            care_units=care_units or _care_units(settings),
            transport=transport,
            deliverer=deliverer or Deliverer(transport),
            access_log=AccessLog.configured(database, settings),
            schematron=SchematronValidator(settings.schematron_dir, types) if settings.schematron_dir is not None else None,
            signatures=SignatureChecker.from_settings(settings),
            case_cache=CaseCache(settings.sick_leave_cache_mb * 1024 * 1024),
        )

    def record_access(self, access: Access) -> None:
        """The access log's entries for an answer about to disclose patients' data (the
        dispatcher's ``Recorder``): one per patient, care giver and unit, one call id for them all."""
        contract = access.contract
        asker = Asker(contract.name, contract.version, access.caller.consumer, access.caller.original_consumer, access.logical_address)
        self.access_log.append(asker, access.disclosed, self.clock(), uuid.uuid4().hex)

    def reload_certificate_types(self) -> str:
        """Read the certificate-type files again and use them, when every file checks and the
        recipient registry still names only known types; raises (nothing changes) otherwise."""
        fresh = CertificateTypes.load(self.certificate_types.extra_dirs)
        switch_recipients = self.recipients.prepare_for_types(fresh)
        summary = self.certificate_types.replace_with(fresh)
        switch_recipients()
        return f"certificate types reloaded: {summary}"


def _care_units(settings: Settings) -> CareUnits:
    """The care-unit register (units and their sub-units), checked at start-up."""
    try:
        return CareUnits.load(settings.care_units_file)
    except CareUnitsError as exc:
        raise SettingsError(f"care_units_file: {exc}") from exc
