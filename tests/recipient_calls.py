"""Requests and answer checks for the recipient-facing contracts (send, revoke, set status, the
legacy endpoints), shared by their test modules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from intygstjanst.registers.recipients import Recipient, RecipientKind, Recipients
from intygstjanst.contracts.registry import ContractRegistry, Contract
from intygstjanst.contracts.result import CERTIFICATE_1
from intygstjanst.delivery.deliverer import DeliveryResult
from intygstjanst.contracts.xml import CORE, PART_CODE_SYSTEM, SOAP11, STATUS_CODE_SYSTEM, TYPES
from intygstjanst.contracts.xml import HEALTHREPORTING as HR, TS_SERVICES as TS

from intygstjanst.tests.soap import envelope, post, sample, TEST_PERSON
from intygstjanst.tests.support import payload_of, shared_dir

CERT = "/clinicalprocess/healthcond/certificate"
SEND = f"{CERT}/SendCertificateToRecipient/2/rivtabp21"
REVOKE = f"{CERT}/RevokeCertificate/2/rivtabp21"
SET_STATUS = f"{CERT}/SetCertificateStatus/2/rivtabp21"
SET_STATUS_V1 = "/insuranceprocess/healthreporting/SetCertificateStatus/1/rivtabp20"
REGISTER_MEDICAL = "/insuranceprocess/healthreporting/RegisterMedicalCertificate/3/rivtabp20"
REVOKE_MEDICAL = "/insuranceprocess/healthreporting/RevokeMedicalCertificate/1/rivtabp20"
SEND_MEDICAL = "/insuranceprocess/healthreporting/SendMedicalCertificate/1/rivtabp20"
REGISTER_TS_BAS = "/local/se/intygstjanster/services/RegisterTSBas/1/rivtabp21"
REGISTER_TS_DIABETES = "/local/se/intygstjanster/services/RegisterTSDiabetes/1/rivtabp21"

SEND_NS = "urn:riv:clinicalprocess:healthcond:certificate:SendCertificateToRecipientResponder:2"
REVOKE_NS = "urn:riv:clinicalprocess:healthcond:certificate:RevokeCertificateResponder:2"
SET_STATUS_NS = "urn:riv:clinicalprocess:healthcond:certificate:SetCertificateStatusResponder:2"
SET_STATUS_V1_NS = "urn:riv:insuranceprocess:healthreporting:SetCertificateStatusResponder:1"
SEND_MEDICAL_NS = "urn:riv:insuranceprocess:healthreporting:SendMedicalCertificateResponder:1"
QA = "urn:riv:insuranceprocess:healthreporting:medcertqa:1"

PNR_ROOT = "1.2.752.129.2.1.3.1"
FK7263_SAMPLE = "common__fk7263-scenarios-transport-valid-scenario1.xml"
TS_BAS_SAMPLE = "common__ts-ts-bas-v6-scenarios-transport-valid-minimal.xml"
TS_DIABETES_SAMPLE = "common__ts-ts-diabetes-v2-scenarios-transport-transform-valid-minimal.xml"

_REGISTRY = ContractRegistry.load()


@dataclass(frozen=True)
class Answer:
    code: str
    error_id: str | None
    text: str | None


def contract_at(path: str) -> Contract:
    contract = _REGISTRY.by_path(path)
    assert contract is not None, f"no contract served at {path}"
    return contract


def call(client: Any, path: str, payload: etree._Element | bytes) -> Answer:
    """POST ``payload`` to ``path`` with the routing header its profile wants; the answer must be
    HTTP 200 and valid against the contract's response schema."""
    contract = contract_at(path)
    body = envelope(payload, wsa_to="5565594230") if contract.uses_wsa_to else envelope(payload)
    response = post(client, path, body)
    assert response.status_code == 200, response.text
    return checked_answer(contract, response.content)


def checked_answer(contract: Contract, body: bytes) -> Answer:
    root = etree.fromstring(body)
    payload = root.find(f"{{{SOAP11}}}Body/*")
    assert payload is not None and payload.tag == f"{{{contract.namespace}}}{contract.response}", body[:500]
    assert contract.schema.validate(payload), f"{contract.name} {contract.version} answer is not schema-valid: {contract.schema.error_log}"
    for ns, text_names in ((CORE, ("resultText",)), (CERTIFICATE_1, ("resultText",)), (HR, ("infoText", "errorText")), (TS, ("resultText",))):
        code = payload.findtext(f".//{{{ns}}}resultCode")
        if code is not None:
            text = next((t for t in (payload.findtext(f".//{{{ns}}}{n}") for n in text_names) if t is not None), None)
            return Answer(code, payload.findtext(f".//{{{ns}}}errorId"), text)
    raise AssertionError(f"no result in {body[:500]!r}")


def _part(code: str) -> str:
    return f"<t:code>{code}</t:code><t:codeSystem>{PART_CODE_SYSTEM}</t:codeSystem>"


def _intyg_id(certificate_id: str) -> str:
    return f"<t:root>SE5565594230-B31</t:root><t:extension>{certificate_id}</t:extension>"


def _person(patient: str) -> str:
    return f"<t:root>{PNR_ROOT}</t:root><t:extension>{patient}</t:extension>"


def set_status_request(certificate_id: str, part: str, status: str, at: str = "2024-05-01T10:00:00") -> bytes:
    return (
        f'<s:SetCertificateStatus xmlns:s="{SET_STATUS_NS}" xmlns:t="{TYPES}">'
        f"<s:intygs-id>{_intyg_id(certificate_id)}</s:intygs-id><s:part>{_part(part)}</s:part>"
        f"<s:status><t:code>{status}</t:code><t:codeSystem>{STATUS_CODE_SYSTEM}</t:codeSystem></s:status>"
        f"<s:tidpunkt>{at}</s:tidpunkt></s:SetCertificateStatus>"
    ).encode()


def set_status_v1_request(
    certificate_id: str, target: str, status: str, patient: str = TEST_PERSON, timestamp: str | None = None
) -> bytes:
    stamp = f"<s:timestamp>{timestamp}</s:timestamp>" if timestamp else ""
    return (
        f'<s:SetCertificateStatusRequest xmlns:s="{SET_STATUS_V1_NS}"><s:certificateId>{certificate_id}</s:certificateId>'
        f"<s:nationalIdentityNumber>{patient}</s:nationalIdentityNumber><s:target>{target}</s:target>"
        f"<s:status>{status}</s:status>{stamp}</s:SetCertificateStatusRequest>"
    ).encode()


def _hos_personal() -> str:
    """The skickatAv of the RevokeCertificate sample (a care professional)."""
    revoke = sample("intyg-mock-service__soap-revoke-certificate-2.xml", "RevokeCertificate")
    element = revoke.find(f"{{{REVOKE_NS}}}skickatAv")
    assert element is not None
    return "".join(etree.tostring(child, encoding="unicode") for child in element)


def revoke_request(certificate_id: str, patient: str = TEST_PERSON, meddelande: str | None = "Fel patient") -> etree._Element:
    """The RevokeCertificate v2 sample pointed at ``certificate_id`` and ``patient``."""
    request = sample("intyg-mock-service__soap-revoke-certificate-2.xml", "RevokeCertificate")
    request.find(f"{{{REVOKE_NS}}}intygs-id/{{{TYPES}}}extension").text = certificate_id
    request.find(f"{{{REVOKE_NS}}}patientPerson-id/{{{TYPES}}}extension").text = patient
    message = request.find(f"{{{REVOKE_NS}}}meddelande")
    assert message is not None
    if meddelande is None:
        request.remove(message)
    else:
        message.text = meddelande
    return request


def send_request(certificate_id: str, recipient: str, patient: str = TEST_PERSON, by_citizen: bool = False) -> bytes:
    sender = f"<s:person-id>{_person(patient)}</s:person-id>" if by_citizen else f"<s:hosPersonal>{_hos_personal()}</s:hosPersonal>"
    return (
        f'<s:SendCertificateToRecipient xmlns:s="{SEND_NS}" xmlns:t="{TYPES}" xmlns:c="{CORE}">'
        f"<s:skickatTidpunkt>2024-05-01T10:00:00</s:skickatTidpunkt>"
        f"<s:intygs-id>{_intyg_id(certificate_id)}</s:intygs-id>"
        f"<s:patientPerson-id>{_person(patient)}</s:patientPerson-id>"
        f"<s:mottagare>{_part(recipient)}</s:mottagare><s:skickatAv>{sender}</s:skickatAv>"
        "</s:SendCertificateToRecipient>"
    ).encode()


def legacy_sample(folder: str, name: str, certificate_id: str | None = None) -> etree._Element:
    """A legacy register request from the samples, with its certificate id replaced."""
    payload = payload_of(shared_dir() / "samples" / folder / name)
    if certificate_id is not None:
        local = "lakarutlatande-id" if folder == "RegisterMedicalCertificate" else "intygsId"
        element = next(payload.iter(f"{{*}}{local}"))
        element.text = certificate_id
    return payload


def legacy_person(payload: etree._Element) -> str:
    """The 12-digit patient id of a legacy FK7263 register request."""
    person = next(payload.iter("{urn:riv:insuranceprocess:healthreporting:2}person-id"))
    return person.get("extension", "").replace("-", "")


@dataclass(frozen=True)
class Delivery:
    recipient: str
    contract: str
    payload: bytes
    logical_address: str | None


class FakeDeliverer:
    """Records what would have been sent and answers with the queued results (delivered when none)."""

    def __init__(self) -> None:
        self.sent: list[Delivery] = []
        self.results: list[DeliveryResult] = []
        self.during: Callable[[], None] | None = None  # runs while the "recipient" handles the call

    def send(
        self,
        recipient: Recipient,
        contract: str,
        payload: bytes,
        logical_address: str | None = None,
        delivery_id: str | None = None,
    ) -> DeliveryResult:
        self.sent.append(Delivery(recipient.id, contract, payload, logical_address))
        if self.during is not None:
            self.during()
        return self.results.pop(0) if self.results else DeliveryResult("delivered", f"{recipient.id} {contract}: OK", "OK")


def with_recipients(seed: Recipients, *extra: Recipient, **changes: dict[str, Any]) -> Recipients:
    """The seed registry plus ``extra`` recipients, with fields of seed recipients changed, e.g.
    ``FKASSA={"active": False}``."""
    recipients = []
    for recipient in seed.all():
        fields = {**recipient.__dict__, **changes.get(recipient.id, {})}
        recipients.append(Recipient(**fields))
    return Recipients([*recipients, *extra], seed.parts())


def recipient(recipient_id: str, types: set[str], *, trusted: bool = True, active: bool = True) -> Recipient:
    return Recipient(
        id=recipient_id,
        name=f"Recipient {recipient_id}",
        kind=RecipientKind.MOTTAGARE,
        logical_address=f"LA-{recipient_id}",
        certificate_types=frozenset(types),
        active=active,
        trusted=trusted,
    )


RMR = "urn:riv:insuranceprocess:healthreporting:RevokeMedicalCertificateResponder:1"
HSA_ROOT = "1.2.752.129.2.1.4.1"


def _legacy_hos_personal() -> str:
    """A hr:hosPersonalType with only what the schema requires plus a name and care giver."""
    return (
        f'<qa:hosPersonal><hr:personal-id root="{HSA_ROOT}" extension="SE0000000000-1333"/>'
        "<hr:fullstandigtNamn>Doktor Thompson</hr:fullstandigtNamn>"
        f'<hr:enhet><hr:enhets-id root="{HSA_ROOT}" extension="SE0000000000-1337"/><hr:enhetsnamn>Vårdenheten</hr:enhetsnamn>'
        f'<hr:vardgivare><hr:vardgivare-id root="{HSA_ROOT}" extension="SE0000000000-1338"/>'
        "<hr:vardgivarnamn>Vårdgivaren</hr:vardgivarnamn></hr:vardgivare></hr:enhet></qa:hosPersonal>"
    )


def _legacy_reference(certificate_id: str, patient: str) -> str:
    return (
        f"<qa:lakarutlatande-id>{certificate_id}</qa:lakarutlatande-id>"
        "<qa:signeringsTidpunkt>2013-03-17T00:00:00</qa:signeringsTidpunkt>"
        f'<qa:patient><hr:person-id root="{PNR_ROOT}" extension="{patient[:8]}-{patient[8:]}"/></qa:patient>'
    )


def legacy_send_request(certificate_id: str, patient: str = TEST_PERSON) -> bytes:
    return (
        f'<s:SendMedicalCertificateRequest xmlns:s="{SEND_MEDICAL_NS}" xmlns:qa="{QA}" xmlns:hr="{HR}"><s:send>'
        "<s:vardReferens-id>ref-send-1</s:vardReferens-id><s:avsantTidpunkt>2024-05-01T10:00:00</s:avsantTidpunkt>"
        f"<s:adressVard>{_legacy_hos_personal()}</s:adressVard>"
        f"<s:lakarutlatande>{_legacy_reference(certificate_id, patient)}</s:lakarutlatande>"
        "</s:send></s:SendMedicalCertificateRequest>"
    ).encode()


def legacy_revoke_request(certificate_id: str, patient: str = TEST_PERSON) -> bytes:
    return (
        f'<r:RevokeMedicalCertificateRequest xmlns:r="{RMR}" xmlns:qa="{QA}" xmlns:hr="{HR}"><r:revoke>'
        "<r:vardReferens-id>ref-revoke-1</r:vardReferens-id><r:meddelande>Fel patient</r:meddelande>"
        "<r:avsantTidpunkt>2024-05-01T10:00:00.000+02:00</r:avsantTidpunkt>"
        f"<r:adressVard>{_legacy_hos_personal()}</r:adressVard>"
        f"<r:lakarutlatande>{_legacy_reference(certificate_id, patient)}</r:lakarutlatande>"
        "</r:revoke></r:RevokeMedicalCertificateRequest>"
    ).encode()
