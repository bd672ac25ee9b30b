"""What the schemas of a contract name: read from the XSD files, official and project alike.

The mutation corpus draws element names, literal values and type names from the union of both
schema sets, so that it probes every name and value either side knows about, without the
generator favouring one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

XS_NS = "http://www.w3.org/2001/XMLSchema"
_GLOBAL_KINDS = ("element", "attribute", "complexType", "simpleType", "group", "attributeGroup")


def schema_documents(xsd: Path) -> Iterator[tuple[Path, etree._Element]]:
    """``xsd`` and every schema document it imports or includes, transitively (each once)."""
    seen: set[Path] = set()
    pending = [xsd.resolve()]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        root = etree.parse(str(path)).getroot()
        yield path, root
        for reference in root.iterchildren(f"{{{XS_NS}}}import", f"{{{XS_NS}}}include", f"{{{XS_NS}}}redefine"):
            location = reference.get("schemaLocation")
            if location:
                pending.append((path.parent / location).resolve())


def global_components(xsd: Path) -> set[str]:
    """Every global element, attribute, type and group of ``xsd`` and the schemas it pulls in.

    The names matter beyond the elements a contract uses: xsi:type can name any global type and
    wildcards validate against any global element, so two schema sets that are meant to accept the
    same messages must declare exactly the same ones.
    """
    found: set[str] = set()
    for _, root in schema_documents(xsd):
        namespace = root.get("targetNamespace", "")
        for child in root.iterchildren(*(f"{{{XS_NS}}}{kind}" for kind in _GLOBAL_KINDS)):
            found.add(f"{etree.QName(child).localname} {{{namespace}}}{child.get('name')}")
    return found


@dataclass(frozen=True)
class Vocabulary:
    elements: tuple[tuple[str, str], ...]  # (namespace, local name) of every element declaration
    attributes: tuple[str, ...]  # names of every attribute declaration (all unqualified here)
    values: tuple[str, ...]  # enumeration and fixed values
    types: tuple[tuple[str, str], ...]  # (namespace, name) of every global type

    @classmethod
    def of(cls, schemas: Iterable[Path]) -> Vocabulary:
        elements: set[tuple[str, str]] = set()
        attributes: set[str] = set()
        values: set[str] = set()
        types: set[tuple[str, str]] = set()
        for xsd in schemas:
            for _, root in schema_documents(xsd):
                namespace = root.get("targetNamespace", "")
                local_form = root.get("elementFormDefault", "unqualified")
                for element in root.iter(f"{{{XS_NS}}}element"):
                    name = element.get("name")
                    if name:
                        is_global = element.getparent() is root
                        qualified = is_global or element.get("form", local_form) == "qualified"
                        elements.add((namespace if qualified else "", name))
                    fixed = element.get("fixed")
                    if fixed is not None:
                        values.add(fixed)
                for attribute in root.iter(f"{{{XS_NS}}}attribute"):
                    if attribute.get("name"):
                        attributes.add(attribute.get("name", ""))
                for facet in root.iter(f"{{{XS_NS}}}enumeration"):
                    values.add(facet.get("value", ""))
                for kind in ("complexType", "simpleType"):
                    for declared in root.iterchildren(f"{{{XS_NS}}}{kind}"):
                        types.add((namespace, declared.get("name", "")))
        return cls(tuple(sorted(elements)), tuple(sorted(attributes)), tuple(sorted(values)), tuple(sorted(types)))
