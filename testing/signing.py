"""Signing certificates the way a journal system does, with python-xmlsec, for tests and demos.

The signature follows the profile that ``certificates.xmldsig`` verifies (same transforms, same
stylesheet, same filters), but is computed by libxmlsec1 running that chain itself, XSLT and XPath
Filter 2.0 included: a test that verifies one of these signatures also checks that our verifier
and xmlsec agree on what was signed. The signed ``intyg`` is taken alone, so the signature covers
the same content wherever the certificate later travels (a SOAP envelope, a stored document).
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import xmlsec
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree

from intygstjanst.certificates import xmldsig
from intygstjanst.certificates.signature import SWEDISH_TIME
from intygstjanst.contracts.xml import CORE, CORE_32, TYPES
from intygstjanst.tls.files import load_private_key

_INTYG = "{*}intyg"
_REMOVE_BLANKS = etree.XMLParser(remove_blank_text=True)


class SigningError(ValueError):
    """The document or the key cannot be used for signing; the message says which and why."""


def sign_intyg(intyg: etree._Element, cert_path: Path, key_path: Path, *, wrapped: bool = True) -> None:
    """Sign ``intyg`` in place with the key and certificate in the PEM files, replacing any
    signature it had. ``wrapped`` puts the signature in ``underskrift`` (as the contract carries
    it); otherwise it is the last child of ``intyg`` (as the journal system signs it)."""
    certificate_id = (intyg.findtext(f"{{{CORE}}}intygs-id/{{{TYPES}}}extension") or "").strip()
    if not certificate_id:
        raise SigningError("the certificate has no intygs-id/extension to sign for")
    located = xmldsig.locate(intyg)
    if located is not None:
        intyg.remove(located.carrier)
    own = copy.deepcopy(intyg)
    etree.ElementTree(own)  # the copy is a document of its own: URI="" is this certificate alone
    signature = _template(own, certificate_id, _signature_method(key_path))
    own.append(signature)
    context = xmlsec.SignatureContext()
    try:
        key = xmlsec.Key.from_file(str(key_path), xmlsec.constants.KeyDataFormatPem)
        key.load_cert_from_file(str(cert_path), xmlsec.constants.KeyDataFormatPem)
        context.key = key
        context.sign(signature)
    except xmlsec.Error as exc:
        raise SigningError(f"xmlsec could not sign with {cert_path} and {key_path}: {exc}") from None
    # Parsed afresh: lxml finds elements by the names of the document's dictionary, and the nodes
    # xmlsec made are named outside it, so that ``find`` would not see them in the certificate.
    signature = etree.fromstring(etree.tostring(signature))
    if wrapped:
        etree.SubElement(intyg, f"{{{CORE_32}}}underskrift").append(signature)
    else:
        intyg.append(signature)


def stamp_signing_time(intyg: etree._Element, moment: dt.datetime | None = None) -> None:
    """Set ``signeringstidpunkt`` to ``moment`` (default now), in Swedish time as the contract
    writes it: what a journal system does when the doctor signs."""
    element = intyg.find(f"{{{CORE}}}signeringstidpunkt")
    if element is None:
        raise SigningError("the certificate has no signeringstidpunkt")
    moment = moment or dt.datetime.now(dt.UTC)
    element.text = moment.astimezone(SWEDISH_TIME).replace(tzinfo=None).isoformat(timespec="seconds")


def sign_document(document: bytes, cert_path: Path, key_path: Path, *, wrapped: bool = True, stamp: bool = True) -> bytes:
    """``document`` (a RegisterCertificate request, enveloped or not) with its ``intyg`` signed, and
    with ``stamp`` its signing time set to now."""
    root, intyg = _parsed(document)
    if stamp:
        stamp_signing_time(intyg)
    sign_intyg(intyg, cert_path, key_path, wrapped=wrapped)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def signing_doctor(document: bytes) -> str:
    """The HSA-id of the doctor the certificate in ``document`` names (skapadAv/personal-id)."""
    doctor = (_parsed(document)[1].findtext(f"{{{CORE}}}skapadAv/{{{CORE}}}personal-id/{{{TYPES}}}extension") or "").strip()
    if not doctor:
        raise SigningError("the certificate names no signing doctor (skapadAv/personal-id)")
    return doctor


def _parsed(document: bytes) -> tuple[etree._Element, etree._Element]:
    """The document's root and its ``intyg``."""
    try:
        root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise SigningError(f"not well-formed XML: {exc}") from None
    intyg = root if etree.QName(root).localname == "intyg" else root.find(f".//{_INTYG}")
    if intyg is None:
        raise SigningError("the document has no intyg element")
    return root, intyg


def _signature_method(key_path: Path) -> xmlsec.constants.__Transform:
    key = load_private_key(key_path, "signing key")
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return xmlsec.constants.TransformEcdsaSha256
    if isinstance(key, rsa.RSAPrivateKey):
        return xmlsec.constants.TransformRsaSha256
    raise SigningError(f"{key_path}: a signing key must be RSA or ECDSA, not {type(key).__name__}")


def _template(intyg: etree._Element, certificate_id: str, method: xmlsec.constants.__Transform) -> etree._Element:
    signature = xmlsec.template.create(intyg, xmlsec.constants.TransformExclC14N, method, ns="ds")
    reference = xmlsec.template.add_reference(signature, xmlsec.constants.TransformSha256, uri="")
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
    stylesheet = xmlsec.template.add_transform(reference, xmlsec.constants.TransformXslt)
    stylesheet.append(etree.fromstring(xmldsig.STYLESHEET, _REMOVE_BLANKS))
    for kind, xpath in (("intersect", xmldsig.INTERSECT.format(id=certificate_id)), ("subtract", xmldsig.SUBTRACT)):
        transform = xmlsec.template.add_transform(reference, xmlsec.constants.TransformXPath2)
        etree.SubElement(transform, f"{{{xmldsig.FILTER2}}}XPath", Filter=kind, nsmap={"dsig-xpath": xmldsig.FILTER2}).text = xpath
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
    xmlsec.template.x509_data_add_certificate(xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature)))
    return signature
