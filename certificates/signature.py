"""The doctor's signature on a registered certificate: verified, judged and recorded per the setting
``signature_mode``.

- ``off``: nothing is checked; the stored result is "not checked".
- ``report`` (the default): the signature is verified (``xmldsig``), its signer judged
  (``signer_trust``), the result stored with the certificate, and the certificate accepted whatever
  the result: nothing changes on the wire.
- ``enforce``: a certificate whose signature does not hold (any problem, an untrusted signer
  included), or an unsigned one of a type listed in ``signature_required_types``, is refused
  with ERROR / VALIDATION_ERROR naming what failed.

The signer's HSA-id (the certificate's subject serialNumber) is compared with the signing doctor
(``skapadAv/personal-id``); a difference is reported in the result's remark, never refused: a
signature by someone else than the named doctor is for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from lxml import etree

from intygstjanst.certificates import xmldsig
from intygstjanst.certificates.signer_trust import SignerTrust, hsa_id
from intygstjanst.persistence.signatures import SignatureRecord
from intygstjanst.settings import Settings, SettingsError

log = logging.getLogger(__name__)

OFF, REPORT, ENFORCE = "off", "report", "enforce"
MODES = (OFF, REPORT, ENFORCE)

VALID, INVALID, UNSIGNED, NOT_CHECKED = "valid", "invalid", "unsigned", "not_checked"
STATUSES = (VALID, INVALID, UNSIGNED, NOT_CHECKED)
ALL_TYPES = "*"

# signeringstidpunkt is Swedish local time without an offset.
SWEDISH_TIME = ZoneInfo("Europe/Stockholm")


# What was found, as stored with the certificate: ``reason_code`` is an INVALID result's first
# problem (xmldsig / signer_trust codes), ``reason`` all of them (or, for UNSIGNED and NOT_CHECKED,
# why), ``remark`` what is reported and never refused.
SignatureResult = SignatureRecord


@dataclass(frozen=True)
class Signed:
    """The facts of the certificate that the check compares the signature with."""

    certificate_id: str
    doctor_id: str  # skapadAv/personal-id/extension
    signed_at: dt.datetime | None  # signeringstidpunkt as written (naive, Swedish time)


class SignatureChecker:
    def __init__(self, mode: str = REPORT, trust: SignerTrust | None = None, required_types: frozenset[str] = frozenset()) -> None:
        if mode not in MODES:
            raise SettingsError(f"signature_mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.trust = trust or SignerTrust()
        self.required_types = frozenset(code.upper() for code in required_types)
        if mode == ENFORCE and not self.trust.anchors:
            raise SettingsError("signature_mode enforce needs signature_trust_bundle: without trusted CAs every signature would be refused")

    @classmethod
    def from_settings(cls, settings: Settings) -> SignatureChecker:
        trust = SignerTrust.load(settings.signature_trust_bundle, settings.signature_crl)
        return cls(settings.signature_mode, trust, frozenset(settings.signature_required_types))

    def check(self, intyg: etree._Element, facts: Signed, received_at: dt.datetime, can_be_signed: bool = True) -> SignatureResult:
        """The result for ``intyg``; ``received_at`` (naive UTC) stands in for a missing signing
        time; ``can_be_signed`` is False for formats without a signature (the legacy contracts)."""
        if self.mode == OFF:
            return SignatureResult(NOT_CHECKED, reason="signature_mode is off")
        if not can_be_signed:
            return SignatureResult(NOT_CHECKED, reason="it arrived in a format without a signature")
        if xmldsig.locate(intyg) is None:
            return SignatureResult(UNSIGNED, reason="no underskrift")
        try:
            intact = xmldsig.verify(intyg, facts.certificate_id)
        except xmldsig.SignatureProblem as problem:
            claimed = problem.claimed_signer
            if claimed is None:
                return SignatureResult(INVALID, problem.code, problem.detail)
            return SignatureResult(INVALID, problem.code, problem.detail, claimed.subject.rfc4514_string(), hsa_id(claimed))
        except Exception as exc:  # noqa: BLE001 - a fault in checking must not refuse a certificate in report mode
            log.exception("checking the signature of certificate %s failed", facts.certificate_id)
            return SignatureResult(INVALID, "unreadable", f"the signature could not be checked: {type(exc).__name__}")
        signer = intact.signer
        subject = signer.subject.rfc4514_string()
        signer_id = hsa_id(signer)
        remarks = []
        if signer_id != facts.doctor_id:
            shown = signer_id or "no HSA-id (no serialNumber)"
            remarks.append(f"the signer {shown} is not the signing doctor (skapadAv) {facts.doctor_id}")
        if facts.signed_at is not None:
            signed_at = facts.signed_at.replace(tzinfo=SWEDISH_TIME) if facts.signed_at.tzinfo is None else facts.signed_at
        else:
            signed_at = received_at.replace(tzinfo=dt.UTC)
            remarks.append("no signeringstidpunkt: the signer was judged at the time of receipt")
        verdict = self.trust.judge(signer, intact.others, signed_at)
        remark = "; ".join([*remarks, *verdict.remarks])
        if verdict.problems:
            reason = "; ".join(finding.detail for finding in verdict.problems)
            return SignatureResult(INVALID, verdict.problems[0].code, reason, subject, signer_id, remark)
        return SignatureResult(VALID, signer_subject=subject, signer_hsa_id=signer_id, remark=remark)

    def refusal(self, result: SignatureResult, type_code: str) -> str | None:
        """In enforce mode, the text of the VALIDATION_ERROR for ``result``; None to accept."""
        if self.mode != ENFORCE:
            return None
        if result.status == INVALID:
            return f"underskrift: the signature does not hold ({result.reason_code}): {result.reason}"
        required = ALL_TYPES in self.required_types or type_code.upper() in self.required_types
        if result.status == UNSIGNED and required:
            return f"underskrift: a certificate of type {type_code} must be signed, and this one is not ({result.reason})"
        return None
