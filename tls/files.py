"""Reading and checking PEM files before they are handed to OpenSSL.

OpenSSL reports problems with configured files late (at the first handshake, as a refusal that the
peer sees) or cryptically (``[X509: KEY_VALUES_MISMATCH]``). Everything here runs when a context is
built and raises :class:`TlsConfigError` naming the file, so a broken deployment fails at start-up.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    PrivateKeyTypes,
    PublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID

from intygstjanst.tls.errors import TlsConfigError

_CRL_BLOCK = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.DOTALL)
_DER_SEQUENCE_TAG = 0x30


def read_file(path: str | Path, role: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TlsConfigError(role, path, f"cannot read file: {exc.strerror or exc}") from exc


def _not_pem(data: bytes, expected: str) -> str:
    problem = f"not a PEM file with a '-----BEGIN {expected}-----' block"
    if data[:1] == bytes([_DER_SEQUENCE_TAG]):
        problem += " (it looks like binary DER; convert it to PEM)"
    elif not data.strip():
        problem = "file is empty"
    return problem


def load_certificates(path: str | Path, role: str) -> list[x509.Certificate]:
    """All certificates in a PEM file, in file order (leaf first for a chain file)."""
    data = read_file(path, role)
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise TlsConfigError(role, path, _not_pem(data, "CERTIFICATE"))
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TlsConfigError(role, path, f"malformed PEM certificate: {exc}") from exc


def load_private_key(path: str | Path, role: str) -> PrivateKeyTypes:
    data = read_file(path, role)
    if not re.search(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----", data):
        raise TlsConfigError(role, path, _not_pem(data, "PRIVATE KEY"))
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        # cryptography signals "encrypted but no password" with TypeError.
        raise TlsConfigError(role, path, "private key is encrypted; an unencrypted key is required") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TlsConfigError(role, path, f"malformed or unsupported private key: {exc}") from exc


def load_crls(path: str | Path, role: str) -> list[x509.CertificateRevocationList]:
    data = read_file(path, role)
    blocks = _CRL_BLOCK.findall(data)
    if not blocks:
        raise TlsConfigError(role, path, _not_pem(data, "X509 CRL"))
    try:
        return [x509.load_pem_x509_crl(block) for block in blocks]
    except ValueError as exc:
        raise TlsConfigError(role, path, f"malformed PEM CRL: {exc}") from exc


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "<empty subject>"


def check_validity(cert: x509.Certificate, path: str | Path, role: str, now: datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise TlsConfigError(
            role, path, f"certificate {describe(cert)} is not valid yet (notBefore {_utc(cert.not_valid_before_utc)})"
        )
    if now > cert.not_valid_after_utc:
        raise TlsConfigError(
            role, path, f"certificate {describe(cert)} expired (notAfter {_utc(cert.not_valid_after_utc)})"
        )


def _public_key_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_key_matches(
    cert: x509.Certificate, cert_path: str | Path, key: PrivateKeyTypes, key_path: str | Path, key_role: str
) -> None:
    if _public_key_der(cert.public_key()) != _public_key_der(key.public_key()):
        raise TlsConfigError(key_role, key_path, f"does not belong to certificate {describe(cert)} in {cert_path}")


def check_extended_key_usage(
    cert: x509.Certificate, path: str | Path, role: str, usage: x509.ObjectIdentifier
) -> None:
    """A certificate with an extendedKeyUsage must list the usage it is deployed for; peers check it."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return
    if usage not in ext.value:
        wanted = "serverAuth" if usage == ExtendedKeyUsageOID.SERVER_AUTH else "clientAuth"
        raise TlsConfigError(
            role, path, f"certificate {describe(cert)} has an extendedKeyUsage without {wanted}"
        )


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


@dataclass(frozen=True)
class CertAndKey:
    """A checked certificate chain file and its private key."""

    chain: list[x509.Certificate]
    key: PrivateKeyTypes


def load_cert_and_key(
    cert_path: str | Path, key_path: str | Path, role: str, usage: x509.ObjectIdentifier, now: datetime
) -> CertAndKey:
    """Load our own certificate (leaf first, optional intermediates) and key, checking they can be used."""
    chain = load_certificates(cert_path, f"{role} certificate")
    for cert in chain:
        check_validity(cert, cert_path, f"{role} certificate", now)
    check_extended_key_usage(chain[0], cert_path, f"{role} certificate", usage)
    key = load_private_key(key_path, f"{role} private key")
    check_key_matches(chain[0], cert_path, key, key_path, f"{role} private key")
    return CertAndKey(chain, key)


def load_trust_anchors(path: str | Path, role: str, now: datetime) -> list[x509.Certificate]:
    """Load a CA bundle; every entry must be a currently valid CA certificate.

    A leaf certificate in a trust bundle is a configuration mistake (usually the wrong file), so it is
    refused rather than silently ignored.
    """
    cas = load_certificates(path, role)
    for index, cert in enumerate(cas, start=1):
        if not is_ca(cert):
            raise TlsConfigError(
                role,
                path,
                f"certificate #{index} ({describe(cert)}) is not a CA certificate (basicConstraints CA:TRUE missing)",
            )
        check_validity(cert, path, role, now)
    return cas


# The kinds of CA key that can sign a CRL (X25519 and X448 keys only agree on keys).
_SIGNING_KEYS = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, dsa.DSAPublicKey, ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)


def check_crls(
    crls: Sequence[x509.CertificateRevocationList],
    path: str | Path,
    cas: Sequence[x509.Certificate],
    ca_path: str | Path,
    now: datetime,
) -> None:
    """Each CRL must be signed by a configured CA and be current, or OpenSSL refuses every client."""
    role = "CRL file"
    for crl in crls:
        issuer = crl.issuer.rfc4514_string()
        keys = [ca.public_key() for ca in cas if ca.subject == crl.issuer]
        if not any(isinstance(key, _SIGNING_KEYS) and crl.is_signature_valid(key) for key in keys):
            raise TlsConfigError(role, path, f"CRL issued by {issuer} is not signed by any CA in {ca_path}")
        if now < crl.last_update_utc:
            raise TlsConfigError(role, path, f"CRL issued by {issuer} is not valid yet (thisUpdate {_utc(crl.last_update_utc)})")
        if crl.next_update_utc is not None and now > crl.next_update_utc:
            raise TlsConfigError(role, path, f"CRL issued by {issuer} expired (nextUpdate {_utc(crl.next_update_utc)})")


def openssl_step(role: str, path: str | Path, step: Callable[[], object]) -> None:
    """Run an OpenSSL loading step, reporting a failure against the file it was loading.

    The Python-side checks catch the common mistakes first; this catches what only OpenSSL knows
    (e.g. a key type or signature algorithm the linked OpenSSL refuses at its security level).
    """
    try:
        step()
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(role, path, f"rejected by OpenSSL: {exc}") from exc


def utc_now() -> datetime:
    return datetime.now(UTC)
