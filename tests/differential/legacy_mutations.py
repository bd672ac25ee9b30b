"""Differential schema tests for the legacy and helper contract families.

The project's own XSDs must accept and reject exactly what the official ones
do. This module holds the machinery shared by the family test modules
(``test_insuranceprocess_*``, ``test_transportstyrelsen_*``,
``test_rehabilitation_*``, ``test_intyghelpers_*``): a description of each
contract (`Case`), sample loading (bare payloads or SOAP envelopes), a
deterministic corpus of mutations of valid base instances, verdict comparison,
WSDL checks and planted-fault checks that prove the corpus has teeth.

The mutations are schema-agnostic: they follow the shape of the instance
(which elements exist, which are leaves, which carry attributes) plus a few
names read from the official schema set (global elements and types,
attributes, codes), so they probe required/optional elements, ordering,
cardinality, namespaces, simple-type facets, wildcards and xsi:type without
restating either schema.

The certificate-domain suite (``mutations.py``) samples a fixed number of
edits per operator. These families need more: their schema sets carry many
declarations no message uses (whole older models behind lax wildcards), so
here every distinct edit is enumerated and the schema-derived probes are
added; the families are small enough for that to stay fast.
"""

from __future__ import annotations

import copy
import functools
import importlib
import itertools
import re
import shutil
import tempfile
import urllib.parse
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import zeep
from lxml import etree

from intygstjanst.tests.support import REPO_DIR, payload_of, shared_dir

WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WSA_TO = etree.QName("http://www.w3.org/2005/08/addressing", "To")
LOGICAL_ADDRESS = etree.QName("urn:riv:itintegration:registry:1", "LogicalAddress")
# A namespace no schema declares: an element moved here is "##other" to every contract.
FOREIGN_NS = "urn:example:differential:foreign"
# Replacement values for leaf elements and attributes. Each one probes a facet
# class: emptiness, whitespace handling, date/time lexical rules, booleans,
# numbers and ranges, enumerations, patterns and length.
LEAF_VALUES: tuple[str, ...] = (
    "",
    "   ",
    " padded ",
    "x" * 4000,
    "2011-13-45",
    "2011-02-30",
    "2013-08-12",
    "2013-08-12T15:57:00",
    "2013-08-12T15:57:00Z",
    "2013-08-12T24:00:01",
    "2013-08-12T15:57:00.123",
    "12-08-2013",
    "2013",
    "20130812",
    "true",
    "false",
    "1",
    "0",
    "yes",
    "TRUE",
    "-1",
    "15",
    "100",
    "101",
    "0.5",
    "1e3",
    "NaN",
    "INF",
    "abc",
    "UNKNOWN_CODE",
    "191212121212",
    "19121212-1212",
    # Non-ASCII decimal digits: \d admits them, [0-9] does not.
    "\u0661\u0669\u0661\u0662",
    "\u0662\u0660\u0661\u0663-\u0660\u0668-\u0661\u0662",
    "1.2.752.129.2.1.4.1",
)

# Text for foreign elements typed (xsi:type) with a simple type: one value per
# lexical space the contracts use, plus the type's own codes.
SIMPLE_TYPE_VALUES: tuple[str, ...] = (
    "",
    "abc",
    "1",
    "1.5",
    "2013-08-12",
    "2013-08-12T15:57:00",
    "2013-08-12T15:57:00.123",
    "191212121212",
    "\u0662\u0660\u0661\u0663",
)

# Same digits, other script: tells a \d pattern from a [0-9] one.
_ARABIC_INDIC_DIGITS = str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")

SHARED_DIR = shared_dir()


# --- contract cases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportFix:
    """Make `file` import `namespace` from `location`: redirect its existing xs:import, or add one."""

    file: str  # relative to the copied tree
    namespace: str
    location: str  # relative to `file`, or an absolute file: URI


@dataclass(frozen=True)
class OfficialFix:
    """Import corrections applied to a temporary copy of an official tree, never to the original."""

    tree: str  # directory under the shared tree that is copied, e.g. ".../schemas"
    imports: tuple[ImportFix, ...]


@dataclass(frozen=True)
class Case:
    """One contract under differential test."""

    name: str  # interaction name, e.g. "RegisterTSBas"
    schema_version: str  # responder schema version
    wsdl_version: str
    profile: str  # "RIVTABP20" or "RIVTABP21"
    official_dir: str  # the interaction's folder under the shared tree
    namespace: str  # payload namespace
    request: str  # local names of the payload elements
    response: str
    hand_written: tuple[str, ...] = ()  # valid instances written for the test
    # Valid fragments, each appended to the first request base's root wildcard to make a
    # further base: they exercise types and global elements the messages themselves never use.
    embedded: tuple[str, ...] = ()
    samples: str | None = None  # folder under samples/
    minimum_mutations: int = 50
    fix: OfficialFix | None = None

    @property
    def responder(self) -> str:
        return f"{self.name}Responder_{self.schema_version}.xsd"

    @property
    def our_xsd(self) -> Path:
        return REPO_DIR / "xsd" / "interactions" / self.responder

    @property
    def our_wsdl(self) -> Path:
        return REPO_DIR / "wsdl" / f"{self.name}Interaction_{self.wsdl_version}_{self.profile}.wsdl"

    @property
    def official_wsdl(self) -> Path:
        folder = SHARED_DIR / self.official_dir
        (wsdl,) = [p for p in folder.glob("*.wsdl") if f"_{self.wsdl_version}" in p.name]
        return wsdl


_TEMP_DIRS: list[tempfile.TemporaryDirectory[str]] = []


@functools.cache
def _patched_tree(fix: OfficialFix) -> Path:
    # Kept for the whole session (the compiled schema is cached); removed at interpreter exit.
    holder = tempfile.TemporaryDirectory(prefix="official-fixed-")
    _TEMP_DIRS.append(holder)
    target = Path(holder.name) / "schemas"
    shutil.copytree(SHARED_DIR / fix.tree, target)
    for edit in fix.imports:
        patched = target / edit.file
        tree = etree.parse(str(patched))
        schema = tree.getroot()
        imports = [i for i in schema.findall(f"{{{XSD_NS}}}import") if i.get("namespace") == edit.namespace]
        for existing in imports:
            existing.set("schemaLocation", edit.location)
        if not imports:
            schema.insert(0, etree.Element(f"{{{XSD_NS}}}import", namespace=edit.namespace, schemaLocation=edit.location))
        tree.write(str(patched), xml_declaration=True, encoding="UTF-8")
    return target


def official_xsd(case: Case) -> Path:
    """The official responder schema, or its import-fixed temporary copy when the case needs one."""
    original = SHARED_DIR / case.official_dir / case.responder
    if case.fix is None:
        return original
    return _patched_tree(case.fix) / original.relative_to(SHARED_DIR / case.fix.tree)


def compile_schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


@functools.cache
def schemas(case: Case) -> tuple[etree.XMLSchema, etree.XMLSchema]:
    """(official, ours), compiled once per session."""
    return compile_schema(official_xsd(case)), compile_schema(case.our_xsd)


def sample_payloads(case: Case) -> list[tuple[str, etree._Element]]:
    """The payload of every sample file of the case, each as the root of its own document."""
    if case.samples is None:
        return []
    files = sorted((SHARED_DIR / "samples" / case.samples).glob("*.xml"))
    assert files, f"{case.name}: no sample files under samples/{case.samples}"
    return [(f.name, _standalone(payload_of(f))) for f in files]


def _standalone(element: etree._Element) -> etree._Element:
    # Out of its envelope, so that the schema sees the payload as the document element.
    return etree.fromstring(etree.tostring(element))


def valid_bases(case: Case, local_name: str) -> list[tuple[str, etree._Element]]:
    """Instances of one payload element that the official schema accepts.

    Hand-written ones come first (and must be valid), then the samples,
    largest first: the corpus keeps the first edit per place, so the richest
    messages decide the coverage. Requests also get one base per embedded
    fragment.
    """
    official, _ = schemas(case)
    tag = f"{{{case.namespace}}}{local_name}"
    written = [(f"hand-written[{i}]", etree.fromstring(text)) for i, text in enumerate(case.hand_written)]
    written = [(label, doc) for label, doc in written if doc.tag == tag]
    for label, doc in written:
        assert official.validate(doc), f"{case.name} {label} is invalid: {official.error_log}"
    samples = [(label, doc) for label, doc in sample_payloads(case) if doc.tag == tag and official.validate(doc)]
    samples.sort(key=lambda sample: -sum(1 for _ in sample[1].iter()))
    bases = written + samples
    if local_name == case.request:
        host = copy.deepcopy(bases[0][1])
        if not len(host) and not host.text:
            host.text = ""  # serialise as <a></a>, not <a/>, so that there is an end tag to splice before
        first = etree.tostring(host, encoding="unicode")
        end = first.rindex("</")
        for index, fragment in enumerate(case.embedded):
            # Spliced as text: moving a parsed element could drop the namespace
            # declarations its xsi:type values rely on.
            document = etree.fromstring(first[:end] + fragment + first[end:])
            assert official.validate(document), f"{case.name} embedded[{index}] is invalid: {official.error_log}"
            bases.append((f"embedded[{index}]", document))
    return bases


@functools.cache
def mutation_corpus(case: Case) -> tuple[Variant, ...]:
    """Mutations of the request and of the response payload of `case`."""
    probes = schema_probes(official_xsd(case))
    requests, responses = valid_bases(case, case.request), valid_bases(case, case.response)
    assert requests and responses, f"{case.name}: need a valid request and a valid response to mutate"
    return tuple(corpus(requests, probes) + corpus(responses, probes))


# --- comparing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One instance to compare; `label` names the base and the mutation applied."""

    label: str
    document: etree._Element


@dataclass
class Comparison:
    """Outcome of comparing two schemas over a corpus."""

    compared: int = 0
    valid: int = 0  # by the official schema's verdict
    invalid: int = 0
    disagreements: list[str] = field(default_factory=list)


def compare(
    official: etree.XMLSchema, ours: etree.XMLSchema, variants: Iterable[Variant], *, first_only: bool = False
) -> Comparison:
    """Validate every variant with both schemas and record where the verdicts differ.

    With `first_only`, stop at the first disagreement (enough to show that two schemas differ).
    """
    result = Comparison()
    for variant in variants:
        if first_only and result.disagreements:
            break
        tree = etree.ElementTree(variant.document)
        expected = official.validate(tree)
        actual = ours.validate(tree)
        result.compared += 1
        if expected:
            result.valid += 1
        else:
            result.invalid += 1
        if expected != actual:
            rejecting = ours if expected else official
            errors = str(rejecting.error_log).splitlines()
            reason = errors[-1] if errors else "no message"
            result.disagreements.append(
                f"{variant.label}: official {'accepts' if expected else 'rejects'}, "
                f"ours {'accepts' if actual else 'rejects'} ({reason})"
            )
    return result


def assert_agreement(result: Comparison, *, minimum: int, min_share: float = 0.15) -> None:
    """No disagreement, at least `minimum` instances, and both verdicts well represented."""
    assert not result.disagreements, "schemas disagree on {} of {} instances:\n{}".format(
        len(result.disagreements), result.compared, "\n".join(result.disagreements[:25])
    )
    assert result.compared >= minimum, f"only {result.compared} instances compared, need {minimum}"
    for verdict, count in (("valid", result.valid), ("invalid", result.invalid)):
        assert count >= min_share * result.compared, f"one-sided corpus: {count} {verdict} of {result.compared}"


def assert_same_global_declarations(case: Case) -> None:
    ours, official = global_declarations(case.our_xsd), global_declarations(official_xsd(case))
    missing = {k: v for k, v in official.items() if ours.get(k) != v}
    extra = {k: v for k, v in ours.items() if k not in official}
    assert not missing and not extra, f"differs from official: missing/different {missing}, extra {extra}"


def assert_planted_fault_detected(case: Case, file: str, old: str, new: str) -> None:
    """Break a temporary copy of our schemas (`old` -> `new` in xsd/`file`); the corpus must notice."""
    with tempfile.TemporaryDirectory(prefix="planted-fault-") as tmp:
        copy_root = Path(tmp) / "xsd"
        shutil.copytree(REPO_DIR / "xsd", copy_root)
        target = copy_root / file
        text = target.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"planted fault: {old!r} must occur exactly once in xsd/{file}"
        target.write_text(text.replace(old, new), encoding="utf-8")
        broken = compile_schema(copy_root / "interactions" / case.responder)
    official, _ = schemas(case)
    variants = [*mutation_corpus(case), *(Variant(label, doc) for label, doc in sample_payloads(case))]
    result = compare(official, broken, variants, first_only=True)
    assert result.disagreements, f"no instance tells {old!r} -> {new!r} in xsd/{file} apart from the official schema"


def assert_wsdl_matches_official(case: Case, header: etree.QName) -> None:
    """Our WSDL loads in zeep and binds like the official one: names, soapAction, header, body."""
    client = zeep.Client(str(case.our_wsdl))
    port = client.wsdl.services[f"{case.name}ResponderService"].ports[f"{case.name}ResponderPort"]
    assert port.binding.name.localname == f"{case.name}ResponderBinding"
    assert port.binding.port_name.localname == f"{case.name}ResponderInterface"
    operation = port.binding.get(case.name)
    official = etree.parse(str(case.official_wsdl)).find(f".//{{{WSDL_SOAP}}}operation")
    assert official is not None
    assert operation.soapaction == official.get("soapAction")
    assert operation.input.body.qname == etree.QName(case.namespace, case.request)
    assert operation.output.body.qname == etree.QName(case.namespace, case.response)
    parts = [(name, element.qname) for name, element in operation.input.header.type.elements]
    assert parts == [("LogicalAddress", header)]


CaseTest = Callable[[Case], None]
PlantedFault = tuple[str, str, str, str]  # (case name, file under xsd/, old text, new text)


def family_tests(
    cases: Sequence[Case], planted_faults: Sequence[PlantedFault], header: Callable[[Case], etree.QName]
) -> tuple[CaseTest, CaseTest, Callable[[str, str, str, str], None], CaseTest]:
    """The checks every family runs on each of its cases, parametrized for a test module to bind
    to its ``test_`` names: the same global declarations as the official schemas, the same verdict
    on the mutation corpus, each planted fault noticed, and the WSDL binding like the official one
    with ``header(case)`` as its routing header."""
    ids = [case.name for case in cases]
    by_name = {case.name: case for case in cases}

    @pytest.mark.parametrize("case", cases, ids=ids)
    def same_global_declarations(case: Case) -> None:
        assert_same_global_declarations(case)

    @pytest.mark.parametrize("case", cases, ids=ids)
    def same_verdict_on_mutations(case: Case) -> None:
        official, ours = schemas(case)
        assert_agreement(compare(official, ours, mutation_corpus(case)), minimum=case.minimum_mutations)

    @pytest.mark.parametrize(("name", "file", "old", "new"), planted_faults)
    def corpus_detects_planted_fault(name: str, file: str, old: str, new: str) -> None:
        assert_planted_fault_detected(by_name[name], file, old, new)

    @pytest.mark.parametrize("case", cases, ids=ids)
    def wsdl_binds_like_official(case: Case) -> None:
        assert_wsdl_matches_official(case, header(case))

    return same_global_declarations, same_verdict_on_mutations, corpus_detects_planted_fault, wsdl_binds_like_official


# --- mutations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """A single change to one element of a base instance, not yet applied."""

    base: int  # index into the list of bases
    position: int  # index of the element in document order
    label: str
    key: tuple[str, str]  # (place or type scope, change): edits with equal keys are redundant
    apply: Callable[[etree._Element], None]


@dataclass(frozen=True)
class Probes:
    """Names taken from the official schema set, to probe declarations the bases do not use.

    `elements` are inserted wherever an element may go: lax wildcards validate
    any element whose name the schema set declares, so both sets must declare
    the same global elements. `attributes` are added to every element that
    already carries attributes, to catch a declared attribute we forgot.
    `values` are tried wherever an enumerated value already is. `types` are
    named in xsi:type, both on existing elements (is the type derived from the
    declared one?) and on a foreign element in the root's wildcard (is the
    type declared at all, and does it accept empty content?). `simple_types`
    are also tried with text content, to compare their facets.
    """

    elements: tuple[etree._Element, ...] = ()
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, codes of its type if enumerated)
    values: tuple[str, ...] = ()  # every enumerated value
    types: tuple[str, ...] = ()  # Clark names of the global types, for xsi:type
    simple_types: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (Clark name, its codes if enumerated)


def _path(element: etree._Element) -> str:
    steps = []
    node: etree._Element | None = element
    while node is not None:
        parent = node.getparent()
        local = etree.QName(node).localname
        if parent is None:
            steps.append(local)
        else:
            same = [c for c in parent if c.tag == node.tag]
            steps.append(f"{local}[{same.index(node) + 1}]" if len(same) > 1 else local)
        node = parent
    return "/" + "/".join(reversed(steps))


def _elements(root: etree._Element) -> list[etree._Element]:
    return list(root.iter(etree.Element))


def _element_children(element: etree._Element) -> list[etree._Element]:
    return [c for c in element if isinstance(c.tag, str)]


def _next_element(element: etree._Element) -> etree._Element | None:
    node = element.getnext()
    while node is not None and not isinstance(node.tag, str):
        node = node.getnext()
    return node


def _swap_with_next(element: etree._Element) -> None:
    following = _next_element(element)
    assert following is not None
    following.addnext(element)


def _drop(element: etree._Element) -> None:
    parent = element.getparent()
    assert parent is not None
    parent.remove(element)


def _clear_children(element: etree._Element) -> None:
    for child in list(element):
        element.remove(child)


def _reverse_children(element: etree._Element) -> None:
    children = _element_children(element)
    for child in children:
        element.remove(child)
    for child in reversed(children):
        element.append(child)


def _foreign_element() -> etree._Element:
    extra = etree.Element(f"{{{FOREIGN_NS}}}extension")
    extra.text = "added by a newer sender"
    return extra


Apply = Callable[[etree._Element], None]


def _show(value: str) -> str:
    """A value for a label; distinct values must give distinct labels (they are dedup keys)."""
    return repr(value) if len(value) <= 40 else f"{value[:12]!r}...({len(value)} chars, crc {zlib.crc32(value.encode()):08x})"


def _set_text(value: str) -> Apply:
    def apply(element: etree._Element) -> None:
        element.text = value

    return apply


def _set_tag(tag: str) -> Apply:
    def apply(element: etree._Element) -> None:
        element.tag = tag

    return apply


def _set_attribute(name: str, value: str) -> Apply:
    def apply(element: etree._Element) -> None:
        element.set(name, value)

    return apply


def _drop_attribute(name: str) -> Apply:
    def apply(element: etree._Element) -> None:
        del element.attrib[name]

    return apply


def _insert(make: Callable[[], etree._Element], where: str) -> Apply:
    """Insert a fresh element `after` the target, or as its `first` or `last` child."""

    def apply(element: etree._Element) -> None:
        new = make()
        if where == "after":
            element.addnext(new)
        elif where == "first":
            element.insert(0, new)
        else:
            element.append(new)

    return apply


def _prefix_for(element: etree._Element, namespace: str) -> str:
    """A prefix bound to `namespace` on `element`, declaring one if needed."""
    for prefix, uri in element.nsmap.items():
        if uri == namespace and prefix:
            return prefix
    # lxml declares a namespace for an attribute in it and keeps the declaration when the attribute goes.
    marker = f"{{{namespace}}}marker"
    element.set(marker, "")
    del element.attrib[marker]
    return next(prefix for prefix, uri in element.nsmap.items() if uri == namespace and prefix)


def _set_xsi_type(type_name: str) -> Apply:
    namespace, local = etree.QName(type_name).namespace, etree.QName(type_name).localname

    def apply(element: etree._Element) -> None:
        element.set(f"{{{XSI}}}type", f"{_prefix_for(element, str(namespace))}:{local}")

    return apply


def _append_typed(type_name: str, text: str | None = None) -> Apply:
    """Append a foreign element that names `type_name` in xsi:type, for lax wildcards to check."""

    def apply(element: etree._Element) -> None:
        typed = etree.SubElement(element, f"{{{FOREIGN_NS}}}typed")
        typed.text = text
        # Only once the element sits in its final place: lxml may drop namespace
        # declarations it thinks redundant when an element moves, and a prefix
        # inside an attribute value does not count as a use.
        _set_xsi_type(type_name)(typed)

    return apply


def _duplicate(element: etree._Element) -> None:
    element.addnext(copy.deepcopy(element))


def _add_copies(copies: int) -> Apply:
    def apply(element: etree._Element) -> None:
        for _ in range(copies):
            element.addnext(copy.deepcopy(element))

    return apply


def _perturbations(original: str) -> list[str]:
    """Small changes to an existing value: case, padding, length, and digits from another script."""
    if not original:
        return []
    values = [original.lower(), original.upper(), f" {original} ", original + original, original[:-1], original[:-3]]
    # One non-ASCII digit at a time: a \d in a pattern may sit at any position.
    digits = [i for i, char in enumerate(original) if char in "0123456789"]
    for i in digits[:16]:
        values.append(original[:i] + original[i].translate(_ARABIC_INDIC_DIGITS) + original[i + 1 :])
    return values


def _edits_for(
    element: etree._Element, position: int, probes: Probes, peer_values: Sequence[str]
) -> Iterator[tuple[str, Apply, str | None]]:
    """Every mutation that applies to `element`, as (description, in-place edit, scope).

    Edits with scope None count as distinct per place in the message; edits
    with a scope are distinct per scope only, for probes that test a type
    rather than a place (see `corpus`).
    """
    qname = etree.QName(element)
    children = _element_children(element)

    if position == 0:
        yield "renamed", _set_tag(f"{{{qname.namespace}}}{qname.localname}Typo"), None
        yield "foreign-namespace", _set_tag(f"{{{FOREIGN_NS}}}{qname.localname}"), None
        for type_name in probes.types:
            yield f"foreign-last-child typed {type_name}", _append_typed(type_name), None
        for type_name, codes in probes.simple_types:
            for value in dict.fromkeys((*codes, *SIMPLE_TYPE_VALUES)):
                yield f"foreign-last-child typed {type_name} {_show(value)}", _append_typed(type_name, value), None
    else:
        yield "drop", _drop, None
        yield "duplicate", _duplicate, None
        # Repeat up to a total of 3..6, to find a maxOccurs both schemas must share.
        parent = element.getparent()
        assert parent is not None
        count = sum(1 for sibling in parent if sibling.tag == element.tag)
        for total in range(max(3, count + 2), 7):
            yield f"repeat-to-{total}", _add_copies(total - count), None
        following = _next_element(element)
        if following is not None and following.tag != element.tag:
            yield "swap-with-next", _swap_with_next, None
        yield "foreign-namespace", _set_tag(f"{{{FOREIGN_NS}}}{qname.localname}"), None
        if qname.namespace:
            yield "no-namespace", _set_tag(qname.localname), None
        unknown = f"{{{qname.namespace}}}unexpected" if qname.namespace else "unexpected"
        yield "unknown-sibling", _insert(lambda: etree.Element(unknown), "after"), None
        yield "foreign-sibling", _insert(_foreign_element, "after"), None
        for probe in probes.elements:
            yield f"probe-sibling {probe.tag}", _insert(functools.partial(copy.deepcopy, probe), "after"), None

    yield "foreign-last-child", _insert(_foreign_element, "last"), None
    yield "foreign-first-child", _insert(_foreign_element, "first"), None
    for probe in probes.elements:
        yield f"probe-last-child {probe.tag}", _insert(functools.partial(copy.deepcopy, probe), "last"), None
    yield "foreign-attribute", _set_attribute(f"{{{FOREIGN_NS}}}note", "x"), None
    yield "unqualified-attribute", _set_attribute("unexpectedAttribute", "x"), None
    yield "xsi-nil", _set_attribute(f"{{{XSI}}}nil", "true"), None
    # Two xsi:type probes per element, walking round the type list, so that
    # every type is named somewhere without multiplying the corpus.
    for offset in (0, len(probes.types) // 2):
        if probes.types:
            type_name = probes.types[(position + offset) % len(probes.types)]
            yield f"xsi-type {type_name}", _set_xsi_type(type_name), None

    attributes = {str(name): str(value) for name, value in element.attrib.items()}
    if attributes:
        # Elements with the same attribute names very likely share a type, so a
        # declared-attribute probe needs to run on one of them only.
        signature = "attributes " + ",".join(sorted(attributes))
        for name, codes in probes.attributes:
            if name not in attributes:
                for value in ("x", *codes):
                    yield f"add-attribute {name}={value!r}", _set_attribute(name, value), signature
    for name, current in attributes.items():
        yield f"drop-attribute {name}", _drop_attribute(name), None
        values = ["", "   ", "x" * 300, "UNKNOWN_CODE", "1.2.752.129.2.1.3.1", *_perturbations(current)]
        if current in probes.values:
            values += probes.values
        for value in dict.fromkeys(values):
            if value != current:
                yield f"attribute {name}={_show(value)}", _set_attribute(name, value), None

    if children:
        yield "text-in-complex", _set_text("stray text"), None
        yield "empty-complex", _clear_children, None
        if len(children) > 1:
            yield "reverse-children", _reverse_children, None
        return

    original = element.text or ""
    # Values seen in same-named leaves elsewhere mostly stay within the
    # element's type; an enumerated leaf also gets every declared code, to
    # catch a code missing from one schema.
    candidates = list(peer_values)
    if original in probes.values:
        candidates += probes.values
    candidates += LEAF_VALUES
    candidates += _perturbations(original)
    for value in dict.fromkeys(candidates):
        if value != original:
            yield f"value={_show(value)}", _set_text(value), None
    yield "child-in-leaf", _insert(lambda: etree.Element(qname.text), "last"), None


def edits(base: etree._Element, base_index: int, label: str, probes: Probes) -> list[Edit]:
    """All single-edit mutations of `base`, in document order."""
    elements = _elements(base)
    peers: dict[object, list[str]] = {}
    for element in elements:
        if not _element_children(element) and element.text:
            values = peers.setdefault(element.tag, [])
            if element.text not in values:
                values.append(element.text)
    out = []
    for position, element in enumerate(elements):
        path = _path(element)
        place = re.sub(r"\[\d+\]", "", path)
        for detail, apply, scope in _edits_for(element, position, probes, peers.get(element.tag, [])):
            out.append(Edit(base_index, position, f"{label}{path} {detail}", (scope or place, detail), apply))
    return out


def materialize(bases: Sequence[tuple[str, etree._Element]], edit: Edit) -> Variant:
    document = copy.deepcopy(bases[edit.base][1])
    edit.apply(next(itertools.islice(document.iter(etree.Element), edit.position, None)))
    return Variant(edit.label, document)


def corpus(bases: Sequence[tuple[str, etree._Element]], probes: Probes) -> list[Variant]:
    """Every distinct single-edit mutation of the given valid bases, in a fixed order.

    Two edits are the same when they make the same change at the same place in
    the message structure (the element path without repetition indexes); only
    the first is kept, so the richest base should come first. Enumerating all
    of them, rather than sampling, guarantees that every element is dropped,
    duplicated, moved and rewritten at least once.
    """
    seen: set[tuple[str, str]] = set()
    chosen: list[Variant] = []
    for index, (label, base) in enumerate(bases):
        for edit in edits(base, index, label, probes):
            if edit.key not in seen:
                seen.add(edit.key)
                chosen.append(materialize(bases, edit))
    return chosen


# --- reading schema sets -------------------------------------------------------------------------


def _schema_files(xsd: Path) -> list[Path]:
    """`xsd` and every file it reaches through import/include, each once."""
    seen: list[Path] = []
    pending = [xsd.resolve()]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.append(path)
        root = etree.parse(str(path)).getroot()
        for ref in root.findall(f"{{{XSD_NS}}}import") + root.findall(f"{{{XSD_NS}}}include"):
            location = ref.get("schemaLocation")
            if location and location.startswith("file:"):
                pending.append(Path(urllib.parse.urlparse(location).path))
            elif location:
                pending.append((path.parent / location).resolve())
    return seen


def global_declarations(xsd: Path) -> dict[str, str]:
    """What instances can see of a schema set: its global elements, attributes and types.

    Maps "kind {namespace}name" to the referenced type (elements, attributes)
    or base type (types, with " abstract" if so), as Clark names. Lax
    wildcards validate any declared global element and xsi:type may name any
    global type, so two schema sets can only agree on every instance if these
    maps are equal. Groups are left out: instances cannot refer to them.
    """
    found: dict[str, str] = {}
    for path in _schema_files(xsd):
        root = etree.parse(str(path)).getroot()
        namespace = root.get("targetNamespace", "")
        for child in root:
            if not isinstance(child.tag, str) or child.get("name") is None:
                continue
            kind = etree.QName(child).localname
            if kind in ("element", "attribute"):
                target = _resolve(child, child.get("type"))
            elif kind in ("complexType", "simpleType"):
                derivation = child.find(f".//{{{XSD_NS}}}restriction[@base]")
                if derivation is None:
                    derivation = child.find(f".//{{{XSD_NS}}}extension[@base]")
                target = "" if derivation is None else _resolve(derivation, derivation.get("base"))
                if child.get("abstract") == "true":
                    target += " abstract"
            else:
                continue
            found[f"{kind} {{{namespace}}}{child.get('name')}"] = target
    return found


def _resolve(node: etree._Element, prefixed: str | None) -> str:
    if not prefixed:
        return ""
    prefix, _, local = prefixed.rpartition(":")
    return f"{{{node.nsmap.get(prefix or None, '')}}}{local}"


def declared_global_elements(xsd: Path) -> set[str]:
    """Clark names of the global elements of the schema set rooted at `xsd`."""
    return {key.partition(" ")[2] for key in global_declarations(xsd) if key.startswith("element ")}


def schema_probes(xsd: Path) -> Probes:
    """Probes for the schema set rooted at `xsd` (normally the official one)."""
    roots = [etree.parse(str(path)).getroot() for path in _schema_files(xsd)]
    codes_by_type: dict[str, tuple[str, ...]] = {}
    for root in roots:
        for simple in root.iter(f"{{{XSD_NS}}}simpleType"):
            codes = tuple(str(v.get("value")) for v in simple.iter(f"{{{XSD_NS}}}enumeration"))
            name = simple.get("name")
            if name and codes:
                codes_by_type[name] = codes
    attributes: dict[str, set[str]] = {}
    for root in roots:
        for attribute in root.iter(f"{{{XSD_NS}}}attribute"):
            name = attribute.get("name")
            if name:
                type_name = (attribute.get("type") or "").rpartition(":")[2]
                attributes.setdefault(name, set()).update(codes_by_type.get(type_name, ()))
    values = sorted({code for codes in codes_by_type.values() for code in codes})
    declarations = global_declarations(xsd)
    types = sorted(key.partition(" ")[2] for key in declarations if key.split(" ")[0] in ("complexType", "simpleType"))
    simple = [key.partition(" ")[2] for key in declarations if key.startswith("simpleType ")]
    return Probes(
        elements=tuple(etree.Element(name) for name in sorted(declared_global_elements(xsd))),
        attributes=tuple((name, tuple(sorted(codes))) for name, codes in sorted(attributes.items())),
        values=tuple(values),
        types=(*types, f"{{{XSD_NS}}}string", f"{{{XSD_NS}}}anyType"),
        simple_types=tuple((name, codes_by_type.get(etree.QName(name).localname, ())) for name in sorted(simple)),
    )


# --- report ------------------------------------------------------------------------------------

FAMILY_MODULES = (
    "intygstjanst.tests.differential.test_insuranceprocess_schemas",
    "intygstjanst.tests.differential.test_transportstyrelsen_schemas",
    "intygstjanst.tests.differential.test_rehabilitation_schemas",
    "intygstjanst.tests.differential.test_intyghelpers_schemas",
    "intygstjanst.tests.differential.test_legacy_read_schemas",
)


def summary(cases: Sequence[Case]) -> tuple[list[str], int]:
    """A table per contract (samples and mutations compared, official verdicts on the
    mutations, disagreements) and the total number of disagreements."""
    lines = [f"{'contract':<36} {'samples':>7} {'mutants':>8} {'valid':>7} {'invalid':>8} {'differ':>6}"]
    totals = [0, 0, 0, 0, 0]
    for case in cases:
        official, ours = schemas(case)
        samples = compare(official, ours, (Variant(label, doc) for label, doc in sample_payloads(case)))
        mutants = compare(official, ours, mutation_corpus(case))
        row = [
            samples.compared,
            mutants.compared,
            mutants.valid,
            mutants.invalid,
            len(samples.disagreements) + len(mutants.disagreements),
        ]
        totals = [total + value for total, value in zip(totals, row, strict=True)]
        lines.append(f"{case.name + ' ' + case.schema_version:<36} {row[0]:>7} {row[1]:>8} {row[2]:>7} {row[3]:>8} {row[4]:>6}")
    lines.append(f"{'total':<36} {totals[0]:>7} {totals[1]:>8} {totals[2]:>7} {totals[3]:>8} {totals[4]:>6}")
    return lines, totals[4]


def main() -> int:
    """Print the counts the README quotes: python -m intygstjanst.tests.differential.legacy_mutations"""
    if not SHARED_DIR.is_dir():
        print(f"official contracts not available at {SHARED_DIR}")
        return 2
    cases = [case for module in FAMILY_MODULES for case in importlib.import_module(module).CASES]
    lines, disagreements = summary(cases)
    print("\n".join(lines))
    return 0 if disagreements == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
