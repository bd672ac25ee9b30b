"""Building SendMessageToCare / SendMessageToRecipient requests for the message tests."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from intygstjanst.contracts.xml import CORE, PART_CODE_SYSTEM, TYPES
from intygstjanst.persons import PERSONNUMMER_ROOT

from intygstjanst.tests.soap import TEST_PERSON

TO_CARE = "/clinicalprocess/healthcond/certificate/SendMessageToCare/2/rivtabp21"
TO_RECIPIENT = "/clinicalprocess/healthcond/certificate/SendMessageToRecipient/2/rivtabp21"
TO_CARE_NS = "urn:riv:clinicalprocess:healthcond:certificate:SendMessageToCareResponder:2"
TO_RECIPIENT_NS = "urn:riv:clinicalprocess:healthcond:certificate:SendMessageToRecipientResponder:2"
SUBJECT_CODE_SYSTEM = "ffa59d8f-8d7e-46ae-ac9e-31804e8e8499"
HSA_ROOT = "1.2.752.129.2.1.4.1"

# The issuer of the LISJP sample certificate (tests.soap.certificate).
CARE_UNIT = "TSTNMT2321000156-1077"
CARE_GIVER = "TSTNMT2321000156-102Q"
FK_ADDRESS = "2021005521"  # Försäkringskassan's logical address in the shipped recipient registry


def _common(
    root: etree._Element,
    ns: str,
    message_id: str,
    certificate_id: str,
    patient: str,
    address: str,
    subject: str,
    text: str,
    reminder_of: str | None,
    answer_to: str | None,
) -> None:
    def add(parent: etree._Element, tag: str, value: str | None = None) -> etree._Element:
        child = etree.SubElement(parent, tag)
        child.text = value
        return child

    add(root, f"{{{ns}}}meddelande-id", message_id)
    add(root, f"{{{ns}}}referens-id", f"ref-{message_id}")
    add(root, f"{{{ns}}}skickatTidpunkt", "2030-01-10T09:30:00")
    intyg = add(root, f"{{{ns}}}intygs-id")
    add(intyg, f"{{{TYPES}}}root", CARE_UNIT)
    add(intyg, f"{{{TYPES}}}extension", certificate_id)
    person = add(root, f"{{{ns}}}patientPerson-id")
    add(person, f"{{{TYPES}}}root", PERSONNUMMER_ROOT)
    add(person, f"{{{TYPES}}}extension", patient)
    add(root, f"{{{ns}}}logiskAdressMottagare", address)
    amne = add(root, f"{{{ns}}}amne")
    add(amne, f"{{{TYPES}}}code", subject)
    add(amne, f"{{{TYPES}}}codeSystem", SUBJECT_CODE_SYSTEM)
    add(root, f"{{{ns}}}rubrik", f"About {certificate_id}")
    add(root, f"{{{ns}}}meddelande", text)
    if reminder_of is not None:
        add(root, f"{{{ns}}}paminnelseMeddelande-id", reminder_of)
    if answer_to is not None:
        svar = add(root, f"{{{ns}}}svarPa")
        add(svar, f"{{{CORE}}}meddelande-id", answer_to)


def to_care(
    message_id: str,
    certificate_id: str,
    *,
    subject: str = "KOMPLT",
    patient: str = TEST_PERSON,
    address: str = CARE_UNIT,
    sender: str = "FKASSA",
    text: str = "Please complete the assessment of work capacity.",
    reminder_of: str | None = None,
    answer_to: str | None = None,
    completions: Sequence[tuple[str, str]] | None = None,
    last_answer_date: str | None = "2030-02-10",
) -> etree._Element:
    """A SendMessageToCare payload; by default a completion request (KOMPLT) naming question 1."""
    ns = TO_CARE_NS
    root = etree.Element(f"{{{ns}}}SendMessageToCare", nsmap={None: ns, "t": TYPES, "c": CORE})
    _common(root, ns, message_id, certificate_id, patient, address, subject, text, reminder_of, answer_to)
    skickat_av = etree.SubElement(root, f"{{{ns}}}skickatAv")
    part = etree.SubElement(skickat_av, f"{{{ns}}}part")
    etree.SubElement(part, f"{{{TYPES}}}code").text = sender
    etree.SubElement(part, f"{{{TYPES}}}codeSystem").text = PART_CODE_SYSTEM
    if completions is None:
        completions = [("1", "Describe the patient's work capacity.")] if subject == "KOMPLT" and answer_to is None else []
    for question, what in completions:
        komplettering = etree.SubElement(root, f"{{{ns}}}komplettering")
        etree.SubElement(komplettering, f"{{{ns}}}frage-id").text = question
        etree.SubElement(komplettering, f"{{{ns}}}text").text = what
    if last_answer_date is not None:
        etree.SubElement(root, f"{{{ns}}}sistaDatumForSvar").text = last_answer_date
    return root


def to_recipient(
    message_id: str,
    certificate_id: str,
    *,
    subject: str = "KOMPLT",
    patient: str = TEST_PERSON,
    address: str = FK_ADDRESS,
    care_giver: str = CARE_GIVER,
    text: str = "The assessment is completed in a new certificate.",
    reminder_of: str | None = None,
    answer_to: str | None = None,
    last_answer_date: str | None = None,
) -> etree._Element:
    """A SendMessageToRecipient payload written by a doctor at the certificate's care unit."""
    ns = TO_RECIPIENT_NS
    root = etree.Element(f"{{{ns}}}SendMessageToRecipient", nsmap={None: ns, "t": TYPES, "c": CORE})
    _common(root, ns, message_id, certificate_id, patient, address, subject, text, reminder_of, answer_to)
    skickat_av = etree.SubElement(root, f"{{{ns}}}skickatAv")
    for tag, value in _hos_personal(care_giver):
        _path(skickat_av, tag, value)
    if last_answer_date is not None:
        etree.SubElement(root, f"{{{ns}}}sistaDatumForSvar").text = last_answer_date
    return root


def _hos_personal(care_giver: str) -> list[tuple[str, str]]:
    return [
        ("personal-id/root", HSA_ROOT),
        ("personal-id/extension", "TSTNMT2321000156-DR01"),
        ("fullstandigtNamn", "Doktor Dokter"),
        ("enhet/enhets-id/root", HSA_ROOT),
        ("enhet/enhets-id/extension", CARE_UNIT),
        ("enhet/arbetsplatskod/root", "1.2.752.29.4.71"),
        ("enhet/arbetsplatskod/extension", "1234567890"),
        ("enhet/enhetsnamn", "Vårdcentralen"),
        ("enhet/postadress", "Storgatan 1"),
        ("enhet/postnummer", "12345"),
        ("enhet/postort", "Småstad"),
        ("enhet/telefonnummer", "0101234567"),
        ("enhet/vardgivare/vardgivare-id/root", HSA_ROOT),
        ("enhet/vardgivare/vardgivare-id/extension", care_giver),
        ("enhet/vardgivare/vardgivarnamn", "Regionen"),
    ]


_TYPES_LEAVES = {"root", "extension"}


def _path(parent: etree._Element, path: str, value: str) -> None:
    """Create (or reuse) the core elements along ``path`` and set the leaf's text; ``root`` and
    ``extension`` leaves are in the types namespace."""
    *steps, leaf = path.split("/")
    node = parent
    for step in steps:
        found = node.find(f"{{{CORE}}}{step}")
        node = found if found is not None else etree.SubElement(node, f"{{{CORE}}}{step}")
    ns = TYPES if leaf in _TYPES_LEAVES else CORE
    etree.SubElement(node, f"{{{ns}}}{leaf}").text = value
