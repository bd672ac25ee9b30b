"""Steps and checks several suites share: registering the kit's certificate, reading it back, ...

Each builder returns a :class:`~..model.Call` with the usual expectation; cases pass ``expect=``
or template parameters to vary it.
"""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from ...contracts.xml import CORE
from ..model import Call, Expectation, Mutation, XPathCheck, exactly, has, ok

REGISTER = "RegisterCertificate:3"
GET = "GetCertificate:2"
REVOKE = "RevokeCertificate:2"

LISJP = "RegisterCertificate-lisjp.xml"

# The certificate-already-registered text consumers match on (RegisterCertificate v3).
ALREADY_EXISTS = "Certificate already exists"


def register(expect: Expectation | None = None, label: str = "register the certificate", **params: str) -> Call:
    return Call(REGISTER, LISJP, expect or ok(), params=params, label=label)


def get(expect: Expectation, part: str = "HSVARD", label: str = "", **params: str) -> Call:
    return Call(GET, "GetCertificate.xml", expect, params={"part": part, **params}, label=label)


def revoke(expect: Expectation | None = None, label: str = "revoke the certificate", **params: str) -> Call:
    return Call(REVOKE, "RevokeCertificate.xml", expect or ok(), params=params, label=label)


def status_count(count: int, status: str, part: str | None = None, within: str = "r:intyg") -> XPathCheck:
    """``count`` status entries of kind ``status`` (for ``part``) in the certificate at ``within``."""
    where = f"[core:status/types:code='{status}']" + (f"[core:part/types:code='{part}']" if part else "")
    words = f"{status} status entries" + (f" for {part}" if part else "")
    return exactly(count, f"{within}/core:status{where}", what=words)


def certificate_is(within: str = "r:intyg") -> XPathCheck:
    return has(f"{within}/core:intygs-id/types:extension", "${certificateId}", what="the certificate's id")


def without_svar(svar_id: str) -> Mutation:
    """Leaves question ``svar_id`` out of a certificate (to break a certificate-type rule)."""

    def mutate(payload: etree._Element, _values: Mapping[str, str]) -> None:
        for svar in list(payload.iter(f"{{{CORE}}}svar")):
            if svar.get("id") == svar_id:
                svar.getparent().remove(svar)

    return mutate
