"""Reading the caller's HSA-id from the TLS extension and from a proxy-forwarded certificate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from intygstjanst.tls.errors import PeerIdentityError
from intygstjanst.tls.identity import (
    hsa_id_from_certificate,
    hsa_id_from_forwarded_cert,
    peer_hsa_id,
)
from intygstjanst.tls.pki import create_dev_pki

HSA_ID = "SE2321000016-1234"


@pytest.fixture(scope="module")
def client_pem(tmp_path_factory: pytest.TempPathFactory) -> str:
    pki = create_dev_pki(tmp_path_factory.mktemp("identity"), client_hsa_ids=[HSA_ID])
    return str(pki.clients[HSA_ID].cert.read_text())


@pytest.fixture(scope="module")
def server_pem(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(create_dev_pki(tmp_path_factory.mktemp("identity-server")).server.cert.read_text())


def self_signed(*attributes: x509.NameAttribute[str]) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(list(attributes))
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder(
            issuer_name=name,
            subject_name=name,
            public_key=key.public_key(),
            serial_number=1,
            not_valid_before=now,
            not_valid_after=now + timedelta(days=1),
        )
        .sign(key, hashes.SHA256())
    )


def tls_scope(chain: list[str], error: str | None = None) -> dict[str, Any]:
    return {"type": "http", "extensions": {"tls": {"client_cert_chain": chain, "client_cert_error": error}}}


def test_peer_hsa_id_reads_the_verified_client_certificate(client_pem: str) -> None:
    assert peer_hsa_id(tls_scope([client_pem])) == HSA_ID


@pytest.mark.parametrize(
    "scope",
    [
        {"type": "http"},
        {"type": "http", "extensions": None},
        {"type": "http", "extensions": {}},
        tls_scope([]),
    ],
    ids=["plain HTTP", "extensions None", "no tls extension", "TLS without client certificate"],
)
def test_peer_hsa_id_is_none_without_a_client_certificate(scope: dict[str, Any]) -> None:
    assert peer_hsa_id(scope) is None


def test_peer_hsa_id_ignores_a_certificate_the_server_could_not_verify(client_pem: str) -> None:
    assert peer_hsa_id(tls_scope([client_pem], error="unable to get local issuer certificate")) is None


def test_certificate_without_serial_number_is_an_identity_error(server_pem: str) -> None:
    with pytest.raises(PeerIdentityError, match=r"CN=localhost.* has no serialNumber \(HSA-id\)"):
        peer_hsa_id(tls_scope([server_pem]))


def test_several_serial_numbers_are_ambiguous() -> None:
    cert = self_signed(
        x509.NameAttribute(NameOID.SERIAL_NUMBER, "SE1-GOOD"), x509.NameAttribute(NameOID.SERIAL_NUMBER, "SE1-EVIL")
    )
    with pytest.raises(PeerIdentityError, match="has 2 serialNumber attributes"):
        hsa_id_from_certificate(cert)


def test_blank_serial_number_is_refused() -> None:
    with pytest.raises(PeerIdentityError, match="empty serialNumber"):
        hsa_id_from_certificate(self_signed(x509.NameAttribute(NameOID.SERIAL_NUMBER, " ")))


def test_forwarded_certificate_as_nginx_escaped_pem(client_pem: str) -> None:
    # nginx's $ssl_client_escaped_cert escapes everything outside the unreserved set, '+' and '/' included.
    escaped = quote(client_pem, safe="")
    assert "%2B" in escaped or "%2F" in escaped  # the decoding of base64 characters is really exercised
    assert hsa_id_from_forwarded_cert(escaped) == HSA_ID


def test_forwarded_certificate_with_literal_plus_signs(client_pem: str) -> None:
    """A proxy that leaves '+' unescaped must not have it turned into a space."""
    assert hsa_id_from_forwarded_cert(quote(client_pem, safe="+/=")) == HSA_ID


def test_forwarded_certificate_in_tab_indented_form(client_pem: str) -> None:
    lines = client_pem.strip().splitlines()
    legacy = lines[0] + "".join(f"\n\t{line}" for line in lines[1:])
    assert hsa_id_from_forwarded_cert(legacy) == HSA_ID


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "does not start with -----BEGIN CERTIFICATE-----"),
        ("SE2321000016-1234", "does not start with -----BEGIN CERTIFICATE-----"),
        (quote("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "not a valid PEM certificate"),
    ],
)
def test_forwarded_garbage_is_an_identity_error(value: str, message: str) -> None:
    with pytest.raises(PeerIdentityError, match=message):
        hsa_id_from_forwarded_cert(value)


def test_forwarded_certificate_without_hsa_id(server_pem: str) -> None:
    with pytest.raises(PeerIdentityError, match="has no serialNumber"):
        hsa_id_from_forwarded_cert(quote(server_pem, safe=""))

