"""Which wire format goes to a recipient, and the converter for it.

The stored form of every certificate is RegisterCertificate v3 (plus, for certificates that came
in through a legacy contract, the carrier that restores the original document). A recipient is
configured with a :class:`Format`; :func:`outbound` turns the stored certificate into that format
and :func:`inbound` turns a legacy payload into the stored form. :func:`outbound_revoke` does the
same for revocations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from intygstjanst.transform import fk7263, revoke, ts
from intygstjanst.transform.carrier import strip_carrier
from intygstjanst.transform.common import (
    RC,
    Element,
    TransformError,
    intyg_of,
    path_of,
    qn,
    read_header,
)


class Format(str, Enum):
    """Wire formats for certificates, named ``<payload element>:<major version>``."""

    REGISTER_CERTIFICATE_3 = "RegisterCertificate:3"
    REGISTER_MEDICAL_CERTIFICATE_3 = fk7263.FORMAT
    REGISTER_TS_BAS_1 = ts.BAS.format
    REGISTER_TS_DIABETES_1 = ts.DIABETES.format


@dataclass(frozen=True)
class LegacyConversion:
    format: Format
    type_codes: frozenset[str]  # upper case; the v3 type codes this legacy format can carry
    payload: str  # qualified name of the legacy payload element
    to_v3: Callable[[Element], Element]
    from_v3: Callable[[Element], Element]


LEGACY: tuple[LegacyConversion, ...] = (
    LegacyConversion(
        Format.REGISTER_MEDICAL_CERTIFICATE_3,
        frozenset({fk7263.TYPE_CODE}),
        qn(fk7263.RMC, "RegisterMedicalCertificate"),
        fk7263.legacy_to_v3,
        fk7263.v3_to_legacy,
    ),
    LegacyConversion(
        Format.REGISTER_TS_BAS_1,
        frozenset({ts.BAS.type_code, ts.BAS.intygs_typ.upper()}),
        qn(ts.BAS.payload_ns, ts.BAS.payload),
        ts.bas_to_v3,
        ts.v3_to_bas,
    ),
    LegacyConversion(
        Format.REGISTER_TS_DIABETES_1,
        frozenset({ts.DIABETES.type_code, ts.DIABETES.intygs_typ.upper()}),
        qn(ts.DIABETES.payload_ns, ts.DIABETES.payload),
        ts.diabetes_to_v3,
        ts.v3_to_diabetes,
    ),
)


class UnsupportedConversion(TransformError):
    """No converter exists for this certificate type and format (a configuration error)."""


def _legacy(fmt: Format) -> LegacyConversion | None:
    return next((c for c in LEGACY if c.format is fmt), None)


def legacy_type_codes(fmt: Format) -> frozenset[str]:
    """The v3 type codes (upper case) a legacy format carries; empty for the v3 format itself."""
    conversion = _legacy(fmt)
    return conversion.type_codes if conversion is not None else frozenset()


def formats_for(type_code: str) -> list[Format]:
    """The formats a certificate of this type can be sent in (v3 always)."""
    code = type_code.strip().upper()
    return [Format.REGISTER_CERTIFICATE_3] + [c.format for c in LEGACY if code in c.type_codes]


def outbound(stored: Element, fmt: Format | str) -> Element:
    """The payload to send to a recipient that takes ``fmt``; ``stored`` is not changed."""
    fmt = Format(fmt)
    if fmt is Format.REGISTER_CERTIFICATE_3:
        return strip_carrier(stored)
    conversion = _legacy(fmt)
    assert conversion is not None  # every non-v3 Format has a LegacyConversion
    code = read_header(stored).type_code
    if code.strip().upper() not in conversion.type_codes:
        raise UnsupportedConversion(
            f"{path_of(intyg_of(stored))}: a {code} certificate cannot be sent as {fmt.value} "
            f"(that format carries {', '.join(sorted(conversion.type_codes))})"
        )
    return conversion.from_v3(stored)


def inbound(payload: Element) -> Element:
    """The stored form (RegisterCertificate v3) of a received certificate payload.

    A RegisterCertificate is stored as received (the same element), less a carrier if it has one:
    only this code may make a carrier (see ``carrier``).
    """
    if payload.tag == qn(RC, "RegisterCertificate"):
        return strip_carrier(payload)
    for conversion in LEGACY:
        if payload.tag == conversion.payload:
            return conversion.to_v3(payload)
    raise UnsupportedConversion(f"{path_of(payload)}: '{payload.tag}' is not a certificate payload this service converts")


def outbound_revoke(revocation: Element, stored: Element, fmt: Format | str, reference_id: str | None = None) -> Element:
    """The revocation to send to a recipient that takes ``fmt`` for this certificate.

    Recipients of the legacy FK7263 format get RevokeMedicalCertificate v1; all others get the
    RevokeCertificate v2 request as it was received.
    """
    if Format(fmt) is Format.REGISTER_MEDICAL_CERTIFICATE_3:
        return revoke.revoke_to_legacy(revocation, stored, reference_id)
    return revocation
