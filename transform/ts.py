"""Transportstyrelsen: RegisterTSBas v1 / RegisterTSDiabetes v1 ⇄ RegisterCertificate v3.

ts-bas is ``TSTRK1007`` and ts-diabetes ``TSTRK1031`` in the v3 form; the legacy ``version`` and
``utgava`` ("06", "07") become the v3 version "6.7". The v3 question ids come from the reference
service's sample pairs and the owners' Schematron files (``tstrk1007.v6.sch``); the field tables
below list them. Ids marked ``inferred`` are shown by no sample: they continue the numbering the
samples show for the neighbouring questions of the same section (for ts-diabetes 2.x the owner
publishes no Schematron). What the v3 form cannot hold (a ``kanInteTaStallning`` that is false, a
second diabetes type, ``statuses``, ...) travels in the carrier (see ``carrier``).

The diabetes sight answers follow the national service, whose ts-diabetes 2.x model holds only
"field of vision tested without remark" (44.1), the visual acuities (8.x) and double vision (6.1).
The legacy elements it has no answer for (``harSynfaltsdefekt``, ``finnsSynfaltsprovning``,
``finnsProvningOgatsRorlighet``) get no delsvar id of their own: a received value travels in the
carrier, and a certificate registered as v3 gets values derived from the answers it has
(:class:`Derived`).

Professional titles go through the national code table (``befattning``), and ``atLakare`` is
written from them: true exactly when a title is 204010.

The legacy contracts carry the 6.x (ts-bas) and 2.x (ts-diabetes) forms only; converting a
certificate of another major version to them is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial

from intygstjanst.transform import befattning
from intygstjanst.transform.carrier import attach_carrier, restore
from intygstjanst.transform.common import (
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
    delsvar_year,
    intyg_of,
    join_name,
    local_name,
    lookup,
    new_certificate,
    path_of,
    person_id_dashed,
    person_id_digits,
    qn,
    read_header,
    require_type,
)
from lxml import etree

CORE = "urn:local:se:intygstjanster:services:1"
TYPES = "urn:local:se:intygstjanster:services:types:1"
BAS_NS = "urn:local:se:intygstjanster:services:RegisterTSBasResponder:1"
DIABETES_NS = "urn:local:se:intygstjanster:services:RegisterTSDiabetesResponder:1"

# Version of the rebuild below; carriers name it (see carrier: a changed rebuild needs a new one).
# 2: atLakare written, titles through the code table, the national ids for the diabetes sight answers.
MAPPING = "2"

KV_INTYGET_AVSER = "24c41b8d-258a-46bf-a08a-b90738b28770"
KV_ID_KONTROLL = "e7cc8f30-a353-4c42-b17a-a189b6876647"
KV_BEDOMNING = "e889fa20-1dee-4f79-8b37-03853e75a9f8"

# Körkortsbehörighet -> (IAV code, VAR code, display name). C1..ANNAT are the ts-bas ones, the
# rest ts-diabetes; ANNAT's VAR display name is the one the reference wrote.
BEHORIGHET = {
    "C1": ("IAV1", "VAR1", "C1"),
    "C1E": ("IAV2", "VAR2", "C1E"),
    "C": ("IAV3", "VAR3", "C"),
    "CE": ("IAV4", "VAR4", "CE"),
    "D1": ("IAV5", "VAR5", "D1"),
    "D1E": ("IAV6", "VAR6", "D1E"),
    "D": ("IAV7", "VAR7", "D"),
    "DE": ("IAV8", "VAR8", "DE"),
    "TAXI": ("IAV9", "VAR9", "Taxi"),
    "ANNAT": ("IAV10", "VAR10", "Annat"),
    "AM": ("IAV11", "VAR12", "AM"),
    "A1": ("IAV12", "VAR13", "A1"),
    "A2": ("IAV13", "VAR14", "A2"),
    "A": ("IAV14", "VAR15", "A"),
    "B": ("IAV15", "VAR16", "B"),
    "BE": ("IAV16", "VAR17", "BE"),
    "TRAKTOR": ("IAV17", "VAR18", "Traktor"),
}
VAR_ANNAT_NAME = "Annat (AM, A1, A2, A, B, BE eller Traktor)"
KAN_INTE_TA_STALLNING = ("VAR11", "Kan inte ta ställning")

ID_KONTROLL = {
    "IDK1": "ID-kort",
    "IDK2": "Företagskort eller tjänstekort",
    "IDK3": "Svenskt körkort",
    "IDK4": "Personlig kännedom",
    "IDK5": "Försäkran enligt 18 kap. 4 §",
    "IDK6": "Pass",
}
DIABETES_TYP = {"TYP1": ("E10", "Diabetes mellitus typ 1"), "TYP2": ("E11", "Diabetes mellitus typ 2")}

_C = Reader(CORE)
_T = Reader(TYPES)


class Kind(Enum):
    TEXT = "text"  # copied verbatim (booleans and decimals keep their lexical form)
    YEAR = "year"  # partialDate, format YYYY
    DIABETES_TYP = "diabetes-typ"  # cv, ICD-10-SE E10/E11


@dataclass(frozen=True)
class Leaf:
    name: str
    delsvar: str
    required: bool = True
    kind: Kind = Kind.TEXT


@dataclass(frozen=True)
class Derived:
    """A required legacy element the v3 form holds no answer for: read, it is left to the carrier;
    rebuilt from the v3 answers alone, it follows from the yes/no answer in ``source``."""

    name: str
    source: str
    value: Callable[[bool], bool]


@dataclass(frozen=True)
class Group:
    name: str
    children: tuple[Leaf | Derived | Group, ...]
    required: bool = True


Spec = tuple[Leaf | Derived | Group, ...]

_SYNSKARPA_UTAN = Group(
    "synskarpaUtanKorrektion", (Leaf("hogerOga", "8.1"), Leaf("vansterOga", "8.2"), Leaf("binokulart", "8.3"))
)
_SYNSKARPA_MED = (
    Leaf("hogerOga", "8.4", False),
    Leaf("harKontaktlinsHogerOga", "8.7", False),
    Leaf("vansterOga", "8.5", False),
    Leaf("harKontaktlinsVansterOga", "8.8", False),
    Leaf("binokulart", "8.6", False),
)

# Sections of TSBasIntyg between identitetStyrkt and bedomning, in schema order.
BAS_FIELDS: Spec = (
    Group(
        "synfunktion",
        (
            Leaf("harSynfaltsdefekt", "3.1"),
            Leaf("harNattblindhet", "4.1"),
            Leaf("harProgressivOgonsjukdom", "5.1"),
            Leaf("harDiplopi", "6.1"),
            Leaf("harNystagmus", "7.1"),
            _SYNSKARPA_UTAN,
            Group("synskarpaMedKorrektion", _SYNSKARPA_MED, required=False),
            Leaf("harGlasStyrkaOver8Dioptrier", "9.1", False),
        ),
    ),
    Group("horselBalanssinne", (Leaf("harBalansrubbningYrsel", "10.1"), Leaf("harSvartUppfattaSamtal4Meter", "11.1", False))),
    Group(
        "rorelseorganensFunktioner",
        (
            Leaf("harRorelsebegransning", "12.1"),
            Leaf("rorelsebegransningBeskrivning", "12.2", False),
            Leaf("harOtillrackligRorelseformagaPassagerare", "13.1", False),
        ),
    ),
    Group(
        "hjartKarlSjukdomar",
        (
            Leaf("harRiskForsamradHjarnFunktion", "14.1"),
            Leaf("harHjarnskadaICNS", "15.1"),
            Leaf("harRiskfaktorerStroke", "16.1"),
            Leaf("riskfaktorerStrokeBeskrivning", "16.2", False),
        ),
    ),
    Group(
        "diabetes",
        (
            Leaf("harDiabetes", "17.1"),
            Leaf("diabetesTyp", "18.1", False, Kind.DIABETES_TYP),
            Leaf("harBehandlingKost", "19.1", False),
            Leaf("harBehandlingTabletter", "19.2", False),
            Leaf("harBehandlingInsulin", "19.3", False),
        ),
    ),
    Leaf("neurologiskaSjukdomar", "20.1"),
    Group("medvetandestorning", (Leaf("harMedvetandestorning", "21.1"), Leaf("medvetandestorningBeskrivning", "21.2", False))),
    Leaf("harNjurSjukdom", "22.1"),
    Leaf("harKognitivStorning", "23.1"),
    Leaf("harSomnVakenhetStorning", "24.1"),
    Group(
        "alkoholNarkotikaLakemedel",
        (
            Leaf("harTeckenMissbruk", "25.1"),
            Leaf("harVardinsats", "25.2"),
            Leaf("harVardinsatsProvtagningBehov", "25.3", False),
            Leaf("harLakarordineratLakemedelsbruk", "26.1", False),
            Leaf("lakarordineratLakemedelOchDos", "26.2", False),
        ),
    ),
    Leaf("harPsykiskStorning", "27.1"),
    Group("utvecklingsstorning", (Leaf("harPsykiskUtvecklingsstorning", "28.1"), Leaf("harAndrayndrom", "29.1"))),
    Group(
        "sjukhusvard",
        (
            Leaf("harSjukhusvardEllerLakarkontakt", "30.1"),
            Leaf("sjukhusvardEllerLakarkontaktDatum", "30.2", False),
            Leaf("sjukhusvardEllerLakarkontaktVardinrattning", "30.3", False),
            Leaf("sjukhusvardEllerLakarkontaktAnledning", "30.4", False),
        ),
        required=False,
    ),
    Group(
        "ovrigMedicinering",
        (Leaf("harStadigvarandeMedicinering", "31.1"), Leaf("stadigvarandeMedicineringBeskrivning", "31.2", False)),
    ),
    Leaf("ovrigKommentar", "32.1", False),
)

# Sections of TSDiabetesIntyg between identitetStyrkt and bedomning, in schema order.
DIABETES_FIELDS: Spec = (
    Group(
        "diabetes",
        (
            Leaf("debutArDiabetes", "35.1", kind=Kind.YEAR),
            Leaf("diabetesTyp", "18.1", kind=Kind.DIABETES_TYP),
            Leaf("harBehandlingKost", "19.1", False),
            Leaf("harBehandlingTabletter", "19.2", False),  # inferred
            Leaf("harBehandlingInsulin", "19.3", False),  # inferred
            Leaf("insulinBehandlingSedanAr", "19.4", False, Kind.YEAR),  # inferred
            Leaf("annanBehandlingBeskrivning", "19.5", False),  # inferred
        ),
    ),
    Group(
        "hypoglykemier",
        (
            Leaf("harKunskapOmAtgarder", "36.1"),
            Leaf("harTeckenNedsattHjarnfunktion", "37.1"),
            Leaf("saknarFormagaKannaVarningstecken", "38.1", False),  # inferred
            Leaf("harAllvarligForekomst", "39.1", False),  # inferred
            Leaf("allvarligForekomstBeskrivning", "39.2", False),  # inferred
            Leaf("harAllvarligForekomstTrafiken", "40.1", False),  # inferred
            Leaf("allvarligForekomstTrafikBeskrivning", "40.2", False),  # inferred
            Leaf("genomforEgenkontrollBlodsocker", "41.1", False),  # inferred
            Leaf("harAllvarligForekomstVakenTid", "42.1", False),
            Leaf("allvarligForekomstVakenTidAr", "42.2", False),
        ),
    ),
    Leaf("separatOgonLakarintygKommerSkickas", "43.1", False),
    Group(
        "synfunktion",
        (
            # A remark on the field-of-vision test is a field defect; a test without remark (44.1)
            # was a test; double vision (6.1) is judged by testing the eyes' mobility.
            Derived("harSynfaltsdefekt", "44.1", lambda without_remark: not without_remark),
            _SYNSKARPA_UTAN,
            Group("synskarpaMedKorrektion", _SYNSKARPA_MED),
            Leaf("harDiplopi", "6.1"),
            Derived("finnsSynfaltsprovning", "44.1", lambda _: True),
            Leaf("synfaltsprovningUtanAnmarkning", "44.1"),
            Derived("finnsProvningOgatsRorlighet", "6.1", lambda _: True),
        ),
        required=False,
    ),
    Leaf("ovrigKommentar", "32.1", False),
)


@dataclass(frozen=True)
class Form:
    """One legacy Transportstyrelsen contract and the v3 type it maps to."""

    payload_ns: str
    payload: str
    intygs_typ: str  # the legacy type name, which some v3 documents also use as the type code
    type_code: str
    type_name: str
    major: int
    behorigheter: frozenset[str]  # the körkortsbehörigheter the legacy form admits
    fields: Spec
    # bedomning leaves after korkortstyp/kanInteTaStallning, in schema order
    bedomning: tuple[Leaf, ...]

    @property
    def format(self) -> str:
        return f"{self.payload}:1"


BAS = Form(
    payload_ns=BAS_NS,
    payload="RegisterTSBas",
    intygs_typ="ts-bas",
    type_code="TSTRK1007",
    type_name="Transportstyrelsens läkarintyg",
    major=6,
    behorigheter=frozenset({"C1", "C1E", "C", "CE", "D1", "D1E", "D", "DE", "TAXI", "ANNAT"}),
    fields=BAS_FIELDS,
    bedomning=(Leaf("behovAvLakareSpecialistKompetens", "34.1", False),),
)
DIABETES = Form(
    payload_ns=DIABETES_NS,
    payload="RegisterTSDiabetes",
    intygs_typ="ts-diabetes",
    type_code="TSTRK1031",
    type_name="Transportstyrelsens läkarintyg, diabetes",
    major=2,
    behorigheter=frozenset(set(BEHORIGHET) - {"ANNAT"}),
    fields=DIABETES_FIELDS,
    bedomning=(
        Leaf("lamplighetInnehaBehorighetSpecial", "45.1", False),  # inferred from the 3.x form
        Leaf("behovAvLakareSpecialistKompetens", "34.1", False),
    ),
)


# --------------------------------------------------------------------------------------------
# Public API


def bas_to_v3(payload: Element) -> Element:
    """RegisterTSBas v1 -> RegisterCertificate v3 (TSTRK1007), losslessly."""
    return _legacy_to_v3(BAS, payload)


def v3_to_bas(payload: Element) -> Element:
    """RegisterCertificate v3 (TSTRK1007, version 6.x) -> RegisterTSBas v1."""
    return restore(payload, BAS.format, MAPPING, _rebuild(BAS, payload), partial(_content, BAS))


def diabetes_to_v3(payload: Element) -> Element:
    """RegisterTSDiabetes v1 -> RegisterCertificate v3 (TSTRK1031), losslessly."""
    return _legacy_to_v3(DIABETES, payload)


def v3_to_diabetes(payload: Element) -> Element:
    """RegisterCertificate v3 (TSTRK1031, version 2.x) -> RegisterTSDiabetes v1."""
    return restore(payload, DIABETES.format, MAPPING, _rebuild(DIABETES, payload), partial(_content, DIABETES))


# --------------------------------------------------------------------------------------------
# Legacy -> v3


def _legacy_to_v3(form: Form, payload: Element) -> Element:
    result = _content(form, payload)
    attach_carrier(result, form.format, MAPPING, _rebuild(form, result), payload)
    return result


def _content(form: Form, payload: Element) -> Element:
    """The v3 form of what the legacy document says, without the carrier."""
    if payload.tag != qn(form.payload_ns, form.payload):
        raise TransformError(f"{path_of(payload)}: expected a {form.payload} payload ({form.payload_ns})")
    intyg = _C.req(payload, "intyg", form.payload_ns)
    grund = _C.req(intyg, "grundData")
    author = _read_author(_C.req(grund, "skapadAv"))
    signed = _C.req_text(grund, "signeringsTidstampel")
    header = Header(
        intyg_id_root=author.enhet.id,
        intyg_id=_C.req_text(intyg, "intygsId"),
        type_code=form.type_code,
        type_name=form.type_name,
        version=_v3_version(intyg),
        signed=signed,
        sent=signed,
        patient=_read_patient(_C.req(grund, "patient")),
        author=author,
    )
    answers = Answers()
    for instans, typ in enumerate(_C.all(_C.req(intyg, "intygAvser"), "korkortstyp"), start=1):
        iav, _, name = _behorighet(typ)
        delsvar_cv(answers.svar("1", instans), "1.1", iav, KV_INTYGET_AVSER, name)
    idk = _C.req(_C.req(intyg, "identitetStyrkt"), "idkontroll")
    delsvar_cv(answers.single("2"), "2.1", idk.text or "", KV_ID_KONTROLL, lookup(ID_KONTROLL, idk, "idkontroll"))
    _read_fields(form.fields, intyg, answers)
    _read_bedomning(form, _C.req(intyg, "bedomning"), answers)

    result, v3_intyg = new_certificate(header)
    answers.write_into(v3_intyg)
    return result


def _v3_version(intyg: Element) -> str:
    version, utgava = _C.req_text(intyg, "version"), _C.req_text(intyg, "utgava")
    if not (version.isdigit() and utgava.isdigit()):
        raise TransformError(f"{path_of(intyg)}: version '{version}' and utgava '{utgava}' must be numbers")
    return f"{int(version)}.{int(utgava)}"


def _ii(el: Element) -> tuple[str, str]:
    return _T.req_text(el, "root"), _T.text(el, "extension") or ""


def _read_author(el: Element) -> HosPersonal:
    enhet = _C.req(el, "vardenhet")
    vg = _C.req(enhet, "vardgivare")
    return HosPersonal(
        id=_ii(_C.req(el, "personId"))[1] or NOT_AVAILABLE,
        namn=_C.req_text(el, "fullstandigtNamn"),
        forskrivarkod=None,
        befattningar=befattning.from_legacy([b.text or "" for b in _C.all(el, "befattningar")]),
        specialistkompetenser=[(NOT_AVAILABLE, s.text or "") for s in _C.all(el, "specialiteter")],
        enhet=Enhet(
            id=_ii(_C.req(enhet, "enhetsId"))[1] or NOT_AVAILABLE,
            arbetsplatskod=NOT_AVAILABLE,
            namn=_C.req_text(enhet, "enhetsnamn"),
            postadress=_C.req_text(enhet, "postadress"),
            postnummer=_C.req_text(enhet, "postnummer"),
            postort=_C.req_text(enhet, "postort"),
            telefonnummer=_C.req_text(enhet, "telefonnummer"),
            epost=None,
            vardgivare=Vardgivare(
                id=_ii(_C.req(vg, "vardgivarid"))[1] or NOT_AVAILABLE, namn=_C.req_text(vg, "vardgivarnamn")
            ),
        ),
    )


def _read_patient(el: Element) -> Patient:
    pid = _C.req(el, "personId")
    root, extension = _ii(pid)
    return Patient(
        id_root=root,
        id=person_id_digits(root, extension, path_of(pid)),
        fornamn=_C.req_text(el, "fornamn"),
        efternamn=_C.req_text(el, "efternamn"),
        postadress=_C.req_text(el, "postadress"),
        postnummer=_C.req_text(el, "postnummer"),
        postort=_C.req_text(el, "postort"),
    )


def _behorighet(el: Element) -> tuple[str, str, str]:
    return lookup(BEHORIGHET, el, "körkortsbehörighet")


def _read_fields(spec: Spec, parent: Element, answers: Answers) -> None:
    for item in spec:
        el = _C.opt(parent, item.name)
        if el is None or isinstance(item, Derived):
            continue
        if isinstance(item, Group):
            _read_fields(item.children, el, answers)
            continue
        svar = answers.single(item.delsvar.split(".")[0])
        value = el.text or ""
        if item.kind is Kind.YEAR:
            delsvar_year(svar, item.delsvar, value)
        elif item.kind is Kind.DIABETES_TYP:
            code, name = lookup(DIABETES_TYP, el, "diabetes type")
            delsvar_cv(svar, item.delsvar, code, ICD10_SE, name)
        else:
            delsvar(svar, item.delsvar, value)


def _read_bedomning(form: Form, bedomning: Element, answers: Answers) -> None:
    instans = 0
    for typ in _C.all(bedomning, "korkortstyp"):
        _, var, name = _behorighet(typ)
        instans += 1
        delsvar_cv(answers.svar("33", instans), "33.1", var, KV_BEDOMNING, VAR_ANNAT_NAME if var == "VAR10" else name)
    kan_inte = _C.text(bedomning, "kanInteTaStallning")
    if kan_inte is not None and kan_inte.strip() in ("true", "1"):
        instans += 1
        code, name = KAN_INTE_TA_STALLNING
        delsvar_cv(answers.svar("33", instans), "33.1", code, KV_BEDOMNING, name)
    _read_fields(form.bedomning, bedomning, answers)


# --------------------------------------------------------------------------------------------
# v3 -> legacy


def _rebuild(form: Form, payload: Element) -> Element:
    """The legacy document the v3 content alone says (the carrier is not read here)."""
    header = read_header(payload)
    intyg_el = intyg_of(payload)
    require_type(payload, header, (form.type_code, form.intygs_typ))
    major, _, minor = header.version.partition(".")
    if not (major.isdigit() and int(major) == form.major and minor.isdigit()):
        raise TransformError(
            f"{path_of(intyg_el)}: {form.payload} v1 carries version {form.major}.x of {form.type_code}, "
            f"not '{header.version}'"
        )
    if header.signed is None:
        raise TransformError(f"{path_of(intyg_el)}: signeringstidpunkt is required for the legacy form")
    view = AnswerView(intyg_el)

    root = etree.Element(qn(form.payload_ns, form.payload), nsmap={"ts": form.payload_ns, "tsc": CORE, "tst": TYPES})
    intyg = add(root, form.payload_ns, "intyg")
    add(intyg, CORE, "intygsId", header.intyg_id)
    add(intyg, CORE, "intygsTyp", form.intygs_typ)
    add(intyg, CORE, "version", f"{int(major):02d}")
    add(intyg, CORE, "utgava", f"{int(minor):02d}")
    grund = add(intyg, CORE, "grundData")
    add(grund, CORE, "signeringsTidstampel", header.signed)
    _write_author(add(grund, CORE, "skapadAv"), header.author)
    _write_patient(add(grund, CORE, "patient"), header.patient)

    avser = add(intyg, CORE, "intygAvser")
    allowed = {legacy: codes for legacy, codes in BEHORIGHET.items() if legacy in form.behorigheter}
    by_iav = {iav: legacy for legacy, (iav, _, _) in allowed.items()}
    if not view.has("1"):
        raise TransformError(f"{path_of(intyg_el)}: svar 1 (intyget avser) is required for the legacy form")
    for svar in view.all("1"):
        add(avser, CORE, "korkortstyp", _decode(view, svar, "1.1", by_iav, "intyget avser"))
    idk = view.code("2.1")
    if idk is None or idk.code not in ID_KONTROLL:
        raise TransformError(f"{path_of(intyg_el)}: delsvar 2.1 (identitet styrkt) must be one of IDK1-IDK6")
    add(add(intyg, CORE, "identitetStyrkt"), CORE, "idkontroll", idk.code)

    intyg.extend(_write_fields(form.fields, view)[0])
    _check_required(form.fields, intyg, intyg_el)
    bedomning = add(intyg, CORE, "bedomning")
    by_var = {var: legacy for legacy, (_, var, _) in allowed.items()}
    by_var[KAN_INTE_TA_STALLNING[0]] = ""
    kan_inte = False
    for svar in view.all("33"):
        legacy = _decode(view, svar, "33.1", by_var, "bedömning")
        if legacy:
            add(bedomning, CORE, "korkortstyp", legacy)
        else:
            kan_inte = True
    if kan_inte:
        add(bedomning, CORE, "kanInteTaStallning", "true")
    bedomning.extend(_write_fields(form.bedomning, view)[0])
    return root


def _decode(view: AnswerView, svar: Element, delsvar_id: str, table: dict[str, str], what: str) -> str:
    code = view.code(delsvar_id, svar)
    if code is None or code.code not in table:
        found = "nothing" if code is None else f"'{code.code}'"
        raise TransformError(f"{path_of(svar)}: {what} {found} has no counterpart in the legacy form ({', '.join(table)})")
    return table[code.code]


def _write_fields(spec: Spec, view: AnswerView) -> tuple[list[Element], bool]:
    """Legacy elements for ``spec`` and whether any of it is answered. A group appears when it is
    required or any leaf below it is answered (an empty required subgroup does not count)."""
    out: list[Element] = []
    answered = False
    for item in spec:
        if isinstance(item, Group):
            children, below = _write_fields(item.children, view)
            if below or item.required:
                group = etree.Element(qn(CORE, item.name))
                group.extend(children)
                out.append(group)
            answered = answered or below
            continue
        value = _leaf_value(item, view) if isinstance(item, Leaf) else _derived_value(item, view)
        if value is not None:
            el = etree.Element(qn(CORE, item.name))
            el.text = value
            out.append(el)
            answered = True
    return out, answered


def _check_required(spec: Spec, parent: Element, where: Element) -> None:
    """Every required legacy element below ``parent`` is there (a v3 certificate may lack answers
    the legacy form cannot do without)."""
    for item in spec:
        el = parent.find(qn(CORE, item.name))
        if el is None:
            if isinstance(item, Derived) or item.required:
                what = _needed_answer(item)
                raise TransformError(
                    f"{path_of(where)}: {what} is required for the legacy element '{local_name(parent)}/{item.name}'"
                )
        elif isinstance(item, Group):
            _check_required(item.children, el, where)


def _needed_answer(item: Leaf | Derived | Group) -> str:
    if isinstance(item, Leaf):
        return f"delsvar {item.delsvar}"
    if isinstance(item, Derived):
        return f"delsvar {item.source}"
    return f"an answer for '{item.name}'"


def _derived_value(item: Derived, view: AnswerView) -> str | None:
    source = view.boolean(item.source)
    return None if source is None else bool_text(item.value(source))


_LEAF_READERS: dict[Kind, Callable[[AnswerView, str], str | None]] = {
    Kind.TEXT: lambda view, d: view.text(d),
    Kind.YEAR: lambda view, d: view.year(d),
}


def _leaf_value(leaf: Leaf, view: AnswerView) -> str | None:
    if leaf.kind is Kind.DIABETES_TYP:
        code = view.code(leaf.delsvar)
        if code is None:
            return None
        by_code = {c: legacy for legacy, (c, _) in DIABETES_TYP.items()}
        if code.code not in by_code:
            raise TransformError(f"delsvar {leaf.delsvar}: diabetes type '{code.code}' has no legacy counterpart (E10, E11)")
        return by_code[code.code]
    return _LEAF_READERS[leaf.kind](view, leaf.delsvar)


def _write_author(target: Element, author: HosPersonal) -> None:
    _write_ii(add(target, CORE, "personId"), HSA_ROOT, author.id)
    add(target, CORE, "fullstandigtNamn", author.namn)
    add(target, CORE, "atLakare", bool_text(befattning.is_at_lakare(author.befattningar)))
    e = author.enhet
    enhet = add(target, CORE, "vardenhet")
    _write_ii(add(enhet, CORE, "enhetsId"), HSA_ROOT, e.id)
    add(enhet, CORE, "enhetsnamn", e.namn)
    add(enhet, CORE, "postadress", e.postadress)
    add(enhet, CORE, "postnummer", e.postnummer)
    add(enhet, CORE, "postort", e.postort)
    add(enhet, CORE, "telefonnummer", e.telefonnummer)
    vg = add(enhet, CORE, "vardgivare")
    _write_ii(add(vg, CORE, "vardgivarid"), HSA_ROOT, e.vardgivare.id)
    add(vg, CORE, "vardgivarnamn", e.vardgivare.namn)
    for code, display in author.specialistkompetenser:
        add(target, CORE, "specialiteter", display if code == NOT_AVAILABLE and display is not None else code)
    for text in befattning.to_legacy(author.befattningar):
        add(target, CORE, "befattningar", text)


def _write_patient(target: Element, patient: Patient) -> None:
    _write_ii(add(target, CORE, "personId"), patient.id_root, person_id_dashed(patient.id))
    add(target, CORE, "fullstandigtNamn", join_name(patient.fornamn, patient.mellannamn, patient.efternamn))
    add(target, CORE, "fornamn", patient.fornamn)
    add(target, CORE, "efternamn", patient.efternamn)
    add(target, CORE, "postadress", patient.postadress)
    add(target, CORE, "postnummer", patient.postnummer)
    add(target, CORE, "postort", patient.postort)


def _write_ii(target: Element, root: str, extension: str) -> None:
    add(target, TYPES, "root", root)
    add(target, TYPES, "extension", extension)
