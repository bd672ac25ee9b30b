"""Shared machinery of the format conversions: XML helpers, the v3 certificate header, the
canonical form used to decide whether two documents are "equal", and the legacy carrier.

Why a carrier
-------------
The legacy formats (RegisterMedicalCertificate v3, RegisterTSBas v1, RegisterTSDiabetes v1) can
say things the RegisterCertificate v3 form cannot: a timestamp with milliseconds or a time zone,
a person id written with a dash, an optional element present but empty, elements in an order the
v3 form does not keep, "not stated" versus an explicit "false", extension elements, ...

Each converter maps every field the v3 form can hold into the v3 form (``svar``/``delsvar``).
What is left is computed, not guessed: the converter rebuilds the legacy document from the v3
form alone (``built``), compares it with the original, and stores only the difference, as a small
edit script, in a ``legacy`` element of this project's own namespace. The v3 schema admits it as
an ``xs:any namespace="##other"`` child of ``RegisterCertificate`` (after ``intyg``); it is never
sent to a recipient in the v3 format (:func:`strip_carrier`).

Going back, the converter rebuilds ``built`` from the v3 form and applies the edit script. The
script names the digest of the ``built`` document it was computed against, so a script is never
applied to a different document (e.g. after a change of the mapping code): that is an error, not
a silently wrong certificate. Consequently the rebuild of a stored certificate must not change
between releases without a new ``MAPPING`` version in the converter module.

Equality
--------
Two documents are equal when their canonical forms (:func:`canonical`) are byte-identical:
exclusive XML Canonicalization 2.0 with namespace prefixes rewritten to ``n0, n1, ...`` (so
prefixes and where namespaces are declared do not matter), comments and processing instructions
left out, and whitespace-only text removed where an element has element children (element-only
content: indentation). Every element, attribute and text value counts, including whitespace inside
a text value and the order of elements.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Sequence
from copy import deepcopy
from dataclasses import dataclass, field

from lxml import etree

Element = etree._Element

# --------------------------------------------------------------------------------------------
# Namespaces of the v3 certificate form

RC = "urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3"
GN = "urn:riv:clinicalprocess:healthcond:certificate:3"
TP = "urn:riv:clinicalprocess:healthcond:certificate:types:3"
CARRIER = "urn:x-intygstjanst:legacy-carrier:1"

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
    """The 12-digit v3 person id of a personnummer/samordningsnummer written with or without '-'."""
    if root not in (PERSONNUMMER_ROOT, SAMORDNINGSNUMMER_ROOT):
        raise TransformError(
            f"{where}: root '{root}' is neither personnummer ({PERSONNUMMER_ROOT}) nor "
            f"samordningsnummer ({SAMORDNINGSNUMMER_ROOT}); the v3 form holds no other identifiers"
        )
    digits = extension.strip().replace("-", "")
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


@dataclass
class HosPersonal:
    id: str
    namn: str
    forskrivarkod: str | None
    enhet: Enhet
    befattningar: list[str] = field(default_factory=list)
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
        add(b, TP, "code", befattning)
        add(b, TP, "codeSystem", BEFATTNING_CODE_SYSTEM)
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
        befattningar=[_V3.req_text(b, "code", TP) for b in _V3.all(a, "befattning")],
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


# --------------------------------------------------------------------------------------------
# Canonical form


def significant_copy(el: Element) -> Element:
    """A deep copy holding only the compared information (see the module notes on equality)."""
    copy = deepcopy(el)
    copy.tail = None
    for node in list(copy.iter(etree.Comment, etree.ProcessingInstruction)):
        _remove_keeping_tail(node)
    for node in copy.iter():
        if len(node):
            if node.text is not None and not node.text.strip():
                node.text = None
            for child in node:
                if child.tail is not None and not child.tail.strip():
                    child.tail = None
    return copy


def _remove_keeping_tail(node: Element) -> None:
    parent = node.getparent()
    if parent is None:
        return
    if node.tail:
        previous = node.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + node.tail
        else:
            parent.text = (parent.text or "") + node.tail
    parent.remove(node)


def canonical(el: Element) -> bytes:
    """The canonical form two documents are compared by."""
    return etree.canonicalize(significant_copy(el), rewrite_prefixes=True, with_comments=False).encode("utf-8")


def equivalent(a: Element, b: Element) -> bool:
    return canonical(a) == canonical(b)


def digest(el: Element) -> str:
    return "sha256:" + hashlib.sha256(canonical(el)).hexdigest()


# --------------------------------------------------------------------------------------------
# Edit scripts: the difference between a rebuilt legacy document and the original


def _text(el: Element) -> str:
    """Significant text; None and "" are the same value in the canonical form."""
    if elements(el) and (el.text is None or not el.text.strip()):
        return ""
    return el.text or ""


def _tail(el: Element) -> str:
    return "" if el.tail is None or not el.tail.strip() else el.tail


def _child_key(el: Element) -> tuple[bytes, str]:
    return canonical(el), _tail(el)


def _shape_key(el: Element) -> tuple[str, str]:
    return str(el.tag), _tail(el)


def _c(local: str) -> str:
    return qn(CARRIER, local)


def make_edit(built: Element, original: Element) -> Element | None:
    """An edit script turning ``built`` into ``original`` (same tag), or None when they are equal.

    Children are aligned on their canonical forms (difflib), so moved or extra elements cost one
    verbatim copy each and equal subtrees cost nothing; unequal children with the same tag are
    edited recursively, which keeps a changed value down to the value itself.
    """
    if built.tag != original.tag:
        raise TransformError(f"{path_of(original)}: cannot express a change of root element")
    edit = etree.Element(_c("edit"))
    if _text(built) != _text(original):
        add(edit, CARRIER, "text", _text(original))
    for name in sorted(str(n) for n in set(built.attrib) | set(original.attrib)):
        if built.get(name) != original.get(name):
            attr = add(edit, CARRIER, "attribute", name=name)
            value = original.get(name)
            if value is not None:
                attr.set("value", value)
    ops = _children_ops(elements(built), elements(original))
    if ops is not None:
        edit.append(ops)
    return edit if len(edit) else None


def _children_ops(built: list[Element], original: list[Element]) -> Element | None:
    ops = etree.Element(_c("children"))
    matcher = difflib.SequenceMatcher(
        a=[_child_key(c) for c in built], b=[_child_key(c) for c in original], autojunk=False
    )
    changed = False
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _keep(ops, i2 - i1)
            continue
        changed = True
        if tag == "replace":
            _pair_block(ops, built[i1:i2], original[j1:j2])
        else:
            _drop(ops, i2 - i1)
            _insert(ops, original[j1:j2])
    if not changed:
        return None
    # A trailing keep is implied.
    while len(ops) and ops[-1].tag == _c("keep"):
        ops.remove(ops[-1])
    return ops


def _pair_block(ops: Element, built: Sequence[Element], original: Sequence[Element]) -> None:
    matcher = difflib.SequenceMatcher(
        a=[_shape_key(c) for c in built], b=[_shape_key(c) for c in original], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for b, o in zip(built[i1:i2], original[j1:j2]):
                sub = make_edit(b, o)
                if sub is None:
                    _keep(ops, 1)
                else:
                    ops.append(sub)
        else:
            _drop(ops, i2 - i1)
            _insert(ops, original[j1:j2])


def _keep(ops: Element, n: int) -> None:
    if n <= 0:
        return
    if len(ops) and ops[-1].tag == _c("keep"):
        ops[-1].set("n", str(int(ops[-1].get("n", "0")) + n))
    else:
        add(ops, CARRIER, "keep", n=str(n))


def _drop(ops: Element, n: int) -> None:
    if n > 0:
        add(ops, CARRIER, "drop", n=str(n))


def _insert(ops: Element, originals: Iterable[Element]) -> None:
    block = None
    for o in originals:
        if block is None:
            block = add(ops, CARRIER, "insert")
        copy = significant_copy(o)
        copy.tail = o.tail if _tail(o) else None
        block.append(copy)


def apply_edit(built: Element, edit: Element) -> Element:
    """``built`` with the edit script applied (``built`` itself is not changed)."""
    target = deepcopy(built)
    _apply(target, edit)
    return target


def _apply(target: Element, edit: Element) -> None:
    for op in elements(edit):
        if op.tag == _c("text"):
            target.text = op.text or None
        elif op.tag == _c("attribute"):
            name, value = op.get("name", ""), op.get("value")
            if value is None:
                if name in target.attrib:
                    del target.attrib[name]
            else:
                target.set(name, value)
        elif op.tag == _c("children"):
            _apply_children(target, op)
        else:
            raise TransformError(f"{path_of(op)}: unknown edit operation '{local_name(op)}'")


def _apply_children(target: Element, ops: Element) -> None:
    old = elements(target)
    new: list[Element] = []
    pos = 0

    def take(n: int) -> list[Element]:
        nonlocal pos
        if pos + n > len(old):
            raise TransformError(f"{path_of(target)}: the edit script does not fit this document")
        taken = old[pos : pos + n]
        pos += n
        return taken

    for op in elements(ops):
        if op.tag == _c("keep"):
            new.extend(take(int(op.get("n", "0"))))
        elif op.tag == _c("drop"):
            take(int(op.get("n", "0")))
        elif op.tag == _c("insert"):
            new.extend(deepcopy(c) for c in elements(op))
        elif op.tag == _c("edit"):
            (child,) = take(1)
            _apply(child, op)
            new.append(child)
        else:
            raise TransformError(f"{path_of(op)}: unknown edit operation '{local_name(op)}'")
    new.extend(old[pos:])
    for child in old:
        target.remove(child)
    target.extend(new)


# --------------------------------------------------------------------------------------------
# The carrier inside a v3 payload


def attach_carrier(payload: Element, fmt: str, mapping: str, built: Element, original: Element) -> None:
    """Store in ``payload`` what ``original`` has beyond ``built`` (nothing when they are equal).

    The result is checked before it is stored: applying the script to ``built`` must give back the
    original exactly, so a gap in the edit machinery fails loudly instead of losing data.
    """
    edit = make_edit(built, original)
    if edit is None:
        return
    if not equivalent(apply_edit(built, edit), original):
        raise TransformError(f"{path_of(original)}: internal error, the carried difference does not restore the original")
    carrier = etree.SubElement(payload, _c("legacy"), nsmap={"lc": CARRIER})
    carrier.set("format", fmt)
    carrier.set("mapping", mapping)
    carrier.set("base", digest(built))
    carrier.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    carrier.append(edit)


def find_carrier(payload: Element, fmt: str) -> Element | None:
    for carrier in payload.findall(_c("legacy")):
        if carrier.get("format") == fmt:
            return carrier
    return None


def restore(payload: Element, fmt: str, mapping: str, built: Element) -> Element:
    """The original legacy document: ``built`` plus the carried difference, if any."""
    carrier = find_carrier(payload, fmt)
    if carrier is None:
        return built
    if carrier.get("mapping") != mapping:
        raise TransformError(
            f"{path_of(carrier)}: carried with mapping version {carrier.get('mapping')!r}, this code has {mapping!r}"
        )
    if carrier.get("base") != digest(built):
        raise TransformError(
            f"{path_of(carrier)}: the certificate no longer matches the document the carried difference was made "
            "for (the v3 content was changed after conversion)"
        )
    edits = elements(carrier)
    if len(edits) != 1 or edits[0].tag != _c("edit"):
        raise TransformError(f"{path_of(carrier)}: expected exactly one edit element")
    return apply_edit(built, edits[0])


def strip_carrier(payload: Element) -> Element:
    """A copy of a v3 payload without this project's carrier, fit to send to a recipient."""
    copy = deepcopy(payload)
    for carrier in copy.findall(_c("legacy")):
        copy.remove(carrier)
    etree.cleanup_namespaces(copy)
    return copy


def has_carrier(payload: Element) -> bool:
    return payload.find(_c("legacy")) is not None
