"""Serving WSDLs and the schemas they import, so a client can build itself from ``?wsdl`` alone."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lxml import etree

from intygstjanst.contracts.registry import XSD_DIR, Contract

_XS = "http://www.w3.org/2001/XMLSchema"
_SOAP_BINDING = "http://schemas.xmlsoap.org/wsdl/soap/"
_XSD_PREFIX = "../xsd/"


@lru_cache(maxsize=256)
def render_wsdl(contract: Contract, base_url: str, path: str | None = None) -> bytes:
    """The contract's WSDL with absolute schema URLs and this server's address: ``path``, the one of
    the contract's addresses the WSDL was asked at (default its platform path), so that a client
    built from the national service's address keeps calling that address.

    The files in ``wsdl/`` import ``../xsd/...`` relative to the file; from ``<endpoint>?wsdl``
    that relative path would resolve against the endpoint path, so it is made absolute here.
    """
    tree = etree.parse(str(contract.wsdl_path))
    for node in tree.iter(f"{{{_XS}}}import", f"{{{_XS}}}include"):
        location = node.get("schemaLocation", "")
        if location.startswith(_XSD_PREFIX):
            node.set("schemaLocation", f"{base_url}/xsd/{location[len(_XSD_PREFIX):]}")
    for address in tree.iter(f"{{{_SOAP_BINDING}}}address"):
        address.set("location", base_url + (path or contract.path))
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def xsd_file(relative: str) -> Path | None:
    """The schema file at ``relative`` below xsd/, or None (also for any path escaping xsd/)."""
    try:
        candidate = (XSD_DIR / relative).resolve()
        found = candidate.suffix == ".xsd" and candidate.is_file() and candidate.is_relative_to(XSD_DIR)
    except (ValueError, OSError):  # a NUL byte in the path, a name too long for the file system
        return None
    return candidate if found else None
