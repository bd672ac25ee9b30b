"""Signed certificates for tests: a development CA of its own per test session, doctors' signing
certificates from it (valid, expired, from another CA), and the example LISJP signed by them with
python-xmlsec (``testing.signing``)."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from intygstjanst.contracts.xml import CORE, TYPES
from intygstjanst.testing.signing import sign_intyg, stamp_signing_time
from intygstjanst.tls.pki import IssuedCert, DevCa

from intygstjanst.tests.support import REPO_DIR, payload_of

EXAMPLE = REPO_DIR / "examples" / "RegisterCertificate-3.xml"
DOCTOR = "SE2321000016-EXLAK1"  # skapadAv of the example
OTHER_DOCTOR = "SE2321000016-EXLAK2"
SIGNED_SAMPLES = ("webcert__signed-signed-lisjp-i18n.xml", "webcert__signed-signed-after-store-i18n.xml")
SAMPLE_ID = "9f02dd2f-f57c-4a73-8190-2fe602cd6e27"  # the intygs-id of both signed samples


@dataclass
class SigningPki:
    directory: Path
    ca: DevCa
    _signers: dict[str, IssuedCert] = field(default_factory=dict)

    @classmethod
    def create(cls, directory: Path) -> SigningPki:
        return cls(directory, DevCa.create(directory))

    @property
    def bundle(self) -> Path:
        return self.ca.cert_path

    def signer(self, hsa_id: str = DOCTOR) -> IssuedCert:
        """A currently valid signing certificate of ``hsa_id`` (made once)."""
        if hsa_id not in self._signers:
            self._signers[hsa_id] = self.ca.issue_signing_cert(hsa_id, self.directory / "signers")
        return self._signers[hsa_id]

    def signer_valid(self, name: str, not_before: dt.datetime, not_after: dt.datetime) -> IssuedCert:
        """A signing certificate of :data:`DOCTOR` valid only from ``not_before`` to ``not_after``."""
        return self.ca.issue_signing_cert(DOCTOR, self.directory / name, not_before=not_before, not_after=not_after)


def lisjp(certificate_id: str = "signed-lisjp-1", signed_at: dt.datetime | None = None) -> etree._Element:
    """The example LISJP payload (RegisterCertificate) with its own id, signed now unless told."""
    payload = payload_of(EXAMPLE)
    intyg = intyg_of(payload)
    extension = intyg.find(f"{{{CORE}}}intygs-id/{{{TYPES}}}extension")
    assert extension is not None
    extension.text = certificate_id
    stamp_signing_time(intyg, signed_at)
    return payload


def intyg_of(payload: etree._Element) -> etree._Element:
    intyg = payload.find("{*}intyg")
    assert intyg is not None
    return intyg


def signed(payload: etree._Element, issued: IssuedCert, *, wrapped: bool = True) -> etree._Element:
    """``payload`` with its intyg signed by ``issued`` (in place; returned for chaining)."""
    sign_intyg(intyg_of(payload), issued.cert, issued.key, wrapped=wrapped)
    return payload


def copied(payload: etree._Element) -> etree._Element:
    return copy.deepcopy(payload)
