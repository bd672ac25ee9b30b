"""Deterministic mutation corpus for the differential schema tests.

Starting from known messages ("seeds"), operators propose edits: remove, duplicate or repeat an
element, swap it with the next one, rename it, move it to another namespace, insert siblings and
children, replace text and attribute values, add attributes, xsi:type and xsi:nil. The names,
literal values and type names they try come from both schema sets (see ``vocabulary.py``) plus
hand-picked lexical edge cases below; the generator never asks a schema what is valid. Which side
of the verdict a mutant lands on is decided afterwards by the official schema.

Edits are proposed on one representative element per context (the same place in the message,
whatever repetition it is), taken from the smallest seed that has it. Text and attribute values
are tried exhaustively when the caller allows it; the other, larger pools are capped and sampled
round-robin over the contexts with a fixed RNG seed, so the corpus is the same on every run.
"""

from __future__ import annotations

import copy
import itertools
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from lxml import etree

from intygstjanst.tests.differential.vocabulary import XS_NS, Vocabulary

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
CORE_NS = "urn:riv:clinicalprocess:healthcond:certificate:3"
TYPES_NS = "urn:riv:clinicalprocess:healthcond:certificate:types:3"
EXT32_NS = "urn:riv:clinicalprocess:healthcond:certificate:3.2"
EXT34_NS = "urn:riv:clinicalprocess:healthcond:certificate:3.4"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
DSF_NS = "http://www.w3.org/2002/06/xmldsig-filter2"
FOREIGN_NS = "urn:example:not-in-any-contract"

# Element text replacements, next to the enumeration and fixed values of the vocabulary. Each
# group aims at a facet or base type somewhere in the contracts, mostly just beside what it
# allows; against an xs:string element most of them are valid, which keeps the corpus two-sided.
TEXT_VALUES: tuple[str, ...] = (
    "",
    "   ",
    "\n\t ",
    "x",
    "Två ord",
    # xs:date / DateType
    "2021-06-15",
    "2021-02-30",
    "2021-13-01",
    "2021-6-5",
    "20210615",
    "2021-06-15Z",
    "2021-06-15+01:00",
    " 2021-06-15 ",
    # xs:dateTime / TimeStampType / TimeStampMedMillisekunder
    "2021-06-15T10:11:12",
    "2021-06-15T10:11:12.123",
    "2021-06-15T10:11:12.12",
    "2021-06-15T10:11:12,123",
    "2021-06-15T10:11:12Z",
    "2021-06-15T10:11:12+02:00",
    "2021-06-15T24:00:00",
    "2021-06-15T10:61:00",
    "2021-06-15 10:11:12",
    " 2021-06-15T10:11:12 ",
    # PersonIdExtension (\d{12}, any Unicode decimal digit)
    "191212121212",
    "19121212-1212",
    "1912121212",
    "1912121212121",
    "\u0661\u0669\u0661\u0662\u0661\u0662\u0661\u0662\u0661\u0662\u0661\u0662",
    "19121212121X",
    # near misses of identifier roots (the exact ones come from the vocabulary)
    "1.2.752.129.2.1.3.2",
    " 1.2.752.129.2.1.4.1",
    # xs:boolean / xs:int / xs:integer / xs:double
    "true",
    "false",
    "1",
    "0",
    "TRUE",
    "yes",
    "-7",
    "+3",
    "1.5",
    "2147483647",
    "2147483648",
    "1e3",
    "NaN",
    "INF",
    # near misses of enumerations
    "ok",
    "OK ",
    "WARNING",
    "UNKNOWN_ERROR",
    "YYYY-M",
    "exclude",
    # PartialDateTypeValue
    "2019",
    "2019-02",
    "2019-02-29",
    "2019-13",
    "0999",
    "3000-01-01",
    # base64 / anyURI
    "QUJD",
    "QUJ",
    "QUI=",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "urn:a b",
    "#a#b",
    "%gg",
    # long values
    "a" * 4096,
)

# Attribute values: aimed at the svar/delsvar id patterns, xs:ID, xs:anyURI and enumerations.
ATTRIBUTE_VALUES: tuple[str, ...] = (
    "",
    " ",
    "1",
    "01",
    "1.1",
    "1.1.1",
    "1.",
    ".1",
    "a",
    " 1",
    "1 ",
    "\u0661",
    "1-2",
    "intersect",
    "union",
    "all",
    "#fragment",
    "#a#b",
    "%gg",
    "id-1",
    "1id",
)

@dataclass(frozen=True)
class Seed:
    """A message to mutate; ``label`` names it in failure messages."""

    label: str
    element: etree._Element


@dataclass(frozen=True)
class Mutant:
    """One generated message; ``label`` says which seed and which edit produced it."""

    label: str
    operator: str
    payload: str  # local name of the seed's payload element (the mutant's may be renamed)
    element: etree._Element


# An edit applied in place to the copy of a seed; it gets the element at the target position.
Edit = Callable[[etree._Element], None]


@dataclass(frozen=True)
class _Candidate:
    seed: Seed
    operator: str
    position: int  # index of the target among the seed's elements in document order
    path: str
    detail: str
    edit: Edit


def _local(tag: str) -> str:
    return etree.QName(tag).localname


def _namespace(tag: str) -> str | None:
    return etree.QName(tag).namespace


def _children(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _is_leaf(element: etree._Element) -> bool:
    return not _children(element)


def _paths(root: etree._Element, root_path: str | None = None) -> list[tuple[etree._Element, str]]:
    """Every element with a readable path (local names, 1-based index among same-named siblings)."""
    found: list[tuple[etree._Element, str]] = []

    def walk(element: etree._Element, path: str) -> None:
        found.append((element, path))
        seen: dict[str, int] = {}
        for child in _children(element):
            name = _local(child.tag)
            seen[name] = seen.get(name, 0) + 1
            walk(child, f"{path}/{name}[{seen[name]}]")

    walk(root, root_path or "/" + _local(root.tag))
    return found


def _foreign(local: str = "extra", text: str = "x") -> etree._Element:
    element = etree.Element(f"{{{FOREIGN_NS}}}{local}", nsmap={"ext": FOREIGN_NS})
    element.text = text
    return element


def _known_globals() -> tuple[tuple[str, etree._Element], ...]:
    """Globally declared elements of the loaded namespaces: lax wildcards validate them."""
    cv = etree.Element(f"{{{TYPES_NS}}}cv")
    etree.SubElement(cv, f"{{{TYPES_NS}}}code").text = "A01"
    etree.SubElement(cv, f"{{{TYPES_NS}}}codeSystem").text = "1.2.752.116.1.1.1.1.3"
    bad_cv = etree.Element(f"{{{TYPES_NS}}}cv")
    etree.SubElement(bad_cv, f"{{{TYPES_NS}}}code").text = "A01"
    date = etree.Element(f"{{{TYPES_NS}}}date")
    date.text = "2021-06-15"
    bad_date = etree.Element(f"{{{TYPES_NS}}}date")
    bad_date.text = "15/06/2021"
    key_name = etree.Element(f"{{{DS_NS}}}KeyName")
    key_name.text = "signer"
    xpath = etree.Element(f"{{{DSF_NS}}}XPath", Filter="subtract")
    xpath.text = "//status"
    hanterat = etree.Element(f"{{{EXT34_NS}}}hanteratAv")
    etree.SubElement(hanterat, f"{{{TYPES_NS}}}root").text = "1.2.752.129.2.1.4.1"
    etree.SubElement(hanterat, f"{{{TYPES_NS}}}extension").text = "SE000-1"
    return (
        ("types:cv", cv),
        ("types:cv without codeSystem", bad_cv),
        ("types:date", date),
        ("types:date with bad value", bad_date),
        ("ds:KeyName", key_name),
        ("xmldsig-filter2:XPath", xpath),
        ("3.4:hanteratAv", hanterat),
        ("foreign element", _foreign()),
        ("foreign element with children", _foreign_nested()),
    )


def _foreign_nested() -> etree._Element:
    outer = _foreign("wrapper", "")
    outer.append(_foreign("inner", "y"))
    return outer


# Inserted as copies, so built once.
KNOWN_GLOBALS = _known_globals()


def _remove(target: etree._Element) -> None:
    parent = target.getparent()
    assert parent is not None
    # Keep the tail so that mixed content (delsvar text) is not changed as a side effect.
    previous = target.getprevious()
    if target.tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + target.tail
        else:
            parent.text = (parent.text or "") + target.tail
    parent.remove(target)


def _duplicate(target: etree._Element) -> None:
    target.addnext(copy.deepcopy(target))


def _repeat(extra: int) -> Edit:
    def edit(target: etree._Element) -> None:
        for _ in range(extra):
            target.addnext(copy.deepcopy(target))

    return edit


def _insert_sibling(tag: str) -> Edit:
    def edit(target: etree._Element) -> None:
        sibling = etree.Element(tag)
        sibling.text = "x"
        target.addnext(sibling)

    return edit


def _next_element(element: etree._Element) -> etree._Element | None:
    return next(element.itersiblings(tag=etree.Element), None)


def _swap_with_next(target: etree._Element) -> None:
    following = _next_element(target)
    assert following is not None
    following.addnext(target)


def _retag(tag: str) -> Edit:
    def edit(target: etree._Element) -> None:
        target.tag = tag

    return edit


def _set_text(value: str) -> Edit:
    def edit(target: etree._Element) -> None:
        target.text = value

    return edit


def _append_text(value: str) -> Edit:
    def edit(target: etree._Element) -> None:
        last = _children(target)[-1]
        last.tail = (last.tail or "") + value

    return edit


def _insert_child(child: etree._Element, at_start: bool) -> Edit:
    def edit(target: etree._Element) -> None:
        if at_start:
            target.insert(0, copy.deepcopy(child))
        else:
            target.append(copy.deepcopy(child))

    return edit


def _clear_children(target: etree._Element) -> None:
    for child in list(target):
        target.remove(child)
    target.text = None


def _set_attribute(name: str, value: str) -> Edit:
    def edit(target: etree._Element) -> None:
        target.set(name, value)

    return edit


def _delete_attribute(name: str) -> Edit:
    def edit(target: etree._Element) -> None:
        del target.attrib[name]

    return edit


def _set_xsi_type(namespace: str, local: str) -> Edit:
    def edit(target: etree._Element) -> None:
        # The prefix must be declared on the element itself, so rebuild the value with a prefix
        # that lxml maps to the namespace on this element.
        prefix = _declare(target, namespace)
        target.set(f"{{{XSI_NS}}}type", f"{prefix}:{local}")

    return edit


def _declare(target: etree._Element, namespace: str) -> str:
    for prefix, uri in target.nsmap.items():
        if uri == namespace and prefix:
            return prefix
    # lxml cannot add a namespace declaration to an existing element; an attribute in the
    # namespace makes it declare one, and removing the attribute keeps the declaration.
    marker = f"{{{namespace}}}mutation-marker"
    target.set(marker, "")
    del target.attrib[marker]
    for prefix, uri in target.nsmap.items():
        if uri == namespace and prefix:
            return prefix
    raise AssertionError(f"could not declare a prefix for {namespace}")


def _context(payload: str, path: str, element: etree._Element) -> tuple[str, str, bool]:
    """Where an element sits, ignoring which repetition it is.

    Mutating one representative per context keeps the corpus small without losing reach: the
    schema treats every ``svar/delsvar/cv/code`` alike. Whether the element is the only one of its
    name under its parent is kept, because removing the only ``delsvar`` and removing one of
    several land on different sides of the verdict.
    """
    generic = re.sub(r"\[\d+\]", "", path)
    parent = element.getparent()
    alone = parent is None or sum(1 for sibling in parent.iterchildren(element.tag)) == 1
    return payload, generic, alone


def _compact(root: etree._Element) -> etree._Element:
    """A copy of ``root`` without repetitions that add no new context.

    Official samples repeat the same structures many times (twenty ``svar`` with ``delsvar`` and
    ``cv``); mutating and validating all of that for every mutant is wasted time. The first two of
    every repeated element stay (so "one of several" remains a context), later ones only if they
    hold something not seen before.
    """
    root = copy.deepcopy(root)
    payload = _local(root.tag)
    seen: set[tuple[str, str, bool]] = set()

    def walk(element: etree._Element, path: str) -> None:
        seen.add(_context(payload, path, element))
        counts: dict[str, int] = {}
        for child in _children(element):
            name = _local(child.tag)
            counts[name] = counts.get(name, 0) + 1
            child_path = f"{path}/{name}[{counts[name]}]"
            inside = {_context(payload, p, e) for e, p in _paths(child, child_path)}
            if counts[name] > 2 and inside <= seen:
                _remove(child)
            else:
                walk(child, child_path)

    walk(root, "/" + payload)
    return root


def _representatives(seeds: Sequence[Seed]) -> list[tuple[Seed, int, str]]:
    """(seed, position, path) of the first element of every context, in seed order."""
    chosen: dict[tuple[str, str, bool], tuple[Seed, int, str]] = {}
    for seed in seeds:
        payload = _local(seed.element.tag)
        for position, (element, path) in enumerate(_paths(seed.element)):
            chosen.setdefault(_context(payload, path, element), (seed, position, path))
    return list(chosen.values())


def _candidates(element: etree._Element, is_root: bool, vocabulary: Vocabulary, namespaces: Sequence[str]) -> Iterator[tuple[str, str, Edit]]:
    """(operator, detail, edit) for every edit that applies to ``element``."""
    tag = element.tag
    assert isinstance(tag, str)
    local, namespace = _local(tag), _namespace(tag)
    leaf = _is_leaf(element)

    if not is_root:
        yield "remove", "", _remove
        yield "duplicate", "", _duplicate
        # Several lengths, to land just past whatever maxOccurs a place has.
        for extra in (2, 3, 4):
            yield "repeat", f"{extra} extra copies", _repeat(extra)
        if _next_element(element) is not None:
            yield "swap-with-next", "", _swap_with_next
        # Names declared in the element's own namespace: the ones a schema could allow here.
        for name_ns, name in vocabulary.elements:
            if name_ns == (namespace or ""):
                yield "insert-sibling", name, _insert_sibling(f"{{{name_ns}}}{name}" if name_ns else name)
    yield "rename", f"to {local}X", _retag(f"{{{namespace}}}{local}X" if namespace else local + "X")
    for other in (*namespaces, FOREIGN_NS, None):
        if other != namespace:
            yield "change-namespace", f"to {other or 'no namespace'}", _retag(f"{{{other}}}{local}" if other else local)
    if leaf:
        current = element.text or ""
        for value in dict.fromkeys((*TEXT_VALUES, *vocabulary.values)):
            if value != current:
                shown = value if len(value) < 40 else f"{value[:10]}...({len(value)} chars)"
                yield "set-text", repr(shown), _set_text(value)
        for name, perturbed in (
            ("pad", f" {current} "),
            ("append-char", current + "0"),
            ("drop-last-char", current[:-1]),
            ("upper", current.upper()),
        ):
            if perturbed != current:
                yield "perturb-text", name, _set_text(perturbed)
    else:
        yield "add-text", "stray text among children", _append_text("stray text")
        yield "clear-children", "", _clear_children
    for label, child in KNOWN_GLOBALS:
        yield "insert-first", label, _insert_child(child, at_start=True)
        yield "insert-last", label, _insert_child(child, at_start=False)
    for name in map(str, element.attrib):
        yield "delete-attribute", name, _delete_attribute(name)
        for value in ATTRIBUTE_VALUES:
            if value != element.get(name):
                yield "set-attribute", f"{name}={value!r}", _set_attribute(name, value)
    for name in vocabulary.attributes:
        if name not in element.attrib:
            for value in ("1id", "x"):
                yield "add-known-attribute", f"{name}={value!r}", _set_attribute(name, value)
    yield "add-attribute", "unqualified foo", _set_attribute("foo", "bar")
    yield "add-attribute", "foreign-namespace foo", _set_attribute(f"{{{FOREIGN_NS}}}foo", "bar")
    yield "add-attribute", "xsi:nil=true", _set_attribute(f"{{{XSI_NS}}}nil", "true")
    for type_ns, type_local in (*vocabulary.types, *_BUILTIN_XSI_TYPES):
        yield "xsi-type", f"{{{type_ns}}}{type_local}", _set_xsi_type(type_ns, type_local)


# Built-in and unknown types for xsi:type, next to the declared ones from the vocabulary.
_BUILTIN_XSI_TYPES: tuple[tuple[str, str], ...] = (
    (XS_NS, "string"),
    (XS_NS, "anyType"),
    (XS_NS, "int"),
    (CORE_NS, "NoSuchType"),
)


def generate(
    seeds: Sequence[Seed],
    *,
    vocabulary: Vocabulary,
    namespaces: Sequence[str],
    rng_seed: int,
    caps: Mapping[str, int | None],
    default_cap: int,
) -> Iterator[Mutant]:
    """The mutants of ``seeds``, at most ``caps[operator]`` (or ``default_cap``) per operator and payload.

    A cap of None takes every candidate of that operator.

    Edits are proposed on one representative element per context (see :func:`_context`). When an
    operator has more candidates than its cap, they are taken round-robin over the contexts, each
    context's candidates in an order shuffled with ``rng_seed``: every context gets its share before
    any context gets a second one. ``namespaces`` are the contract's own namespaces, used to move
    elements into a namespace the schema knows but at the wrong place.
    """
    rng = random.Random(rng_seed)
    # Smallest seeds first, so that each context is mutated in the cheapest message that has it.
    compacted = [Seed(seed.label, _compact(seed.element)) for seed in seeds]
    compacted.sort(key=lambda seed: len(etree.tostring(seed.element)))
    # (payload, operator) -> context path -> candidates
    pools: dict[tuple[str, str], dict[str, list[_Candidate]]] = {}
    for seed, position, path in _representatives(compacted):
        element = _element_at(seed.element, position)
        payload = _local(seed.element.tag)
        for operator, detail, edit in _candidates(element, position == 0, vocabulary, namespaces):
            by_context = pools.setdefault((payload, operator), {})
            by_context.setdefault(path, []).append(_Candidate(seed, operator, position, path, detail, edit))
    for (_, operator), by_context in sorted(pools.items(), key=lambda item: item[0]):
        queues = [rng.sample(found, len(found)) for found in by_context.values()]
        picked: list[_Candidate] = []
        cap = caps.get(operator, default_cap)
        if cap is None:
            cap = sum(len(queue) for queue in queues)
        while queues and len(picked) < cap:
            for queue in queues:
                if len(picked) < cap:
                    picked.append(queue.pop())
            queues = [queue for queue in queues if queue]
        # Built one at a time: a corpus is too big to hold, and callers may stop early.
        yield from (_apply(chosen) for chosen in picked)


def _apply(chosen: _Candidate) -> Mutant:
    root = copy.deepcopy(chosen.seed.element)
    target = _element_at(root, chosen.position)
    chosen.edit(target)
    detail = f" {chosen.detail}" if chosen.detail else ""
    label = f"{chosen.seed.label}: {chosen.operator}{detail} at {chosen.path}"
    return Mutant(label, chosen.operator, _local(chosen.seed.element.tag), root)


def _element_at(root: etree._Element, position: int) -> etree._Element:
    # Document order, elements only: the same numbering as _paths.
    return next(itertools.islice(root.iter(etree.Element), position, None))
