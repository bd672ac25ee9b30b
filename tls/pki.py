"""A development PKI: a local CA, a server certificate and client (function) certificates.

Client certificates carry the caller's HSA-id in the subject ``serialNumber`` (OID 2.5.4.5), the way
Swedish function certificates do, so the identity code runs unchanged against them. Keys are ECDSA
P-256: quick to generate in tests and accepted by every TLS stack we talk to.

Layout of a PKI directory::

    ca.pem, ca.key            the CA
    server.pem, server.key    the server certificate
    clients/<HSA-id>.pem/.key client certificates
    signers/<HSA-id>.pem/.key signing certificates of doctors (``issue_signing_cert``)
    crl.pem                   revocation list (``write_crl``)
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from intygstjanst.tls.errors import PkiError
from intygstjanst.tls.files import describe, load_certificates, load_crls, load_private_key, utc_now
from intygstjanst.tls.identity import HSA_ID, HSA_ID_RULE

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
SERVER_CERT = "server.pem"
SERVER_KEY = "server.key"
CLIENT_DIR = "clients"
SIGNER_DIR = "signers"
CRL_FILE = "crl.pem"

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
DEFAULT_LEAF_DAYS = 365
DEFAULT_CA_DAYS = 3650
DEFAULT_CRL_DAYS = 30
ORGANIZATION = "Intygstjänsten utveckling"
# Backdating absorbs clock skew between the machine issuing and the machines verifying.
_BACKDATE = timedelta(minutes=5)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write via a fresh temporary file created with ``mode`` and rename it into place.

    Creating the file with its final mode (instead of chmod afterwards) leaves no window in which a
    private key is readable by others, and the rename also gives the mode when ``path`` already
    existed with looser permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_atomically(path, pem, 0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    _write_atomically(path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _check_hsa_id(hsa_id: str) -> None:
    if not HSA_ID.fullmatch(hsa_id):
        raise PkiError(f"HSA-id {hsa_id!r} must be {HSA_ID_RULE}")


def _holder(hsa_id: str, common_name: str | None) -> x509.Name:
    """The subject of a certificate held by ``hsa_id`` (a function or a person): its HSA-id in the
    serialNumber, as in SITHS certificates."""
    _check_hsa_id(hsa_id)
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name or hsa_id),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, hsa_id),
        ]
    )


def _check_hosts(hosts: Sequence[str]) -> None:
    if not hosts:
        raise PkiError("a server certificate needs at least one host name or IP address")


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class IssuedCert:
    """Paths of a certificate and its private key."""

    cert: Path
    key: Path

    def to_json(self) -> dict[str, str]:
        return {"cert": str(self.cert), "key": str(self.key)}


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    start: datetime,
    end: datetime,
    *,
    ca: bool,
    non_repudiation: bool = False,
) -> x509.CertificateBuilder:
    """What every certificate here has: names, key, a random serial, validity, basic constraints and
    key usage (a CA signs certificates and CRLs, a leaf its TLS handshakes, a signer documents)."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=non_repudiation,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )


@dataclass(frozen=True)
class DevCa:
    """A development CA loaded in memory, able to issue certificates and CRLs."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: Path
    key_path: Path

    @classmethod
    def create(cls, directory: str | Path, *, days: int = DEFAULT_CA_DAYS, force: bool = False) -> DevCa:
        directory = Path(directory)
        cert_path, key_path = directory / CA_CERT, directory / CA_KEY
        existing = [p for p in (cert_path, key_path) if p.exists()]
        if existing and not force:
            raise PkiError(
                f"{existing[0]} already exists; replacing the CA makes every certificate it issued untrusted "
                "(use --force / force=True to do it anyway)"
            )
        key = _new_key()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{ORGANIZATION} CA {secrets.token_hex(4)}"),
            ]
        )
        start = utc_now() - _BACKDATE
        public_key = key.public_key()
        cert = (
            _builder(name, name, public_key, start, start + timedelta(days=days), ca=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_key(key_path, key)
        _write_cert(cert_path, cert)
        return cls(cert, key, cert_path, key_path)

    @classmethod
    def load(cls, directory: str | Path) -> DevCa:
        directory = Path(directory)
        cert_path, key_path = directory / CA_CERT, directory / CA_KEY
        for path in (cert_path, key_path):
            if not path.is_file():
                raise PkiError(
                    f"no development CA in {directory} ({path.name} missing); "
                    f"create one with 'intygstjanst tls init --out {directory}'"
                )
        cert = load_certificates(cert_path, "CA certificate")[0]
        key = load_private_key(key_path, "CA private key")
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError(f"{key_path}: expected the ECDSA key written by 'tls init'")
        return cls(cert, key, cert_path, key_path)

    def _issue(
        self,
        subject: x509.Name,
        usage: x509.ObjectIdentifier | None,
        extra: Iterable[x509.ExtensionType],
        out_cert: Path,
        out_key: Path,
        days: int,
        not_before: datetime | None,
        not_after: datetime | None,
    ) -> IssuedCert:
        start = not_before if not_before is not None else utc_now() - _BACKDATE
        end = not_after if not_after is not None else start + timedelta(days=days)
        if end <= start:
            raise PkiError(f"notAfter {end.isoformat()} is not after notBefore {start.isoformat()}")
        if end > self.cert.not_valid_after_utc:
            raise PkiError(
                f"certificate would outlive the CA {self.cert_path} "
                f"(CA expires {self.cert.not_valid_after_utc.isoformat()}); ask for fewer days"
            )
        key = _new_key()
        builder = (
            _builder(subject, self.cert.subject, key.public_key(), start, end, ca=False, non_repudiation=usage is None)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        if usage is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        for extension in extra:
            builder = builder.add_extension(extension, critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        _write_key(out_key, key)
        _write_cert(out_cert, cert)
        return IssuedCert(out_cert, out_key)

    def issue_server_cert(
        self,
        hosts: Sequence[str],
        out_dir: str | Path,
        *,
        days: int = DEFAULT_LEAF_DAYS,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> IssuedCert:
        """A TLS server certificate for DNS names and IP addresses (both given in ``hosts``)."""
        _check_hosts(hosts)
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
            ]
        )
        out = Path(out_dir)
        return self._issue(
            subject,
            ExtendedKeyUsageOID.SERVER_AUTH,
            [x509.SubjectAlternativeName(names)],
            out / SERVER_CERT,
            out / SERVER_KEY,
            days,
            not_before,
            not_after,
        )

    def issue_client_cert(
        self,
        hsa_id: str,
        out_dir: str | Path,
        *,
        common_name: str | None = None,
        days: int = DEFAULT_LEAF_DAYS,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> IssuedCert:
        """A client (function) certificate whose subject serialNumber is ``hsa_id``.

        Written to ``<out_dir>/<hsa_id>.pem`` and ``.key``.
        """
        subject = _holder(hsa_id, common_name)
        out = Path(out_dir)
        return self._issue(
            subject,
            ExtendedKeyUsageOID.CLIENT_AUTH,
            [],
            out / f"{hsa_id}.pem",
            out / f"{hsa_id}.key",
            days,
            not_before,
            not_after,
        )

    def issue_signing_cert(
        self,
        hsa_id: str,
        out_dir: str | Path,
        *,
        common_name: str | None = None,
        days: int = DEFAULT_LEAF_DAYS,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> IssuedCert:
        """A doctor's signing certificate (as on a SITHS card): subject serialNumber ``hsa_id``, key
        usage digitalSignature and nonRepudiation, no extended key usage.

        Written to ``<out_dir>/<hsa_id>.pem`` and ``.key``.
        """
        subject = _holder(hsa_id, common_name)
        out = Path(out_dir)
        return self._issue(subject, None, [], out / f"{hsa_id}.pem", out / f"{hsa_id}.key", days, not_before, not_after)

    def _signed(self, item: x509.Certificate | x509.CertificateRevocationList) -> bool:
        if item.issuer != self.cert.subject:
            return False
        if isinstance(item, x509.CertificateRevocationList):
            return item.is_signature_valid(self.key.public_key())
        try:
            item.verify_directly_issued_by(self.cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True

    def write_crl(
        self, revoked: Sequence[str | Path], out_path: str | Path, *, days: int = DEFAULT_CRL_DAYS
    ) -> Path:
        """Write a CRL revoking the given certificate files, keeping entries of the CRL already there.

        Revocations accumulate: an existing CRL at ``out_path`` signed by this CA contributes its entries
        and its number (the new CRL gets the next one). An empty ``revoked`` renews the CRL, which a
        server checking revocation needs before the old one's nextUpdate passes.
        """
        out = Path(out_path)
        now = utc_now()
        entries: dict[int, datetime] = {}
        number = 1
        if out.exists():
            previous = [crl for crl in load_crls(out, "existing CRL") if self._signed(crl)]
            for crl in previous:
                for entry in crl:
                    entries[entry.serial_number] = entry.revocation_date_utc
                try:
                    number = max(number, crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1)
                except x509.ExtensionNotFound:
                    pass
        for path in revoked:
            for cert in load_certificates(path, "certificate to revoke")[:1]:
                if not self._signed(cert):
                    raise PkiError(f"{path}: certificate {describe(cert)} was not issued by the CA {self.cert_path}")
                entries.setdefault(cert.serial_number, now)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(now - _BACKDATE)
            .next_update(now + timedelta(days=days))
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        for serial, when in sorted(entries.items()):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        crl = builder.sign(self.key, hashes.SHA256())
        _write_atomically(out, crl.public_bytes(serialization.Encoding.PEM), 0o644)
        return out


@dataclass(frozen=True)
class DevPki:
    """What ``create_dev_pki`` wrote."""

    directory: Path
    ca: Path
    ca_key: Path
    server: IssuedCert
    clients: dict[str, IssuedCert] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "ca": str(self.ca),
            "server": self.server.to_json(),
            "clients": {hsa_id: issued.to_json() for hsa_id, issued in self.clients.items()},
        }


def create_dev_pki(
    out_dir: str | Path,
    hosts: Sequence[str] = DEFAULT_HOSTS,
    client_hsa_ids: Sequence[str] = (),
    *,
    days: int = DEFAULT_LEAF_DAYS,
    force: bool = False,
) -> DevPki:
    """Create a CA, a server certificate for ``hosts`` (names and IPs) and one client cert per HSA-id."""
    out = Path(out_dir).resolve()
    # Validate everything before writing anything, so a typo does not leave half a PKI behind.
    _check_hosts(hosts)
    for hsa_id in client_hsa_ids:
        _check_hsa_id(hsa_id)
    ca = DevCa.create(out, days=max(DEFAULT_CA_DAYS, days + 1), force=force)
    server = ca.issue_server_cert(hosts, out, days=days)
    clients = {hsa_id: ca.issue_client_cert(hsa_id, out / CLIENT_DIR, days=days) for hsa_id in client_hsa_ids}
    return DevPki(out, ca.cert_path, ca.key_path, server, clients)
