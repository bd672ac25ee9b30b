"""Building sick-leave certificates and the three rehab requests for the sick-leave tests, and reading
the answers back (every answer is checked against the contract's own schema)."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from intygstjanst.contracts.registry import ContractRegistry
from intygstjanst.contracts.xml import CORE, RELATION_CODE_SYSTEM, SOAP11, TYPES
from intygstjanst.handlers.sickleave import HSA_ROOT, T2, person_root
from intygstjanst.settings import Settings

from intygstjanst.tests.soap import LISJP_SAMPLE, TEST_PERSON, certificate, envelope, post

ACTIVE = "/clinicalprocess/healthcond/rehabilitation/ListActiveSickLeavesForCareUnit/1/rivtabp21"
PERSON = "/clinicalprocess/healthcond/rehabilitation/ListSickLeavesForPerson/1/rivtabp21"
CARE = "/clinicalprocess/healthcond/certificate/ListSickLeavesForCare/1/rivtabp21"
ACTIVE_NS = "urn:riv:clinicalprocess:healthcond:rehabilitation:ListActiveSickLeavesForCareUnitResponder:1"
PERSON_NS = "urn:riv:clinicalprocess:healthcond:rehabilitation:ListSickLeavesForPersonResponder:1"
CARE_NS = "urn:riv:clinicalprocess:healthcond:certificate:ListSickLeavesForCareResponder:1"
RH = "urn:riv:clinicalprocess:healthcond:rehabilitation:1"

CARE_GIVER = "SE2321000016-VG01"
UNIT = "SE2321000016-E001"
SUB_UNIT = "SE2321000016-E011"
OTHER_UNIT = "SE2321000016-E002"  # the same care giver's other unit
DOCTOR = "SE2321000016-L001"
TODAY = dt.date(2024, 3, 15)
# Noon in Sweden on TODAY, as the service clock gives it (naive UTC).
NOW = dt.datetime(2024, 3, 15, 11, 0)

CARE_UNITS_TOML = f"""
[[care_giver]]
id = "{CARE_GIVER}"
name = "Region Test"

  [[care_giver.unit]]
  id = "{UNIT}"
  name = "Vårdcentralen Test"

    [[care_giver.unit.sub_unit]]
    id = "{SUB_UNIT}"
    name = "Rehabmottagningen"

  [[care_giver.unit]]
  id = "{OTHER_UNIT}"
  name = "Vårdcentralen Annan"
"""

DEGREE_CODES = {100: "HELT_NEDSATT", 75: "TRE_FJARDEDEL", 50: "HALFTEN", 25: "EN_FJARDEDEL"}
_C = f"{{{CORE}}}"
_T = f"{{{TYPES}}}"


def care_unit_settings(tmp_path: Path) -> Settings:
    """Settings whose care-unit register is ``CARE_UNITS_TOML``, written under ``tmp_path``."""
    units = tmp_path / "care_units.toml"
    units.write_text(CARE_UNITS_TOML, encoding="utf-8")
    return Settings(data_dir=tmp_path, care_units_file=units)


def day(offset: int, around: dt.date = TODAY) -> dt.date:
    """``around`` (TODAY) plus ``offset`` days."""
    return around + dt.timedelta(days=offset)


Period = tuple[int, int, int]  # (first day, last day) as offsets from TODAY, and the degree


def lisjp(
    certificate_id: str,
    periods: Sequence[Period],
    *,
    patient: str = TEST_PERSON,
    unit: str = UNIT,
    doctor: str = DOCTOR,
    signed: dt.datetime | None = None,
    diagnosis: str = "M54",
    secondary: Sequence[str] = ("F321",),
    relations: Sequence[tuple[str, str]] = (),
    infection_control: bool = False,
    around: dt.date = TODAY,
) -> etree._Element:
    """A LISJP RegisterCertificate payload (from the reference sample) with the given facts; period
    offsets count from ``around``. ``signed`` defaults to 09:00 on the first sick-leave day, or on
    ``around`` if that is later."""
    payload = certificate(certificate_id, patient=patient, name=LISJP_SAMPLE)
    intyg = payload.find("{*}intyg")
    intyg.find(f"{_C}patient/{_C}person-id/{_T}root").text = person_root(patient)
    created = intyg.find(f"{_C}skapadAv")
    created.find(f"{_C}personal-id/{_T}extension").text = doctor
    created.find(f"{_C}fullstandigtNamn").text = "Doktor Dolittle"
    created.find(f"{_C}enhet/{_C}enhets-id/{_T}extension").text = unit
    created.find(f"{_C}enhet/{_C}enhetsnamn").text = f"Enhet {unit}"
    created.find(f"{_C}enhet/{_C}vardgivare/{_C}vardgivare-id/{_T}extension").text = CARE_GIVER
    created.find(f"{_C}enhet/{_C}vardgivare/{_C}vardgivarnamn").text = "Region Test"
    first = day(min(0, *(p[0] for p in periods)), around)
    moment = signed or dt.datetime.combine(first, dt.time(9))
    intyg.find(f"{_C}signeringstidpunkt").text = moment.isoformat()
    intyg.find(f"{_C}skickatTidpunkt").text = moment.isoformat()
    for kind, to_id in reversed(relations):
        created.addnext(_relation(kind, to_id))

    sick_leave = [s for s in intyg.iterfind(f"{_C}svar") if s.get("id") == "32"]
    anchor = sick_leave[0].getprevious()
    for old in sick_leave:
        intyg.remove(old)
    for number, (start, end, degree) in reversed(list(enumerate(periods, start=1))):
        svar = copy.deepcopy(sick_leave[0])
        svar.find(f"{_C}instans").text = str(number)
        cv = svar.find(f"{_C}delsvar[@id='32.1']/{_T}cv")
        cv.find(f"{_T}code").text = DEGREE_CODES[degree]
        cv.find(f"{_T}displayName").text = f"{degree}%"
        period = svar.find(f"{_C}delsvar[@id='32.2']/{_T}datePeriod")
        period.find(f"{_T}start").text = day(start, around).isoformat()
        period.find(f"{_T}end").text = day(end, around).isoformat()
        anchor.addnext(svar)
    if all(degree == 100 for *_, degree in periods):
        # Arbetstidsförläggning (33) may only be answered for part-time sick leave.
        for svar in [s for s in intyg.iterfind(f"{_C}svar") if s.get("id") == "33"]:
            intyg.remove(svar)

    diagnoses = next(s for s in intyg.iterfind(f"{_C}svar") if s.get("id") == "6")
    codes = [diagnosis, *secondary]
    for code_id, text_id in (("6.2", "6.1"), ("6.4", "6.3"), ("6.6", "6.5")):
        code_part = diagnoses.find(f"{_C}delsvar[@id='{code_id}']")
        if codes:
            code_part.find(f"{_T}cv/{_T}code").text = codes.pop(0)
        else:
            diagnoses.remove(code_part)
            diagnoses.remove(diagnoses.find(f"{_C}delsvar[@id='{text_id}']"))
    if infection_control:
        svar = etree.Element(f"{_C}svar", id="27")
        etree.SubElement(svar, f"{_C}delsvar", id="27.1").text = "true"
        diagnoses.addprevious(svar)
    return payload


def _relation(kind: str, to_id: str) -> etree._Element:
    relation = etree.Element(f"{_C}relation")
    typ = etree.SubElement(relation, f"{_C}typ")
    etree.SubElement(typ, f"{_T}code").text = kind
    etree.SubElement(typ, f"{_T}codeSystem").text = RELATION_CODE_SYSTEM
    ref = etree.SubElement(relation, f"{_C}intygs-id")
    etree.SubElement(ref, f"{_T}root").text = "SE2321000016-1003"
    etree.SubElement(ref, f"{_T}extension").text = to_id
    return relation


# --- requests ------------------------------------------------------------------------------------


# Every request binds the prefix ``t`` to the types namespace its contract uses (types:2 or types:3).
def _hsa(tag: str, hsa_id: str) -> str:
    return f"<{tag}><t:root>{HSA_ROOT}</t:root><t:extension>{hsa_id}</t:extension></{tag}>"


def _person(tag: str, person_id: str) -> str:
    return f"<{tag}><t:root>{person_root(person_id)}</t:root><t:extension>{person_id}</t:extension></{tag}>"


def active_request(unit: str = UNIT, patient: str | None = None, recently_ended_days: int | None = None) -> bytes:
    body = _hsa("a:enhets-id", unit)
    if patient is not None:
        body += _person("a:person-id", patient)
    if recently_ended_days is not None:
        body += f"<a:max-dagar-sedan-avslut>{recently_ended_days}</a:max-dagar-sedan-avslut>"
    return f'<a:ListActiveSickLeavesForCareUnit xmlns:a="{ACTIVE_NS}" xmlns:t="{T2}">{body}</a:ListActiveSickLeavesForCareUnit>'.encode()


def person_request(patient: str = TEST_PERSON) -> bytes:
    body = _person("p:person-id", patient)
    return f'<p:ListSickLeavesForPerson xmlns:p="{PERSON_NS}" xmlns:t="{T2}">{body}</p:ListSickLeavesForPerson>'.encode()


def care_request(
    max_gap: int,
    unit: str = UNIT,
    min_days: int | None = None,
    max_days: int | None = None,
    doctors: Sequence[str] = (),
) -> bytes:
    body = _hsa("c:enhets-id", unit) + f"<c:maxDagarMellanIntyg>{max_gap}</c:maxDagarMellanIntyg>"
    if min_days is not None:
        body += f"<c:minstaSjukskrivningslangd>{min_days}</c:minstaSjukskrivningslangd>"
    if max_days is not None:
        body += f"<c:maxSjukskrivningslangd>{max_days}</c:maxSjukskrivningslangd>"
    body += "".join(_hsa("c:personal-id", d) for d in doctors)
    return f'<c:ListSickLeavesForCare xmlns:c="{CARE_NS}" xmlns:t="{TYPES}">{body}</c:ListSickLeavesForCare>'.encode()


# --- answers -------------------------------------------------------------------------------------

_CONTRACTS = {c.path: c for c in ContractRegistry.load()}


def ask(client, path: str, request: bytes, logical_address: str = CARE_GIVER) -> etree._Element:  # type: ignore[no-untyped-def]
    """Call ``path`` and return the answer's payload, checked against the contract's schema."""
    response = post(client, path, envelope(request, logical_address=logical_address))
    assert response.status_code == 200, response.text[:1000]
    payload = etree.fromstring(response.content).find(f"{{{SOAP11}}}Body")[0]
    _CONTRACTS[path].schema.assertValid(payload)
    return payload


@dataclass(frozen=True)
class Listed:
    """One ``intygsData`` of a rehabilitation answer."""

    certificate_id: str
    patient_id: str
    patient_name: str
    unit: str
    diagnosis: str
    secondary: tuple[str, ...]
    periods: tuple[tuple[dt.date, dt.date, int], ...]


def listed(answer: etree._Element) -> list[Listed]:
    out = []
    for data in answer.iterfind(f"{{*}}intygsLista/{{{RH}}}intygsData"):
        out.append(
            Listed(
                certificate_id=data.findtext(f"{{{RH}}}intygsId") or "",
                patient_id=data.findtext(f"{{{RH}}}patient/{{{RH}}}personId/{{{T2}}}extension") or "",
                patient_name=data.findtext(f"{{{RH}}}patient/{{{RH}}}fullstandigtNamn") or "",
                unit=data.findtext(f"{{{RH}}}skapadAv/{{{RH}}}enhet/{{{RH}}}enhetsId/{{{T2}}}extension") or "",
                diagnosis=data.findtext(f"{{{RH}}}diagnoskod") or "",
                secondary=tuple(e.text or "" for e in data.iterfind(f"{{{RH}}}bidiagnoser")),
                periods=tuple(
                    (
                        dt.date.fromisoformat(f.findtext(f"{{{RH}}}startdatum") or ""),
                        dt.date.fromisoformat(f.findtext(f"{{{RH}}}slutdatum") or ""),
                        int(f.findtext(f"{{{RH}}}nedsattning") or 0),
                    )
                    for f in data.iterfind(f"{{{RH}}}arbetsformaga/{{{RH}}}formaga")
                ),
            )
        )
    return out


def listed_ids(answer: etree._Element) -> list[str]:
    return [entry.certificate_id for entry in listed(answer)]


@dataclass(frozen=True)
class Case:
    """One ``sjukfall`` of a ListSickLeavesForCare answer."""

    patient_id: str
    patient_name: str | None
    doctor: str
    start: dt.date
    end: dt.date
    diagnosis: str
    certificates: int
    days: int
    active_degree: int
    degrees: tuple[int, ...]


def cases(answer: etree._Element) -> list[Case]:
    ns = f"{{{CARE_NS}}}"
    out = []
    for case in answer.iterfind(f"{ns}sjukfallLista/{ns}sjukfall"):
        out.append(
            Case(
                patient_id=case.findtext(f"{ns}person-id/{_T}extension") or "",
                patient_name=case.findtext(f"{ns}patientFullstandigtNamn"),
                doctor=case.findtext(f"{ns}personal-id/{_T}extension") or "",
                start=dt.date.fromisoformat(case.findtext(f"{ns}startdatum") or ""),
                end=dt.date.fromisoformat(case.findtext(f"{ns}slutdatum") or ""),
                diagnosis=case.findtext(f"{ns}diagnoskod/{ns}code") or "",
                certificates=int(case.findtext(f"{ns}antalIntyg") or 0),
                days=int(case.findtext(f"{ns}sjukskrivningslangd") or 0),
                active_degree=int(case.findtext(f"{ns}sjukskrivningsgrad/{ns}aktivGrad") or 0),
                degrees=tuple(int(g.text or 0) for g in case.iterfind(f"{ns}sjukskrivningsgrad/{ns}grader/{ns}grad")),
            )
        )
    return out
