"""The one contract table: contracts.toml, one ``[[contract]]`` table per contract.

It describes every contract the project knows: those this service serves (every entry), those it
also calls as a consumer when it delivers to recipients (``called = true``) and those the
conformance kit tests (every entry). :func:`contract_specs` reads the table without importing any
handler (delivery and the kit use it); :meth:`ContractRegistry.load` adds each served contract's
handler and compiles its schema, so that a broken entry stops start-up.
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from lxml import etree

from intygstjanst.contracts.naming import ContractName
from intygstjanst.contracts.result import ResultShape

if TYPE_CHECKING:
    from intygstjanst.contracts.call import Answer, Call
    from intygstjanst.contracts.result import Outcome

PACKAGE_DIR = Path(__file__).resolve().parent.parent
XSD_DIR = PACKAGE_DIR / "xsd"
WSDL_DIR = PACKAGE_DIR / "wsdl"
CONTRACTS_FILE = Path(__file__).resolve().parent / "contracts.toml"

# Handlers are named in contracts.toml and imported by name, so the services type their calls carry
# cannot be checked here; the dispatcher passes its own (``Dispatcher[S]``).
Handler = Callable[["Call[Any]"], "Answer"]
# Writes a contract's response holding an ERROR outcome where the result structure alone is not a
# valid answer (e.g. a list the response requires); see ``fault_answer`` in contracts.toml.
FaultAnswer = Callable[[ContractName, "Outcome"], etree._Element]


class ContractError(ValueError):
    """A contract definition that cannot be served (bad entry, missing file, schema that won't compile)."""


@dataclass(frozen=True, kw_only=True)
class ContractSpec(ContractName):
    """A contract as the table describes it: its names, its files and how this service uses it."""

    xsd: str  # the responder schema, relative to xsd/
    wsdl: str  # file name in wsdl/
    handler_ref: str  # ``module:function`` serving it
    # The handler waits on another system (a recipient): it always runs on a worker thread.
    calls_out: bool = False
    # This service also calls the contract, at recipients (delivery).
    called: bool = False
    # The national service answers this contract's faults (schema violations, errors in the handler)
    # with an ordinary ERROR answer, HTTP 200 (contracts/rewrite.py).
    fault_rewrite: bool = False
    # ``module:function`` writing that answer, when the result structure alone is not a valid response.
    fault_answer_ref: str | None = None
    # The request is checked against the schema; false: only that it binds (contracts/binding.py), as
    # the national service does for the legacy FK7263 contracts, whose handlers check them instead.
    validate_request: bool = True

    @property
    def xsd_path(self) -> Path:
        return XSD_DIR / self.xsd

    @property
    def wsdl_path(self) -> Path:
        return WSDL_DIR / self.wsdl

    @cached_property
    def schema(self) -> etree.XMLSchema:
        """The compiled responder schema (compiled on first use)."""
        path = self.xsd_path
        if not path.is_file():
            raise ContractError(f"schema file {path} does not exist")
        try:
            return etree.XMLSchema(etree.parse(str(path)))
        except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
            raise ContractError(f"schema {path} does not compile: {exc}") from exc


@dataclass(frozen=True, kw_only=True)
class Contract(ContractSpec):
    """A contract this service serves: the spec and its handler."""

    handler: Handler = field(repr=False, compare=False)
    fault_answer: FaultAnswer | None = field(default=None, repr=False, compare=False)

    @classmethod
    def served(cls, spec: ContractSpec) -> Contract:
        """``spec`` with its handler imported and its schema compiled (raises ContractError)."""
        values = {f.name: getattr(spec, f.name) for f in fields(spec)}
        fault_answer: FaultAnswer | None = _resolve(spec.fault_answer_ref) if spec.fault_answer_ref else None
        contract = cls(**values, handler=_resolve(spec.handler_ref), fault_answer=fault_answer)
        contract.schema  # compiled now: a schema that does not compile stops start-up
        return contract


_REQUIRED = ("name", "version", "domain", "profile", "namespace", "request", "response", "xsd", "wsdl", "handler")
_OPTIONAL = ("soap_action", "result", "calls_out", "called", "fault_rewrite", "fault_answer", "validate_request", "national_path")
# Every address of the national certificate service is below this context path.
NATIONAL_CONTEXT = "/inera-certificate/"


def _resolve(ref: str) -> Any:
    module_name, _, attr = ref.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ContractError(f"handler {ref!r} cannot be imported: {exc}") from exc


def _result_shape(entry: dict[str, Any], where: str) -> ResultShape:
    value = entry.get("result", ResultShape.RESULT_TYPE.value)
    try:
        return ResultShape(value)
    except ValueError:
        known = ", ".join(shape.value for shape in ResultShape)
        raise ContractError(f"{where}: result must be one of {known}, got {value!r}") from None


def _spec(entry: dict[str, Any], where: str) -> ContractSpec:
    missing = [key for key in _REQUIRED if key not in entry]
    if missing:
        raise ContractError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ContractError(f"{where}: unknown key {', '.join(unknown)}")
    if entry["profile"] not in ("rivtabp20", "rivtabp21"):
        raise ContractError(f"{where}: profile must be rivtabp20 or rivtabp21, got {entry['profile']!r}")
    if "fault_answer" in entry and not entry.get("fault_rewrite"):
        raise ContractError(f"{where}: fault_answer is only used with fault_rewrite = true")
    national = entry.get("national_path")
    if national is not None and not (national.startswith(NATIONAL_CONTEXT) and national == national.rstrip("/")):
        raise ContractError(f"{where}: national_path must start with {NATIONAL_CONTEXT} and not end in '/', got {national!r}")
    if not (WSDL_DIR / entry["wsdl"]).is_file():
        raise ContractError(f"{where}: WSDL file {WSDL_DIR / entry['wsdl']} does not exist")
    return ContractSpec(
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
        called=bool(entry.get("called", False)),
        fault_rewrite=bool(entry.get("fault_rewrite", False)),
        fault_answer_ref=entry.get("fault_answer"),
        validate_request=bool(entry.get("validate_request", True)),
        national_path=national,
    )


def read_specs(path: Path = CONTRACTS_FILE) -> list[ContractSpec]:
    """Every contract of the table at ``path``, in its order (raises ContractError)."""
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("contract", [])
    specs = [_spec(entry, f"{path.name} contract #{i + 1} ({entry.get('name', '?')})") for i, entry in enumerate(entries)]
    keys = [spec.key for spec in specs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ContractError(f"{path.name}: more than one contract named {', '.join(repeated)}")
    return specs


@lru_cache(maxsize=4)
def contract_specs(path: Path = CONTRACTS_FILE) -> Mapping[str, ContractSpec]:
    """The contracts of the table by ``Name:major`` (read once per path)."""
    return MappingProxyType({spec.key: spec for spec in read_specs(path)})


class ContractRegistry:
    """All served contracts, indexed by endpoint path and by request element."""

    def __init__(self, contracts: Iterable[Contract]) -> None:
        self._by_path: dict[str, Contract] = {}
        self._by_tag: dict[str, Contract] = {}
        for contract in contracts:
            keys = [(self._by_path, path) for path in contract.paths] + [(self._by_tag, contract.request_tag)]
            for index, key in keys:
                if key in index:
                    raise ContractError(f"{contract.name} {contract.version}: {key} is already served by {index[key].name}")
                index[key] = contract

    @classmethod
    def load(cls, path: Path = CONTRACTS_FILE) -> ContractRegistry:
        return cls(Contract.served(spec) for spec in read_specs(path))

    def by_path(self, path: str) -> Contract | None:
        return self._by_path.get(path.rstrip("/"))

    def by_request_tag(self, tag: str) -> Contract | None:
        return self._by_tag.get(tag)

    def __iter__(self) -> Iterator[Contract]:
        return iter(self._by_tag.values())

    def __len__(self) -> int:
        return len(self._by_tag)
