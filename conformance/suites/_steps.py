"""Steps, checks and request changes several suites share.

Each step builder returns a :class:`~..model.Call` with the usual expectation; cases pass
``expect`` or template parameters (``${...}`` values of the case) to vary it.
"""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from intygstjanst.contracts.xml import CORE, RELATION_CODE_SYSTEM, TYPES
from intygstjanst.conformance.model import Call, Expectation, Mutation, XPathCheck, exactly, has, ok
from intygstjanst.conformance.templates import fill

REGISTER = "RegisterCertificate:3"
GET = "GetCertificate:2"
REVOKE = "RevokeCertificate:2"
SEND = "SendCertificateToRecipient:2"
SET_STATUS = "SetCertificateStatus:2"
TO_CARE = "SendMessageToCare:2"
TO_RECIPIENT = "SendMessageToRecipient:2"

# The certificate-already-registered text consumers match on (RegisterCertificate v3).
ALREADY_EXISTS = "Certificate already exists"


def register(expect: Expectation | None = None, label: str = "register the certificate", **params: str) -> Call:
    return Call(REGISTER, "RegisterCertificate-lisjp.xml", expect or ok(), params=params, label=label)


def register_successor(kind: str, label: str = "") -> Call:
    """Register the case's other certificate with a relation of ``kind`` to the first one."""
    step = register(
        label=label or f"register a certificate that {kind} it",
        certificateId="${otherCertificateId}",
        relatedCertificateId="${certificateId}",  # filled before certificateId is replaced for this step
    )
    return step.but(mutations=(with_relation(kind, "${relatedCertificateId}"),))


def get(expect: Expectation, part: str = "HSVARD", label: str = "", **params: str) -> Call:
    return Call(GET, "GetCertificate.xml", expect, params={"part": part, **params}, label=label)


def revoke(expect: Expectation | None = None, label: str = "revoke the certificate", **params: str) -> Call:
    return Call(REVOKE, "RevokeCertificate.xml", expect or ok(), params=params, label=label)


def send(expect: Expectation | None = None, label: str = "send it to the recipient", **params: str) -> Call:
    return Call(SEND, "SendCertificateToRecipient.xml", expect or ok(), params=params, label=label)


def set_status(status: str, part: str, expect: Expectation | None = None, label: str = "", **params: str) -> Call:
    return Call(
        SET_STATUS, "SetCertificateStatus.xml", expect or ok(), params={"status": status, "part": part, **params},
        label=label or f"{part} sets status {status}",
    )


def archive(label: str = "the citizen archives it") -> Call:
    return set_status("DELETE", "INVANA", label=label)


def mark_sent(label: str = "the recipient reports that it has it") -> Call:
    """SENT to the recipient through SetCertificateStatus, which needs no call to the recipient."""
    return set_status("SENTTO", "${recipientId}", label=label)


def status_count(count: int, status: str, part: str | None = None, within: str = "r:intyg") -> XPathCheck:
    """``count`` status entries of kind ``status`` (for ``part``) in the certificate at ``within``."""
    where = f"[core:status/types:code='{status}']" + (f"[core:part/types:code='{part}']" if part else "")
    words = f"{status} status entries" + (f" for {part}" if part else "")
    return exactly(count, f"{within}/core:status{where}", what=words)


def certificate_is(within: str = "r:intyg") -> XPathCheck:
    return has(f"{within}/core:intygs-id/types:extension", "${certificateId}", what="the certificate's id")


def in_list(listed: bool, certificate: str = "${certificateId}") -> XPathCheck:
    """The certificate is (or is not) in the answer's ``intygsLista``, exactly once."""
    return exactly(
        1 if listed else 0, "r:intygsLista/r:intyg/core:intygs-id/types:extension", certificate,
        what=f"{certificate} in the list",
    )


def listed_status(count: int, status: str) -> XPathCheck:
    """Status entries of the case's certificate as listed."""
    return status_count(count, status, within="r:intygsLista/r:intyg[core:intygs-id/types:extension='${certificateId}']")


def without_svar(svar_id: str) -> Mutation:
    """Leaves question ``svar_id`` out of a certificate (to break a certificate-type rule)."""

    def mutate(payload: etree._Element, _values: Mapping[str, str]) -> None:
        for svar in list(payload.iter(f"{{{CORE}}}svar")):
            parent = svar.getparent()
            if svar.get("id") == svar_id and parent is not None:
                parent.remove(svar)

    return mutate


def with_relation(kind: str, target: str) -> Mutation:
    """Adds ``relation`` (``kind``, to certificate ``target``) to a certificate, after ``skapadAv``."""

    def mutate(payload: etree._Element, values: Mapping[str, str]) -> None:
        creator = next(payload.iter(f"{{{CORE}}}skapadAv"))
        relation = etree.Element(f"{{{CORE}}}relation")
        typ = etree.SubElement(relation, f"{{{CORE}}}typ")
        etree.SubElement(typ, f"{{{TYPES}}}code").text = kind
        etree.SubElement(typ, f"{{{TYPES}}}codeSystem").text = RELATION_CODE_SYSTEM
        target_id = etree.SubElement(relation, f"{{{CORE}}}intygs-id")
        etree.SubElement(target_id, f"{{{TYPES}}}root").text = values["careUnitId"]
        etree.SubElement(target_id, f"{{{TYPES}}}extension").text = fill(target, values)
        creator.addnext(relation)

    return mutate


def with_text(local_name: str, text: str) -> Mutation:
    """Replaces the text of the payload's first element called ``local_name``."""

    def mutate(payload: etree._Element, _values: Mapping[str, str]) -> None:
        element = next(e for e in payload.iter() if isinstance(e.tag, str) and etree.QName(e).localname == local_name)
        element.text = text

    return mutate


def appended(local_name: str, text: str) -> Mutation:
    """Adds an element of the payload's namespace as its last child (where optional trailers go)."""

    def mutate(payload: etree._Element, values: Mapping[str, str]) -> None:
        etree.SubElement(payload, f"{{{etree.QName(payload).namespace}}}{local_name}").text = fill(text, values)

    return mutate
