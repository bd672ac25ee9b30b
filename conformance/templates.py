"""Request templates: payload XML files with ``${name}`` placeholders filled from the case's values.

Templates live in ``conformance/templates/`` and are written for the kit (never copied from the
official samples). Values are XML-escaped when filled in, so test data may hold any text.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True, remove_blank_text=True)


class TemplateError(ValueError):
    """A template that cannot be filled: missing file, unknown placeholder, or not XML afterwards."""


@lru_cache(maxsize=None)
def _source(name: str) -> string.Template:
    path = TEMPLATE_DIR / name
    try:
        return string.Template(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(f"template {name}: {exc}") from exc


def placeholders(name: str) -> set[str]:
    """The value names the template uses."""
    return set(_source(name).get_identifiers())


def render(name: str, values: Mapping[str, str]) -> etree._Element:
    """The template's payload element with every placeholder filled from ``values``."""
    template = _source(name)
    missing = sorted(set(template.get_identifiers()) - set(values))
    if missing:
        raise TemplateError(f"template {name} uses ${{{missing[0]}}}, which neither the test data nor the case defines")
    try:
        text = template.substitute({key: escape(value) for key, value in values.items()})
    except ValueError as exc:  # a lone '$' or a malformed placeholder in the template itself
        raise TemplateError(f"template {name}: {exc}") from None
    try:
        return etree.fromstring(text.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise TemplateError(f"template {name} is not well-formed XML once filled in: {exc}") from exc


def fill(text: str, values: Mapping[str, str]) -> str:
    """``${name}`` references in a short string (a parameter, an expected value), unescaped."""
    try:
        return string.Template(text).substitute(values)
    except KeyError as exc:
        raise TemplateError(f"{text!r} refers to ${{{exc.args[0]}}}, which neither the test data nor the case defines") from None
    except ValueError as exc:
        raise TemplateError(f"{text!r}: {exc}") from None
