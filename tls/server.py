"""The server side SSL context for native mutual TLS."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography.x509.oid import ExtendedKeyUsageOID

from intygstjanst.tls.handshake import remember_presented_certificates
from intygstjanst.tls.files import (
    check_crls,
    load_cert_and_key,
    load_crls,
    load_trust_anchors,
    openssl_step,
    utc_now,
)

# TLS 1.2 suites: forward secret AEAD only. TLS 1.3 suites are all acceptable and not affected.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def load_server_tls(
    cert: str | Path, key: str | Path, ca: str | Path, crl: str | Path | None = None
) -> ssl.SSLContext:
    """Build the server context: TLS 1.2+, client certificate required and verified against ``ca``.

    ``cert`` may hold intermediates after the leaf. ``ca`` holds the CAs whose client certificates are
    accepted (only CA certificates). With ``crl``, the client certificate's issuer must have a current
    CRL in that file and revoked client certificates are refused in the handshake. Every file is checked
    here and a :class:`TlsConfigError` names the file and the problem.
    """
    now = utc_now()
    load_cert_and_key(cert, key, "server", ExtendedKeyUsageOID.SERVER_AUTH, now)
    cas = load_trust_anchors(ca, "client CA file", now)
    if crl is not None:
        check_crls(load_crls(crl, "CRL file"), crl, cas, ca, now)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # Renegotiation could swap the client certificate after the identity has been read from it.
    context.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.set_ciphers(TLS12_CIPHERS)
    context.verify_mode = ssl.CERT_REQUIRED
    openssl_step("server certificate", cert, lambda: context.load_cert_chain(str(cert), str(key)))
    openssl_step("client CA file", ca, lambda: context.load_verify_locations(cafile=str(ca)))
    if crl is not None:
        # OpenSSL's file lookup loads CRL blocks as well as certificates from a PEM file.
        openssl_step("CRL file", crl, lambda: context.load_verify_locations(cafile=str(crl)))
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    remember_presented_certificates(context)  # a refused handshake's log line names the certificate
    return context


@dataclass(frozen=True)
class ServerTlsFiles:
    """The files of :func:`load_server_tls`, usable as uvicorn's ``ssl_context_factory``.

    An SSLContext cannot be pickled into uvicorn's worker processes; this can, and each worker builds
    its own context from the files.
    """

    cert: Path
    key: Path
    ca: Path
    crl: Path | None = None

    def load(self) -> ssl.SSLContext:
        return load_server_tls(self.cert, self.key, self.ca, self.crl)

    def __call__(self, _config: object, _default_factory: object) -> ssl.SSLContext:
        return self.load()
