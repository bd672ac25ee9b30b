"""The national service's checks of the legacy FK7263 requests (fk7263-legacy-validation.md), one
case per check: a complete request changed so that only that check fails (where the spec makes two
checks fail together, e.g. a missing Aktivitet block fails R16, R23 and R26, the case says so),
with the exact texts, in the national order; and the leniencies the national service has."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from lxml import etree

from intygstjanst.handlers.legacy_validation import InternalFailure, enkel_messages, error_text, register_messages
from intygstjanst.tests.recipient_calls import legacy_revoke_request, legacy_send_request
from intygstjanst.tests.support import payload_of, shared_dir, unavailable
from intygstjanst.transform.fk7263 import HR, MU, RMC
from intygstjanst.transform.revoke import QA, RMR

SMR = "urn:riv:insuranceprocess:healthreporting:SendMedicalCertificateResponder:1"
NS = {"r": RMC, "m": MU, "h": HR, "qa": QA, "rv": RMR, "s": SMR}
BASE = "common__fk7263-InternalToTransportConverterTest-maximalt-fk7263-transport.xml"
HSA_OID = "Should be 1.2.752.129.2.1.4.1"
SMITTSKYDD = "Avstangning_enligt_SmL_pga_smitta"

Change = Callable[[etree._Element], None]


def one(root: etree._Element, path: str) -> etree._Element:
    found = root.xpath(path, namespaces=NS)
    assert len(found) >= 1, f"{path} selects nothing"
    return found[0]  # type: ignore[no-any-return]


def remove(path: str) -> Change:
    def change(root: etree._Element) -> None:
        for element in root.xpath(path, namespaces=NS):
            element.getparent().remove(element)

    return change


def text(path: str, value: str) -> Change:
    return lambda root: setattr(one(root, path), "text", value)


def attribute(path: str, name: str, value: str | None) -> Change:
    def change(root: etree._Element) -> None:
        element = one(root, path)
        if value is None:
            element.attrib.pop(name, None)
        else:
            element.set(name, value)

    return change


def aktivitet(code: str, beskrivning: str | None = None) -> Change:
    def change(root: etree._Element) -> None:
        first = one(root, "//m:aktivitet")
        added = etree.Element(f"{{{MU}}}aktivitet")
        etree.SubElement(added, f"{{{MU}}}aktivitetskod").text = code
        if beskrivning is not None:
            etree.SubElement(added, f"{{{MU}}}beskrivning").text = beskrivning
        first.addprevious(added)

    return change


def both(*changes: Change) -> Change:
    def change(root: etree._Element) -> None:
        for c in changes:
            c(root)

    return change


@dataclass(frozen=True)
class Case:
    check: str
    change: Change
    expected: tuple[str, ...]


LA = "/r:RegisterMedicalCertificate/r:lakarutlatande"
HOS = f"{LA}/m:skapadAvHosPersonal"
ENHET = f"{HOS}/h:enhet"
PERSON = f"{LA}/m:patient/h:person-id"
KROPP = f"{LA}/m:funktionstillstand[m:typAvFunktionstillstand='Kroppsfunktion']"
AKTIVITET = f"{LA}/m:funktionstillstand[m:typAvFunktionstillstand='Aktivitet']"
AF = f"{AKTIVITET}/m:arbetsformaga"
NEDSATT = {"1/4": "Nedsatt_med_1/4", "1/2": "Nedsatt_med_1/2", "3/4": "Nedsatt_med_3/4", "helt": "Helt_nedsatt"}
PERIOD_TEXTS = {
    "1/4": ("No or wrong date for nedsatt 1/4 from date found!", "No or wrong date for nedsatt 1/4 tom date found!",
            "Invalid date interval for 1/4, from is after tom."),
    "1/2": ("No or wrong date for nedsatt 1/2 from date found!", "No or wrong date for nedsatt 1/2 tom date found!",
            "Invalid date interval for nedsatt 1/2 , from is after tom."),
    "3/4": ("No or wrong date for nedsatt 3/4 from date found!", "No or wrong date for nedsatt 3/4 tom date found!",
            "Invalid date interval for heltNedsatt, from is after tom."),
    "helt": ("No or wrong date for helt nedsatt from date found!", "No or wrong date for helt nedsatt tom date found!",
             "Invalid date interval for heltNedsatt, from is after tom."),
}


def period_cases() -> list[Case]:
    cases = []
    for degree, (no_from, no_tom, reversed_) in PERIOD_TEXTS.items():
        entry = f"{AF}/m:arbetsformagaNedsattning[m:nedsattningsgrad='{NEDSATT[degree]}']"
        cases += [
            Case(f"R28 {degree} from", remove(f"{entry}/m:varaktighetFrom"), (no_from,)),
            Case(f"R28 {degree} tom", remove(f"{entry}/m:varaktighetTom"), (no_tom,)),
            Case(f"R28 {degree} order", text(f"{entry}/m:varaktighetFrom", "2012-01-01"), (reversed_,)),
        ]
    return cases


GRUND = {
    "undersokning": (f"{LA}/m:vardkontakt[m:vardkontakttyp='Min_undersokning_av_patienten']/m:vardkontaktstid",
                     "No or wrong date for vardkontakt - min undersokning av patienten found!"),
    "telefon": (f"{LA}/m:vardkontakt[m:vardkontakttyp='Min_telefonkontakt_med_patienten']/m:vardkontaktstid",
                "No or wrong date for vardkontakt - telefonkontakt found!"),
}

REGISTER_CASES = [
    Case("R1 missing", remove(f"{LA}/m:lakarutlatande-id"), ("Head: Utlatande Id is mandatory!",)),
    Case("R1 empty", text(f"{LA}/m:lakarutlatande-id", ""), ("Head: Utlatande Id is mandatory!",)),
    Case("R2", remove(f"{LA}/m:skickatDatum"), ("Header: No or wrong skickatDatum found!",)),
    Case("R3", remove(f"{LA}/m:signeringsdatum"), ("Field 14: No signeringsDatum found!",)),
    Case("P1", remove(f"{LA}/m:patient"), ("No Patient element found!",)),
    Case("P2 person-id", remove(PERSON), ("No Patient Id found!",)),
    Case("P2 no extension", attribute(PERSON, "extension", None), ("No Patient Id found!",)),
    Case("P2 empty extension", attribute(PERSON, "extension", ""), ("No Patient Id found!",)),
    Case("P3 twelve digits", attribute(PERSON, "extension", "191212121212"), ()),
    Case("P4 other root", attribute(PERSON, "root", "1.2.752.129.2.1.3.2"),
         ("Wrong o.i.d. for Patient Id! Should be 1.2.752.129.2.1.3.1 or 1.2.752.129.2.1.3.3",)),
    Case("P4 no root", attribute(PERSON, "root", None), ("Wrong o.i.d. for Patient Id! Should be 1.2.752.129.2.1.3.1 or 1.2.752.129.2.1.3.3",)),
    Case("P4 samordningsnummer", both(attribute(PERSON, "root", "1.2.752.129.2.1.3.3"), attribute(PERSON, "extension", "19121272-1219")), ()),
    Case("P5 ten digits", attribute(PERSON, "extension", "121212-1212"), ("Wrong format for person-id! Valid format is YYYYMMDD-XXXX or YYYYMMDD+XXXX.",)),
    Case("P5 other separator", attribute(PERSON, "extension", "19121212_1212"), ("Wrong format for person-id! Valid format is YYYYMMDD-XXXX or YYYYMMDD+XXXX.",)),
    Case("P5 plus", attribute(PERSON, "extension", "19121212+1212"), ()),
    Case("P5 control digit and date not checked", attribute(PERSON, "extension", "19129999-0000"), ()),
    Case("R5", remove(HOS), ("No SkapadAvHosPersonal element found!",)),
    Case("R6 empty extension", attribute(f"{HOS}/h:personal-id", "extension", ""), ("No personal-id found!",)),
    Case("R6 no extension", attribute(f"{HOS}/h:personal-id", "extension", None), ("No personal-id found!",)),
    Case("R6+R7 no personal-id", remove(f"{HOS}/h:personal-id"), ("No personal-id found!", f"Wrong o.i.d. for personalId! {HSA_OID}")),
    Case("R7", attribute(f"{HOS}/h:personal-id", "root", "1.2.752.129.2.1.4.2"), (f"Wrong o.i.d. for personalId! {HSA_OID}",)),
    Case("R8 missing", remove(f"{HOS}/h:fullstandigtNamn"), ("No skapadAvHosPersonal fullstandigtNamn found.",)),
    Case("R8 empty", text(f"{HOS}/h:fullstandigtNamn", ""), ("No skapadAvHosPersonal fullstandigtNamn found.",)),
    Case("R9", remove(ENHET), ("No enhet element found!",)),
    Case("R10 id", attribute(f"{ENHET}/h:enhets-id", "extension", ""), ("No enhets-id found!",)),
    Case("R10 root", attribute(f"{ENHET}/h:enhets-id", "root", "x"), (f"Wrong o.i.d. for enhetsId! {HSA_OID}",)),
    Case("R11 missing", remove(f"{ENHET}/h:enhetsnamn"), ("No enhetsnamn found!",)),
    Case("R11 empty", text(f"{ENHET}/h:enhetsnamn", ""), ("No enhetsnamn found!",)),
    Case("R12 missing", remove(f"{ENHET}/h:arbetsplatskod"), ("No arbetsplatskod element found!",)),
    Case("R12 root", attribute(f"{ENHET}/h:arbetsplatskod", "root", "1.2.752.29.4.72"), ("Wrong o.i.d for arbetsplatskod, should be 1.2.752.29.4.71",)),
    Case("R12 extension", attribute(f"{ENHET}/h:arbetsplatskod", "extension", ""), ("No arbetsplatskod found!",)),
    *[Case(f"R13 {local} {how}", change(f"{ENHET}/h:{local}"), (f"No {local} found for enhet!",))
      for local in ("postadress", "postnummer", "postort", "telefonnummer")
      for how, change in (("missing", remove), ("empty", lambda p: text(p, "")))],
    Case("R14 vardgivare", remove(f"{ENHET}/h:vardgivare"), ("No vardgivare element found!",)),
    Case("R14 id", attribute(f"{ENHET}/h:vardgivare/h:vardgivare-id", "extension", ""), ("No vardgivare-id found!",)),
    Case("R14 root", attribute(f"{ENHET}/h:vardgivare/h:vardgivare-id", "root", "x"), (f"Wrong o.i.d. for vardgivareId! {HSA_OID}",)),
    Case("R14 namn", remove(f"{ENHET}/h:vardgivare/h:vardgivarnamn"), ("No vardgivarenamn found!",)),
    # A second journal referens without a date: only R15 (R22 looks at the first of each kind).
    Case("R15", both(text(f"{LA}/m:referens[2]/m:referenstyp", "Journaluppgifter"), remove(f"{LA}/m:referens[2]/m:datum")),
         ("Field 4: Referens is missing datum",)),
    Case("R16 (with R23, R26)", remove(AKTIVITET), ("No funktionstillstand - aktivitet element found!",
                                                     "No arbetsformaga element found for field 8a!", "No arbetsformaga element found 8b!.")),
    Case("R17", remove(f"{LA}/m:medicinsktTillstand"), ("No medicinsktTillstand element found!",)),
    Case("R18 code", attribute(f"{LA}/m:medicinsktTillstand/m:tillstandskod", "code", ""), ("No tillstandskod in medicinsktTillstand found!",)),
    Case("R18 tillstandskod", remove(f"{LA}/m:medicinsktTillstand/m:tillstandskod"), ("No tillstandskod in medicinsktTillstand found!",)),
    *[Case(f"R19 {name}", attribute(f"{LA}/m:medicinsktTillstand/m:tillstandskod", "codeSystemName", name),
           ("Wrong code system name for medicinskt tillstand - tillstandskod (diagnoskod)! Should be ICD-10 OR KSH97P",) if bad else ())
      for name, bad in (("ICD-10-SE", True), (None, True), ("icd-10", False), ("KSH97-P", False), ("ksh97-p", False))],
    Case("R19 the OID is not checked", attribute(f"{LA}/m:medicinsktTillstand/m:tillstandskod", "codeSystem", "1.2.3"), ()),
    Case("R20", remove(KROPP), ("No funktionstillstand - kroppsfunktion element found!",)),
    Case("R20 beskrivning", remove(f"{KROPP}/m:beskrivning"), ("No beskrivning in funktionstillstand - kroppsfunktion found!",)),
    Case("R20 empty beskrivning", text(f"{KROPP}/m:beskrivning", ""), ("No beskrivning in funktionstillstand - kroppsfunktion found!",)),
    Case("R21", remove(f"{LA}/m:vardkontakt | {LA}/m:referens"), ("No vardkontakt or referens element found ! At least one must be set!",)),
    Case("R21 one is enough", remove(f"{LA}/m:vardkontakt | {LA}/m:referens[2]"), ()),
    *[Case(f"R22 {kind}", remove(path), (message,)) for kind, (path, message) in GRUND.items()],
    Case("R22 journal (with R15)", remove(f"{LA}/m:referens[1]/m:datum"),
         ("Field 4: Referens is missing datum", "No or wrong date for referens - journal found!")),
    Case("R22 annat (with R15)", remove(f"{LA}/m:referens[2]/m:datum"),
         ("Field 4: Referens is missing datum", "No or wrong date for referens - annat found!")),
    Case("R23+R26", remove(AF), ("No arbetsformaga element found for field 8a!", "No arbetsformaga element found 8b!.")),
    Case("R24", remove(f"{AF}/m:sysselsattning"),
         ("No sysselsattning element found for field 8a! Nuvarande arbete, arbestloshet or foraldraledig should be set.",)),
    Case("R24 one kind is enough", remove(f"{AF}/m:sysselsattning[position() > 1]"), ()),
    Case("R25 arbetsuppgift", remove(f"{AF}/m:arbetsuppgift"), ("No arbetsuppgift element found when arbete set in field 8a!.",)),
    Case("R25 no typAvArbetsuppgift", remove(f"{AF}/m:arbetsuppgift/m:typAvArbetsuppgift"), ("No typAvArbetsuppgift element found!",)),
    Case("R25 empty typAvArbetsuppgift", text(f"{AF}/m:arbetsuppgift/m:typAvArbetsuppgift", ""),
         ("No typAvArbetsuppgift found when arbete set in field 8a!.",)),
    Case("R25 not without Nuvarande_arbete", both(remove(f"{AF}/m:sysselsattning[1]"), remove(f"{AF}/m:arbetsuppgift")), ()),
    Case("R27", remove(f"{AF}/m:arbetsformagaNedsattning"), ("No arbetsformaganedsattning element found 8b!.",)),
    Case("R27 unknown degrees", lambda root: [setattr(e, "text", "Nedsatt_med_1/8") for e in root.xpath(f"{AF}//m:nedsattningsgrad", namespaces=NS)],
         ("No arbetsformaganedsattning element found 8b!.",)),
    *period_cases(),
    Case("R28 only the first of a degree", both(
        lambda root: one(root, f"{AF}/m:arbetsformagaNedsattning[1]").addnext(copy.deepcopy(one(root, f"{AF}/m:arbetsformagaNedsattning[1]"))),
        remove(f"{AF}/m:arbetsformagaNedsattning[2]/m:varaktighetFrom")), ()),
    Case("R29", aktivitet("Forandrat_ressatt_till_arbetsplatsen_ar_aktuellt"), ("Only one forandrat ressatt could be set for field 11.",)),
    Case("R30 annat and prognosis", remove(f"{LA}/m:kommentar"), ("Upplysningar should contain data as field 4 or fields 10 is checked.",)),
    Case("R30 empty", text(f"{LA}/m:kommentar", ""), ("Upplysningar should contain data as field 4 or fields 10 is checked.",)),
    Case("R30 prognosis alone", both(remove(f"{LA}/m:kommentar"), remove(f"{LA}/m:referens[2]")),
         ("Upplysningar should contain data as field 4 or fields 10 is checked.",)),
    Case("R30 annat alone", both(remove(f"{LA}/m:kommentar"), text(f"{AF}/m:prognosangivelse", "Aterstallas_helt")),
         ("Upplysningar should contain data as field 4 or fields 10 is checked.",)),
    Case("R30 neither", both(remove(f"{LA}/m:kommentar"), remove(f"{LA}/m:referens[2]"), text(f"{AF}/m:prognosangivelse", "Aterstallas_helt")), ()),
    Case("R31", remove(f"{LA}/m:aktivitet[m:aktivitetskod='Ovrigt']/m:beskrivning"), ("Beskrivning must be set for Aktivitet Rekommendation Ovrigt",)),
    Case("R32", remove(f"{LA}/m:aktivitet[m:aktivitetskod='Planerad_eller_pagaende_behandling_eller_atgard_inom_sjukvarden']/m:beskrivning"),
         ("Beskrivning must be set for Aktivitet Rekommendation Planerad eller pågående åtgärd inom sjukvården",)),
    Case("R33", remove(f"{LA}/m:aktivitet[m:aktivitetskod='Planerad_eller_pagaende_annan_atgard']/m:beskrivning"),
         ("Beskrivning must be set for Aktivitet Rekommendation Planerad eller pågående annan atgärd",)),
    Case("R31-R33 an empty beskrivning passes", text(f"{LA}/m:aktivitet[m:aktivitetskod='Ovrigt']/m:beskrivning", ""), ()),
    Case("R34", remove(f"{LA}/m:bedomtTillstand/m:beskrivning"), ("Beskrivning must be set for Falt3 Aktuellt Sjukdomsforlopp",)),
    # Deliberate leniencies.
    Case("patient name optional", remove(f"{LA}/m:patient/h:fullstandigtNamn"), ()),
    Case("aktivitetsbegränsning optional", remove(f"{AKTIVITET}/m:beskrivning"), ()),
    Case("smittskydd", both(
        aktivitet(SMITTSKYDD), remove(f"{LA}/m:medicinsktTillstand"), remove(KROPP), remove(f"{LA}/m:vardkontakt | {LA}/m:referens"),
        remove(f"{AF}/m:sysselsattning[position() > 1]"), text(f"{AF}/m:arbetsuppgift/m:typAvArbetsuppgift", "")), ()),
    Case("smittskydd without sysselsättning or arbetsuppgift", both(aktivitet(SMITTSKYDD), remove(f"{AF}/m:sysselsattning | {AF}/m:arbetsuppgift")), ()),
    Case("smittskydd still needs typAvArbetsuppgift", both(aktivitet(SMITTSKYDD), remove(f"{AF}/m:arbetsuppgift/m:typAvArbetsuppgift")),
         ("No typAvArbetsuppgift element found!",)),
    Case("smittskydd still needs a period", both(aktivitet(SMITTSKYDD), remove(f"{AF}/m:arbetsformagaNedsattning")),
         ("No arbetsformaganedsattning element found 8b!.",)),
    Case("not checked: typAvUtlatande, forskrivarkod, epost, motivering", both(
        text(f"{LA}/m:typAvUtlatande", "x"), remove(f"{ENHET}/h:epost"), remove(f"{AF}/m:motivering")), ()),
]


def register_base() -> etree._Element:
    path = shared_dir() / "samples" / "RegisterMedicalCertificate" / BASE
    if not path.is_file():
        unavailable(f"../shared/riv-contracts not found: {path}")
    return payload_of(path)


@pytest.mark.parametrize("case", REGISTER_CASES, ids=[c.check for c in REGISTER_CASES])
def test_register_check(case: Case) -> None:
    request = register_base()
    assert register_messages(request.find(f"{{{RMC}}}lakarutlatande")) == []
    case.change(request)
    assert register_messages(request.find(f"{{{RMC}}}lakarutlatande")) == list(case.expected)


def test_every_message_of_the_checks_is_produced_by_some_case() -> None:
    # The spec's register texts (R1-R34 with P1-P5; 3/4 and helt share their reversed-period text)
    # and its revoke/send texts (V1-V10).
    assert len({m for c in REGISTER_CASES for m in c.expected}) == 62
    assert len({m for c in enkel_cases("rv") for m in c.expected}) == 21


def test_messages_are_joined_in_order_with_the_register_prefix() -> None:
    request = register_base()
    both(remove(f"{ENHET}/h:postnummer"), remove(f"{ENHET}/h:telefonnummer"))(request)
    assert error_text(register_messages(request.find(f"{{{RMC}}}lakarutlatande")), "Validation Error:", limit=100) == (
        "Validation Error(s) found: Validation Error:No postnummer found for enhet!\nValidation Error:No telefonnummer found for enhet!"
    )
    everything = etree.Element(f"{{{RMC}}}lakarutlatande")
    assert register_messages(everything)[:6] == [
        "Head: Utlatande Id is mandatory!", "Header: No or wrong skickatDatum found!", "Field 14: No signeringsDatum found!",
        "No Patient element found!", "No SkapadAvHosPersonal element found!", "No funktionstillstand - aktivitet element found!",
    ]


def test_a_register_request_without_lakarutlatande_cannot_be_checked() -> None:
    with pytest.raises(InternalFailure):
        register_messages(None)


# -- RevokeMedicalCertificate v1 and SendMedicalCertificate v1 -------------------------------------

ENKEL = {"revoke": (legacy_revoke_request, RMR, "rv"), "send": (legacy_send_request, SMR, "s")}


def enkel_cases(p: str) -> list[Case]:
    block = f"//{p}:revoke | //{p}:send"
    hos = f"//{p}:adressVard/qa:hosPersonal"
    enhet = f"{hos}/h:enhet"
    person = f"//{p}:lakarutlatande/qa:patient/h:person-id"
    return [
        Case("V1 missing", remove(f"//{p}:vardReferens-id"), ("No vardReferens found!",)),
        Case("V1 empty", text(f"//{p}:vardReferens-id", ""), ("No vardReferens found!",)),
        Case("V2", remove(f"//{p}:avsantTidpunkt"), ("No avsantTidpunkt found!",)),
        Case("V3", text(f"//{p}:lakarutlatande/qa:lakarutlatande-id", ""), ("No Lakarutlatande Id found!",)),
        Case("V4", remove(f"//{p}:lakarutlatande/qa:signeringsTidpunkt"), ("No signeringstidpunkt found!",)),
        Case("V5 P1", remove(f"//{p}:lakarutlatande/qa:patient"), ("No Patient element found!",)),
        Case("V5 P2", attribute(person, "extension", ""), ("No Patient Id found!",)),
        Case("V5 P4", attribute(person, "root", "1.2.752.129.2.1.3.2"),
             ("Wrong o.i.d. for Patient Id! Should be 1.2.752.129.2.1.3.1 or 1.2.752.129.2.1.3.3",)),
        Case("V5 P5", attribute(person, "extension", "121212-1212"), ("Wrong format for person-id! Valid format is YYYYMMDD-XXXX or YYYYMMDD+XXXX.",)),
        Case("V6", remove(f"//{p}:adressVard"), ("No vardAdress element found!",)),
        Case("V7", remove(hos), ("No SkapadAvHosPersonal element found!",)),
        Case("V8 id", attribute(f"{hos}/h:personal-id", "extension", ""), ("No personal-id found!",)),
        Case("V8 root", attribute(f"{hos}/h:personal-id", "root", "1.2.752.129.2.1.4.2"), (f"Wrong o.i.d. for personalId! {HSA_OID}",)),
        Case("V8 name", remove(f"{hos}/h:fullstandigtNamn"), ("No skapadAvHosPersonal fullstandigtNamn found.",)),
        Case("V9", remove(enhet), ("No enhet element found!",)),
        Case("V9 id", attribute(f"{enhet}/h:enhets-id", "extension", ""), ("No enhets-id found!",)),
        Case("V9 root", attribute(f"{enhet}/h:enhets-id", "root", "x"), (f"Wrong o.i.d. for enhetsId! {HSA_OID}",)),
        Case("V9 name", text(f"{enhet}/h:enhetsnamn", ""), ("No enhetsnamn found!",)),
        Case("V10", remove(f"{enhet}/h:vardgivare"), ("No vardgivare element found!",)),
        Case("V10 id", attribute(f"{enhet}/h:vardgivare/h:vardgivare-id", "extension", ""), ("No vardgivare-id found!",)),
        Case("V10 root", attribute(f"{enhet}/h:vardgivare/h:vardgivare-id", "root", "x"), (f"Wrong o.i.d. for vardgivareId! {HSA_OID}",)),
        Case("V10 name", text(f"{enhet}/h:vardgivare/h:vardgivarnamn", ""), ("No vardgivarenamn found!",)),
        Case("no address checks, meddelande optional", remove(f"{block}/{p}:meddelande"), ()),
    ]


def enkel(kind: str) -> tuple[etree._Element, str, str]:
    build, ns, prefix = ENKEL[kind]
    return etree.fromstring(build("c-1")), ns, prefix


CASES = [(kind, case) for kind in ENKEL for case in enkel_cases(ENKEL[kind][2])]


@pytest.mark.parametrize(("kind", "case"), CASES, ids=[f"{k}-{c.check}" for k, c in CASES])
def test_revoke_and_send_check(kind: str, case: Case) -> None:
    request, ns, _ = enkel(kind)
    block = request.find(f"{{{ns}}}{kind}")
    assert enkel_messages(block, ns) == []
    case.change(request)
    assert enkel_messages(block, ns) == list(case.expected)


@pytest.mark.parametrize("kind", sorted(ENKEL))
def test_revoke_and_send_messages_without_prefix(kind: str) -> None:
    request, ns, p = enkel(kind)
    both(text(f"//{p}:adressVard//h:enhetsnamn", ""), text(f"//{p}:adressVard//h:vardgivarnamn", ""))(request)
    assert error_text(enkel_messages(request.find(f"{{{ns}}}{kind}"), ns), limit=100) == (
        "Validation Error(s) found: No enhetsnamn found!\nNo vardgivarenamn found!"
    )


@pytest.mark.parametrize("kind", sorted(ENKEL))
def test_revoke_and_send_without_their_blocks_or_personal_id_cannot_be_checked(kind: str) -> None:
    for change in (remove(f"//*[local-name()='{kind}']"), remove("//*[local-name()='lakarutlatande']"), remove("//h:personal-id")):
        request, ns, _ = enkel(kind)
        change(request)
        with pytest.raises(InternalFailure):
            enkel_messages(request.find(f"{{{ns}}}{kind}"), ns)


def test_error_text_lists_at_most_the_limit_and_says_how_many_more() -> None:
    messages = [f"check {i} failed" for i in range(5)]
    assert error_text(messages, "Validation Error:", limit=5) == "Validation Error(s) found: " + "\n".join(
        f"Validation Error:check {i} failed" for i in range(5)
    )
    assert error_text(messages, "Validation Error:", limit=2) == (
        "Validation Error(s) found: Validation Error:check 0 failed\nValidation Error:check 1 failed\n"
        "Validation Error:and 3 more (limit max_listed_violations)"
    )
