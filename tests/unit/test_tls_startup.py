"""Start-up checks: every unusable TLS file is reported when the context is built, naming the file."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from intygstjanst.tls.client import ClientTls
from intygstjanst.tls.errors import TlsConfigError
from intygstjanst.tls.pki import DevCa, DevPki, create_dev_pki
from intygstjanst.tls.server import load_server_tls

CLIENT = "SE2321000016-C001"


@dataclass(frozen=True)
class Files:
    pki: DevPki
    ca: DevCa
    foreign: DevPki
    scratch: Path

    def write(self, name: str, data: bytes) -> Path:
        path = self.scratch / name
        path.write_bytes(data)
        return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    base = tmp_path_factory.mktemp("startup")
    pki = create_dev_pki(base / "pki", client_hsa_ids=[CLIENT])
    foreign = create_dev_pki(base / "foreign")
    scratch = base / "scratch"
    scratch.mkdir()
    return Files(pki, DevCa.load(pki.directory), foreign, scratch)


def server_paths(f: Files) -> dict[str, Path | None]:
    return {"cert": f.pki.server.cert, "key": f.pki.server.key, "ca": f.pki.ca, "crl": None}


def crl_bytes(ca: DevCa, this_update: datetime, next_update: datetime) -> bytes:
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(this_update)
        .next_update(next_update)
        .sign(ca.key, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.PEM)


NOW = datetime.now(UTC)

# Each case changes one of the four inputs and names the expected file and message fragment.
CASES: dict[str, Callable[[Files], tuple[str, Path, str]]] = {
    "missing certificate": lambda f: ("cert", f.scratch / "absent.pem", "cannot read file: No such file or directory"),
    "certificate is a directory": lambda f: ("cert", f.scratch, "cannot read file: Is a directory"),
    "empty certificate": lambda f: ("cert", f.write("empty.pem", b""), "file is empty"),
    "certificate not PEM": lambda f: (
        "cert", f.write("text.pem", b"hello\n"), "not a PEM file with a '-----BEGIN CERTIFICATE-----' block"
    ),
    "certificate in DER": lambda f: (
        "cert",
        f.write("server.der", f.ca.cert.public_bytes(serialization.Encoding.DER)),
        "it looks like binary DER",
    ),
    "corrupt PEM certificate": lambda f: (
        "cert",
        f.write("corrupt.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        "malformed PEM certificate",
    ),
    "expired server certificate": lambda f: (
        "cert",
        f.ca.issue_server_cert(
            ["localhost"], f.scratch / "expired", not_before=NOW - timedelta(days=9), not_after=NOW - timedelta(days=2)
        ).cert,
        "expired (notAfter",
    ),
    "server certificate not yet valid": lambda f: (
        "cert",
        f.ca.issue_server_cert(
            ["localhost"], f.scratch / "future", not_before=NOW + timedelta(days=2), not_after=NOW + timedelta(days=9)
        ).cert,
        "is not valid yet (notBefore",
    ),
    "client certificate used as server certificate": lambda f: (
        "cert", f.pki.clients[CLIENT].cert, "extendedKeyUsage without serverAuth"
    ),
    "missing key": lambda f: ("key", f.scratch / "absent.key", "cannot read file: No such file or directory"),
    "key not PEM": lambda f: ("key", f.write("text.key", b"not a key"), "'-----BEGIN PRIVATE KEY-----' block"),
    "key of another certificate": lambda f: (
        "key", f.pki.clients[CLIENT].key, "does not belong to certificate CN=localhost,O="
    ),
    "encrypted key": lambda f: (
        "key",
        f.write(
            "encrypted.key",
            f.ca.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"secret"),
            ),
        ),
        "private key is encrypted",
    ),
    "CA file without a CA": lambda f: ("ca", f.pki.server.cert, "certificate #1 (CN=localhost,"),
    "CA file missing": lambda f: ("ca", f.scratch / "absent-ca.pem", "cannot read file: No such file or directory"),
    "CRL not PEM": lambda f: ("crl", f.pki.ca, "not a PEM file with a '-----BEGIN X509 CRL-----' block"),
    "CRL of another CA": lambda f: (
        "crl",
        DevCa.load(f.foreign.directory).write_crl([], f.scratch / "foreign-crl.pem"),
        f"is not signed by any CA in {f.pki.ca}",
    ),
    "expired CRL": lambda f: (
        "crl",
        f.write("old-crl.pem", crl_bytes(f.ca, NOW - timedelta(days=9), NOW - timedelta(days=1))),
        "expired (nextUpdate",
    ),
    "CRL not yet valid": lambda f: (
        "crl",
        f.write("new-crl.pem", crl_bytes(f.ca, NOW + timedelta(days=1), NOW + timedelta(days=9))),
        "is not valid yet (thisUpdate",
    ),
}

ROLES = {"cert": "server certificate", "key": "server private key", "ca": "client CA file", "crl": "CRL file"}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_file_is_reported_at_start_up(files: Files, case: str) -> None:
    which, path, fragment = CASES[case](files)
    paths = server_paths(files)
    paths[which] = path
    with pytest.raises(TlsConfigError) as caught:
        load_server_tls(paths["cert"], paths["key"], paths["ca"], paths["crl"])
    error = caught.value
    assert (error.role, error.path) == (ROLES[which], Path(path))
    assert str(error).startswith(f"{ROLES[which]} {path}: ")
    assert fragment in str(error)


def test_expired_ca_is_reported(files: Files, tmp_path: Path) -> None:
    ca_dir = tmp_path / "old-ca"
    ca = DevCa.create(ca_dir, days=1)
    builder = x509.CertificateBuilder(
        issuer_name=ca.cert.subject,
        subject_name=ca.cert.subject,
        public_key=ca.key.public_key(),
        serial_number=x509.random_serial_number(),
        not_valid_before=NOW - timedelta(days=9),
        not_valid_after=NOW - timedelta(days=1),
    )
    for extension in ca.cert.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    old = builder.sign(ca.key, hashes.SHA256())
    path = files.write("expired-ca.pem", old.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(TlsConfigError, match=r"^client CA file .*expired-ca\.pem: certificate .* expired"):
        load_server_tls(files.pki.server.cert, files.pki.server.key, path)


def test_good_files_give_a_strict_server_context(files: Files) -> None:
    crl = files.ca.write_crl([], files.scratch / "crl.pem")
    context = load_server_tls(files.pki.server.cert, files.pki.server.key, files.pki.ca, crl)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_flags & ssl.VERIFY_CRL_CHECK_LEAF
    assert context.options & ssl.OP_NO_RENEGOTIATION


def test_client_tls_checks_its_files(files: Files) -> None:
    client = files.pki.clients[CLIENT]
    with pytest.raises(TlsConfigError, match=r"^client private key .*: does not belong to certificate"):
        ClientTls(client.cert, files.pki.server.key, files.pki.ca).ssl_context()
    with pytest.raises(TlsConfigError, match="extendedKeyUsage without clientAuth"):
        ClientTls(files.pki.server.cert, files.pki.server.key, files.pki.ca).ssl_context()
    with pytest.raises(TlsConfigError, match=r"^server CA file .*: certificate #1 .* is not a CA certificate"):
        ClientTls(client.cert, client.key, files.pki.server.cert).ssl_context()
    context = ClientTls(client.cert, client.key, files.pki.ca).ssl_context()
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
