"""Building SendMessageToCare / SendMessageToRecipient requests for the message tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from intygstjanst.contracts.xml import CORE, PART_CODE_SYSTEM, TYPES
from intygstjanst.registers.persons import PERSONNUMMER_ROOT
from intygstjanst.tests.soap import OTHER_PERSON, TEST_PERSON, VALIDATION_PERSON
from lxml import etree

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

# Two certificates of one patient (both LISJP from tests.soap.certificate), both sent to FKASSA.
CERT = "msg-cert-1"
OTHER_CERT = "msg-cert-2"
# Registered by the message tests' thread too: a LISJP sent to nobody, and one about a validation
# person (a test certificate) sent to FKASSA.
UNSENT_CERT = "msg-cert-unsent"
TEST_CERT = "msg-cert-test"


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


# --- rejections: (name, message, errorId, the complete resultText) -----------------------------------
# The national answers (../shared/specs/result-codes.md rules 16 and 17): every failed check is an
# item of one list; this service's own checks (handlers.messages.own_items) follow the national ones.

V, A = "VALIDATION_ERROR", "APPLICATION_ERROR"


def care_refusal(message_id: str, certificate_id: str, *items: str) -> str:
    """The national SendMessageToCare refusal listing ``items``."""
    listed = ", ".join(items)
    return f"Validation of SendMessageToCare failed for message with question id {message_id} and certificate id {certificate_id}. [{listed}]"


def recipient_refusal(*items: str) -> str:
    """The national SendMessageToRecipient refusal listing ``items``."""
    return f"[{', '.join(items)}]"


SUBJECT_NOT_SUPPORTED = (
    "SUBJECT_NOT_SUPPORTED_ERROR The supplied certificate subject is invalid. Supported subjects are KOMPLT, AVSTMN, KONTKT, OVRIGT, PAMINN"
)
PAMINNELSE = "PAMINNELSE_ID_INCONSISTENCY_ERROR"
NOT_FOUND = "REFERENCED_MESSAGE_NOT_FOUND_ERROR"


def _bad_subject() -> etree._Element:
    return to_care("bad-subject", CERT, subject="FRAGA", completions=[])


def _long_id() -> etree._Element:
    question = to_care("x" * 129, CERT)
    question.find("{*}referens-id").text = "ref"
    return question


def _bad_time() -> etree._Element:
    question = to_care("bad-time", CERT)
    question.find("{*}skickatTidpunkt").text = "2030-01-10T24:00:00"
    return question


STATIC_REJECTIONS: list[tuple[str, Callable[[], etree._Element], str, str]] = [
    ("unknown subject", _bad_subject, V, care_refusal("bad-subject", CERT, SUBJECT_NOT_SUPPORTED)),
    ("unknown subject to the recipient", lambda: to_recipient("bad-s", CERT, subject="FRAGA"), V, recipient_refusal("Invalid amneskod")),
    ("sender is no recipient", lambda: to_care("bad-p", CERT, sender="NOSUCH"), V, care_refusal(
        "bad-p", CERT, "SkickatAv part code NOSUCH is not valid", f"certificate {CERT} has not been sent to NOSUCH (skickatAv/part)"
    )),
    ("reminder without reference", lambda: to_care("bad-1", CERT, subject="PAMINN"), V, care_refusal("bad-1", CERT, PAMINNELSE)),
    (
        "reminder without reference to the recipient",
        lambda: to_recipient("bad-1r", CERT, subject="PAMINN"),
        V,
        recipient_refusal("PAMINN should define paminnelseMeddelandeId"),
    ),
    (
        "reference on a non-reminder",
        lambda: to_care("bad-2", CERT, subject="KOMPLT", reminder_of="q"),
        V,
        care_refusal("bad-2", CERT, PAMINNELSE, NOT_FOUND),
    ),
    (
        "reference on a non-reminder to the recipient",
        lambda: to_recipient("bad-2r", CERT, subject="KOMPLT", reminder_of="q"),
        V,
        recipient_refusal("paminnelseMeddelandeId should only be present if amne is PAMINN", "Paminnelse Meddelande does not exist"),
    ),
    (
        "reminder that answers",
        lambda: to_recipient("bad-3", CERT, subject="PAMINN", reminder_of="q", answer_to="p"),
        V,
        recipient_refusal(
            "Paminnelse Meddelande does not exist", "SvarPa Meddelande does not exist", "a reminder (amne PAMINN) cannot answer a message (svarPa)"
        ),
    ),
    (
        "answer with a last answer date",
        lambda: to_recipient("bad-4", CERT, answer_to="q", last_answer_date="2030-02-01"),
        V,
        recipient_refusal("SistaDatumForSvar is only valid on Questions", "SvarPa Meddelande does not exist"),
    ),
    (
        "answer with a last answer date to care",
        lambda: to_care("bad-4c", CERT, answer_to="q"),
        V,
        care_refusal("bad-4c", CERT, "MESSAGE_TYPE_CONSISTENCY_ERROR An answer (svarPa) cannot have sistaDatumForSvar", NOT_FOUND),
    ),
    (
        "completion request with another subject",
        lambda: to_care("bad-5", CERT, subject="KONTKT", completions=[("1", "more")]),
        V,
        care_refusal("bad-5", CERT, "KOMPLETTERING_INCONSISTENCY_ERROR"),
    ),
    ("message answering itself", lambda: to_recipient("bad-6", CERT, answer_to="bad-6"), V, recipient_refusal("SvarPa Meddelande does not exist")),
    (
        "personnummer that is not the certificate's",
        lambda: to_care("bad-7", CERT, patient="191212121213"),
        V,
        care_refusal("bad-7", CERT, "CIVIC_REGISTRATION_NUMBER_INCONSISTENCY_ERROR"),
    ),
    ("over-long message id", _long_id, V, care_refusal("x" * 129, CERT, "meddelande-id is 129 characters long, more than the 128 accepted")),
    (
        "time that cannot be stored",
        _bad_time,
        V,
        care_refusal("bad-time", CERT, "skickatTidpunkt '2030-01-10T24:00:00' is not a time this service can store"),
    ),
]


STATE_REJECTIONS: list[tuple[str, Callable[[], etree._Element], str, str]] = [
    (
        "unknown certificate",
        lambda: to_care("s-1", "no-such-certificate"),
        V,
        care_refusal("s-1", "no-such-certificate", "CERTIFICATE_NOT_FOUND_ERROR"),
    ),
    ("unknown certificate to the recipient", lambda: to_recipient("s-1r", "no-such-certificate"), A, "Intyg does not exist"),
    ("id used for another message", lambda: to_care("fk-q", CERT, text="Another question."), V, care_refusal(
        "fk-q", CERT, "MEDDELANDE_ID_NOT_UNIQUE_ERRORMeddelande-id is not a GUID"
    )),
    (
        "id used for another message to the recipient",
        lambda: to_recipient("fk-q", CERT),
        V,
        recipient_refusal("MeddelandeId is not globally unique"),
    ),
    (
        "patient is not the certificate's",
        lambda: to_care("s-2", CERT, patient=OTHER_PERSON),
        V,
        care_refusal("s-2", CERT, "CIVIC_REGISTRATION_NUMBER_INCONSISTENCY_ERROR"),
    ),
    (
        "patient is not the certificate's to the recipient",
        lambda: to_recipient("s-2r", CERT, patient=OTHER_PERSON),
        V,
        recipient_refusal("PatientPersonId is not consistent with certificate"),
    ),
    (
        "addressed to another care unit",
        lambda: to_care("s-3", CERT, address="TSTNMT2321000156-9999"),
        V,
        care_refusal(
            "s-3",
            CERT,
            f"logiskAdressMottagare TSTNMT2321000156-9999 is not the care unit that issued certificate {CERT}; messages about it go to {CARE_UNIT}",
        ),
    ),
    (
        "sender never received the certificate",
        lambda: to_care("s-4", CERT, sender="TRANSP"),
        V,
        care_refusal("s-4", CERT, f"certificate {CERT} has not been sent to TRANSP (skickatAv/part)"),
    ),
    (
        "care giver did not issue the certificate",
        lambda: to_recipient("s-5", CERT, care_giver="TSTNMT2321000156-OTHER"),
        V,
        recipient_refusal(f"skickatAv: care giver TSTNMT2321000156-OTHER did not issue certificate {CERT}"),
    ),
    (
        "unknown recipient address",
        lambda: to_recipient("s-6", CERT, address="5560000000"),
        V,
        recipient_refusal("logiskAdressMottagare 5560000000 is not the logical address of a recipient known here"),
    ),
    (
        "recipient never received the certificate",
        lambda: to_recipient("s-7", CERT, address="2021006099"),
        V,
        recipient_refusal(f"certificate {CERT} has not been sent to TRANSP"),
    ),
    (
        "reminder about an unknown message",
        lambda: to_care("s-8", CERT, subject="PAMINN", reminder_of="nope"),
        V,
        care_refusal("s-8", CERT, NOT_FOUND),
    ),
    (
        "reminder about another certificate's message",
        lambda: to_care("s-9", CERT, subject="PAMINN", reminder_of="fk-q-other"),
        V,
        care_refusal("s-9", CERT, f"paminnelseMeddelande-id fk-q-other is about another certificate than {CERT}"),
    ),
    (
        "reminder about the other side's message",
        lambda: to_care("s-10", CERT, subject="PAMINN", reminder_of="care-q"),
        V,
        care_refusal("s-10", CERT, "paminnelseMeddelande-id care-q was written by the other side; a reminder is about a message its sender wrote"),
    ),
    (
        "reminder about an answer",
        lambda: to_recipient("s-11", CERT, subject="PAMINN", reminder_of="care-a"),
        V,
        recipient_refusal("paminnelseMeddelande-id care-a is not a question; only questions can be reminded about"),
    ),
    (
        "answer to an unknown message",
        lambda: to_recipient("s-12", CERT, answer_to="nope"),
        V,
        recipient_refusal("SvarPa Meddelande does not exist"),
    ),
    (
        "answer to another certificate's message",
        lambda: to_recipient("s-13", CERT, answer_to="fk-q-other"),
        V,
        recipient_refusal(f"svarPa fk-q-other is about another certificate than {CERT}"),
    ),
    (
        "answer to one's own message",
        lambda: to_recipient("s-14", CERT, subject="OVRIGT", answer_to="care-q"),
        V,
        recipient_refusal("svarPa care-q was written by the same side; an answer is to a message from the other side"),
    ),
    (
        "answer to an answer",
        lambda: to_care("s-15", CERT, answer_to="care-a", last_answer_date=None),
        V,
        care_refusal("s-15", CERT, "svarPa care-a is itself an answer; answer the question"),
    ),
    (
        "answer with another subject",
        lambda: to_recipient("s-16", CERT, subject="OVRIGT", answer_to="fk-q"),
        V,
        recipient_refusal("Svar amne is not consistent with question"),
    ),
    (
        "a test certificate",
        lambda: to_care("s-18", TEST_CERT, patient=VALIDATION_PERSON),
        V,
        care_refusal("s-18", TEST_CERT, "TEST_CERTIFICATE The supplied certificate is invalid. Messages cannot be sent for test certificates."),
    ),
    (
        "a certificate never sent to anyone",
        lambda: to_recipient("s-19", UNSENT_CERT),
        V,
        recipient_refusal("Certificate is not sent to recipient"),
    ),
    (
        "answer with another subject to care",
        lambda: to_care("s-17", CERT, subject="KONTKT", answer_to="care-q", last_answer_date=None),
        V,
        care_refusal("s-17", CERT, "SUBJECT_CONSISTENCY_ERROR The answer has amne KONTKT, its question OVRIGT"),
    ),
]


def referred_thread() -> list[etree._Element]:
    """Messages the STATE_REJECTIONS refer to: a completion request from Försäkringskassan and its
    answer, a question from care, and a question about the other certificate."""
    return [
        to_care("fk-q", CERT),
        to_recipient("care-a", CERT, answer_to="fk-q"),
        to_recipient("care-q", CERT, subject="OVRIGT"),
        to_care("fk-q-other", OTHER_CERT),
    ]
