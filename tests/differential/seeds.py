"""Seed messages for the mutation corpus.

Seeds are official sample messages read from ``../shared`` at test time, messages derived from them
in memory (to reach optional parts no sample has: svarPa, status, relation, underskrift, ...), and
small messages written here for contracts without samples. Nothing from ``../shared`` is stored.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from intygstjanst.tests.differential.mutations import (
    CORE_NS,
    DS_NS,
    EXT32_NS,
    FOREIGN_NS,
    TYPES_NS,
    Seed,
)
from intygstjanst.tests.support import payload_of

PART_CODE_SYSTEM = "769bb12b-bd9f-4203-a5cd-fd14f2eb3b80"
STATUS_CODE_SYSTEM = "9871cd17-8755-4ed9-b894-ff3729e775a4"
RELATION_CODE_SYSTEM = "c2362fcd-eda0-4f9a-bd13-b3bbaf7f2146"
AMNE_CODE_SYSTEM = "ffa59d8f-8d7e-46ae-ac9e-31804e8e8499"
LEGITIMERAT_YRKE_CODE_SYSTEM = "1.2.752.29.23.1.6"
HSA_ROOT = "1.2.752.129.2.1.4.1"
PATIENT = ("1.2.752.129.2.1.3.1", "191212121212")
INTYG_ID = ("SE2321000016-ABCD", "9f02dd2f-f57c-4a73-8190-2fe602cd6e27")

LISJP_SAMPLE = "common__fk-lisjp-v1-transport-lisjp.xml"
DB_SAMPLE = "common__sos-db-v1-transport-scenarios-pass-2.xml"
SIGNED_SAMPLE = "webcert__signed-signed-lisjp-i18n.xml"


def responder_ns(contract: str, major: int) -> str:
    return f"urn:riv:clinicalprocess:healthcond:certificate:{contract}Responder:{major}"


# ===== building XML from short strings =====
# Fragments use the prefixes r (the contract's responder namespace), core, types and ext32.


def _fragment(xml: str, responder: str = FOREIGN_NS) -> etree._Element:
    declarations = f'xmlns:r="{responder}" xmlns:core="{CORE_NS}" xmlns:types="{TYPES_NS}" xmlns:ext32="{EXT32_NS}"'
    return etree.fromstring(f"<fragment {declarations}>{xml}</fragment>")[0]


def _payload(contract: str, major: int, local: str, body: str) -> etree._Element:
    return _fragment(f"<r:{local}>{body}</r:{local}>", responder_ns(contract, major))


def _ii(tag: str, root: str, extension: str) -> str:
    return f"<{tag}><types:root>{root}</types:root><types:extension>{extension}</types:extension></{tag}>"


def _cv(tag: str, code: str, code_system: str, display: str | None = None) -> str:
    shown = f"<types:displayName>{display}</types:displayName>" if display is not None else ""
    return f"<{tag}><types:code>{code}</types:code><types:codeSystem>{code_system}</types:codeSystem>{shown}</{tag}>"


def _child(parent: etree._Element, path: str) -> etree._Element:
    found = parent.find(path, {"core": CORE_NS, "types": TYPES_NS})
    assert found is not None, f"{path} missing in {parent.tag}"
    return found


# ===== certificates =====


def register_sample(shared: Path, name: str) -> etree._Element:
    return payload_of(shared / "samples" / "RegisterCertificate" / name)


def intyg_of(register: etree._Element, tag: str) -> etree._Element:
    """A copy of the ``intyg`` of a RegisterCertificate payload, renamed ``tag``."""
    found = [child for child in register if isinstance(child.tag, str) and etree.QName(child).localname == "intyg"]
    assert len(found) == 1, "a RegisterCertificate payload has exactly one intyg"
    intyg = copy.deepcopy(found[0])
    intyg.tag = tag
    return intyg


def _status(code: str, part: str, when: str) -> etree._Element:
    return _fragment(
        f"<core:status>{_cv('core:part', part, PART_CODE_SYSTEM)}{_cv('core:status', code, STATUS_CODE_SYSTEM)}"
        f"<core:tidpunkt>{when}</core:tidpunkt></core:status>"
    )


def enriched_register(shared: Path) -> etree._Element:
    """The LISJP sample with every optional part of the certificate filled in.

    Adds svarPa, mottagare, mellannamn, relation, two status entries, specialistkompetens,
    legitimeratYrke, an extension element in enhet and one after the intyg, so that mutations
    reach those parts too.
    """
    register = register_sample(shared, LISJP_SAMPLE)
    responder = responder_ns("RegisterCertificate", 3)
    intyg = _child(register, f"{{{responder}}}intyg")
    intyg.addprevious(
        _fragment(
            "<r:svarPa><core:meddelande-id>meddelande-1</core:meddelande-id>"
            "<core:referens-id>referens-1</core:referens-id></r:svarPa>",
            responder,
        )
    )
    intyg.addnext(etree.Element(f"{{{FOREIGN_NS}}}tillagg"))
    _child(intyg, "core:typ").addprevious(_fragment(_cv("core:mottagare", "FKASSA", PART_CODE_SYSTEM)))
    _child(intyg, "core:patient/core:efternamn").addnext(_fragment("<core:mellannamn>Mellan</core:mellannamn>"))

    skapad_av = _child(intyg, "core:skapadAv")
    _child(skapad_av, "core:enhet").append(etree.Element(f"{{{FOREIGN_NS}}}lokalKod"))
    skapad_av.append(_fragment("<core:specialistkompetens><types:code>Allmänmedicin</types:code></core:specialistkompetens>"))
    skapad_av.append(_fragment(_cv("ext32:legitimeratYrke", "LK", LEGITIMERAT_YRKE_CODE_SYSTEM, "Läkare")))

    relation = _fragment(
        "<core:relation>"
        + _cv("core:typ", "ERSATT", RELATION_CODE_SYSTEM)
        + _ii("core:intygs-id", "SE2321000016-ABCD", "0ab2b4c6-0000-4000-8000-000000000001")
        + "</core:relation>"
    )
    received = _status("RECEIVED", "HSVARD", "2016-08-10T08:59:13")
    sent = _status("SENT", "FKASSA", "2016-08-10T09:00:00")
    skapad_av.addnext(relation)
    relation.addnext(received)
    received.addnext(sent)
    return register


def underskrift_register(shared: Path) -> etree._Element:
    """The signed webcert sample with its ds:Signature wrapped in 3.2 ``underskrift``.

    The sample puts the signature directly in ``intyg``, which the contract rejects; wrapped, it is
    a valid signed certificate and the mutations probe the signature content model.
    """
    register = register_sample(shared, SIGNED_SAMPLE)
    signature = _child(register, f".//{{{DS_NS}}}Signature")
    underskrift = etree.Element(f"{{{EXT32_NS}}}underskrift")
    signature.addprevious(underskrift)
    underskrift.append(signature)
    return register


def hos_personal(shared: Path, tag: str) -> etree._Element:
    """The ``skapadAv`` of the LISJP sample as a HosPersonal element named ``tag``."""
    skapad_av = _child(intyg_of(register_sample(shared, LISJP_SAMPLE), "intyg"), "core:skapadAv")
    skapad_av.tag = tag
    return skapad_av


# ===== results =====

# The result shapes the service produces: OK, INFO with a text, ERROR with errorId and text.
RESULTS: dict[str, str] = {
    "ok": "<core:resultCode>OK</core:resultCode>",
    "info": "<core:resultCode>INFO</core:resultCode><core:resultText>Certificate already exists</core:resultText>",
    "error": (
        "<core:resultCode>ERROR</core:resultCode>"
        "<core:resultText>Validation failed: patient person-id is not a valid personnummer</core:resultText>"
        "<core:errorId>VALIDATION_ERROR</core:errorId>"
    ),
}


def result_response(contract: str, major: int, result_xml: str) -> etree._Element:
    """A ``<contract>Response`` whose only content is a core ResultType."""
    return _payload(contract, major, f"{contract}Response", f"<r:result>{result_xml}</r:result>")


def result_seeds(contract: str, major: int) -> list[Seed]:
    return [Seed(f"{contract}Response/{name}", result_response(contract, major, xml)) for name, xml in RESULTS.items()]


# ===== seeds per contract =====


def register_certificate_seeds(shared: Path) -> list[Seed]:
    envelope = shared / "samples" / "RegisterCertificate" / "intyg-mock-service__soap-register-certificate-2.xml"
    return [
        Seed("lisjp", register_sample(shared, LISJP_SAMPLE)),
        Seed("db (kallaAdressuppgifter)", register_sample(shared, DB_SAMPLE)),
        Seed(
            "ts-diabetes v4 (partialDate)",
            register_sample(shared, "common__ts-ts-diabetes-v4-transport-scenarios-pass-minimal.xml"),
        ),
        Seed("signed lisjp with underskrift", underskrift_register(shared)),
        Seed("enriched lisjp", enriched_register(shared)),
        Seed("envelope sample", payload_of(envelope)),
        *result_seeds("RegisterCertificate", 3),
    ]


def get_certificate_seeds(shared: Path) -> list[Seed]:
    request = _ii("r:intygs-id", *INTYG_ID) + _cv("r:part", "FKASSA", PART_CODE_SYSTEM, "Försäkringskassan")
    plain = _payload("GetCertificate", 2, "GetCertificate", request)
    extended = _payload("GetCertificate", 2, "GetCertificate", request + f'<x:kanal xmlns:x="{FOREIGN_NS}"/>')
    responder = responder_ns("GetCertificate", 2)

    def response(register: etree._Element) -> etree._Element:
        payload = _payload("GetCertificate", 2, "GetCertificateResponse", "")
        payload.append(intyg_of(register, f"{{{responder}}}intyg"))
        return payload

    sample = payload_of(shared / "samples" / "GetCertificate" / "common__fk-fk-parent-getCertificate.xml")
    return [
        Seed("GetCertificate", plain),
        Seed("GetCertificate with extension", extended),
        Seed("GetCertificateResponse sample", sample),
        Seed("GetCertificateResponse with status history", response(enriched_register(shared))),
        Seed("GetCertificateResponse signed", response(underskrift_register(shared))),
    ]


def revoke_certificate_seeds(shared: Path) -> list[Seed]:
    folder = shared / "samples" / "RevokeCertificate"
    return [
        *(Seed(f"RevokeCertificate sample {path.name}", payload_of(path)) for path in sorted(folder.glob("*.xml"))),
        *result_seeds("RevokeCertificate", 2),
    ]


def send_certificate_to_recipient_seeds(shared: Path) -> list[Seed]:
    head = (
        "<r:skickatTidpunkt>2021-06-15T10:11:12</r:skickatTidpunkt>"
        + _ii("r:intygs-id", *INTYG_ID)
        + _ii("r:patientPerson-id", *PATIENT)
        + _cv("r:mottagare", "FKASSA", PART_CODE_SYSTEM)
    )
    by_citizen = _payload(
        "SendCertificateToRecipient",
        2,
        "SendCertificateToRecipient",
        head + "<r:skickatAv>" + _ii("r:person-id", *PATIENT) + "</r:skickatAv>",
    )
    by_doctor = _payload("SendCertificateToRecipient", 2, "SendCertificateToRecipient", head + "<r:skickatAv/>")
    responder = responder_ns("SendCertificateToRecipient", 2)
    _child(by_doctor, f"{{{responder}}}skickatAv").append(hos_personal(shared, f"{{{responder}}}hosPersonal"))
    return [
        Seed("SendCertificateToRecipient by citizen", by_citizen),
        Seed("SendCertificateToRecipient by care", by_doctor),
        *result_seeds("SendCertificateToRecipient", 2),
    ]


def set_certificate_status_seeds(_: Path) -> list[Seed]:
    request = _payload(
        "SetCertificateStatus",
        2,
        "SetCertificateStatus",
        _ii("r:intygs-id", *INTYG_ID)
        + _cv("r:part", "INVANA", PART_CODE_SYSTEM)
        + _cv("r:status", "ARCHIVED", STATUS_CODE_SYSTEM)
        + "<r:tidpunkt>2021-06-15T10:11:12</r:tidpunkt>",
    )
    return [Seed("SetCertificateStatus", request), *result_seeds("SetCertificateStatus", 2)]


def list_certificates_for_care_seeds(shared: Path) -> list[Seed]:
    person = _ii("r:person-id", *PATIENT)
    by_vardgivare = _payload(
        "ListCertificatesForCare", 3, "ListCertificatesForCare", person + _ii("r:vardgivar-id", HSA_ROOT, "SE2321000016-VG1")
    )
    by_enheter = _payload(
        "ListCertificatesForCare",
        3,
        "ListCertificatesForCare",
        person + _ii("r:enhets-id", HSA_ROOT, "SE2321000016-E1") + _ii("r:enhets-id", HSA_ROOT, "SE2321000016-E2"),
    )
    return [
        Seed("ListCertificatesForCare by care giver", by_vardgivare),
        Seed("ListCertificatesForCare by care units", by_enheter),
        *certificate_list_seeds(shared, "ListCertificatesForCare", 3, with_result=False),
    ]


def certificate_list_seeds(shared: Path, contract: str, major: int, *, with_result: bool) -> list[Seed]:
    """``<contract>Response`` seeds: empty, two small certificates, one certificate with every part.

    Kept apart rather than in one list so that each part of a certificate is mutated in the
    smallest message that has it.
    """
    ns = responder_ns(contract, major)
    result = f"<r:result>{RESULTS['ok']}</r:result>" if with_result else ""
    db = register_sample(shared, DB_SAMPLE)
    contents: dict[str, list[etree._Element]] = {
        "empty": [],
        "two small certificates": [db, db],
        "one enriched certificate": [enriched_register(shared)],
    }
    seeds: list[Seed] = []
    for label, registers in contents.items():
        response = _payload(contract, major, f"{contract}Response", f"<r:intygsLista/>{result}")
        lista = _child(response, f"{{{ns}}}intygsLista")
        for register in registers:
            lista.append(intyg_of(register, f"{{{ns}}}intyg"))
        seeds.append(Seed(f"{contract}Response {label}", response))
    return seeds


def list_certificates_for_citizen_seeds(major: int) -> Callable[[Path], list[Seed]]:
    def seeds(shared: Path) -> list[Seed]:
        contract = "ListCertificatesForCitizen"
        person = _ii("r:person-id", *PATIENT)
        part = _cv("r:part", "INVANA", PART_CODE_SYSTEM)
        minimal = _payload(contract, major, contract, person + "<r:arkiverade>false</r:arkiverade>" + part)
        filtered = _payload(
            contract,
            major,
            contract,
            person
            + _cv("r:intygTyp", "LISJP", "b64ea353-e8f6-4832-b563-fc7d46f29548")
            + _cv("r:intygTyp", "TSTRK1007", "f6fb361a-e31d-48b8-8657-99b63912dd9b")
            + "<r:arkiverade>true</r:arkiverade><r:fromDatum>2020-01-01</r:fromDatum>"
            + "<r:tomDatum>2021-12-31</r:tomDatum>"
            + part,
        )
        return [
            Seed(f"{contract} minimal", minimal),
            Seed(f"{contract} filtered", filtered),
            *certificate_list_seeds(shared, contract, major, with_result=major == 3),
        ]

    return seeds


def send_message_to_care_seeds(shared: Path) -> list[Seed]:
    sample = payload_of(shared / "samples" / "SendMessageToCare" / "statistik__specifications-sendMessageToCare.xml")
    complete = _payload(
        "SendMessageToCare",
        2,
        "SendMessageToCare",
        "<r:meddelande-id>m-2</r:meddelande-id><r:referens-id>ref-2</r:referens-id>"
        "<r:skickatTidpunkt>2021-06-15T10:11:12</r:skickatTidpunkt>"
        + _ii("r:intygs-id", *INTYG_ID)
        + _ii("r:patientPerson-id", *PATIENT)
        + "<r:logiskAdressMottagare>SE2321000016-E1</r:logiskAdressMottagare>"
        + _cv("r:amne", "KOMPLT", AMNE_CODE_SYSTEM)
        + "<r:rubrik>Komplettering</r:rubrik><r:meddelande>Komplettera fråga 1 och 32.</r:meddelande>"
        "<r:paminnelseMeddelande-id>m-1</r:paminnelseMeddelande-id>"
        "<r:svarPa><core:meddelande-id>m-0</core:meddelande-id></r:svarPa>"
        "<r:skickatAv>"
        + _cv("r:part", "FKASSA", PART_CODE_SYSTEM)
        + "<r:kontaktInfo>Handläggare A</r:kontaktInfo><r:kontaktInfo>010-1234567</r:kontaktInfo></r:skickatAv>"
        "<r:komplettering><r:frage-id>1</r:frage-id><r:instans>2</r:instans><r:text>Datum saknas</r:text></r:komplettering>"
        "<r:komplettering><r:frage-id>32</r:frage-id><r:text>Oklar grad</r:text></r:komplettering>"
        "<r:sistaDatumForSvar>2021-07-15</r:sistaDatumForSvar>",
    )
    return [
        Seed("SendMessageToCare sample", sample),
        Seed("SendMessageToCare with everything", complete),
        *result_seeds("SendMessageToCare", 2),
    ]


def send_message_to_recipient_seeds(shared: Path) -> list[Seed]:
    folder = shared / "samples" / "SendMessageToRecipient"
    return [
        *(Seed(f"SendMessageToRecipient sample {path.name}", payload_of(path)) for path in sorted(folder.glob("*.xml"))),
        *result_seeds("SendMessageToRecipient", 2),
    ]


def list_sick_leaves_for_care_seeds(_: Path) -> list[Seed]:
    contract = "ListSickLeavesForCare"
    minimal = _payload(
        contract, 1, contract, _ii("r:enhets-id", HSA_ROOT, "SE2321000016-E1") + "<r:maxDagarMellanIntyg>5</r:maxDagarMellanIntyg>"
    )
    filtered = _payload(
        contract,
        1,
        contract,
        _ii("r:enhets-id", HSA_ROOT, "SE2321000016-E1")
        + "<r:maxDagarMellanIntyg>5</r:maxDagarMellanIntyg>"
        + "<r:minstaSjukskrivningslangd>14</r:minstaSjukskrivningslangd>"
        + "<r:maxSjukskrivningslangd>365</r:maxSjukskrivningslangd>"
        + _ii("r:personal-id", HSA_ROOT, "SE2321000016-L1")
        + _ii("r:personal-id", HSA_ROOT, "SE2321000016-L2"),
    )
    sjukfall = (
        "<r:sjukfall>"
        + _ii("r:person-id", *PATIENT)
        + "<r:patientFullstandigtNamn>Tolvan Tolvansson</r:patientFullstandigtNamn>"
        + _ii("r:enhets-id", HSA_ROOT, "SE2321000016-E1")
        + _ii("r:personal-id", HSA_ROOT, "SE2321000016-L1")
        + "<r:startdatum>2021-01-04</r:startdatum><r:slutdatum>2021-03-01</r:slutdatum>"
        "<r:diagnoskod><r:code>F32</r:code><r:codeSystem>1.2.752.116.1.1.1.1.3</r:codeSystem>"
        "<r:displayName>Depressiv episod</r:displayName></r:diagnoskod>"
        "<r:antalIntyg>2</r:antalIntyg><r:sjukskrivningslangd>57</r:sjukskrivningslangd>"
        "<r:sjukskrivningsgrad><r:aktivGrad>50</r:aktivGrad>"
        "<r:grader><r:grad>100</r:grad><r:grad>50</r:grad></r:grader></r:sjukskrivningsgrad>"
        "</r:sjukfall>"
    )
    response = _payload(contract, 1, f"{contract}Response", f"<r:sjukfallLista>{sjukfall}{sjukfall}</r:sjukfallLista>")
    empty = _payload(contract, 1, f"{contract}Response", "<r:sjukfallLista/>")
    return [
        Seed(f"{contract} minimal", minimal),
        Seed(f"{contract} filtered", filtered),
        Seed(f"{contract}Response with two cases", response),
        Seed(f"{contract}Response empty", empty),
    ]
