"""A stored sick-leave certificate as the certificate lists answer it: the ``intygsData`` element of
ListActiveSickLeavesForCareUnit v1 and ListSickLeavesForPerson v1 (the rehabilitation core
components).

Rendered once, when the certificate is stored (``persistence.sickleave`` keeps it as the row's
``fragment``), so that a large unit's list is the concatenation of its rows' fragments: rendering
thousands of elements on every call was a third of the call's time. Kept as UTF-8 bytes, as the
answer goes out: decoding and encoding again a large unit's megabytes of answer on every call cost
as much as reading them. The element is written as text; every value goes through ``escape`` and
the tests check the answers against the schema. The patient's name is the one part that depends on
the caller (a protected identity shown to someone with a relation to the patient):
``with_protected_name`` replaces it.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from intygstjanst.persistence.sickleave import StoredSickLeave, codes, period_texts

PROTECTED_NAME = "Sekretessmarkerad uppgift"
RH = "urn:riv:clinicalprocess:healthcond:rehabilitation:1"
T2 = "urn:riv:clinicalprocess:healthcond:certificate:types:2"
HSA_ROOT = "1.2.752.129.2.1.4.1"
BEFATTNING_CODE_SYSTEM = "1.2.752.129.2.2.1.4"
# The identifier roots of the person-id element (the same facts as registers.persons, which this
# layer may not import).
PERSONNUMMER_ROOT = "1.2.752.129.2.1.3.1"
SAMORDNINGSNUMMER_ROOT = "1.2.752.129.2.1.3.3"

# U+001E, like the lists' U+001F (persistence.sickleave), cannot occur in XML text: a row's text
# values joined with it are escaped in one call and split again, several times cheaper than
# escaping every value on its own.
_FIELD = "\x1e"
_TITLE_START = "<befattning><t:code>"
_TITLE_END = f"</t:code><t:codeSystem>{BEFATTNING_CODE_SYSTEM}</t:codeSystem></befattning>"
_NAME_START, _NAME_END = "<fullstandigtNamn>", "</fullstandigtNamn></patient>"
_NAME_START_BYTES, _NAME_END_BYTES = _NAME_START.encode(), _NAME_END.encode()
_ELEMENT_START_BYTES = b"<intygsData>"
_PROTECTED_NAME_BYTES = PROTECTED_NAME.encode()


def person_root(person_id: str) -> str:
    """The identifier root of a 12-digit number: samordningsnummer have 60 added to the day."""
    return SAMORDNINGSNUMMER_ROOT if person_id[6:8].isdigit() and int(person_id[6:8]) > 60 else PERSONNUMMER_ROOT


def intygs_data(row: StoredSickLeave) -> bytes:
    """The ``intygsData`` element of ``row`` in UTF-8; prefix ``t`` is the types:2 namespace and the
    default namespace the rehabilitation core components' (the answers declare both)."""
    texts = (
        row.certificate_id,
        row.patient_name,
        row.doctor_id,
        row.doctor_name,
        row.care_unit_id,
        row.care_unit_name,
        row.diagnosis_code,
        row.doctor_titles,
        row.secondary_diagnoses,
        row.employment,
    )
    certificate_id, patient_name, doctor_id, doctor_name, unit_id, unit_name, diagnosis, titles, secondary, employment = (
        escape(_FIELD.join(texts)).split(_FIELD)
    )
    periods = "".join(
        f"<formaga><startdatum>{start}</startdatum><slutdatum>{end}</slutdatum><nedsattning>{degree}</nedsattning></formaga>"
        for start, end, degree in period_texts(row)
    )
    # enkeltIntyg marks the simplified (infection-control) certificates, which are never sick-leave
    # data here. The schema admits four sysselsattning; no certificate type has more kinds to tick.
    return (
        f"<intygsData><intygsId>{certificate_id}</intygsId>"
        f"<patient><personId><t:root>{person_root(row.patient_id)}</t:root><t:extension>{row.patient_id}</t:extension>"
        f"</personId>{_NAME_START}{patient_name}{_NAME_END}"
        f"<skapadAv><personalId><t:root>{HSA_ROOT}</t:root><t:extension>{doctor_id}</t:extension></personalId>"
        f"{f'<fullstandigtNamn>{doctor_name}</fullstandigtNamn>' if doctor_name else ''}"
        f"<befattningar>{_each(_TITLE_START, _TITLE_END, titles)}</befattningar>"
        f"<enhet><enhetsId><t:root>{HSA_ROOT}</t:root><t:extension>{unit_id}</t:extension></enhetsId>"
        f"<enhetsnamn>{unit_name}</enhetsnamn></enhet></skapadAv>"
        f"<diagnoskod>{diagnosis}</diagnoskod>{_each('<bidiagnoser>', '</bidiagnoser>', secondary)}"
        f"<arbetsformaga>{periods}</arbetsformaga><enkeltIntyg>false</enkeltIntyg>"
        f"<signeringsTidpunkt>{row.signed_at.isoformat()}</signeringsTidpunkt>"
        f"{_each('<sysselsattning>', '</sysselsattning>', employment, limit=4)}</intygsData>"
    ).encode()


def with_protected_name(fragment: bytes) -> bytes:
    """``fragment`` (one or more ``intygsData`` elements) with the patient's name replaced by
    ``PROTECTED_NAME`` in each: the name is the first ``fullstandigtNamn`` of the element, ending
    the ``patient`` element as ``intygs_data`` writes it (escaped text holds no ``<``, so the first
    end tag after the start is the name's)."""
    parts: list[bytes] = []
    done = 0
    element = fragment.find(_ELEMENT_START_BYTES)
    while element >= 0:
        start = fragment.find(_NAME_START_BYTES, element)
        end = fragment.find(_NAME_END_BYTES, start)
        if start < 0 or end < 0:
            break
        parts += (fragment[done : start + len(_NAME_START_BYTES)], _PROTECTED_NAME_BYTES)
        done = end
        element = fragment.find(_ELEMENT_START_BYTES, end)
    if not parts or element >= 0:
        raise ValueError("the fragment does not name the patient as intygs_data writes it")
    parts.append(fragment[done:])
    return b"".join(parts)


def _each(start: str, end: str, stored: str, limit: int | None = None) -> str:
    """``start`` + value + ``end`` for each value of a stored list (already escaped)."""
    if not stored:
        return ""
    return start + (end + start).join(codes(stored)[:limit]) + end
