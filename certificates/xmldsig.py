"""The certificate signature profile (``underskrift``) and its cryptographic check.

A journal system signs a certificate with an enveloped XML signature whose one reference (``URI=""``)
runs a fixed chain of transforms: enveloped-signature; an XSLT stylesheet that drops the parts that
change after signing (``skickatTidpunkt``, ``relation``, ``status``, ``valideringsunderlag``) and
every namespace; an XPath Filter 2.0 ``intersect`` keeping the certificate whose ``intygs-id``
extension is the certificate's own id; an XPath Filter 2.0 ``subtract`` of the same changing parts;
exclusive canonicalisation. The signer's X.509 certificate is in ``KeyInfo``. The signature stands
either directly in ``intyg`` (as the journal system signs it) or wrapped in ``underskrift`` (as the
contract carries it); the wrapper is not part of the signed content.

Only that chain is accepted (``profile`` problem otherwise): a signature whose transforms select
less than the whole certificate would sign nothing, and the sender's stylesheet is never run here.

How the digest is computed: python-xmlsec (libxmlsec1 1.3) runs this chain itself, XSLT and XPath
Filter 2.0 included, but takes about 20 ms per certificate and cannot tell a changed content from a
changed signature value. This module applies the same transforms with lxml instead (the profile's
stylesheet compiled once, the filters as tree operations on the stylesheet's namespace-free output,
exclusive c14n), compares the digest, and verifies ``SignedInfo`` with ``cryptography``: a few
milliseconds, and a reason per failure. The signatures the tests make are produced by xmlsec
(``testing.signing``), so every test that verifies one also checks that the two implementations
agree on the signed content.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import re
from dataclasses import dataclass
from typing import cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from intygstjanst.contracts.xml import CORE_32, XMLDSIG

FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
XSL = "http://www.w3.org/1999/XSL/Transform"

ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
XSLT = "http://www.w3.org/TR/1999/REC-xslt-19991116"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
TRANSFORM_NAMES = {ENVELOPED: "enveloped-signature", XSLT: "XSLT", FILTER2: "XPath Filter 2.0", EXC_C14N: "exclusive c14n"}

DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "http://www.w3.org/2001/04/xmlenc#sha256": hashes.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashes.SHA384,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashes.SHA512,
}
_HASHLIB = {hashes.SHA256: hashlib.sha256, hashes.SHA384: hashlib.sha384, hashes.SHA512: hashlib.sha512}
# Signature method -> (key type, hash). SITHS signing certificates are RSA; ECDSA is what the
# development PKI issues.
SIGNATURE_METHODS: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("RSA", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("RSA", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("RSA", hashes.SHA512),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("EC", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": ("EC", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": ("EC", hashes.SHA512),
}

# The profile's stylesheet: every element re-created under its local name (no namespaces), its
# attributes copied, whitespace-only text dropped, and the elements whose qualified name is listed
# left out. The list compares ``name()``, so a prefixed ``skickatTidpunkt`` survives it; the
# subtract filter removes those by local name.
STYLESHEET = """\
<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0">
  <xsl:output indent="no" omit-xml-declaration="yes"/>
  <xsl:strip-space elements="*"/>
  <xsl:param name="removeElementsNamed" select="'|skickatTidpunkt|relation|status|valideringsunderlag|'"/>
  <xsl:template match="*">
    <xsl:choose>
      <xsl:when test="contains($removeElementsNamed,concat('|',name(),'|' ))"/>
      <xsl:otherwise>
        <xsl:element name="{local-name(.)}">
          <xsl:apply-templates select="node()|@*"/>
        </xsl:element>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>
  <xsl:template match="@*">
    <xsl:copy/>
  </xsl:template>
</xsl:stylesheet>
"""
INTERSECT = "//extension[text()='{id}']/../.."
SUBTRACT = "//*[local-name() = 'skickatTidpunkt']|//*[local-name() = 'relation']|//*[local-name() = 'status']"
_SUBTRACTED = ("skickatTidpunkt", "relation", "status")

_DS = f"{{{XMLDSIG}}}"
_MAX_KEY_INFO_CERTIFICATES = 10
_UNDERSKRIFT = f"{{{CORE_32}}}underskrift"


def _normalized_stylesheet(stylesheet: etree._Element) -> bytes:
    """A stylesheet's form for comparison: whitespace-only text dropped (XSLT ignores it), then
    exclusive c14n (attribute order, quoting and unused namespace declarations do not matter)."""
    own = copy.deepcopy(stylesheet)
    for node in own.iter():
        if node.text is not None and not node.text.strip():
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
    own.tail = None
    return etree.tostring(own, method="c14n", exclusive=True)


_PROFILE_STYLESHEET = etree.fromstring(STYLESHEET)
_PROFILE_FORM = _normalized_stylesheet(_PROFILE_STYLESHEET)
_TRANSFORM = etree.XSLT(_PROFILE_STYLESHEET)
_SELECT = etree.XPath("//extension[text()=$id]/../..")


def _squeezed(xpath: str) -> str:
    return re.sub(r"\s+", "", xpath)


class SignatureProblem(Exception):
    """Why a signature does not hold: ``code`` (for counting and tests) and an actionable text."""

    def __init__(self, code: str, detail: str, claimed_signer: x509.Certificate | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.claimed_signer = claimed_signer  # the certificate in KeyInfo, when it could be read


@dataclass(frozen=True)
class Located:
    """A certificate's signature: the ``Signature`` element and its ``underskrift`` wrapper, if any."""

    signature: etree._Element
    wrapper: etree._Element | None

    @property
    def carrier(self) -> etree._Element:
        """The child of ``intyg`` that the signed content leaves out."""
        return self.wrapper if self.wrapper is not None else self.signature


@dataclass(frozen=True)
class Intact:
    """A signature that verifies: the content is what was signed, by the key of ``signer``."""

    signer: x509.Certificate
    others: tuple[x509.Certificate, ...]  # further certificates in KeyInfo (intermediates)


def locate(intyg: etree._Element) -> Located | None:
    """The certificate's signature, a child of ``intyg`` (bare or in ``underskrift``), or None."""
    for child in intyg:
        if child.tag == _UNDERSKRIFT:
            signature = child.find(f"{_DS}Signature")
            if signature is not None:
                return Located(signature, child)
        elif child.tag == f"{_DS}Signature":
            return Located(child, None)
    return None


def verify(intyg: etree._Element, certificate_id: str) -> Intact:
    """Check the signature of ``intyg`` (which must have one, see :func:`locate`) on the profile's
    transform chain; raises :class:`SignatureProblem` saying what does not hold."""
    located = locate(intyg)
    if located is None:
        raise SignatureProblem("profile", "the certificate has no signature")
    signature = located.signature
    signed_info = _one(signature, "SignedInfo")
    canonicalization = _one(signed_info, "CanonicalizationMethod")
    if canonicalization.get("Algorithm") != EXC_C14N:
        raise SignatureProblem("profile", f"SignedInfo is canonicalised with {canonicalization.get('Algorithm')}, not exclusive c14n")
    method = _one(signed_info, "SignatureMethod").get("Algorithm", "")
    if method not in SIGNATURE_METHODS:
        raise SignatureProblem("profile", f"signature method {method} is not one of {', '.join(sorted(SIGNATURE_METHODS))}")
    references = signed_info.findall(f"{_DS}Reference")
    if len(references) != 1 or references[0].get("URI") != "":
        raise SignatureProblem("profile", 'SignedInfo must have exactly one Reference, with URI=""')
    reference = references[0]
    _check_transforms(reference, certificate_id)
    digest_method = _one(reference, "DigestMethod").get("Algorithm", "")
    if digest_method not in DIGESTS:
        raise SignatureProblem("profile", f"digest method {digest_method} is not one of {', '.join(sorted(DIGESTS))}")
    expected_digest = _base64(_one(reference, "DigestValue"), "DigestValue")
    value = _base64(_one(signature, "SignatureValue"), "SignatureValue")
    certificates = _key_info_certificates(signature)

    content = signed_content(intyg, located, certificate_id)
    digest_holds = _HASHLIB[DIGESTS[digest_method]](content).digest() == expected_digest
    inclusive = canonicalization.find(f"{{{EXC_C14N}}}InclusiveNamespaces")
    prefixes = inclusive.get("PrefixList", "").split() if inclusive is not None else []
    signed_bytes = etree.tostring(signed_info, method="c14n", exclusive=True, inclusive_ns_prefixes=prefixes or None)
    signature_holds = _signature_holds(certificates[0], method, value, signed_bytes)
    if digest_holds and signature_holds:
        return Intact(certificates[0], tuple(certificates[1:]))
    if signature_holds:
        raise SignatureProblem(
            "digest", "the signed content does not match the signature's digest: the certificate was changed after signing", certificates[0]
        )
    if digest_holds:
        raise SignatureProblem(
            "signature",
            "the SignatureValue does not verify with the key of the certificate in KeyInfo "
            "(the value was altered, or the certificate is not the signer's)",
            certificates[0],
        )
    raise SignatureProblem(
        "signed_info",
        "SignedInfo was altered: neither does its DigestValue match the content nor its SignatureValue verify",
        certificates[0],
    )


def signed_content(intyg: etree._Element, located: Located, certificate_id: str) -> bytes:
    """The octets the profile's reference digests: ``intyg`` without its signature (or wrapper),
    through the stylesheet, the intersect and subtract filters, and exclusive c14n."""
    own = copy.deepcopy(intyg)
    # The copy's children are in the same order as the original's.
    own.remove(own[intyg.index(located.carrier)])
    result = _TRANSFORM(etree.ElementTree(own))
    root = result.getroot()
    selected = cast(list[etree._Element], _SELECT(root, id=certificate_id)) if root is not None else []
    if len(selected) != 1:
        raise SignatureProblem(
            "profile", f"the intersect filter selects {len(selected)} certificates with id {certificate_id}, not exactly one"
        )
    kept = selected[0]
    for removed in [e for e in kept.iter(*_SUBTRACTED) if e is not kept]:
        parent = removed.getparent()
        if parent is not None:
            parent.remove(removed)
    return etree.tostring(kept, method="c14n", exclusive=True)


def _check_transforms(reference: etree._Element, certificate_id: str) -> None:
    transforms = reference.findall(f"{_DS}Transforms/{_DS}Transform")
    algorithms = [t.get("Algorithm", "") for t in transforms]
    expected = [ENVELOPED, XSLT, FILTER2, FILTER2, EXC_C14N]
    if algorithms != expected:
        found = ", ".join(TRANSFORM_NAMES.get(a, a) for a in algorithms) or "none"
        wanted = ", ".join(TRANSFORM_NAMES[a] for a in expected)
        raise SignatureProblem("profile", f"the reference's transforms are {found}; the profile's are {wanted}")
    stylesheet = transforms[1].find(f"{{{XSL}}}stylesheet")
    if stylesheet is None or _normalized_stylesheet(stylesheet) != _PROFILE_FORM:
        raise SignatureProblem("profile", "the XSLT transform is not the profile's stylesheet")
    for transform, kind, xpath in (
        (transforms[2], "intersect", INTERSECT.format(id=certificate_id)),
        (transforms[3], "subtract", SUBTRACT),
    ):
        filters = transform.findall(f"{{{FILTER2}}}XPath")
        if len(filters) != 1 or filters[0].get("Filter") != kind or _squeezed(filters[0].text or "") != _squeezed(xpath):
            raise SignatureProblem("profile", f"the XPath Filter 2.0 {kind} transform is not {xpath}")


def _one(parent: etree._Element, name: str) -> etree._Element:
    found = parent.find(f"{_DS}{name}")
    if found is None:
        raise SignatureProblem("malformed", f"{etree.QName(parent).localname} has no {name}")
    return found


def _base64(element: etree._Element, name: str) -> bytes:
    try:
        return base64.b64decode("".join((element.text or "").split()), validate=True)
    except binascii.Error:
        raise SignatureProblem("malformed", f"{name} is not base64") from None


def _key_info_certificates(signature: etree._Element) -> list[x509.Certificate]:
    elements = signature.findall(f"{_DS}KeyInfo/{_DS}X509Data/{_DS}X509Certificate")
    if len(elements) > _MAX_KEY_INFO_CERTIFICATES:
        # The signer and its intermediates are a handful; thousands would only cost time to read.
        raise SignatureProblem("certificate", f"KeyInfo holds {len(elements)} certificates, more than {_MAX_KEY_INFO_CERTIFICATES}")
    certificates = []
    for element in elements:
        try:
            certificates.append(x509.load_der_x509_certificate(_base64(element, "X509Certificate")))
        except ValueError as exc:
            raise SignatureProblem("certificate", f"an X509Certificate in KeyInfo cannot be read: {exc}") from None
    if not certificates:
        raise SignatureProblem("certificate", "KeyInfo has no X509Data/X509Certificate with the signer's certificate")
    return certificates


def _signature_holds(signer: x509.Certificate, method: str, value: bytes, signed: bytes) -> bool:
    kind, algorithm = SIGNATURE_METHODS[method]
    key = signer.public_key()
    try:
        if kind == "RSA" and isinstance(key, rsa.RSAPublicKey):
            key.verify(value, signed, padding.PKCS1v15(), algorithm())
            return True
        if kind == "EC" and isinstance(key, ec.EllipticCurvePublicKey):
            # XML signatures carry ECDSA as r || s, each as long as the curve's order.
            half = len(value) // 2
            der = encode_dss_signature(int.from_bytes(value[:half]), int.from_bytes(value[half:]))
            key.verify(der, signed, ec.ECDSA(algorithm()))
            return True
    except InvalidSignature:
        return False
    raise SignatureProblem("certificate", f"the signer certificate's key does not fit signature method {method}")
