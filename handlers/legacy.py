"""The legacy contracts: RegisterMedicalCertificate v3 (FK7263), RegisterTSBas v1 and
RegisterTSDiabetes v1 store a certificate; RevokeMedicalCertificate v1 and SendMedicalCertificate
v1 revoke and send an FK7263.

Each one converts its request to the form the current contracts use and runs the same decision
(``certificate.store_certificate``, ``revoke.revoke``, ``recipients.send``), so the rules cannot
drift between generations; only the answer differs: its shape, ``ResultOfCall`` (insuranceprocess,
RIV-TA 2.0) or ``ResultatTyp`` (Transportstyrelsen), and its texts, the national service's for each
contract (../shared/specs/result-codes.md, "Change contracts"). RevokeMedicalCertificate never tells
Försäkringskassan, as nationally.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from intygstjanst.contracts.call import Answer, Call
from intygstjanst.contracts.result import OK, ErrorId, LogicalError, Outcome, info
from intygstjanst.registers.persons import pseudonym
from intygstjanst.transform import formats
from intygstjanst.transform.common import (
    GN,
    TP,
    Reader,
    TransformError,
    add,
    new_certificate,
    path_of,
    person_id_digits,
    qn,
    read_header,
    v3_timestamp,
)
from intygstjanst.transform.fk7263 import HR, MU, RMC, read_legacy_hos_personal
from intygstjanst.transform.revoke import QA, RCV, RMR
from intygstjanst.handlers.certificate import store_certificate
from intygstjanst.handlers.legacy_validation import InternalFailure, enkel_messages, error_text, register_messages
from intygstjanst.handlers.recipients import SendWording, Sent, error, send, worded
from intygstjanst.handlers.revoke import Revocation, Revoked, revoke
from intygstjanst.services import Services

SMR = "urn:riv:insuranceprocess:healthreporting:SendMedicalCertificateResponder:1"
# SendMedicalCertificate is Försäkringskassan's contract: it always sends to them.
FKASSA = "FKASSA"

_QA = Reader(QA)
_RMR = Reader(RMR)
_SMR = Reader(SMR)

# -- registration ---------------------------------------------------------------------------------


def register_legacy_certificate(call: Call[Services]) -> Answer:
    """RegisterMedicalCertificate v3, RegisterTSBas v1, RegisterTSDiabetes v1: store the request as
    received, and its v3 form as the canonical one (which carries what v3 cannot say, so that the
    legacy document can be sent on unchanged). An FK7263 is first checked as the national service
    checks it (``legacy_validation``)."""
    if call.request.tag == qn(RMC, "RegisterMedicalCertificate"):
        lakarutlatande = call.request.find(qn(RMC, "lakarutlatande"))
        _checked(call, lambda: register_messages(lakarutlatande), prefix="Validation Error:")
        _storable(lakarutlatande)
    try:
        stored = formats.inbound(call.request)
    except TransformError as exc:
        raise LogicalError(ErrorId.VALIDATION_ERROR, f"the certificate cannot be stored: {exc}") from None
    return Answer.result(call.contract, store_certificate(call, stored, etree.tostring(stored)))


def _checked(call: Call[Services], messages: Callable[[], list[str]], prefix: str = "") -> None:
    """Answer ``VALIDATION_ERROR`` with the failed checks (at most max_listed_violations), or ``APPLICATION_ERROR`` when the request
    cannot be checked at all (where the national service fails internally)."""
    try:
        failed = messages()
    except InternalFailure as exc:
        raise LogicalError(ErrorId.APPLICATION_ERROR, str(exc)) from None
    if failed:
        raise LogicalError(ErrorId.VALIDATION_ERROR, error_text(failed, prefix, limit=call.services.settings.max_listed_violations))


def _storable(lakarutlatande: etree._Element | None) -> None:
    """What passes the checks but fails when the national service stores it (an internal failure,
    APPLICATION_ERROR): an id of the right shape that is no personnummer (not born 19xx or 20xx),
    and a workplace code without a root."""
    person = None if lakarutlatande is None else lakarutlatande.find(f"{{{MU}}}patient/{{{HR}}}person-id")
    extension = "" if person is None else person.get("extension", "")
    if not extension.startswith(("19", "20")):
        raise LogicalError(ErrorId.APPLICATION_ERROR, "the patient's id is not a personnummer or samordningsnummer (it must start with 19 or 20)")
    kod = None if lakarutlatande is None else lakarutlatande.find(f"{{{MU}}}skapadAvHosPersonal/{{{HR}}}enhet/{{{HR}}}arbetsplatskod")
    if kod is not None and kod.get("root") is None:
        raise LogicalError(ErrorId.APPLICATION_ERROR, "the arbetsplatskod of skapadAvHosPersonal/enhet has no root")


# -- revoking and sending an FK7263 ----------------------------------------------------------------


def _certificate_ref(lakarutlatande: etree._Element) -> tuple[str, str]:
    """(certificate id, 12-digit patient id) of a ``lakarutlatandeEnkelType``."""
    try:
        person = _QA.req(_QA.req(lakarutlatande, "patient"), "person-id", HR)
        patient = person_id_digits(person.get("root", ""), person.get("extension", ""), path_of(person))
    except TransformError as exc:
        raise LogicalError(ErrorId.VALIDATION_ERROR, str(exc)) from None
    return _QA.req_text(lakarutlatande, "lakarutlatande-id").strip(), patient


def revoke_medical_certificate(call: Call[Services]) -> Answer:
    request = call.request
    _checked(call, lambda: enkel_messages(request.find(qn(RMR, "revoke")), RMR))
    body = _RMR.req(request, "revoke")
    certificate_id, patient_id = _certificate_ref(_RMR.req(body, "lakarutlatande"))
    revoked = revoke(
        call.services,
        Revocation(
            certificate_id,
            patient_id,
            request=lambda stored: _as_revoke_certificate(body, stored),
            legacy=request,
            untold=frozenset({FKASSA}),
        ),
    )
    if revoked is Revoked.UNKNOWN:
        raise LogicalError(
            ErrorId.VALIDATION_ERROR,
            f"No certificate '{certificate_id}' found to revoke for patient '{_user(call, patient_id)}'.",
        )
    outcome = info(f"Certificate '{certificate_id}' is already revoked.") if revoked is Revoked.ALREADY else OK
    return Answer.result(call.contract, outcome)


def _user(call: Call[Services], patient_id: str) -> str:
    """The patient as the national service names it in error texts."""
    return pseudonym(call.services.settings.pseudonym_salt, patient_id)


def _as_revoke_certificate(body: etree._Element, stored: etree._Element) -> etree._Element:
    """The RevokeCertificate v2 request saying what a RevokeMedicalCertificate ``revoke`` says,
    for recipients that take the certificate in the v3 format."""
    header = read_header(stored)
    # new_certificate is the one writer of the v3 HosPersonal form; the revoking person is written
    # through it (as the author of a copy of the stored header) so that the two cannot drift.
    header.author = read_legacy_hos_personal(_QA.req(_RMR.req(body, "adressVard"), "hosPersonal"))
    _, intyg = new_certificate(header)
    request = etree.Element(qn(RCV, "RevokeCertificate"), nsmap={"rc": RCV, "gn": GN, "tp": TP})
    message = _RMR.text(body, "meddelande")
    if message is not None:
        add(request, RCV, "meddelande", message)
    sent = _RMR.req(body, "avsantTidpunkt")
    add(request, RCV, "skickatTidpunkt", v3_timestamp(sent.text or "", path_of(sent)))
    # Same content, the revoke's element names: intygs-id, patientPerson-id, skickatAv.
    for local, source in (
        ("intygs-id", qn(GN, "intygs-id")),
        ("patientPerson-id", f"{qn(GN, 'patient')}/{qn(GN, 'person-id')}"),
        ("skickatAv", qn(GN, "skapadAv")),
    ):
        found = intyg.find(source)
        assert found is not None  # new_certificate writes all three
        add(request, RCV, local).extend(list(found))
    return request


def send_medical_certificate(call: Call[Services]) -> Answer:
    _checked(call, lambda: enkel_messages(call.request.find(qn(SMR, "send")), SMR))
    body = _SMR.req(call.request, "send")
    certificate_id, patient_id = _certificate_ref(_SMR.req(body, "lakarutlatande"))
    sent = send(call.services, certificate_id=certificate_id, patient_id=patient_id, recipient_id=FKASSA)
    return Answer.result(call.contract, _sent_outcome(call, sent, certificate_id, patient_id))


def _sent_outcome(call: Call[Services], sent: Sent, certificate_id: str, patient_id: str) -> Outcome:
    return worded(
        sent,
        certificate_id,
        SendWording(
            unknown=error(
                ErrorId.VALIDATION_ERROR, f"No certificate '{certificate_id}' found to send for patient '{_user(call, patient_id)}'."
            ),
            already=info(f"Certificate '{certificate_id}' is already sent."),
            not_delivered=error(ErrorId.APPLICATION_ERROR, "Certificate couldn't be sent to recipient"),
        ),
    )
