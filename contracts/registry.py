"""The registry of served contracts: one ``[[contract]]`` table per contract in contracts.toml."""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from intygstjanst.contracts.naming import ContractName
from intygstjanst.contracts.result import ResultShape

if TYPE_CHECKING:
    from intygstjanst.contracts.call import Answer, Call

PACKAGE_DIR = Path(__file__).resolve().parent.parent
XSD_DIR = PACKAGE_DIR / "xsd"
WSDL_DIR = PACKAGE_DIR / "wsdl"
CONTRACTS_FILE = Path(__file__).resolve().parent / "contracts.toml"

# Handlers are named in contracts.toml and imported by name, so the services type their calls carry
# cannot be checked here; the dispatcher passes its own (``Dispatcher[S]``).
Handler = Callable[["Call[Any]"], "Answer"]


class ContractError(ValueError):
    """A contract definition that cannot be served (bad entry, missing file, schema that won't compile)."""


@dataclass(frozen=True, kw_only=True)
class Contract(ContractName):
    """A contract this service serves: its names plus its schema, WSDL and handler."""

    xsd: str
    wsdl: str
    handler_ref: str
    # The handler waits on another system (a recipient): it always runs on a worker thread.
    calls_out: bool = False
    schema: etree.XMLSchema = field(repr=False, compare=False)
    handler: Handler = field(repr=False, compare=False)

    @property
    def wsdl_path(self) -> Path:
        return WSDL_DIR / self.wsdl


_REQUIRED = ("name", "version", "domain", "profile", "namespace", "request", "response", "xsd", "wsdl", "handler")


def _resolve_handler(ref: str) -> Handler:
    module_name, _, attr = ref.partition(":")
    try:
        handler: Handler = getattr(importlib.import_module(module_name), attr)
        return handler
    except (ImportError, AttributeError) as exc:
        raise ContractError(f"handler {ref!r} cannot be imported: {exc}") from exc


def _compile_schema(xsd: str) -> etree.XMLSchema:
    path = XSD_DIR / xsd
    if not path.is_file():
        raise ContractError(f"schema file {path} does not exist")
    try:
        return etree.XMLSchema(etree.parse(str(path)))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
        raise ContractError(f"schema {path} does not compile: {exc}") from exc


def _result_shape(entry: dict[str, Any], where: str) -> ResultShape:
    value = entry.get("result", ResultShape.RESULT_TYPE.value)
    try:
        return ResultShape(value)
    except ValueError:
        known = ", ".join(shape.value for shape in ResultShape)
        raise ContractError(f"{where}: result must be one of {known}, got {value!r}") from None


def _build(entry: dict[str, Any], where: str) -> Contract:
    missing = [key for key in _REQUIRED if key not in entry]
    if missing:
        raise ContractError(f"{where}: missing {', '.join(missing)}")
    if entry["profile"] not in ("rivtabp20", "rivtabp21"):
        raise ContractError(f"{where}: profile must be rivtabp20 or rivtabp21, got {entry['profile']!r}")
    if not (WSDL_DIR / entry["wsdl"]).is_file():
        raise ContractError(f"{where}: WSDL file {WSDL_DIR / entry['wsdl']} does not exist")
    return Contract(
        name=entry["name"],
        version=str(entry["version"]),
        domain=entry["domain"],
        profile=entry["profile"],
        namespace=entry["namespace"],
        request=entry["request"],
        response=entry["response"],
        xsd=entry["xsd"],
        wsdl=entry["wsdl"],
        handler_ref=entry["handler"],
        published_action=entry.get("soap_action"),
        result=_result_shape(entry, where),
        calls_out=bool(entry.get("calls_out", False)),
        schema=_compile_schema(entry["xsd"]),
        handler=_resolve_handler(entry["handler"]),
    )


class ContractRegistry:
    """All served contracts, indexed by endpoint path and by request element."""

    def __init__(self, contracts: Iterable[Contract]) -> None:
        self._by_path: dict[str, Contract] = {}
        self._by_tag: dict[str, Contract] = {}
        for contract in contracts:
            for index, key in ((self._by_path, contract.path), (self._by_tag, contract.request_tag)):
                if key in index:
                    raise ContractError(f"{contract.name} {contract.version}: {key} is already served by {index[key].name}")
                index[key] = contract

    @classmethod
    def load(cls, path: Path = CONTRACTS_FILE) -> ContractRegistry:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        entries = data.get("contract", [])
        return cls(_build(entry, f"{path.name} contract #{i + 1} ({entry.get('name', '?')})") for i, entry in enumerate(entries))

    def by_path(self, path: str) -> Contract | None:
        return self._by_path.get(path.rstrip("/"))

    def by_request_tag(self, tag: str) -> Contract | None:
        return self._by_tag.get(tag)

    def __iter__(self) -> Iterator[Contract]:
        return iter(self._by_path.values())

    def __len__(self) -> int:
        return len(self._by_path)
