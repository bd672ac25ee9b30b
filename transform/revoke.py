"""RevokeCertificate v2 -> RevokeMedicalCertificate v1, for recipients that take FK7263 in the
legacy format (Försäkringskassan).

The legacy request names the certificate the way the recipient received it: ``lakarutlatande``
repeats the id, signing time and patient of the RegisterMedicalCertificate document. Those values
are therefore taken from the legacy form of the stored certificate (:func:`fk7263.v3_to_legacy`),
so a certificate that came in as RegisterMedicalCertificate is revoked with exactly the values it
was registered with. Who revokes, when and why come from the RevokeCertificate request.
"""

from __future__ import annotations

from copy import deepcopy

from intygstjanst.transform import fk7263
from intygstjanst.transform.common import (
    GN,
    TP,
    Element,
    Reader,
    TransformError,
    add,
    path_of,
    person_id_digits,
    qn,
    read_hos_personal,
)
from lxml import etree

RCV = "urn:riv:clinicalprocess:healthcond:certificate:RevokeCertificateResponder:2"
RMR = "urn:riv:insuranceprocess:healthreporting:RevokeMedicalCertificateResponder:1"
QA = "urn:riv:insuranceprocess:healthreporting:medcertqa:1"

_V3 = Reader(GN)


def revoke_to_legacy(revoke: Element, stored: Element, reference_id: str | None = None) -> Element:
    """The RevokeMedicalCertificateRequest for a RevokeCertificate v2 of a stored FK7263.

    ``stored`` is the stored RegisterCertificate v3 payload (with its carrier, if any).
    ``reference_id`` becomes ``vardReferens-id``, care's reference to this message; it defaults to
    the certificate id. Raises :class:`TransformError` when the revoke is not about ``stored``.
    """
    if revoke.tag != qn(RCV, "RevokeCertificate"):
        raise TransformError(f"{path_of(revoke)}: expected a RevokeCertificate v2 payload ({RCV})")
    ident = _V3.req(revoke, "intygs-id", RCV)
    certificate_id = _V3.req_text(ident, "extension", TP)
    legacy = fk7263.v3_to_legacy(stored)
    la = legacy.find(qn(fk7263.RMC, "lakarutlatande"))
    if la is None:
        raise TransformError(f"{path_of(legacy)}: the stored certificate has no lakarutlatande")
    mu = Reader(fk7263.MU)
    registered_id = mu.req_text(la, "lakarutlatande-id")
    if certificate_id != registered_id:
        raise TransformError(
            f"{path_of(ident)}: the revoke is for certificate '{certificate_id}', the stored one is '{registered_id}'"
        )
    patient = mu.req(la, "patient")
    _check_patient(revoke, patient)

    request = etree.Element(qn(RMR, "RevokeMedicalCertificateRequest"), nsmap={"rmr": RMR, "qa": QA, "hr": fk7263.HR})
    body = add(request, RMR, "revoke")
    add(body, RMR, "vardReferens-id", reference_id if reference_id is not None else certificate_id)
    meddelande = _V3.text(revoke, "meddelande", RCV)
    if meddelande is not None:
        add(body, RMR, "meddelande", meddelande)
    add(body, RMR, "avsantTidpunkt", _V3.req_text(revoke, "skickatTidpunkt", RCV))
    author = read_hos_personal(_V3.req(revoke, "skickatAv", RCV))
    fk7263.write_legacy_hos_personal(add(add(body, RMR, "adressVard"), QA, "hosPersonal"), author)

    enkel = add(body, RMR, "lakarutlatande")
    add(enkel, QA, "lakarutlatande-id", registered_id)
    add(enkel, QA, "signeringsTidpunkt", mu.req_text(la, "signeringsdatum"))
    legacy_patient = add(enkel, QA, "patient")
    for child in patient:
        if isinstance(child.tag, str):
            legacy_patient.append(_clean_copy(child))
    return request


def _check_patient(revoke: Element, registered: Element) -> None:
    pid = _V3.req(revoke, "patientPerson-id", RCV)
    claimed = person_id_digits(_V3.req_text(pid, "root", TP), _V3.req_text(pid, "extension", TP), path_of(pid))
    reg = registered.find(qn(fk7263.HR, "person-id"))
    if reg is None:
        raise TransformError(f"{path_of(registered)}: the stored certificate has no patient person-id")
    actual = person_id_digits(reg.get("root", ""), reg.get("extension", ""), path_of(reg))
    if claimed != actual:
        raise TransformError(f"{path_of(pid)}: the revoke names another patient than the stored certificate")


def _clean_copy(el: Element) -> Element:
    copy = deepcopy(el)
    copy.tail = None
    return copy

