"""Whether a certificate's signer is trusted: the signer certificate chains to a configured issuing
CA, every certificate of the chain was valid at the signing time (``signeringstidpunkt``), and, with
a CRL configured, none was revoked by then.

The time that matters is the signing time, not now: a certificate signed in 2024 stays valid when
the doctor's card expires in 2026. For the same reason a trusted CA need not be valid today, unlike
the trust anchors of TLS (``tls.files``), and a revocation dated after the signing time is reported,
not held against the signature.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from intygstjanst.settings import SettingsError

_MAX_CHAIN = 6  # signer, intermediates, issuing CA: national chains have three or four
_CACHED_CHAINS = 10_000


@dataclass(frozen=True)
class Finding:
    """One trust problem: ``code`` (``untrusted_issuer``, ``not_valid_at_signing_time``, ``revoked``,
    ``key_usage``) and what it is, naming the certificate."""

    code: str
    detail: str


@dataclass(frozen=True)
class TrustVerdict:
    problems: tuple[Finding, ...] = ()
    remarks: tuple[str, ...] = ()  # reported, never held against the signature


def _name(certificate: x509.Certificate | x509.CertificateRevocationList) -> str:
    return certificate.subject.rfc4514_string() if isinstance(certificate, x509.Certificate) else certificate.issuer.rfc4514_string()


def hsa_id(certificate: x509.Certificate) -> str:
    """The HSA-id of a SITHS certificate's holder: the subject serialNumber, or "" without one."""
    values = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    value = str(values[0].value) if values else ""
    # Shown and stored as text: a control character (NUL cannot even be stored) is written escaped.
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in value)


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    if certificate.issuer != issuer.subject:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _may_sign(certificate: x509.Certificate) -> bool:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return bool(usage.digital_signature or usage.content_commitment)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class SignerTrust:
    """The trusted issuing CAs (``signature_trust_bundle``) and optional CRLs (``signature_crl``)."""

    anchors: tuple[x509.Certificate, ...] = ()
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    bundle: Path | None = None
    _by_issuer: dict[x509.Name, list[x509.CertificateRevocationList]] = field(default_factory=dict, compare=False)
    # Chains found, by (signer, KeyInfo certificates): a doctor signs many certificates with one
    # card, and checking the CA's signature on it is half the cost of a whole check.
    _chains: dict[tuple[x509.Certificate, ...], list[x509.Certificate] | None] = field(default_factory=dict, compare=False)

    @classmethod
    def load(cls, bundle: Path | None, crl: Path | None) -> SignerTrust:
        """Read and check the files at start-up; :class:`SettingsError` names the setting and file."""
        if bundle is None:
            if crl is not None:
                raise SettingsError("signature_crl needs signature_trust_bundle (the CAs whose CRLs it holds)")
            return cls()
        anchors = _read_certificates(bundle)
        for index, anchor in enumerate(anchors, start=1):
            if not _is_ca(anchor):
                raise SettingsError(
                    f"signature_trust_bundle: {bundle}: certificate #{index} ({_name(anchor)}) is not a CA certificate "
                    "(basicConstraints CA:TRUE missing)"
                )
        crls = _read_crls(crl, anchors) if crl is not None else []
        by_issuer: dict[x509.Name, list[x509.CertificateRevocationList]] = {}
        for item in crls:
            by_issuer.setdefault(item.issuer, []).append(item)
        return cls(tuple(anchors), tuple(crls), bundle, by_issuer)

    def judge(self, signer: x509.Certificate, others: Sequence[x509.Certificate], signed_at: dt.datetime) -> TrustVerdict:
        """The trust problems of ``signer`` (with intermediates ``others`` from KeyInfo) at
        ``signed_at`` (aware), most important first."""
        problems: list[Finding] = []
        remarks: list[str] = []
        if not _may_sign(signer):
            problems.append(Finding("key_usage", f"the signer certificate {_name(signer)} may not sign (key usage)"))
        chain = self._chain(signer, others)
        if chain is None:
            where = f"the trust bundle {self.bundle}" if self.bundle else "no trust bundle is configured (signature_trust_bundle)"
            problems.append(Finding("untrusted_issuer", f"untrusted issuer: {signer.issuer.rfc4514_string()} of the signer certificate; {where}"))
            chain = [signer]
        for certificate in chain:
            if not certificate.not_valid_before_utc <= signed_at <= certificate.not_valid_after_utc:
                problems.append(
                    Finding(
                        "not_valid_at_signing_time",
                        f"{_name(certificate)} was not valid at the signing time {_utc(signed_at)} "
                        f"(valid {_utc(certificate.not_valid_before_utc)} to {_utc(certificate.not_valid_after_utc)})",
                    )
                )
        for certificate, issuer in zip(chain, chain[1:]):
            revoked = self._revocation(certificate, issuer)
            if revoked is None:
                continue
            if revoked <= signed_at:
                problems.append(Finding("revoked", f"{_name(certificate)} was revoked on {_utc(revoked)}, before the signing time {_utc(signed_at)}"))
            else:
                remarks.append(f"{_name(certificate)} was revoked on {_utc(revoked)}, after the signing time")
        problems.sort(key=lambda finding: _ORDER.index(finding.code))
        return TrustVerdict(tuple(problems), tuple(remarks))

    def _chain(self, signer: x509.Certificate, others: Sequence[x509.Certificate]) -> list[x509.Certificate] | None:
        key = (signer, *others)
        if key not in self._chains:
            if len(self._chains) >= _CACHED_CHAINS:
                self._chains.clear()
            self._chains[key] = self._build_chain(signer, others)
        chain = self._chains[key]
        return list(chain) if chain is not None else None

    def _build_chain(self, signer: x509.Certificate, others: Sequence[x509.Certificate]) -> list[x509.Certificate] | None:
        """signer, intermediates..., the trusted CA; None when no path reaches a trusted CA."""
        chain = [signer]
        while len(chain) < _MAX_CHAIN:
            current = chain[-1]
            anchor = next((a for a in self.anchors if _issued_by(current, a)), None)
            if anchor is not None:
                return chain + [anchor]
            step = next((c for c in others if c not in chain and _is_ca(c) and _issued_by(current, c)), None)
            if step is None:
                return None
            chain.append(step)
        return None

    def _revocation(self, certificate: x509.Certificate, issuer: x509.Certificate) -> dt.datetime | None:
        for crl in self._by_issuer.get(issuer.subject, []):
            entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
            if entry is not None:
                return entry.revocation_date_utc
        return None


def _signed_crl(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    key = ca.public_key()
    return isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)) and crl.is_signature_valid(key)


_ORDER = ("untrusted_issuer", "revoked", "not_valid_at_signing_time", "key_usage")


def _read(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{setting}: {path}: cannot read file: {exc.strerror or exc}") from None


def _read_certificates(path: Path) -> list[x509.Certificate]:
    data = _read(path, "signature_trust_bundle")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise SettingsError(f"signature_trust_bundle: {path}: not a PEM file of CA certificates: {exc}") from None
    return certificates


def _read_crls(path: Path, anchors: Sequence[x509.Certificate]) -> list[x509.CertificateRevocationList]:
    """PEM (one or more CRLs) or a single DER CRL; each must be signed by a CA of the bundle."""
    data = _read(path, "signature_crl")
    marker = b"-----BEGIN X509 CRL-----"
    try:
        if marker in data:
            crls = [x509.load_pem_x509_crl(marker + block) for block in data.split(marker)[1:]]
        else:
            crls = [x509.load_der_x509_crl(data)]
    except ValueError as exc:
        raise SettingsError(f"signature_crl: {path}: not a PEM or DER CRL: {exc}") from None
    for crl in crls:
        if not any(a.subject == crl.issuer and _signed_crl(crl, a) for a in anchors):
            raise SettingsError(f"signature_crl: {path}: the CRL of {_name(crl)} is not signed by a CA in signature_trust_bundle")
    return crls
