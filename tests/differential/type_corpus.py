"""Certificates of the types no official sample covers (AF00213, AF00251, TSTRK1009, TSTRK1062),
and a deterministic mutation corpus around them, for the rules differential test.

The official sample and Schematron-test sets hold no message of these types, so this module writes
its own: a few complete certificates per type (``SEEDS``, written for this project from the
owners' Schematron files, together covering every branch of their rules), and mutants of them that
remove, repeat, rename and re-value answers, sub-answers and their typed parts. Which side of the
verdict a mutant lands on is decided by the official XSD + Schematron, never by this module.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from intygstjanst.transform.common import PERSONNUMMER_ROOT, Enhet, Header, HosPersonal, Patient, Vardgivare, new_certificate

RG = "urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3"
GN = "urn:riv:clinicalprocess:healthcond:certificate:3"
TP = "urn:riv:clinicalprocess:healthcond:certificate:types:3"

# (svar id, instans or None, [(delsvar id, value)]); a value is text, or a typed part:
# ("cv", code, codeSystem, displayName) / ("pq", value, unit) / ("year", YYYY) / ("period", start, end)
Value = str | tuple[str, ...]
Svar = tuple[str, int | None, list[tuple[str, Value]]]

KV_FKMU_0001 = "FKMU_0001"
KV_OMFATTNING = "1.2.752.129.5.1.2"
KV_PROGNOS = "1.2.752.129.5.1.3"
KV_OLAMPLIGHET = "1.2.752.129.5.1.4"
KV_INTYGET_AVSER = "24c41b8d-258a-46bf-a08a-b90738b28770"
KV_BEDOMNING = "e889fa20-1dee-4f79-8b37-03853e75a9f8"
KV_ID_KONTROLL = "e7cc8f30-a353-4c42-b17a-a189b6876647"
ICD10_SE = "1.2.752.116.1.1.1.1.3"
NULL_FLAVOR = "2.16.840.1.113883.5.1008"

TYPE_NAMES = {
    "AF00213": "Arbetsförmedlingens medicinska utlåtande",
    "AF00251": "Läkarintyg för deltagare i arbetsmarknadspolitiska program",
    "TSTRK1009": "Läkarens anmälan till Transportstyrelsen",
    "TSTRK1062": "Läkarintyg avseende ADHD, autismspektrumtillstånd och likartade tillstånd samt psykisk utvecklingsstörning",
}


def _af00213(yes: bool) -> list[Svar]:
    answer = "true" if yes else "false"
    described = (lambda d: [(d, "Beskrivning")]) if yes else (lambda d: [])
    return [
        ("1", None, [("1.1", answer), *described("1.2")]),
        ("2", None, [("2.1", answer), *described("2.2")]),
        ("3", None, [("3.1", answer), *described("3.2")]),
        ("4", None, [("4.1", answer), *described("4.2")]),
        ("5", None, [("5.1", "Övriga upplysningar")]),
    ]


def _af00251(part_time: bool, obstacle: bool) -> list[Svar]:
    scope: list[tuple[str, Value]] = [("2.1", "Arbetsträning"), ("2.2", ("cv", "DELTID" if part_time else "HELTID", KV_OMFATTNING, "Deltid"))]
    if part_time:
        scope.append(("2.3", ("pq", "20", "h")))
    periods = [("2025-01-01", "2025-01-10"), ("2025-01-11", "2025-01-20"), ("2025-02-01", "2025-02-28")]
    sick = [("6", None, [("6.1", ("pq", "50", "%")), ("6.2", ("period", s, e))]) for s, e in (periods if obstacle else periods[:1])]
    return [
        ("1", None, [("1.1", ("cv", "UNDERSOKNING", KV_FKMU_0001, "Min undersökning av patienten")), ("1.2", "2025-01-02")]),
        ("1", None, [("1.1", ("cv", "ANNAT", KV_FKMU_0001, "Annat")), ("1.2", "2025-01-03"), ("1.3", "Samtal med handledare")]),
        ("2", None, scope),
        ("3", None, [("3.1", "Nedsatt uthållighet")]),
        ("4", None, [("4.1", "Kan inte stå länge")]),
        ("5", None, [("5.1", "true" if obstacle else "false")]),
        *sick,
        ("7", None, [("7.1", "true"), ("7.2", "Kortare dagar")]),
        ("8", None, [("8.1", ("cv", "ATERGA_MED_ANPASSNING", KV_PROGNOS, "Återgå med anpassning")), ("8.2", "Sittande arbete")]),
    ]


def _tstrk1009(cannot_decide: bool) -> list[Svar]:
    licences = [("VAR11", "Kan inte ta ställning")] if cannot_decide else [("VAR1", "C1"), ("VAR12", "AM"), ("VAR18", "Traktor")]
    return [
        *[("1", n, [("1.1", ("cv", code, KV_BEDOMNING, name))]) for n, (code, name) in enumerate(licences, start=1)],
        ("2", None, [("2.1", ("cv", "IDK3", KV_ID_KONTROLL, "Svenskt körkort"))]),
        ("46", None, [("46.1", ("cv", "SANNOLIK_OLAMPLIGHET", KV_OLAMPLIGHET, "Sannolik olämplighet"))]),
        ("47", None, [("47.1", "Epilepsi med anfall den senaste månaden")]),
        ("48", None, [("48.1", "2018-11-20")]),
        ("49", None, [("49.1", "true")]),
    ]


def _tstrk1062(coded: bool, ongoing: bool) -> list[Svar]:
    if coded:
        diagnosis: list[Svar] = [
            ("51", None, [("51.1", ("cv", "F900", ICD10_SE, "ADHD")), ("51.2", "ADHD, kombinerad form"), ("51.3", ("year", "2012"))]),
            ("51", None, [("51.1", ("cv", "F840", ICD10_SE, "Autism")), ("51.3", ("year", "2014"))]),
        ]
    else:
        diagnosis = [("52", None, [("52.1", "ADHD och autism"), ("52.2", ("year", "2013"))])]
    if ongoing:
        treatment: list[Svar] = [
            ("54", None, [("54.1", "true")]),
            ("55", None, [("55.1", "Metylfenidat 36 mg")]),
            ("56", None, [("56.1", "1")]),
            ("57", None, [("57.1", "true")]),
            ("58", None, [("58.1", "true")]),
        ]
        prognosis: Value = "true"
    else:
        treatment = [("54", None, [("54.1", "false")]), ("59", None, [("59.1", "Våren 2016"), ("59.2", "Biverkningar")])]
        prognosis = ("cv", "NI", NULL_FLAVOR, "No information")
    return [
        ("1", None, [("1.1", ("cv", "IAV11", KV_INTYGET_AVSER, "AM"))]),
        ("1", None, [("1.1", ("cv", "IAV15", KV_INTYGET_AVSER, "B"))]),
        ("2", None, [("2.1", ("cv", "IDK1", KV_ID_KONTROLL, "ID-kort"))]),
        *diagnosis,
        ("53", None, [("53.1", "true")]),
        *treatment,
        ("60", None, [("60.1", "Stabil sedan flera år")]),
        ("61", None, [("61.1", prognosis)]),
        ("32", None, [("32.1", "Inga")]),
        ("33", None, [("33.1", ("cv", "VAR12", KV_BEDOMNING, "AM"))]),
        ("33", None, [("33.1", ("cv", "VAR16", KV_BEDOMNING, "B"))]),
    ]


SEEDS: dict[str, tuple[str, list[Svar]]] = {
    "af00213-yes": ("AF00213", _af00213(True)),
    "af00213-no": ("AF00213", _af00213(False)),
    "af00251-part-time-obstacle": ("AF00251", _af00251(True, True)),
    "af00251-full-time": ("AF00251", _af00251(False, False)),
    "tstrk1009-licences": ("TSTRK1009", _tstrk1009(False)),
    "tstrk1009-cannot-decide": ("TSTRK1009", _tstrk1009(True)),
    "tstrk1062-coded-ongoing": ("TSTRK1062", _tstrk1062(True, True)),
    "tstrk1062-free-text-ended": ("TSTRK1062", _tstrk1062(False, False)),
}


def _e(parent: etree._Element, ns: str, local: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, f"{{{ns}}}{local}")
    child.text = text
    return child


def certificate(type_code: str, answers: list[Svar], certificate_id: str = "corpus-1") -> etree._Element:
    """A RegisterCertificate v3 payload of ``type_code`` (version 1.0) with these answers."""
    unit = Enhet("SE2321000016-H1", "1234567890", "Vårdcentralen", "Vårdvägen 1", "12345", "Småmåla", "0101234567", None,
                 Vardgivare("SE2321000016-VG1", "Region Småmåla"))
    header = Header(
        intyg_id_root=unit.id,
        intyg_id=certificate_id,
        type_code=type_code,
        type_name=TYPE_NAMES[type_code],
        version="1.0",
        signed="2018-11-20T10:00:00",
        sent="2018-11-20T10:00:00",
        patient=Patient(PERSONNUMMER_ROOT, "191212121212", "Tolvan", "Tolvansson", "Svensson, Storgatan 1", "12345", "Småmåla"),
        author=HosPersonal("SE2321000016-D1", "Doktor Ajla", None, unit),
    )
    payload, intyg = new_certificate(header)
    for svar_id, instans, parts in answers:
        svar = _e(intyg, GN, "svar")
        svar.set("id", svar_id)
        if instans is not None:
            _e(svar, GN, "instans", str(instans))
        for delsvar_id, value in parts:
            delsvar = _e(svar, GN, "delsvar")
            delsvar.set("id", delsvar_id)
            _value(delsvar, value)
    return payload


def _value(delsvar: etree._Element, value: Value) -> None:
    if isinstance(value, str):
        delsvar.text = value
        return
    kind, *fields = value
    if kind == "cv":
        cv = _e(delsvar, TP, "cv")
        for local, text in zip(("code", "codeSystem", "displayName"), fields):
            _e(cv, TP, local, text)
    elif kind == "pq":
        pq = _e(delsvar, TP, "pq")
        _e(pq, TP, "value", fields[0])
        _e(pq, TP, "unit", fields[1])
    elif kind == "year":
        partial = _e(delsvar, TP, "partialDate")
        _e(partial, TP, "format", "YYYY")
        _e(partial, TP, "value", fields[0])
    elif kind == "period":
        period = _e(delsvar, TP, "datePeriod")
        _e(period, TP, "start", fields[0])
        _e(period, TP, "end", fields[1])
    else:
        raise ValueError(f"unknown value kind {kind!r}")


# -- mutations ------------------------------------------------------------------------------------

# Values tried in plain sub-answers: booleans and their near misses, texts, dates, years.
TEXT_VALUES = (
    "true", "false", "1", "0", " true ", "TRUE", "yes", "10", "01", "", "   ", "x", "Annat 3",
    "2018-11-20", "2999-12-31", "2018-02-30", "2018-11-20Z", " 2018-11-20", "18-11-20", "2018",
)
# Values tried as codes: every code the four types use, neighbours just outside their lists, and
# values the owners' unanchored expressions let through.
CODE_VALUES = (
    "UNDERSOKNING", "TELEFONKONTAKT", "JOURNALUPPGIFTER", "ANNAT", "ANNAT3", "annat",
    "HELTID", "DELTID", "OKAND", "DELTIDX",
    "ATERGA_UTAN_ANPASSNING", "ATERGA_MED_ANPASSNING", "KAN_EJ_ATERGA", "EJ_MOJLIGT_AVGORA", "X1",
    "OLAMPLIGHET", "SANNOLIK_OLAMPLIGHET", "XOLAMPLIGHETX", "olamplighet",
    "VAR1", "VAR9", "VAR10", "VAR11", "VAR18", "VAR19", "VAR110", " VAR11 ",
    "IAV1", "IAV10", "IAV11", "IAV17", "IAV18",
    "IDK1", "IDK6", "IDK7",
    "F900", "F90", "F9000", "Z730", "Z73", "A00", "A00123", "G4",
    "NI", "UNK", "",
)
CODE_SYSTEM_VALUES = (
    KV_FKMU_0001, "KV_FKMU_0001", KV_OMFATTNING, KV_PROGNOS, KV_OLAMPLIGHET, KV_INTYGET_AVSER, KV_BEDOMNING,
    KV_ID_KONTROLL, ICD10_SE, "1x2.752.116.1.1.1.1.3", "1.2.752.116.1.3.1.4.1", NULL_FLAVOR, f" {ICD10_SE} ", "",
)
PQ_VALUES = ("0", "1", "20", "39", "40", "100", "101", "1.5", "x", "")
UNIT_VALUES = ("h", "%", "timmar", "t", "procent", "")
YEAR_VALUES = ("2012", "2026", "2999", "12", "20120", "abcd", "2012-01-01", "")
DATE_VALUES = ("2025-01-05", "2024-12-31", "2025-02-15", "2025-13-01", "x")
INSTANS_VALUES = ("1", "2", "0", "-1", "x")


@dataclass(frozen=True)
class Mutant:
    name: str
    payload: etree._Element


def _svars(payload: etree._Element) -> list[etree._Element]:
    return payload.findall(f"{{{RG}}}intyg/{{{GN}}}svar")


def _q(local: str, ns: str = TP) -> str:
    return f"{{{ns}}}{local}"


def mutants(seed_name: str) -> Iterator[Mutant]:
    """Every mutant of one seed, in a fixed order."""
    type_code, answers = SEEDS[seed_name]
    base = certificate(type_code, answers)
    svar_ids = sorted({s for _, a in SEEDS.values() for s, _, _ in a} | {"99", "9001"}, key=int)
    delsvar_ids = sorted({d for s in _svars(base) for d in (x.get("id", "") for x in s)} | {"1.9", "99.1"})

    def variant(name: str, change: object) -> Mutant:
        return Mutant(f"{seed_name}: {name}", change)  # type: ignore[arg-type]

    for i, _ in enumerate(_svars(base)):
        label = f"svar[{i + 1}] {_svars(base)[i].get('id')}"
        yield variant(f"remove {label}", _edit(base, lambda p, i=i: _remove(_svars(p)[i])))
        yield variant(f"repeat {label}", _edit(base, lambda p, i=i: _repeat(_svars(p)[i])))
        for new_id in svar_ids:
            yield variant(f"id of {label} -> {new_id}", _edit(base, lambda p, i=i, v=new_id: _svars(p)[i].set("id", v)))
        for value in INSTANS_VALUES:
            yield variant(f"instans of {label} = {value!r}", _edit(base, lambda p, i=i, v=value: _set_instans(_svars(p)[i], v)))
        yield variant(f"no instans in {label}", _edit(base, lambda p, i=i: _set_instans(_svars(p)[i], None)))
        for j, delsvar in enumerate(_svars(base)[i].findall(_q("delsvar", GN))):
            yield from _delsvar_mutants(base, variant, i, j, delsvar, delsvar_ids)


def _delsvar_mutants(base, variant, i: int, j: int, delsvar: etree._Element, delsvar_ids: list[str]) -> Iterator[Mutant]:  # type: ignore[no-untyped-def]
    label = f"delsvar {delsvar.get('id')} of svar[{i + 1}]"

    def at(p: etree._Element) -> etree._Element:
        return _svars(p)[i].findall(_q("delsvar", GN))[j]

    yield variant(f"remove {label}", _edit(base, lambda p: _remove(at(p))))
    yield variant(f"repeat {label}", _edit(base, lambda p: _repeat(at(p))))
    for new_id in delsvar_ids:
        yield variant(f"id of {label} -> {new_id}", _edit(base, lambda p, v=new_id: at(p).set("id", v)))
    typed = len(delsvar) and etree.QName(delsvar[0]).localname
    if not typed:
        for value in TEXT_VALUES:
            yield variant(f"{label} = {value!r}", _edit(base, lambda p, v=value: _set_text(at(p), v)))
        yield variant(f"{label} wrapped in an element", _edit(base, lambda p: _wrap(at(p))))
        return
    yield variant(f"{label} as plain text", _edit(base, lambda p: _flatten(at(p))))
    yield variant(f"{label} with a second {typed}", _edit(base, lambda p: _repeat(at(p)[0])))
    fields = {
        "cv": (("code", CODE_VALUES), ("codeSystem", CODE_SYSTEM_VALUES), ("displayName", ("Annat 3", ""))),
        "pq": (("value", PQ_VALUES), ("unit", UNIT_VALUES)),
        "partialDate": (("value", YEAR_VALUES),),
        "datePeriod": (("start", DATE_VALUES), ("end", DATE_VALUES)),
    }[typed]
    for local, values in fields:
        yield variant(f"{label}: remove {local}", _edit(base, lambda p, f=local: _remove(at(p)[0].find(_q(f)))))
        yield variant(f"{label}: repeat {local}", _edit(base, lambda p, f=local: _repeat(at(p)[0].find(_q(f)))))
        for value in values:
            yield variant(f"{label}: {local} = {value!r}", _edit(base, lambda p, f=local, v=value: _set_field(at(p)[0], f, v)))


def _edit(base: etree._Element, change) -> etree._Element:  # type: ignore[no-untyped-def]
    copy_ = copy.deepcopy(base)
    change(copy_)
    return copy_


def _remove(el: etree._Element | None) -> None:
    if el is not None:
        parent = el.getparent()
        assert parent is not None
        parent.remove(el)


def _repeat(el: etree._Element | None) -> None:
    if el is not None:
        el.addnext(copy.deepcopy(el))


def _set_instans(svar: etree._Element, value: str | None) -> None:
    _remove(svar.find(_q("instans", GN)))
    if value is not None:
        instans = etree.Element(_q("instans", GN))
        instans.text = value
        svar.insert(0, instans)


def _set_text(delsvar: etree._Element, value: str) -> None:
    delsvar.text = value


def _wrap(delsvar: etree._Element) -> None:
    inner = etree.SubElement(delsvar, _q("value"))
    inner.text, delsvar.text = delsvar.text, None


def _flatten(delsvar: etree._Element) -> None:
    text = " ".join(t.strip() for t in delsvar.itertext() if t.strip())
    for child in list(delsvar):
        delsvar.remove(child)
    delsvar.text = text


def _set_field(typed: etree._Element, local: str, value: str) -> None:
    field = typed.find(_q(local))
    if field is None:
        field = etree.SubElement(typed, _q(local))
    field.text = value


def corpus() -> Iterator[tuple[str, str, etree._Element]]:
    """(type code, name, payload) for every seed and every mutant."""
    for name, (type_code, answers) in SEEDS.items():
        yield type_code, name, certificate(type_code, answers)
        for mutant in mutants(name):
            yield type_code, mutant.name, mutant.payload
