"""Namespaces, the hardened XML parser, and small element builders shared by all contracts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, cast

from lxml import etree

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
REGISTRY = "urn:riv:itintegration:registry:1"
WSA = "http://www.w3.org/2005/08/addressing"
CORE = "urn:riv:clinicalprocess:healthcond:certificate:3"
TYPES = "urn:riv:clinicalprocess:healthcond:certificate:types:3"
CORE_32 = "urn:riv:clinicalprocess:healthcond:certificate:3.2"
XMLDSIG = "http://www.w3.org/2000/09/xmldsig#"
# The result structures of the legacy families: insuranceprocess ResultOfCall, Transportstyrelsen ResultatTyp.
HEALTHREPORTING = "urn:riv:insuranceprocess:healthreporting:2"
TS_SERVICES = "urn:local:se:intygstjanster:services:1"

NS = {"soap": SOAP11, "core": CORE, "types": TYPES, "reg": REGISTRY, "wsa": WSA}

# Code systems of the certificate domain (KV_PART, KV_STATUS, KV_RELATION).
PART_CODE_SYSTEM = "769bb12b-bd9f-4203-a5cd-fd14f2eb3b80"
STATUS_CODE_SYSTEM = "9871cd17-8755-4ed9-b894-ff3729e775a4"
RELATION_CODE_SYSTEM = "c2362fcd-eda0-4f9a-bd13-b3bbaf7f2146"


@dataclass(frozen=True)
class ParseLimits:
    """What one request document may hold; each is counted while parsing, so a document over a limit
    is refused as soon as the parser reaches the breach, with a Fault naming the limit.

    The field names are those of the settings (``ParseLimits.of(settings)``)."""

    max_body_bytes: int = 10 * 1024 * 1024
    max_depth: int = 100
    max_elements: int = 200_000
    max_namespace_declarations: int = 1_000
    max_attributes: int = 200_000
    max_attributes_per_element: int = 50
    max_name_length: int = 1_000
    max_attribute_length: int = 10_000

    @classmethod
    def of(cls, settings: object) -> ParseLimits:
        """The limits from anything with attributes of the same names (the settings)."""
        return cls(**{field.name: getattr(settings, field.name) for field in fields(cls)})


class UnsafeXml(ValueError):
    """The document was refused before or while parsing; the message says which rule it broke."""


_DTD_REFUSED = "the message contains a document type declaration (DTD), which SOAP does not allow"
_PROLOG_CHUNK = 512
# A SOAP Header is a few hundred bytes: fed in chunks this small, the parser stops soon after it.
_PREFIX_CHUNK = 4096
# libxml2's push parser does not recognise a UTF-32 byte-order mark, but does detect UTF-32 from the
# first '<' once the mark is gone.
_UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
# The encodings whose markup is not ASCII bytes, by the document's first four bytes (XML 1.0 appendix F).
_WIDE_ENCODINGS = {
    b"\xff\xfe\x00\x00": "utf-32-le",
    b"\x00\x00\xfe\xff": "utf-32-be",
    b"<\x00\x00\x00": "utf-32-le",
    b"\x00\x00\x00<": "utf-32-be",
    b"\xff\xfe": "utf-16-le",
    b"\xfe\xff": "utf-16-be",
    b"<\x00?\x00": "utf-16-le",
    b"\x00<\x00?": "utf-16-be",
}


class _Refused(Exception):
    """Raised by the resolver: the parser asked for an external resource."""


class _RefuseEverything(etree.Resolver):
    """Every external resource (DTD subset, parameter or general entity, whatever its URL) is refused
    before anything is opened: libxml2 asks for the external subset even with ``load_dtd=False``."""

    # lxml passes the context too; lxml-stubs leave it out.
    def resolve(self, system_url: str, public_id: str, context: object) -> None:  # type: ignore[override]
        raise _Refused()


def _new_parser(target: object = None) -> etree.XMLParser:
    # No DTD loading, no entity expansion, no network, no huge-tree mode (which also keeps libxml2's
    # own depth and text-size guards on). XInclude is never run on request documents. A parser per
    # document: a parser with a resolver is not safe to share between threads. With a ``target``,
    # the events go to it instead of building a tree.
    # lxml calls only the target methods that exist; lxml-stubs require all of them.
    parser = etree.XMLParser(
        target=target,  # type: ignore[arg-type]
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
        remove_blank_text=False,
    )
    parser.resolvers.add(_RefuseEverything())
    return parser


class _Doctype(Exception):
    """The prolog holds a document type declaration."""


class StopReading(Exception):
    """Raised by a :meth:`HardenedParser.read_prefix` target: it has read what it needed."""


class _RootReached(Exception):
    """The prolog ended without one."""


class _Prolog:
    """A parser target that stops at the DOCTYPE (before its internal subset is read) or at the root."""

    def doctype(self, name: str, public_id: str | None, system_url: str | None) -> None:
        raise _Doctype()

    def start(self, tag: str, attrib: object) -> None:
        raise _RootReached()

    def close(self) -> None:
        return None


def _has_doctype(data: bytes) -> bool:
    """Whether the parser meets a DOCTYPE before the root element (on a document that did not parse,
    to say why: only the prolog is read, and nothing it refers to is loaded)."""
    parser = _new_parser(_Prolog())
    try:
        for offset in range(0, len(data), _PROLOG_CHUNK):
            parser.feed(data[offset : offset + _PROLOG_CHUNK])
        parser.close()
    except _Doctype:
        return True
    except (_RootReached, _Refused, etree.XMLSyntaxError):
        return False
    return False


def _markup(data: bytes) -> bytes:
    """``data`` in an ASCII-compatible encoding, for counting markup characters."""
    for mark, codec in _WIDE_ENCODINGS.items():
        if data.startswith(mark):
            return data.decode(codec, errors="replace").encode("utf-8", errors="replace")
    return data


class HardenedParser:
    """Parses bytes from the network, refusing DTDs, external resources and documents over the limits.

    Before libxml2 sees the document, a linear count of its markup bounds the elements, namespace
    declarations and attributes (the counts are upper bounds: markup characters inside text or CDATA
    count too), so a flood costs one pass over the bytes; what a count cannot bound (depth, attributes
    per element, name and value lengths) is checked on the tree by XPath compiled once, inside libxml2.
    A DTD is found by the parser itself, in any encoding it reads: a request for an external resource
    is refused by the resolver before anything is opened, an internal subset by the document's DTD
    node; text that merely contains ``<!DOCTYPE`` is text.
    """

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self._too_deep = etree.XPath("boolean(/" + "/".join(["*"] * (limits.max_depth + 1)) + ")")
        # A '<' followed by more name characters than allowed: an over-long element name.
        self._long_name = re.compile(rb"<[^\s/>=<]{%d}" % (limits.max_name_length + 2))
        # One pass over the attributes for all three checks below (an attribute's position on the
        # attribute axis is its place on its element), a quarter of their cost; only a document
        # that breaks one of them goes through them one by one, to be told which.
        self._attribute_problem = etree.XPath(
            f"boolean(//@*[position() > {limits.max_attributes_per_element}"
            f" or string-length(local-name()) > {limits.max_name_length} or string-length(.) > {limits.max_attribute_length}])"
        )
        self._attribute_checks = [
            (
                etree.XPath(f"boolean(//*[count(@*) > {limits.max_attributes_per_element}])"),
                f"an element has more than {limits.max_attributes_per_element} attributes (limit max_attributes_per_element)",
            ),
            (
                etree.XPath(f"boolean(//@*[string-length(local-name()) > {limits.max_name_length}])"),
                f"an attribute name is longer than {limits.max_name_length} characters (limit max_name_length)",
            ),
            (
                etree.XPath(f"boolean(//@*[string-length(.) > {limits.max_attribute_length}])"),
                f"an attribute value is longer than {limits.max_attribute_length} characters (limit max_attribute_length)",
            ),
        ]

    def parse(self, data: bytes) -> etree._Element:
        limits = self.limits
        if len(data) > limits.max_body_bytes:
            raise UnsafeXml(f"the message is {len(data)} bytes, more than the limit of {limits.max_body_bytes}")
        self._prescan(data)
        if data[:4] in _UTF32_BOMS:
            data = data[4:]
        try:
            root = etree.fromstring(data, _new_parser())
        except _Refused:
            raise UnsafeXml(_DTD_REFUSED) from None
        except etree.XMLSyntaxError as exc:
            if _has_doctype(data):
                # Whatever went wrong inside a DTD (an entity expanding too far, say), the DTD is the fault.
                raise UnsafeXml(_DTD_REFUSED) from None
            if "Excessive depth" in exc.msg:
                # libxml2's own guard (256 levels without huge_tree) fired before ours could.
                raise UnsafeXml(f"the message is nested deeper than the limit of {limits.max_depth} levels") from None
            raise UnsafeXml(f"the message is not well-formed XML: {exc.msg}") from None
        docinfo = root.getroottree().docinfo
        # lxml-stubs lack DocInfo.doctype (a str, empty without a DOCTYPE).
        if docinfo.doctype or docinfo.internalDTD is not None:  # type: ignore[union-attr]
            raise UnsafeXml(_DTD_REFUSED)
        if self._too_deep(root):
            raise UnsafeXml(f"the message is nested deeper than the limit of {limits.max_depth} levels")
        self._check_attributes(root)
        return root

    def read_prefix(self, data: bytes, target: object) -> bool:
        """Feed ``data`` to a parser ``target`` until the target raises :class:`StopReading` (True)
        or the document ends or breaks (False: a full :meth:`parse` says why, if anything is wrong).

        For what can be decided from the start of a document (the SOAP Header) without building its
        tree: the limits are counted over the bytes first, as for :meth:`parse`; a DOCTYPE or an
        external resource ends the reading before anything is opened (the target should refuse a
        DOCTYPE by raising anything but StopReading).
        """
        if len(data) > self.limits.max_body_bytes:
            return False
        self._prescan(data)
        if data[:4] in _UTF32_BOMS:
            data = data[4:]
        parser = _new_parser(target)
        try:
            for offset in range(0, len(data), _PREFIX_CHUNK):
                parser.feed(data[offset : offset + _PREFIX_CHUNK])
            parser.close()
        except StopReading:
            return True
        except Exception:
            # A syntax error, an external resource refused, a DOCTYPE the target refused: the full
            # parse says what is wrong, with the same Fault as for any other document.
            return False
        return False

    def _check_attributes(self, root: etree._Element) -> None:
        """Attributes per element, attribute names and values: exact, by XPath inside libxml2 (which
        lets other threads run meanwhile, and builds no Python object per attribute)."""
        if not self._attribute_problem(root):
            return
        for check, message in self._attribute_checks:
            if check(root):
                raise UnsafeXml(message)

    def _prescan(self, data: bytes) -> None:
        limits = self.limits
        markup = _markup(data)
        # A count cannot exceed the bytes counted over: a document shorter than a limit is not
        # counted for it (an ordinary call is far below the element and attribute limits).
        size = len(markup)
        if size > limits.max_elements and markup.count(b"<") - markup.count(b"</") > limits.max_elements:
            raise UnsafeXml(f"the message has more than {limits.max_elements} elements (limit max_elements)")
        if size > 5 * limits.max_namespace_declarations and markup.count(b"xmlns") > limits.max_namespace_declarations:
            raise UnsafeXml(
                f"the message declares more than {limits.max_namespace_declarations} namespaces (limit max_namespace_declarations)"
            )
        # Every attribute and declaration has a '=' (text may hold more): counted in C without a
        # match object per attribute.
        most_attributes = limits.max_attributes + limits.max_namespace_declarations
        if size > most_attributes and markup.count(b"=") > most_attributes:
            raise UnsafeXml(f"the message has more than {limits.max_attributes} attributes (limit max_attributes)")
        if size > limits.max_name_length + 1 and self._long_name.search(markup):
            raise UnsafeXml(f"an element name is longer than {limits.max_name_length} characters (limit max_name_length)")


@lru_cache(maxsize=512)
def _compiled(path: str) -> etree.XPath:
    return etree.XPath(path, namespaces=NS, smart_strings=False)


def text_of(element: etree._Element | None, path: str) -> str | None:
    """The stripped text of the first element at ``path`` below ``element``, or None.

    ``path`` uses the prefixes of NS (or ``{*}`` wildcards). Prefixed paths run as compiled XPath:
    on the request path this is three times cheaper than ElementPath's ``find``.
    """
    if element is None:
        return None
    if "{" in path:
        found = element.find(path, NS)
    else:
        matches = cast(list[etree._Element], _compiled(path)(element))
        found = matches[0] if matches else None
    if found is None or found.text is None:
        return None
    return found.text.strip()


def sub(parent: etree._Element, tag: str, text: Any = None) -> etree._Element:
    child = etree.SubElement(parent, tag)
    if text is not None:
        child.text = str(text)
    return child


def cv(parent: etree._Element, tag: str, code: str, code_system: str, display: str | None = None) -> etree._Element:
    """A coded value in the types:3 namespace (code, codeSystem, optional displayName)."""
    element = sub(parent, tag)
    sub(element, f"{{{TYPES}}}code", code)
    sub(element, f"{{{TYPES}}}codeSystem", code_system)
    if display:
        sub(element, f"{{{TYPES}}}displayName", display)
    return element


def element(tag: str, nsmap: Mapping[str | None, str]) -> etree._Element:
    """A new root element declaring ``nsmap``, where the key None is the default namespace."""
    # lxml takes None for the default namespace; lxml-stubs declare the map's keys as str only.
    return etree.Element(tag, nsmap=nsmap)  # type: ignore[arg-type]


def is_element(node: etree._Element) -> bool:
    """Whether ``node`` is an element rather than a comment or processing instruction (whose tag is
    a function; lxml-stubs declare every tag a str)."""
    return isinstance(node.tag, str)


@dataclass(frozen=True)
class SchemaError:
    path: str
    line: int
    message: str


def schema_errors(schema: etree.XMLSchema) -> list[SchemaError]:
    """What ``schema``'s last validation found, in document order."""
    # lxml's error log is a sequence of entries; lxml-stubs declare it without any member.
    entries: Iterable[Any] = schema.error_log  # type: ignore[assignment]
    return [SchemaError(str(entry.path), int(entry.line), str(entry.message)) for entry in entries]
