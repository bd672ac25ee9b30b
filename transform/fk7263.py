"""FK7263 (Läkarintyg för sjukpenning): RegisterMedicalCertificate v3 ⇄ RegisterCertificate v3.

The legacy form is the ``lakarutlatande`` of ``urn:riv:insuranceprocess:healthreporting:mu7263:3``
(RIV-TA profile 2.0). The v3 form is ``intyg/typ/code = FK7263``, with the question ids the
reference service used for it (learnt from its sample pairs and ``fk7263sit.sch``):

==========  ===================================================================================
svar        legacy field
==========  ===================================================================================
1 (1.1,1.2) vardkontakt (UNDERSOKNING / TELEFONKONTAKT) and referens (JOURNALUPPGIFTER / ANNAT),
            one instans each, in document order; 1.2 is the date
6.2         medicinsktTillstand/tillstandskod (cv: code, and the code system by the national rules:
            ICD-10-SE, KSH97-P or SNOMED-CT by OID, anything else ICD-10-SE; the legacy output
            names the system ICD-10 / KSH97-P / SNOMED-CT)
10001.1     medicinsktTillstand/beskrivning
10002.1     bedomtTillstand/beskrivning
35.1        funktionstillstand[Kroppsfunktion]/beskrivning
17.1        funktionstillstand[Aktivitet]/beskrivning
10003.1/.2  aktivitet Patienten_behover_fa_kontakt_med_Arbetsformedlingen / ..._foretagshalsovarden
10003.3     aktivitet Ovrigt, its beskrivning (*)
10004.1/.2  aktivitet Planerad_eller_pagaende_behandling... / ..._annan_atgard, their beskrivning
            (.2 *)
10005.1-.3  aktivitet Arbetslivsinriktad_rehabilitering_ar_aktuell / _ar_ej_aktuell (*) /
            Gar_ej_att_bedomma_om_... (*)
26.1        aktivitet Kontakt_med_Forsakringskassan_ar_aktuell
27.1        aktivitet Avstangning_enligt_SmL_pga_smitta
34.1        aktivitet Forandrat_ressatt_till_arbetsplatsen_ar_aktuellt
25.1        kommentar
28.1        arbetsformaga/sysselsattning (cv KV_FKMU_0002), one svar per occurrence
29.1        arbetsformaga/arbetsuppgift/typAvArbetsuppgift
32.1/32.2   arbetsformaga/arbetsformagaNedsattning: grad (cv KV_FKMU_0003) and period, one instans
            each, in document order
37.1        arbetsformaga/motivering
10006.1-.4  arbetsformaga/prognosangivelse Aterstallas_helt / _delvis (*) /
            Det_gar_inte_att_bedomma / Inte_aterstallas (*)
==========  ===================================================================================

(*) not shown by any reference sample; the id continues the numbering the samples show for the
same question. 10003.1/.2, 26.1, 27.1 and 34.1 are always written (false when not ticked), as the
reference did. Everything else the legacy document says (exact timestamps, a dash in the person
id, "ressätt ej aktuellt", the diagnosis' codeSystemName as written, element order, extension
elements...) travels in the carrier (see ``carrier``).
"""

from __future__ import annotations

from intygstjanst.transform.carrier import attach_carrier, restore
from intygstjanst.transform.common import (
    ARBETSPLATSKOD_ROOT,
    HSA_ROOT,
    ICD10_SE,
    NOT_AVAILABLE,
    Answers,
    AnswerView,
    Element,
    Enhet,
    Header,
    HosPersonal,
    Patient,
    Reader,
    TransformError,
    Vardgivare,
    add,
    bool_text,
    delsvar,
    delsvar_cv,
    delsvar_period,
    intyg_of,
    join_name,
    lookup,
    new_certificate,
    path_of,
    person_id_dashed,
    person_id_digits,
    qn,
    read_header,
    require_type,
    split_name,
    v3_timestamp,
)
from lxml import etree

RMC = "urn:riv:insuranceprocess:healthreporting:RegisterMedicalCertificateResponder:3"
MU = "urn:riv:insuranceprocess:healthreporting:mu7263:3"
HR = "urn:riv:insuranceprocess:healthreporting:2"

FORMAT = "RegisterMedicalCertificate:3"
# Version of the rebuild below; carriers name it (see carrier: a changed rebuild needs a new one).
# 2: the diagnosis as the national service writes it (code system from the OID, name from the system).
MAPPING = "2"

TYPE_CODE = "FK7263"
TYPE_NAME = "Läkarintyg FK 7263"
V3_VERSION = "1.0"
TYP_AV_UTLATANDE = "Läkarintyg enligt 3 kap, 8 § lagen (1962:381) om allmän försäkring"

# Diagnosis code systems the national service knows: OID -> the codeSystemName its legacy output
# writes. The v3 form holds the code and the OID only; any other OID (or none) is stored as ICD-10-SE.
KSH97P = "1.2.752.116.1.3.1.4.1"
SNOMED_CT = "1.2.752.116.2.1.1.1"
CODE_SYSTEM_NAMES = {ICD10_SE: "ICD-10", KSH97P: "KSH97-P", SNOMED_CT: "SNOMED-CT"}

KV_GRUND = "KV_FKMU_0001"
KV_SYSSELSATTNING = "KV_FKMU_0002"
KV_GRAD = "KV_FKMU_0003"

# legacy value -> (v3 code, display name)
VARDKONTAKT = {
    "Min_undersokning_av_patienten": ("UNDERSOKNING", "Min undersökning av patienten"),
    "Min_telefonkontakt_med_patienten": ("TELEFONKONTAKT", "Min telefonkontakt med patienten"),
}
REFERENS = {
    "Journaluppgifter": ("JOURNALUPPGIFTER", "Journaluppgifter från den"),
    "Annat": ("ANNAT", "Annat"),
}
SYSSELSATTNING = {
    "Nuvarande_arbete": ("NUVARANDE_ARBETE", "Nuvarande arbete"),
    "Arbetsloshet": ("ARBETSSOKANDE", "Arbetssökande"),
    "Foraldraledighet": ("FORALDRALEDIG", "Föräldraledighet för vård av barn"),
}
NEDSATTNING = {
    "Helt_nedsatt": ("HELT_NEDSATT", "100%"),
    "Nedsatt_med_3/4": ("TRE_FJARDEDEL", "75%"),
    "Nedsatt_med_1/2": ("HALFTEN", "50%"),
    "Nedsatt_med_1/4": ("EN_FJARDEDEL", "25%"),
}
PROGNOS = {
    "Aterstallas_helt": "10006.1",
    "Aterstallas_delvis": "10006.2",
    "Det_gar_inte_att_bedomma": "10006.3",
    "Inte_aterstallas": "10006.4",
}

# Ticked boxes that are a boolean delsvar, in the order the reference wrote the aktivitet list.
SML = "Avstangning_enligt_SmL_pga_smitta"
AF = "Patienten_behover_fa_kontakt_med_Arbetsformedlingen"
FHV = "Patienten_behover_fa_kontakt_med_foretagshalsovarden"
OVRIGT = "Ovrigt"
BEHANDLING = "Planerad_eller_pagaende_behandling_eller_atgard_inom_sjukvarden"
ANNAN_ATGARD = "Planerad_eller_pagaende_annan_atgard"
REHAB = {
    "Arbetslivsinriktad_rehabilitering_ar_aktuell": "10005.1",
    "Arbetslivsinriktad_rehabilitering_ar_ej_aktuell": "10005.2",
    "Gar_ej_att_bedomma_om_arbetslivsinriktad_rehabilitering_ar_aktuell": "10005.3",
}
RESSATT = "Forandrat_ressatt_till_arbetsplatsen_ar_aktuellt"
KONTAKT_FK = "Kontakt_med_Forsakringskassan_ar_aktuell"

_MU = Reader(MU)
_HR = Reader(HR)


def _invert(table: dict[str, tuple[str, str]]) -> dict[str, str]:
    return {code: legacy for legacy, (code, _) in table.items()}


# --------------------------------------------------------------------------------------------
# Legacy -> v3


def legacy_to_v3(payload: Element) -> Element:
    """RegisterMedicalCertificate v3 -> RegisterCertificate v3 (FK7263), losslessly.

    Raises :class:`TransformError` when the document cannot be held by the v3 form at all (e.g. a
    patient identifier that is neither personnummer nor samordningsnummer).
    """
    result = _content(payload)
    attach_carrier(result, FORMAT, MAPPING, _rebuild(result), payload)
    return result


def _content(payload: Element) -> Element:
    """The v3 form of what the legacy document says, without the carrier."""
    if payload.tag != qn(RMC, "RegisterMedicalCertificate"):
        raise TransformError(f"{path_of(payload)}: expected a RegisterMedicalCertificate payload ({RMC})")
    la = _MU.req(payload, "lakarutlatande", RMC)
    author = read_legacy_hos_personal(_MU.req(la, "skapadAvHosPersonal"))
    header = Header(
        intyg_id_root=author.enhet.id,
        intyg_id=_MU.req_text(la, "lakarutlatande-id"),
        type_code=TYPE_CODE,
        type_name=TYPE_NAME,
        version=V3_VERSION,
        signed=_timestamp(la, "signeringsdatum"),
        sent=_timestamp(la, "skickatDatum"),
        patient=_read_patient(_MU.req(la, "patient")),
        author=author,
    )
    answers = Answers()
    _grund(la, answers)
    _diagnos(la, answers)
    _aktiviteter(la, answers)
    _funktionstillstand(la, answers)
    kommentar = _MU.text(la, "kommentar")
    if kommentar is not None:
        delsvar(answers.svar("25"), "25.1", kommentar)

    result, intyg = new_certificate(header)
    answers.write_into(intyg)
    return result


def _timestamp(la: Element, local: str) -> str:
    el = _MU.req(la, local)
    return v3_timestamp(el.text or "", path_of(el))


def read_legacy_hos_personal(el: Element) -> HosPersonal:
    """A ``hosPersonalType`` (healthreporting:2) as the v3 author; absent ids become N/A."""
    enhet = _HR.req(el, "enhet")
    vg = _HR.opt(enhet, "vardgivare")
    return HosPersonal(
        id=_ii_extension(_HR.req(el, "personal-id")),
        namn=_HR.text(el, "fullstandigtNamn") or "",
        forskrivarkod=_HR.text(el, "forskrivarkod"),
        enhet=Enhet(
            id=_ii_extension(_HR.req(enhet, "enhets-id")),
            arbetsplatskod=_ii_extension(_HR.opt(enhet, "arbetsplatskod")),
            namn=_HR.req_text(enhet, "enhetsnamn"),
            postadress=_HR.text(enhet, "postadress") or "",
            postnummer=_HR.text(enhet, "postnummer") or "",
            postort=_HR.text(enhet, "postort") or "",
            telefonnummer=_HR.text(enhet, "telefonnummer") or "",
            # v3 epost must not be empty; an empty legacy one is carried.
            epost=_HR.text(enhet, "epost") or None,
            vardgivare=Vardgivare(
                id=_ii_extension(_HR.opt(vg, "vardgivare-id") if vg is not None else None),
                namn=(_HR.text(vg, "vardgivarnamn") or "") if vg is not None else "",
            ),
        ),
    )


def _ii_extension(ii: Element | None) -> str:
    value = None if ii is None else ii.get("extension")
    return value if value else NOT_AVAILABLE


def _read_patient(el: Element) -> Patient:
    pid = _HR.req(el, "person-id")
    root = pid.get("root", "")
    fornamn, efternamn = split_name(_HR.text(el, "fullstandigtNamn") or "")
    return Patient(
        id_root=root,
        id=person_id_digits(root, pid.get("extension", ""), path_of(pid)),
        fornamn=fornamn,
        efternamn=efternamn,
        postadress="",
        postnummer="",
        postort="",
    )


def _grund(la: Element, answers: Answers) -> None:
    instans = 0
    for local, kind_el, date_el, table in (
        ("vardkontakt", "vardkontakttyp", "vardkontaktstid", VARDKONTAKT),
        ("referens", "referenstyp", "datum", REFERENS),
    ):
        for el in _MU.all(la, local):
            code, display = lookup(table, _MU.req(el, kind_el), kind_el)
            instans += 1
            svar = answers.svar("1", instans)
            delsvar_cv(svar, "1.1", code, KV_GRUND, display)
            date = _MU.text(el, date_el)
            if date is not None:
                delsvar(svar, "1.2", date)


def _diagnos(la: Element, answers: Answers) -> None:
    mt = _MU.opt(la, "medicinsktTillstand")
    if mt is not None:
        kod = _MU.opt(mt, "tillstandskod")
        if kod is not None and kod.get("code"):
            system = kod.get("codeSystem", "")
            delsvar_cv(answers.svar("6"), "6.2", kod.get("code", ""), system if system in CODE_SYSTEM_NAMES else ICD10_SE)
        beskrivning = _MU.text(mt, "beskrivning")
        if beskrivning is not None:
            delsvar(answers.svar("10001"), "10001.1", beskrivning)
    bt = _MU.opt(la, "bedomtTillstand")
    if bt is not None:
        beskrivning = _MU.text(bt, "beskrivning")
        if beskrivning is not None:
            delsvar(answers.svar("10002"), "10002.1", beskrivning)


def _aktiviteter(la: Element, answers: Answers) -> None:
    # First occurrence of each code wins; repeats are left to the carrier.
    ticked: dict[str, str | None] = {}
    for el in _MU.all(la, "aktivitet"):
        ticked.setdefault(_MU.req_text(el, "aktivitetskod"), _MU.text(el, "beskrivning"))

    rek = answers.svar("10003")
    delsvar(rek, "10003.1", bool_text(AF in ticked))
    delsvar(rek, "10003.2", bool_text(FHV in ticked))
    if OVRIGT in ticked:
        delsvar(rek, "10003.3", ticked[OVRIGT] or "")

    atgard = [(d, ticked[code]) for code, d in ((BEHANDLING, "10004.1"), (ANNAN_ATGARD, "10004.2")) if code in ticked]
    if atgard:
        svar = answers.svar("10004")
        for delsvar_id, text in atgard:
            delsvar(svar, delsvar_id, text or "")

    rehab = [d for code, d in REHAB.items() if code in ticked]
    if rehab:
        svar = answers.svar("10005")
        for delsvar_id in rehab:
            delsvar(svar, delsvar_id, "true")

    delsvar(answers.svar("26"), "26.1", bool_text(KONTAKT_FK in ticked))
    delsvar(answers.svar("27"), "27.1", bool_text(SML in ticked))
    delsvar(answers.svar("34"), "34.1", bool_text(RESSATT in ticked))


def _funktionstillstand(la: Element, answers: Answers) -> None:
    seen: set[str] = set()
    for ft in _MU.all(la, "funktionstillstand"):
        typ = _MU.req_text(ft, "typAvFunktionstillstand")
        if typ in seen:
            continue  # a repeated kind cannot be held by the v3 form; the carrier keeps it
        seen.add(typ)
        beskrivning = _MU.text(ft, "beskrivning")
        if beskrivning is not None:
            svar_id = "35" if typ == "Kroppsfunktion" else "17"
            delsvar(answers.svar(svar_id), f"{svar_id}.1", beskrivning)
        af = _MU.opt(ft, "arbetsformaga")
        if af is not None and typ == "Aktivitet":
            _arbetsformaga(af, answers)


def _arbetsformaga(af: Element, answers: Answers) -> None:
    motivering = _MU.text(af, "motivering")
    if motivering is not None:
        delsvar(answers.svar("37"), "37.1", motivering)
    prognos = _MU.opt(af, "prognosangivelse")
    if prognos is not None:
        delsvar(answers.svar("10006"), lookup(PROGNOS, prognos, "prognosangivelse"), "true")
    uppgift = _MU.opt(af, "arbetsuppgift")
    if uppgift is not None:
        delsvar(answers.svar("29"), "29.1", _MU.req_text(uppgift, "typAvArbetsuppgift"))
    for instans, n in enumerate(_MU.all(af, "arbetsformagaNedsattning"), start=1):
        svar = answers.svar("32", instans)
        code, display = lookup(NEDSATTNING, _MU.req(n, "nedsattningsgrad"), "nedsattningsgrad")
        delsvar_cv(svar, "32.1", code, KV_GRAD, display)
        delsvar_period(svar, "32.2", _MU.req_text(n, "varaktighetFrom"), _MU.req_text(n, "varaktighetTom"))
    sysselsattning = _MU.all(af, "sysselsattning")
    for instans, s in enumerate(sysselsattning, start=1):
        # A single occurrence carries no instans, like the reference's documents.
        svar = answers.svar("28", instans if len(sysselsattning) > 1 else None)
        code, display = lookup(SYSSELSATTNING, _MU.req(s, "typAvSysselsattning"), "typAvSysselsattning")
        delsvar_cv(svar, "28.1", code, KV_SYSSELSATTNING, display)


# --------------------------------------------------------------------------------------------
# v3 -> legacy


def v3_to_legacy(payload: Element) -> Element:
    """RegisterCertificate v3 (FK7263) -> RegisterMedicalCertificate v3.

    A certificate that came in as RegisterMedicalCertificate gives back that document exactly; one
    that came in as v3 gives the legacy document the v3 content maps to.
    """
    return restore(payload, FORMAT, MAPPING, _rebuild(payload), _content)


def _rebuild(payload: Element) -> Element:
    """The legacy document the v3 content alone says (the carrier is not read here)."""
    header = read_header(payload)
    require_type(payload, header, (TYPE_CODE,))
    view = AnswerView(intyg_of(payload))
    if header.signed is None:
        raise TransformError(f"{path_of(intyg_of(payload))}: signeringstidpunkt is required for the legacy form")

    root = etree.Element(qn(RMC, "RegisterMedicalCertificate"), nsmap={"rmc": RMC, "mu": MU, "hr": HR})
    la = add(root, RMC, "lakarutlatande")
    add(la, MU, "lakarutlatande-id", header.intyg_id)
    add(la, MU, "typAvUtlatande", TYP_AV_UTLATANDE)
    kommentar = view.text("25.1")
    if kommentar is not None:
        add(la, MU, "kommentar", kommentar)
    add(la, MU, "signeringsdatum", header.signed)
    add(la, MU, "skickatDatum", header.sent or header.signed)

    patient = add(la, MU, "patient")
    add(patient, HR, "person-id", root=header.patient.id_root, extension=person_id_dashed(header.patient.id))
    name = join_name(header.patient.fornamn, header.patient.mellannamn, header.patient.efternamn)
    if name:
        add(patient, HR, "fullstandigtNamn", name)
    write_legacy_hos_personal(add(la, MU, "skapadAvHosPersonal"), header.author)

    _write_grund(la, view)
    _write_aktiviteter(la, view)
    _write_tillstand(la, view)
    _write_funktionstillstand(la, view)
    return root


def write_legacy_hos_personal(target: Element, author: HosPersonal) -> None:
    """Fill a ``hosPersonalType`` (healthreporting:2) element from a v3 author."""
    add(target, HR, "personal-id", root=HSA_ROOT, extension=author.id)
    if author.namn:
        add(target, HR, "fullstandigtNamn", author.namn)
    if author.forskrivarkod is not None:
        add(target, HR, "forskrivarkod", author.forskrivarkod)
    e = author.enhet
    enhet = add(target, HR, "enhet")
    add(enhet, HR, "enhets-id", root=HSA_ROOT, extension=e.id)
    if e.arbetsplatskod != NOT_AVAILABLE:
        add(enhet, HR, "arbetsplatskod", root=ARBETSPLATSKOD_ROOT, extension=e.arbetsplatskod)
    add(enhet, HR, "enhetsnamn", e.namn)
    for local, value in (
        ("postadress", e.postadress),
        ("postnummer", e.postnummer),
        ("postort", e.postort),
        ("telefonnummer", e.telefonnummer),
        ("epost", e.epost),
    ):
        if value:
            add(enhet, HR, local, value)
    if not (e.vardgivare.id == NOT_AVAILABLE and not e.vardgivare.namn):
        vg = add(enhet, HR, "vardgivare")
        add(vg, HR, "vardgivare-id", root=HSA_ROOT, extension=e.vardgivare.id)
        add(vg, HR, "vardgivarnamn", e.vardgivare.namn)


def _write_grund(la: Element, view: AnswerView) -> None:
    vardkontakt, referens = _invert(VARDKONTAKT), _invert(REFERENS)
    contacts: list[tuple[str, str | None]] = []
    references: list[tuple[str, str | None]] = []
    for svar in view.all("1"):
        code = view.code("1.1", svar)
        if code is None:
            raise TransformError(f"{path_of(svar)}: delsvar 1.1 is required")
        date = view.text("1.2", svar)
        if code.code in vardkontakt:
            contacts.append((vardkontakt[code.code], date))
        elif code.code in referens:
            references.append((referens[code.code], date))
        else:
            raise TransformError(f"{path_of(svar)}: grund '{code.code}' has no counterpart in the legacy FK7263 form")
    for kind, date in contacts:
        if date is None:
            raise TransformError(f"{path_of(la)}: vardkontakt '{kind}' needs a date (delsvar 1.2)")
        el = add(la, MU, "vardkontakt")
        add(el, MU, "vardkontakttyp", kind)
        add(el, MU, "vardkontaktstid", date)
    if len(references) > 2:
        raise TransformError(f"{path_of(la)}: the legacy form holds at most 2 referens, the certificate has {len(references)}")
    for kind, date in references:
        el = add(la, MU, "referens")
        add(el, MU, "referenstyp", kind)
        if date is not None:
            add(el, MU, "datum", date)


def _write_aktiviteter(la: Element, view: AnswerView) -> None:
    def aktivitet(code: str, beskrivning: str | None = None) -> None:
        el = add(la, MU, "aktivitet")
        add(el, MU, "aktivitetskod", code)
        if beskrivning:
            add(el, MU, "beskrivning", beskrivning)

    if view.is_true("27.1"):
        aktivitet(SML)
    if view.is_true("10003.1"):
        aktivitet(AF)
    if view.is_true("10003.2"):
        aktivitet(FHV)
    ovrigt = view.text("10003.3")
    if ovrigt is not None:
        aktivitet(OVRIGT, ovrigt)
    for code, delsvar_id in ((BEHANDLING, "10004.1"), (ANNAN_ATGARD, "10004.2")):
        text = view.text(delsvar_id)
        if text is not None:
            aktivitet(code, text)
    for code, delsvar_id in REHAB.items():
        if view.is_true(delsvar_id):
            aktivitet(code)
    if view.is_true("34.1"):
        aktivitet(RESSATT)
    if view.is_true("26.1"):
        aktivitet(KONTAKT_FK)


def _write_tillstand(la: Element, view: AnswerView) -> None:
    forlopp = view.text("10002.1")
    if forlopp is not None:
        add(add(la, MU, "bedomtTillstand"), MU, "beskrivning", forlopp)
    beskrivning, kod = view.text("10001.1"), view.code("6.2")
    if beskrivning is None and kod is None:
        return
    mt = add(la, MU, "medicinsktTillstand")
    if beskrivning is not None:
        add(mt, MU, "beskrivning", beskrivning)
    if kod is not None:
        # A code system the national service does not know is as good as none: no codeSystem, and
        # the name of the default, ICD-10.
        known = kod.code_system in CODE_SYSTEM_NAMES
        attrs = {"code": kod.code, **({"codeSystem": kod.code_system} if known else {})}
        add(mt, MU, "tillstandskod", **attrs, codeSystemName=CODE_SYSTEM_NAMES.get(kod.code_system, "ICD-10"))


def _write_funktionstillstand(la: Element, view: AnswerView) -> None:
    kropp = view.text("35.1")
    if kropp is not None:
        ft = add(la, MU, "funktionstillstand")
        add(ft, MU, "beskrivning", kropp)
        add(ft, MU, "typAvFunktionstillstand", "Kroppsfunktion")
    aktivitet = view.text("17.1")
    arbetsformaga = any(view.has(s) for s in ("37", "10006", "29", "32", "28"))
    if aktivitet is None and not arbetsformaga:
        return
    ft = add(la, MU, "funktionstillstand")
    if aktivitet is not None:
        add(ft, MU, "beskrivning", aktivitet)
    add(ft, MU, "typAvFunktionstillstand", "Aktivitet")
    if arbetsformaga:
        _write_arbetsformaga(add(ft, MU, "arbetsformaga"), view)


def _write_arbetsformaga(af: Element, view: AnswerView) -> None:
    motivering = view.text("37.1")
    if motivering is not None:
        add(af, MU, "motivering", motivering)
    prognoses = [legacy for legacy, delsvar_id in PROGNOS.items() if view.is_true(delsvar_id)]
    if len(prognoses) > 1:
        raise TransformError(f"{path_of(af)}: more than one prognos is set ({', '.join(prognoses)})")
    if prognoses:
        add(af, MU, "prognosangivelse", prognoses[0])
    uppgift = view.text("29.1")
    if uppgift is not None:
        add(add(af, MU, "arbetsuppgift"), MU, "typAvArbetsuppgift", uppgift)
    grad = _invert(NEDSATTNING)
    periods = view.all("32")
    if not periods:
        raise TransformError(f"{path_of(af)}: the legacy form needs at least one sjukskrivning (svar 32)")
    if len(periods) > 4:
        raise TransformError(f"{path_of(af)}: the legacy form holds at most 4 sjukskrivningsperioder, not {len(periods)}")
    for svar in periods:
        code = view.code("32.1", svar)
        if code is None or code.code not in grad:
            raise TransformError(f"{path_of(svar)}: delsvar 32.1 must be one of {', '.join(grad)}")
        start, end = view.period("32.2", svar)
        n = add(af, MU, "arbetsformagaNedsattning")
        add(n, MU, "varaktighetFrom", start)
        add(n, MU, "varaktighetTom", end)
        add(n, MU, "nedsattningsgrad", grad[code.code])
    sysselsattning = _invert(SYSSELSATTNING)
    for svar in view.all("28"):
        code = view.code("28.1", svar)
        if code is None or code.code not in sysselsattning:
            found = "nothing" if code is None else f"'{code.code}'"
            raise TransformError(
                f"{path_of(svar)}: sysselsättning {found} has no counterpart in the legacy form "
                f"({', '.join(sysselsattning)})"
            )
        add(add(af, MU, "sysselsattning"), MU, "typAvSysselsattning", sysselsattning[code.code])
