"""The caller's HSA-id, read from its client certificate.

Swedish function certificates carry the HSA-id in the subject ``serialNumber`` attribute (OID 2.5.4.5).
Two sources exist: the ASGI TLS extension that our uvicorn protocol adds to each request (native
mTLS), and a certificate forwarded by a TLS-terminating proxy. Whether a proxy is trusted is for the
caller to decide; these functions only read certificates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.x509.oid import NameOID

from intygstjanst.tls.errors import PeerIdentityError
from intygstjanst.tls.files import describe

_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"

# What this service accepts as an HSA-id wherever one is configured or claimed (certificates it issues,
# authorization entries, the original-consumer header): wide enough for real ids such as
# SE2321000016-15CQ or TSTNMT2321000156-1002, and safe in file names and log lines.
HSA_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
HSA_ID_RULE = "1-64 letters, digits, '-' or '_', starting with a letter or digit"


def hsa_id_from_certificate(cert: x509.Certificate) -> str:
    """The HSA-id in the subject serialNumber; exactly one non-empty value is required."""
    values = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if not values:
        raise PeerIdentityError(f"client certificate {describe(cert)} has no serialNumber (HSA-id) in its subject")
    if len(values) > 1:
        # Picking one of several would let whoever controls the other attribute choose the identity.
        raise PeerIdentityError(f"client certificate {describe(cert)} has {len(values)} serialNumber attributes")
    value = values[0].value
    hsa_id = (value.decode("utf-8", "replace") if isinstance(value, bytes) else value).strip()
    if not hsa_id:
        raise PeerIdentityError(f"client certificate {describe(cert)} has an empty serialNumber")
    return hsa_id


# A connection's certificate is parsed once per request; consumers are few and keep their
# certificates for months, so a small cache removes the parse from the hot path.
@lru_cache(maxsize=512)
def _hsa_id_from_pem(pem: str) -> str:
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise PeerIdentityError(f"client certificate is not a valid PEM certificate: {exc}") from exc
    return hsa_id_from_certificate(cert)


def peer_hsa_id(scope: Mapping[str, Any]) -> str | None:
    """The HSA-id of the verified client certificate of this request, or None without one.

    None means the request did not come over native mTLS (plain HTTP, or TLS ended at a proxy), or the
    server reported the certificate as unverified. A certificate without a usable HSA-id raises
    :class:`PeerIdentityError`, so the caller can tell "no certificate" from "wrong certificate".
    """
    tls = (scope.get("extensions") or {}).get("tls")
    if not tls or tls.get("client_cert_error") is not None:
        return None
    chain = tls.get("client_cert_chain") or ()
    if not chain:
        return None
    return _hsa_id_from_pem(next(iter(chain)))


def hsa_id_from_forwarded_cert(header_value: str) -> str:
    """The HSA-id from a client certificate forwarded by a proxy in a request header.

    Accepts the URL-encoded PEM of nginx's ``$ssl_client_escaped_cert`` (and, since decoding is
    harmless for it, plain PEM with continuation lines indented by a tab as the older
    ``$ssl_client_cert`` sends). Raises :class:`PeerIdentityError` for anything else.
    """
    # unquote, not unquote_plus: '+' is a base64 character and must survive.
    lines = [line.strip() for line in unquote(header_value).splitlines()]
    pem = "\n".join(line for line in lines if line) + "\n"
    if not pem.startswith(_PEM_BEGIN):
        raise PeerIdentityError(f"forwarded client certificate does not start with {_PEM_BEGIN}")
    return _hsa_id_from_pem(pem)
