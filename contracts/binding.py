"""Whether a request binds to its contract, for contracts the national service does not validate
against their schema (``validate_request = false`` in contracts.toml: the legacy FK7263 contracts,
whose handlers make the national service's own checks instead).

The national service reads such a request into its object model (JAXB) without the schema. That
fails only on an element the model has no place for, or on a value of a typed field (a date, a
number, a boolean) that cannot be read; missing elements, their order, patterns, lengths and code
lists are left to the handler's checks. Here the schema runs as usual and only the violations of
those two kinds count. An element counts as one the model has no place for when no schema file of
the contract declares an element of that name: one declared elsewhere in the contract and misplaced
is let through, where the national service refuses it (and the handler then does not see it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from lxml import etree

from intygstjanst.contracts.xml import SchemaError

XS = "http://www.w3.org/2001/XMLSchema"
# libxml2's texts: "Element '{ns}name': This element is not expected. ..." and
# "Element '{ns}name': 'x' is not a valid value of the atomic type 'xs:date'."
_UNEXPECTED = re.compile(r"Element '(\{[^}]*\}[^']+|[^']+)': This element is not expected")
_UNREADABLE = re.compile(r"is not a valid value of the atomic type 'xs:(\w+)'")
# Built-in types whose lexical space JAXB checks when it reads a value (strings take anything).
_TYPED = frozenset({
    "date", "dateTime", "time", "boolean", "int", "integer", "long", "short", "byte", "decimal", "double",
    "float", "nonNegativeInteger", "positiveInteger", "negativeInteger", "nonPositiveInteger", "gYear", "duration",
})


def binding_errors(errors: Iterable[SchemaError], xsd: Path) -> list[SchemaError]:
    """The schema violations of ``errors`` that the national service's binding also refuses."""
    declared = declared_elements(xsd)
    kept = []
    for error in errors:
        unexpected = _UNEXPECTED.search(error.message)
        if unexpected is not None and unexpected.group(1) not in declared:
            kept.append(error)
        else:
            unreadable = _UNREADABLE.search(error.message)
            if unreadable is not None and unreadable.group(1) in _TYPED:
                kept.append(error)
    return kept


@lru_cache(maxsize=None)
def declared_elements(xsd: Path) -> frozenset[str]:
    """``{namespace}name`` of every element the schema at ``xsd`` and the files it imports or
    includes declare (the schemas here qualify local elements, elementFormDefault="qualified")."""
    return frozenset(_declared(xsd.resolve(), set()))


def _declared(path: Path, seen: set[Path]) -> Iterator[str]:
    if path in seen:
        return
    seen.add(path)
    root = etree.parse(str(path)).getroot()
    namespace = root.get("targetNamespace", "")
    qualified = root.get("elementFormDefault") == "qualified"
    for declaration in root.iter(f"{{{XS}}}element"):
        name = declaration.get("name")
        if name is not None:
            top = declaration.getparent() is root
            yield f"{{{namespace}}}{name}" if (top or qualified) and namespace else name
    for reference in root.iter(f"{{{XS}}}import", f"{{{XS}}}include"):
        location = reference.get("schemaLocation")
        if location:
            yield from _declared((path.parent / location).resolve(), seen)
