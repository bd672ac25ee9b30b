"""Shared pieces of the format conversions: XML helpers, value conversions between the legacy
forms and the v3 form, the v3 certificate header, and writing/reading ``svar``/``delsvar``.

How a legacy document survives the trip through the v3 form is in ``carrier``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from lxml import etree

Element = etree._Element
T = TypeVar("T")

# --------------------------------------------------------------------------------------------
# Namespaces of the v3 certificate form

RC = "urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3"
GN = "urn:riv:clinicalprocess:healthcond:certificate:3"
TP = "urn:riv:clinicalprocess:healthcond:certificate:types:3"

# Code systems and fixed identifier roots of the v3 form.
KV_INTYGSTYP = "f6fb361a-e31d-48b8-8657-99b63912dd9b"
HSA_ROOT = "1.2.752.129.2.1.4.1"
ARBETSPLATSKOD_ROOT = "1.2.752.29.4.71"
BEFATTNING_CODE_SYSTEM = "1.2.752.129.2.2.1.4"
PERSONNUMMER_ROOT = "1.2.752.129.2.1.3.1"
SAMORDNINGSNUMMER_ROOT = "1.2.752.129.2.1.3.3"
ICD10_SE = "1.2.752.116.1.1.1.1.3"

# The v3 form requires identifiers the legacy forms may leave out; the reference service filled
# them with this marker (e.g. arbetsplatskod of Transportstyrelsen certificates).
NOT_AVAILABLE = "N/A"


class TransformError(ValueError):
    """The document cannot be converted; the message names the element and the reason."""


# --------------------------------------------------------------------------------------------
# Small XML helpers


def qn(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


def local_name(el: Element) -> str:
    return etree.QName(el).localname


def elements(el: Element) -> list[Element]:
    """Element children (comments and processing instructions are not part of the data)."""
    return [c for c in el if isinstance(c.tag, str)]


def add(parent: Element, ns: str, local: str, text: str | None = None, **attrs: str) -> Element:
    child = etree.SubElement(parent, qn(ns, local), attrs)
    if text is not None:
        child.text = text
    return child


def path_of(el: Element) -> str:
    """A readable location for error messages: local names from the root, 1-based positions."""
    parts = []
    node: Element | None = el
    while node is not None:
        parent = node.getparent()
        name = local_name(node)
        if parent is not None:
            same = [c for c in elements(parent) if c.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))


class Reader:
    """Reads a legacy document with precise errors: every miss names the path that was expected."""

    def __init__(self, ns: str) -> None:
        self.ns = ns

    def opt(self, parent: Element, local: str, ns: str | None = None) -> Element | None:
        return parent.find(qn(ns or self.ns, local))

    def req(self, parent: Element, local: str, ns: str | None = None) -> Element:
        found = parent.find(qn(ns or self.ns, local))
        if found is None:
            raise TransformError(f"{path_of(parent)}: required element '{local}' is missing")
        return found

    def all(self, parent: Element, local: str, ns: str | None = None) -> list[Element]:
        return parent.findall(qn(ns or self.ns, local))

    def text(self, parent: Element, local: str, ns: str | None = None) -> str | None:
        found = self.opt(parent, local, ns)
        return None if found is None else (found.text or "")

    def req_text(self, parent: Element, local: str, ns: str | None = None) -> str:
        return self.req(parent, local, ns).text or ""


def lookup(table: Mapping[str, T], el: Element, what: str) -> T:
    """``table[el.text]``, or an error naming the element when the value is not in the table."""
    value = el.text or ""
    if value not in table:
        raise TransformError(f"{path_of(el)}: unknown {what} '{value}' (expected one of {', '.join(table)})")
    return table[value]


def parse_bool(value: str, where: str) -> bool:
    token = value.strip()
    if token in ("true", "1"):
        return True
    if token in ("false", "0"):
        return False
    raise TransformError(f"{where}: '{value}' is not a boolean (true/false/1/0)")


def bool_text(value: bool) -> str:
    return "true" if value else "false"


# --------------------------------------------------------------------------------------------
# Value conversions shared by the legacy formats

_DATETIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$")


def v3_timestamp(value: str, where: str) -> str:
    """A legacy xs:dateTime as the v3 TimeStampType (``YYYY-MM-DDThh:mm:ss``).

    Fractions of a second and a zone designator are dropped: the v3 type has neither and the
    certificate's times are Swedish wall-clock times. The exact lexical form travels in the
    carrier when it differs.
    """
    m = _DATETIME.match(value.strip())
    if m is None:
        raise TransformError(f"{where}: '{value}' is not a date and time (YYYY-MM-DDThh:mm:ss)")
    return m.group(1)


def person_id_digits(root: str, extension: str, where: str) -> str:
    """The 12-digit v3 person id of a personnummer/samordningsnummer written with or without '-'
    (or '+', which marks a person aged 100 or more)."""
    if root not in (PERSONNUMMER_ROOT, SAMORDNINGSNUMMER_ROOT):
        raise TransformError(
            f"{where}: root '{root}' is neither personnummer ({PERSONNUMMER_ROOT}) nor "
            f"samordningsnummer ({SAMORDNINGSNUMMER_ROOT}); the v3 form holds no other identifiers"
        )
    digits = re.sub(r"^(\d{8})[-+]", r"\1", extension.strip())
    if not re.fullmatch(r"\d{12}", digits):
        raise TransformError(f"{where}: '{extension}' is not a 12-digit person id (YYYYMMDDNNNN or YYYYMMDD-NNNN)")
    return digits


def person_id_dashed(digits: str) -> str:
    """The legacy spelling the reference service wrote: ``YYYYMMDD-NNNN``."""
    return f"{digits[:8]}-{digits[8:]}" if re.fullmatch(r"\d{12}", digits) else digits


def split_name(full: str) -> tuple[str, str]:
    """(förnamn, efternamn) of a full name: the last word is taken as the family name."""
    words = full.split()
    if not words:
        return "", ""
    return " ".join(words[:-1]), words[-1]


def join_name(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)


# --------------------------------------------------------------------------------------------
# The v3 certificate header (everything in ``intyg`` before ``svar``)


@dataclass
class Vardgivare:
    id: str
    namn: str


@dataclass
class Enhet:
    id: str
    arbetsplatskod: str
    namn: str
    postadress: str
    postnummer: str
    postort: str
    telefonnummer: str
    epost: str | None
    vardgivare: Vardgivare


@dataclass(frozen=True)
class Befattning:
    """A professional title of the v3 form: its code and, when known, its text (displayName)."""

    code: str
    display_name: str | None = None


@dataclass
class HosPersonal:
    id: str
    namn: str
    forskrivarkod: str | None
    enhet: Enhet
    befattningar: list[Befattning] = field(default_factory=list)
    # (code, displayName) pairs
    specialistkompetenser: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass
class Patient:
    id_root: str
    id: str  # 12 digits
    fornamn: str
    efternamn: str
    postadress: str
    postnummer: str
    postort: str
    mellannamn: str | None = None


@dataclass
class Header:
    intyg_id_root: str
    intyg_id: str
    type_code: str
    type_name: str
    version: str
    signed: str | None
    sent: str | None
    patient: Patient
    author: HosPersonal


def _ii(parent: Element, local: str, root: str, extension: str) -> None:
    ii = add(parent, GN, local)
    add(ii, TP, "root", root)
    add(ii, TP, "extension", extension)


def new_certificate(header: Header) -> tuple[Element, Element]:
    """A RegisterCertificate v3 payload with the header filled in; returns (payload, intyg)."""
    payload = etree.Element(qn(RC, "RegisterCertificate"), nsmap={"rg": RC, "gn": GN, "tp": TP})
    intyg = add(payload, RC, "intyg")
    _ii(intyg, "intygs-id", header.intyg_id_root, header.intyg_id)
    typ = add(intyg, GN, "typ")
    add(typ, TP, "code", header.type_code)
    add(typ, TP, "codeSystem", KV_INTYGSTYP)
    add(typ, TP, "displayName", header.type_name)
    add(intyg, GN, "version", header.version)
    if header.signed is not None:
        add(intyg, GN, "signeringstidpunkt", header.signed)
    if header.sent is not None:
        add(intyg, GN, "skickatTidpunkt", header.sent)

    p = header.patient
    patient = add(intyg, GN, "patient")
    _ii(patient, "person-id", p.id_root, p.id)
    add(patient, GN, "fornamn", p.fornamn)
    add(patient, GN, "efternamn", p.efternamn)
    if p.mellannamn is not None:
        add(patient, GN, "mellannamn", p.mellannamn)
    add(patient, GN, "postadress", p.postadress)
    add(patient, GN, "postnummer", p.postnummer)
    add(patient, GN, "postort", p.postort)

    a = header.author
    author = add(intyg, GN, "skapadAv")
    _ii(author, "personal-id", HSA_ROOT, a.id)
    add(author, GN, "fullstandigtNamn", a.namn)
    if a.forskrivarkod is not None:
        add(author, GN, "forskrivarkod", a.forskrivarkod)
    for befattning in a.befattningar:
        b = add(author, GN, "befattning")
        add(b, TP, "code", befattning.code)
        add(b, TP, "codeSystem", BEFATTNING_CODE_SYSTEM)
        if befattning.display_name is not None:
            add(b, TP, "displayName", befattning.display_name)
    e = a.enhet
    enhet = add(author, GN, "enhet")
    _ii(enhet, "enhets-id", HSA_ROOT, e.id)
    _ii(enhet, "arbetsplatskod", ARBETSPLATSKOD_ROOT, e.arbetsplatskod)
    add(enhet, GN, "enhetsnamn", e.namn)
    add(enhet, GN, "postadress", e.postadress)
    add(enhet, GN, "postnummer", e.postnummer)
    add(enhet, GN, "postort", e.postort)
    add(enhet, GN, "telefonnummer", e.telefonnummer)
    if e.epost is not None:
        add(enhet, GN, "epost", e.epost)
    vg = add(enhet, GN, "vardgivare")
    _ii(vg, "vardgivare-id", HSA_ROOT, e.vardgivare.id)
    add(vg, GN, "vardgivarnamn", e.vardgivare.namn)
    for code, display in a.specialistkompetenser:
        s = add(author, GN, "specialistkompetens")
        add(s, TP, "code", code)
        if display is not None:
            add(s, TP, "displayName", display)
    return payload, intyg


_V3 = Reader(GN)


def intyg_of(payload: Element) -> Element:
    if payload.tag != qn(RC, "RegisterCertificate"):
        raise TransformError(f"{path_of(payload)}: expected a RegisterCertificate v3 payload ({RC})")
    return _V3.req(payload, "intyg", RC)


def _read_ii_extension(parent: Element, local: str) -> str:
    return _V3.req_text(_V3.req(parent, local), "extension", TP)


def require_type(payload: Element, header: Header, codes: Sequence[str]) -> None:
    """The certificate is of one of these type codes (compared case-insensitively)."""
    if header.type_code.strip().upper() not in {c.upper() for c in codes}:
        raise TransformError(
            f"{path_of(intyg_of(payload))}: certificate type '{header.type_code}' is not {' or '.join(codes)}"
        )


def read_hos_personal(a: Element) -> HosPersonal:
    """A v3 ``HosPersonal`` element (skapadAv, skickatAv)."""
    e = _V3.req(a, "enhet")
    vg = _V3.req(e, "vardgivare")
    return HosPersonal(
        id=_read_ii_extension(a, "personal-id"),
        namn=_V3.req_text(a, "fullstandigtNamn"),
        forskrivarkod=_V3.text(a, "forskrivarkod"),
        befattningar=[Befattning(_V3.req_text(b, "code", TP), _V3.text(b, "displayName", TP)) for b in _V3.all(a, "befattning")],
        specialistkompetenser=[
            (_V3.req_text(s, "code", TP), _V3.text(s, "displayName", TP)) for s in _V3.all(a, "specialistkompetens")
        ],
        enhet=Enhet(
            id=_read_ii_extension(e, "enhets-id"),
            arbetsplatskod=_read_ii_extension(e, "arbetsplatskod"),
            namn=_V3.req_text(e, "enhetsnamn"),
            postadress=_V3.req_text(e, "postadress"),
            postnummer=_V3.req_text(e, "postnummer"),
            postort=_V3.req_text(e, "postort"),
            telefonnummer=_V3.req_text(e, "telefonnummer"),
            epost=_V3.text(e, "epost"),
            vardgivare=Vardgivare(id=_read_ii_extension(vg, "vardgivare-id"), namn=_V3.req_text(vg, "vardgivarnamn")),
        ),
    )


def read_header(payload: Element) -> Header:
    """The header of a RegisterCertificate v3 payload (schema-valid input assumed for types)."""
    intyg = intyg_of(payload)
    ident = _V3.req(intyg, "intygs-id")
    typ = _V3.req(intyg, "typ")
    p = _V3.req(intyg, "patient")
    pid = _V3.req(p, "person-id")
    patient = Patient(
        id_root=_V3.req_text(pid, "root", TP),
        id=_V3.req_text(pid, "extension", TP),
        fornamn=_V3.req_text(p, "fornamn"),
        efternamn=_V3.req_text(p, "efternamn"),
        mellannamn=_V3.text(p, "mellannamn"),
        postadress=_V3.req_text(p, "postadress"),
        postnummer=_V3.req_text(p, "postnummer"),
        postort=_V3.req_text(p, "postort"),
    )
    author = read_hos_personal(_V3.req(intyg, "skapadAv"))
    return Header(
        intyg_id_root=_V3.req_text(ident, "root", TP),
        intyg_id=_V3.req_text(ident, "extension", TP),
        type_code=_V3.req_text(typ, "code", TP),
        type_name=_V3.text(typ, "displayName", TP) or "",
        version=_V3.req_text(intyg, "version"),
        signed=_V3.text(intyg, "signeringstidpunkt"),
        sent=_V3.text(intyg, "skickatTidpunkt"),
        patient=patient,
        author=author,
    )


# --------------------------------------------------------------------------------------------
# Answers (svar/delsvar)


class Answers:
    """Writes ``svar`` elements into an ``intyg``, in ascending id order (instans within an id)."""

    def __init__(self) -> None:
        self._svar: list[tuple[int, int, Element]] = []

    def svar(self, svar_id: str, instans: int | None = None) -> Element:
        el = etree.Element(qn(GN, "svar"), id=svar_id)
        if instans is not None:
            add(el, GN, "instans", str(instans))
        self._svar.append((int(svar_id), instans or 0, el))
        return el

    def single(self, svar_id: str) -> Element:
        """The svar (without instans) with this id, created on first use."""
        for number, instans, el in self._svar:
            if number == int(svar_id) and instans == 0:
                return el
        return self.svar(svar_id)

    def write_into(self, intyg: Element) -> None:
        for _, _, el in sorted(self._svar, key=lambda t: (t[0], t[1])):
            intyg.append(el)


def delsvar(svar: Element, delsvar_id: str, text: str | None = None) -> Element:
    d = add(svar, GN, "delsvar", id=delsvar_id)
    if text is not None:
        d.text = text
    return d


def delsvar_cv(
    svar: Element,
    delsvar_id: str,
    code: str,
    code_system: str,
    display_name: str | None = None,
    code_system_name: str | None = None,
    code_system_version: str | None = None,
) -> Element:
    d = delsvar(svar, delsvar_id)
    cv = add(d, TP, "cv")
    add(cv, TP, "code", code)
    add(cv, TP, "codeSystem", code_system)
    # CVType order: code, codeSystem, codeSystemName, codeSystemVersion, displayName.
    if code_system_name is not None:
        add(cv, TP, "codeSystemName", code_system_name)
    if code_system_version is not None:
        add(cv, TP, "codeSystemVersion", code_system_version)
    if display_name is not None:
        add(cv, TP, "displayName", display_name)
    return d


def delsvar_period(svar: Element, delsvar_id: str, start: str, end: str) -> Element:
    d = delsvar(svar, delsvar_id)
    period = add(d, TP, "datePeriod")
    add(period, TP, "start", start)
    add(period, TP, "end", end)
    return d


def delsvar_year(svar: Element, delsvar_id: str, year: str) -> Element:
    d = delsvar(svar, delsvar_id)
    partial = add(d, TP, "partialDate")
    add(partial, TP, "format", "YYYY")
    add(partial, TP, "value", year)
    return d


@dataclass(frozen=True)
class Code:
    """A coded value of a ``cv`` delsvar."""

    code: str
    code_system: str
    display_name: str | None = None
    code_system_name: str | None = None
    code_system_version: str | None = None


class AnswerView:
    """Reads the ``svar`` of a v3 ``intyg`` by id; every accessor validates the value's shape."""

    def __init__(self, intyg: Element) -> None:
        self._by_id: dict[str, list[Element]] = {}
        for svar in _V3.all(intyg, "svar"):
            self._by_id.setdefault(svar.get("id", ""), []).append(svar)
        for group in self._by_id.values():
            group.sort(key=self._instans)

    @staticmethod
    def _instans(svar: Element) -> int:
        text = _V3.text(svar, "instans")
        try:
            return int(text) if text is not None else 0
        except ValueError:
            raise TransformError(f"{path_of(svar)}: instans '{text}' is not an integer") from None

    def all(self, svar_id: str) -> list[Element]:
        return self._by_id.get(svar_id, [])

    def one(self, svar_id: str) -> Element | None:
        found = self.all(svar_id)
        if len(found) > 1:
            raise TransformError(f"{path_of(found[1])}: svar '{svar_id}' may occur only once")
        return found[0] if found else None

    def has(self, svar_id: str) -> bool:
        return svar_id in self._by_id

    @staticmethod
    def delsvar(svar: Element | None, delsvar_id: str) -> Element | None:
        if svar is None:
            return None
        for d in _V3.all(svar, "delsvar"):
            if d.get("id") == delsvar_id:
                return d
        return None

    def find(self, delsvar_id: str) -> Element | None:
        """The delsvar of a svar that occurs at most once."""
        return self.delsvar(self.one(delsvar_id.split(".")[0]), delsvar_id)

    def text(self, delsvar_id: str, svar: Element | None = None) -> str | None:
        d = self.find(delsvar_id) if svar is None else self.delsvar(svar, delsvar_id)
        if d is None:
            return None
        if elements(d):
            raise TransformError(f"{path_of(d)}: delsvar '{delsvar_id}' must hold plain text")
        return d.text or ""

    def boolean(self, delsvar_id: str, svar: Element | None = None) -> bool | None:
        d = self.find(delsvar_id) if svar is None else self.delsvar(svar, delsvar_id)
        if d is None:
            return None
        return parse_bool(d.text or "", path_of(d))

    def is_true(self, delsvar_id: str) -> bool:
        return self.boolean(delsvar_id) is True

    def code(self, delsvar_id: str, svar: Element | None = None) -> Code | None:
        d = self.find(delsvar_id) if svar is None else self.delsvar(svar, delsvar_id)
        if d is None:
            return None
        cv = d.find(qn(TP, "cv"))
        if cv is None:
            raise TransformError(f"{path_of(d)}: delsvar '{delsvar_id}' must hold a cv element")
        return Code(
            code=(_V3.req_text(cv, "code", TP)).strip(),
            code_system=(_V3.req_text(cv, "codeSystem", TP)).strip(),
            display_name=_V3.text(cv, "displayName", TP),
            code_system_name=_V3.text(cv, "codeSystemName", TP),
            code_system_version=_V3.text(cv, "codeSystemVersion", TP),
        )

    def period(self, delsvar_id: str, svar: Element) -> tuple[str, str]:
        d = self.delsvar(svar, delsvar_id)
        period = None if d is None else d.find(qn(TP, "datePeriod"))
        if d is None or period is None:
            raise TransformError(f"{path_of(svar)}: delsvar '{delsvar_id}' with a datePeriod is required")
        return _V3.req_text(period, "start", TP), _V3.req_text(period, "end", TP)

    def year(self, delsvar_id: str) -> str | None:
        d = self.find(delsvar_id)
        if d is None:
            return None
        partial = d.find(qn(TP, "partialDate"))
        if partial is None:
            raise TransformError(f"{path_of(d)}: delsvar '{delsvar_id}' must hold a partialDate")
        return _V3.req_text(partial, "value", TP)
