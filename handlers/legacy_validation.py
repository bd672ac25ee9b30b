"""The checks the national service makes on the legacy FK7263 requests, in its order and words.

RegisterMedicalCertificate v3, RevokeMedicalCertificate v1 and SendMedicalCertificate v1 are not
checked against their schema (only that they bind, see contracts.toml ``validate_request``); these
checks take its place. Every check runs and adds its message; a missing block skips only the checks
that need it. The texts, their order and the way they are joined are the national service's, since
journal systems show them to the doctor (fk7263-legacy-validation.md):

* :func:`register_messages` for the ``lakarutlatande`` of RegisterMedicalCertificate (R1-R34, with
  the patient check P1-P5 as R4), each later prefixed ``Validation Error:``;
* :func:`enkel_messages` for the ``revoke`` / ``send`` block of RevokeMedicalCertificate and
  SendMedicalCertificate (V1-V10), without a prefix;
* :func:`error_text`: ``Validation Error(s) found: `` and the messages, one per line (at most
  ``limit``, then how many more).

A request these checks cannot even be run on (no ``lakarutlatande``, ``revoke``, ``send`` or, on
revoke and send, no ``personal-id``) is an internal failure in the national service:
:class:`InternalFailure`, answered ``ERROR`` / ``APPLICATION_ERROR``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree

from intygstjanst.certificates.rules.values import parse_xs_date
from intygstjanst.contracts.result import listed
from intygstjanst.transform.fk7263 import HR, MU
from intygstjanst.transform.revoke import QA

Element = etree._Element

HSA = "1.2.752.129.2.1.4.1"
PERSONNUMMER = "1.2.752.129.2.1.3.1"
SAMORDNINGSNUMMER = "1.2.752.129.2.1.3.3"
ARBETSPLATSKOD = "1.2.752.29.4.71"
PERSON_ID_FORMAT = re.compile(r"[0-9]{8}[-+]?[0-9]{4}")

SMITTSKYDD = "Avstangning_enligt_SmL_pga_smitta"
RESSATT_AKTUELLT = "Forandrat_ressatt_till_arbetsplatsen_ar_aktuellt"
RESSATT_EJ_AKTUELLT = "Forandrat_ressatt_till_arbetsplatsen_ar_ej_aktuellt"
ARBETE = "Nuvarande_arbete"
SYSSELSATTNINGAR = (ARBETE, "Arbetsloshet", "Foraldraledighet")
# nedsättningsgrad -> its three period messages (from missing, tom missing, from after tom)
NEDSATTNING = {
    "Nedsatt_med_1/4": ("No or wrong date for nedsatt 1/4 from date found!", "No or wrong date for nedsatt 1/4 tom date found!",
                        "Invalid date interval for 1/4, from is after tom."),
    "Nedsatt_med_1/2": ("No or wrong date for nedsatt 1/2 from date found!", "No or wrong date for nedsatt 1/2 tom date found!",
                        "Invalid date interval for nedsatt 1/2 , from is after tom."),
    "Nedsatt_med_3/4": ("No or wrong date for nedsatt 3/4 from date found!", "No or wrong date for nedsatt 3/4 tom date found!",
                        "Invalid date interval for heltNedsatt, from is after tom."),  # sic: the national text
    "Helt_nedsatt": ("No or wrong date for helt nedsatt from date found!", "No or wrong date for helt nedsatt tom date found!",
                     "Invalid date interval for heltNedsatt, from is after tom."),
}
# aktivitetskod whose beskrivning must be given -> the message when it is not
BESKRIVNING_KRAVS = {
    "Ovrigt": "Beskrivning must be set for Aktivitet Rekommendation Ovrigt",
    "Planerad_eller_pagaende_behandling_eller_atgard_inom_sjukvarden":
        "Beskrivning must be set for Aktivitet Rekommendation Planerad eller pågående åtgärd inom sjukvården",
    "Planerad_eller_pagaende_annan_atgard": "Beskrivning must be set for Aktivitet Rekommendation Planerad eller pågående annan atgärd",
}
# the kinds of vårdkontakt and referens that can ground the certificate -> the message when undated
GRUNDER = (
    ("vardkontakt", "vardkontakttyp", "vardkontaktstid", "Min_undersokning_av_patienten",
     "No or wrong date for vardkontakt - min undersokning av patienten found!"),
    ("vardkontakt", "vardkontakttyp", "vardkontaktstid", "Min_telefonkontakt_med_patienten",
     "No or wrong date for vardkontakt - telefonkontakt found!"),
    ("referens", "referenstyp", "datum", "Journaluppgifter", "No or wrong date for referens - journal found!"),
    ("referens", "referenstyp", "datum", "Annat", "No or wrong date for referens - annat found!"),
)


class InternalFailure(Exception):
    """The request cannot be checked at all; the national service fails internally on it."""


def error_text(messages: list[str], prefix: str = "", *, limit: int) -> str:
    return "Validation Error(s) found: " + listed(messages, limit, "\n", prefix)


# -- reading --------------------------------------------------------------------------------------


def _first(parent: Element | None, ns: str, local: str) -> Element | None:
    return None if parent is None else parent.find(f"{{{ns}}}{local}")


def _all(parent: Element | None, ns: str, local: str) -> list[Element]:
    return [] if parent is None else parent.findall(f"{{{ns}}}{local}")


def _text(parent: Element | None, ns: str, local: str) -> str | None:
    """The element's text ("" when it has none), or None when the element is missing."""
    found = _first(parent, ns, local)
    return None if found is None else (found.text or "")


def _missing_or_empty(value: str | None) -> bool:
    return value is None or value == ""


def _same(a: str | None, b: str, ignore_case: bool) -> bool:
    return a is not None and (a.lower() == b.lower() if ignore_case else a == b)


# -- shared checks --------------------------------------------------------------------------------


def patient_messages(patient: Element | None) -> list[str]:
    """P1-P5 on a ``patientType`` (the same in all three contracts)."""
    if patient is None:
        return ["No Patient element found!"]
    person = _first(patient, HR, "person-id")
    extension = None if person is None else person.get("extension")
    if person is None or _missing_or_empty(extension):
        return ["No Patient Id found!"]
    assert extension is not None
    out = []
    if person.get("root") not in (PERSONNUMMER, SAMORDNINGSNUMMER):
        out.append(f"Wrong o.i.d. for Patient Id! Should be {PERSONNUMMER} or {SAMORDNINGSNUMMER}")
    if PERSON_ID_FORMAT.fullmatch(dashed_person_id(extension)) is None:
        out.append("Wrong format for person-id! Valid format is YYYYMMDD-XXXX or YYYYMMDD+XXXX.")
    return out


def dashed_person_id(extension: str) -> str:
    """P3: twelve digits get a dash after the date, as the national service stores them."""
    return f"{extension[:8]}-{extension[8:]}" if len(extension) == 12 and extension.isdigit() else extension


def _hos_personal_messages(hos: Element, ignore_case: bool, internal_without_id: bool) -> list[str]:
    """R6-R8 / V8: the person who signed or sends."""
    out = []
    person = _first(hos, HR, "personal-id")
    if person is None and internal_without_id:
        raise InternalFailure("the hosPersonal block has no personal-id")
    if person is None or _missing_or_empty(person.get("extension")):
        out.append("No personal-id found!")
    if person is None or not _same(person.get("root"), HSA, ignore_case):
        out.append(f"Wrong o.i.d. for personalId! Should be {HSA}")
    if _missing_or_empty(_text(hos, HR, "fullstandigtNamn")):
        out.append("No skapadAvHosPersonal fullstandigtNamn found.")
    return out


def _id_messages(ii: Element | None, missing: str, wrong_root: str, ignore_case: bool) -> list[str]:
    out = []
    if ii is None or _missing_or_empty(ii.get("extension")):
        out.append(missing)
    if ii is None or not _same(ii.get("root"), HSA, ignore_case):
        out.append(wrong_root)
    return out


def _enhet_messages(enhet: Element, ignore_case: bool, address: Callable[[Element], list[str]]) -> list[str]:
    """R10-R14 / V9-V10: the care unit and its care giver (``address`` adds the register-only checks)."""
    out = _id_messages(_first(enhet, HR, "enhets-id"), "No enhets-id found!", f"Wrong o.i.d. for enhetsId! Should be {HSA}", ignore_case)
    if _missing_or_empty(_text(enhet, HR, "enhetsnamn")):
        out.append("No enhetsnamn found!")
    out += address(enhet)
    vardgivare = _first(enhet, HR, "vardgivare")
    if vardgivare is None:
        return [*out, "No vardgivare element found!"]
    out += _id_messages(
        _first(vardgivare, HR, "vardgivare-id"), "No vardgivare-id found!", f"Wrong o.i.d. for vardgivareId! Should be {HSA}", ignore_case
    )
    if _missing_or_empty(_text(vardgivare, HR, "vardgivarnamn")):
        out.append("No vardgivarenamn found!")
    return out


# -- RevokeMedicalCertificate v1 and SendMedicalCertificate v1 ------------------------------------


def enkel_messages(block: Element | None, ns: str) -> list[str]:
    """V1-V10 on a ``revoke`` or ``send`` block (its own elements are in ``ns``)."""
    if block is None:
        raise InternalFailure("the request has no revoke or send block")
    out = []
    if _missing_or_empty(_text(block, ns, "vardReferens-id")):
        out.append("No vardReferens found!")
    if _first(block, ns, "avsantTidpunkt") is None:
        out.append("No avsantTidpunkt found!")
    lakarutlatande = _first(block, ns, "lakarutlatande")
    if lakarutlatande is None:
        raise InternalFailure("the request has no lakarutlatande block")
    if _missing_or_empty(_text(lakarutlatande, QA, "lakarutlatande-id")):
        out.append("No Lakarutlatande Id found!")
    if _first(lakarutlatande, QA, "signeringsTidpunkt") is None:
        out.append("No signeringstidpunkt found!")
    out += patient_messages(_first(lakarutlatande, QA, "patient"))
    adress = _first(block, ns, "adressVard")
    if adress is None:
        return [*out, "No vardAdress element found!"]
    hos = _first(adress, QA, "hosPersonal")
    if hos is None:
        return [*out, "No SkapadAvHosPersonal element found!"]
    out += _hos_personal_messages(hos, ignore_case=False, internal_without_id=True)
    enhet = _first(hos, HR, "enhet")
    if enhet is None:
        return [*out, "No enhet element found!"]
    # The sender's address is not checked here (no arbetsplatskod, postal address or telephone).
    return out + _enhet_messages(enhet, ignore_case=False, address=lambda _: [])


# -- RegisterMedicalCertificate v3 ----------------------------------------------------------------


def register_messages(lakarutlatande: Element | None) -> list[str]:
    """R1-R34 on the ``lakarutlatande`` of a RegisterMedicalCertificate."""
    if lakarutlatande is None:
        raise InternalFailure("the request has no lakarutlatande")
    la = lakarutlatande
    out = []
    if _missing_or_empty(_text(la, MU, "lakarutlatande-id")):
        out.append("Head: Utlatande Id is mandatory!")
    if _first(la, MU, "skickatDatum") is None:
        out.append("Header: No or wrong skickatDatum found!")
    if _first(la, MU, "signeringsdatum") is None:
        out.append("Field 14: No signeringsDatum found!")
    out += patient_messages(_first(la, MU, "patient"))
    out += _skapad_av_messages(_first(la, MU, "skapadAvHosPersonal"))
    out += _content_messages(la)
    return out


def _skapad_av_messages(hos: Element | None) -> list[str]:
    """R5-R14."""
    if hos is None:
        return ["No SkapadAvHosPersonal element found!"]
    out = _hos_personal_messages(hos, ignore_case=True, internal_without_id=False)
    enhet = _first(hos, HR, "enhet")
    if enhet is None:
        return [*out, "No enhet element found!"]
    return out + _enhet_messages(enhet, ignore_case=True, address=_address_messages)


def _address_messages(enhet: Element) -> list[str]:
    """R12-R13: the signing unit's workplace code and address."""
    out = []
    kod = _first(enhet, HR, "arbetsplatskod")
    if kod is None:
        out.append("No arbetsplatskod element found!")
    else:
        root = kod.get("root")
        # Without a root there is nothing to compare; the national service fails later (see legacy).
        if root is not None and not _same(root, ARBETSPLATSKOD, ignore_case=True):
            out.append(f"Wrong o.i.d for arbetsplatskod, should be {ARBETSPLATSKOD}")
        if _missing_or_empty(kod.get("extension")):
            out.append("No arbetsplatskod found!")
    for local in ("postadress", "postnummer", "postort", "telefonnummer"):
        if _missing_or_empty(_text(enhet, HR, local)):
            out.append(f"No {local} found for enhet!")
    return out


def _first_with(items: list[Element], kind: str, value: str) -> Element | None:
    """The first item whose ``kind`` child says ``value`` (where several share it, the first counts)."""
    return next((item for item in items if _text(item, MU, kind) == value), None)


def _content_messages(la: Element) -> list[str]:
    """R15-R34: what the certificate says."""
    out = []
    aktiviteter = _all(la, MU, "aktivitet")
    codes = [_text(a, MU, "aktivitetskod") for a in aktiviteter]
    smittskydd = SMITTSKYDD in codes
    referenser = _all(la, MU, "referens")
    funktionstillstand = _all(la, MU, "funktionstillstand")
    aktivitet = _first_with(funktionstillstand, "typAvFunktionstillstand", "Aktivitet")

    out += ["Field 4: Referens is missing datum" for r in referenser if _first(r, MU, "datum") is None]  # R15
    if aktivitet is None:  # R16
        out.append("No funktionstillstand - aktivitet element found!")
    annat = None
    if not smittskydd:
        grounds, annat = _grounds_messages(la, referenser, funktionstillstand)  # R17-R22
        out += grounds
    arbetsformaga = _first(aktivitet, MU, "arbetsformaga")
    if arbetsformaga is None:  # R23
        out.append("No arbetsformaga element found for field 8a!")
    else:
        out += _sysselsattning_messages(arbetsformaga, smittskydd)  # R24-R25
    if arbetsformaga is None:  # R26
        out.append("No arbetsformaga element found 8b!.")
    else:
        out += _nedsattning_messages(arbetsformaga)  # R27-R28
    if RESSATT_AKTUELLT in codes and RESSATT_EJ_AKTUELLT in codes:  # R29
        out.append("Only one forandrat ressatt could be set for field 11.")
    cannot_tell = _text(arbetsformaga, MU, "prognosangivelse") == "Det_gar_inte_att_bedomma"
    if (annat is not None or cannot_tell) and _missing_or_empty(_text(la, MU, "kommentar")):  # R30
        out.append("Upplysningar should contain data as field 4 or fields 10 is checked.")
    for code, message in BESKRIVNING_KRAVS.items():  # R31-R33
        found = _first_with(aktiviteter, "aktivitetskod", code)
        if found is not None and _first(found, MU, "beskrivning") is None:
            out.append(message)
    bedomt = _first(la, MU, "bedomtTillstand")
    if bedomt is not None and _first(bedomt, MU, "beskrivning") is None:  # R34
        out.append("Beskrivning must be set for Falt3 Aktuellt Sjukdomsforlopp")
    return out


def _grounds_messages(la: Element, referenser: list[Element], funktionstillstand: list[Element]) -> tuple[list[str], Element | None]:
    """R17-R22 (not under smittskydd): diagnosis, body function, and what the certificate rests on.
    Also the referens Annat, which R30 reacts to (found only when R17 and R20 found their blocks)."""
    tillstand = _first(la, MU, "medicinsktTillstand")
    if tillstand is None:
        return ["No medicinsktTillstand element found!"], None
    out = []
    kod = _first(tillstand, MU, "tillstandskod")
    if kod is None or _missing_or_empty(kod.get("code")):
        out.append("No tillstandskod in medicinsktTillstand found!")
    if kod is not None and not any(_same(kod.get("codeSystemName"), name, ignore_case=True) for name in ("ICD-10", "KSH97-P")):
        out.append("Wrong code system name for medicinskt tillstand - tillstandskod (diagnoskod)! Should be ICD-10 OR KSH97P")
    kropp = _first_with(funktionstillstand, "typAvFunktionstillstand", "Kroppsfunktion")
    if kropp is None:
        return [*out, "No funktionstillstand - kroppsfunktion element found!"], None
    if _missing_or_empty(_text(kropp, MU, "beskrivning")):
        out.append("No beskrivning in funktionstillstand - kroppsfunktion found!")
    found = [
        (_first_with(_all(la, MU, local) if local == "vardkontakt" else referenser, kind, value), date, message)
        for local, kind, date, value, message in GRUNDER
    ]
    if all(item is None for item, _, _ in found):
        out.append("No vardkontakt or referens element found ! At least one must be set!")
    out += [message for item, date, message in found if item is not None and _first(item, MU, date) is None]
    return out, found[3][0]


def _sysselsattning_messages(arbetsformaga: Element, smittskydd: bool) -> list[str]:
    """R24-R25: the occupation the work capacity is judged against (field 8a)."""
    out = []
    sysselsattningar = _all(arbetsformaga, MU, "sysselsattning")
    kinds = [_text(s, MU, "typAvSysselsattning") for s in sysselsattningar]
    if not smittskydd and not any(kind in SYSSELSATTNINGAR for kind in kinds):
        out.append("No sysselsattning element found for field 8a! Nuvarande arbete, arbestloshet or foraldraledig should be set.")
    if ARBETE not in kinds:
        return out
    uppgift = _first(arbetsformaga, MU, "arbetsuppgift")
    if uppgift is None:
        if not smittskydd:
            out.append("No arbetsuppgift element found when arbete set in field 8a!.")
        return out
    typ = _text(uppgift, MU, "typAvArbetsuppgift")
    if typ is None:
        out.append("No typAvArbetsuppgift element found!")
    elif typ == "" and not smittskydd:  # an obsolete empty one is accepted under smittskydd
        out.append("No typAvArbetsuppgift found when arbete set in field 8a!.")
    return out


def _nedsattning_messages(arbetsformaga: Element) -> list[str]:
    """R27-R28: the reduced work capacity and its periods (field 8b), first entry of each degree."""
    nedsattningar = _all(arbetsformaga, MU, "arbetsformagaNedsattning")
    if not any(_text(n, MU, "nedsattningsgrad") in NEDSATTNING for n in nedsattningar):
        return ["No arbetsformaganedsattning element found 8b!."]
    out = []
    for degree, (no_from, no_tom, reversed_) in NEDSATTNING.items():
        entry = _first_with(nedsattningar, "nedsattningsgrad", degree)
        if entry is None:
            continue
        start, end = _text(entry, MU, "varaktighetFrom"), _text(entry, MU, "varaktighetTom")
        if start is None:
            out.append(no_from)
        if end is None:
            out.append(no_tom)
        first, last = parse_xs_date(start or ""), parse_xs_date(end or "")
        if first is not None and last is not None and first > last:
            out.append(reversed_)
    return out
