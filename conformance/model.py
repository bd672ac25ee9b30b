"""Suites, cases, steps and expectations: the vocabulary the suite modules are written in.

A suite covers one contract (``Name:major``). A case is a short sequence of steps; every step but
the last prepares the situation (register a certificate, revoke it, ...) and the last one is what
the case is about, though each step's answer is checked. Steps are declarative (a template,
parameters, the expected answer), so a suite for a new contract is mostly data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from lxml import etree

from intygstjanst.contracts.xml import CORE, SOAP11, TYPES, schema_errors
from intygstjanst.conformance import templates
from intygstjanst.contracts.registry import ContractSpec, contract_specs

if TYPE_CHECKING:
    from intygstjanst.conformance.runner import CaseContext

CATEGORIES = (
    "valid",
    "duplicate",
    "idempotency",
    "unknown-id",
    "wrong-patient",
    "revoked",
    "bad-input",
    "not-authorized",
    "wsdl",
)


class CaseFailure(Exception):
    """The producer's answer was not what the contract calls for; the message says how."""


class CaseSkipped(Exception):
    """The case cannot run here (a contract it needs is not served, a data value is empty)."""


# -- Answers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A SOAP answer taken apart: either a payload element or a Fault."""

    status: int
    payload: etree._Element | None = None
    fault_code: str | None = None
    fault_string: str | None = None

    @property
    def is_fault(self) -> bool:
        return self.fault_code is not None


def parse_answer(status: int | None, content_type: str, body: bytes) -> Answer:
    """Check the envelope shape common to every answer; raises CaseFailure naming what is wrong."""
    if status is None:
        raise CaseFailure("no HTTP answer")
    snippet = body[:300].decode("utf-8", "replace")
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except etree.XMLSyntaxError as exc:
        raise CaseFailure(f"HTTP {status}: the answer is not XML ({exc}); it starts {snippet!r}") from None
    if root.tag != f"{{{SOAP11}}}Envelope":
        raise CaseFailure(f"HTTP {status}: the answer is not a SOAP 1.1 Envelope but {root.tag}")
    if not content_type.lower().startswith("text/xml"):
        raise CaseFailure(f"HTTP {status}: a SOAP 1.1 answer must have content type text/xml, got {content_type!r}")
    body_element = root.find(f"{{{SOAP11}}}Body")
    children = [c for c in body_element if isinstance(c.tag, str)] if body_element is not None else []
    if len(children) != 1:
        raise CaseFailure(f"HTTP {status}: the SOAP Body must hold exactly one element, found {len(children)}")
    element = children[0]
    if element.tag == f"{{{SOAP11}}}Fault":
        code = (element.findtext("faultcode") or "").strip()
        string = (element.findtext("faultstring") or "").strip()
        if not code or not string:
            raise CaseFailure(f"HTTP {status}: a SOAP 1.1 Fault needs a faultcode and a faultstring")
        return Answer(status, fault_code=code, fault_string=string)
    return Answer(status, payload=element)


# -- Expectations ----------------------------------------------------------------------------------


class Expectation(Protocol):
    def check(self, answer: Answer, spec: ContractSpec, values: Mapping[str, str]) -> None:
        """Raise CaseFailure when ``answer`` is not what the contract calls for."""

    def describe(self, values: Mapping[str, str] | None = None) -> str: ...


# Prefixes for the shared namespaces answers use, in XPath checks; ``r`` is added per contract.
SHARED_PREFIXES = {
    "core": CORE,
    "types": TYPES,
    "c1": "urn:riv:clinicalprocess:healthcond:certificate:1",
    "rcv": "urn:riv:clinicalprocess:healthcond:certificate:receiver:types:1",
    "mon": "urn:riv:itintegration:monitoring:1",
    "rh": "urn:riv:clinicalprocess:healthcond:rehabilitation:1",
    "types2": "urn:riv:clinicalprocess:healthcond:certificate:types:2",
    "cert": "urn:riv:insuranceprocess:certificate:1",
    "ts": "urn:local:se:intygstjanster:services:1",
}


def namespaces(spec: ContractSpec) -> dict[str, str]:
    """Prefixes usable in XPath checks: ``r`` is the contract's own (responder) namespace."""
    return {"r": spec.namespace, **SHARED_PREFIXES}


@dataclass(frozen=True)
class XPathCheck:
    """A check on the answer payload: how many nodes ``path`` selects, optionally with a given text.

    ``count`` is exact unless ``at_least`` is set. ``text`` is the text the selected nodes must
    have; with ``text`` the count is of the matching nodes. Both ``path`` and ``text`` may use
    ``${...}`` values of the case (ids are the kit's own, so they are safe inside XPath quotes).
    """

    path: str
    text: str | None = None
    count: int | None = 1
    at_least: bool = False
    what: str = ""  # human words for the message, e.g. "the certificate's id"

    def check(self, payload: etree._Element, spec: ContractSpec, values: Mapping[str, str]) -> None:
        path = templates.fill(self.path, values)
        nodes = payload.xpath(path, namespaces=namespaces(spec))
        assert isinstance(nodes, list)
        label = self.what or path
        if self.text is not None:
            wanted = templates.fill(self.text, values)
            found = [_text(node) for node in nodes]
            matching = [text for text in found if text == wanted]
            if self.count is None:
                return
            if (len(matching) >= self.count) if self.at_least else (len(matching) == self.count):
                return
            bound = "at least " if self.at_least else ""
            raise CaseFailure(
                f"{label}: expected {bound}{self.count} with text {wanted!r}, found {len(matching)} "
                f"(values present: {', '.join(repr(t) for t in found[:8]) or 'none'})"
            )
        if self.count is None or (len(nodes) >= self.count if self.at_least else len(nodes) == self.count):
            return
        bound = "at least " if self.at_least else ""
        raise CaseFailure(f"{label}: expected {bound}{self.count} node(s) at {path}, found {len(nodes)}")


def _text(node: object) -> str:
    if isinstance(node, etree._Element):
        return (node.text or "").strip()
    return str(node).strip()


def has(path: str, text: str | None = None, what: str = "") -> XPathCheck:
    return XPathCheck(path, text, 1, at_least=True, what=what)


def exactly(count: int, path: str, text: str | None = None, what: str = "") -> XPathCheck:
    return XPathCheck(path, text, count, what=what)


def lacks(path: str, text: str | None = None, what: str = "") -> XPathCheck:
    return XPathCheck(path, text, 0, what=what)


@dataclass(frozen=True)
class Reply:
    """A normal answer: HTTP 200, the contract's response element, valid against its schema.

    ``codes`` are the acceptable ``resultCode`` values (empty: the response has no ResultType);
    ``error_ids`` (the acceptable ``errorId`` values) and ``text`` are checked when given. The result is looked up wherever the
    contract's generation keeps it (certificate:3 ResultType, legacy ResultOfCall, ResultatTyp).
    """

    codes: tuple[str, ...] = ()
    error_ids: tuple[str, ...] = ()  # empty: any errorId
    text: str | None = None
    checks: tuple[XPathCheck, ...] = ()

    def describe(self, values: Mapping[str, str] | None = None) -> str:
        if not self.codes:
            return "a valid response"
        parts = ["resultCode " + " or ".join(self.codes)]
        if self.error_ids:
            parts.append("errorId " + " or ".join(self.error_ids))
        if self.text:
            text = templates.fill(self.text, values) if values is not None else self.text
            parts.append(f"text {text!r}")
        return ", ".join(parts)

    def check(self, answer: Answer, spec: ContractSpec, values: Mapping[str, str]) -> None:
        expected = self.describe(values)
        if answer.is_fault:
            raise CaseFailure(f"expected {expected}, got a SOAP Fault ({answer.fault_code}): {answer.fault_string}")
        payload = answer.payload
        assert payload is not None
        if answer.status != 200:
            raise CaseFailure(f"expected HTTP 200 with {expected}, got HTTP {answer.status}")
        if payload.tag != spec.response_tag:
            raise CaseFailure(f"expected the response element {spec.response_tag}, got {payload.tag}")
        if not spec.schema.validate(payload):
            error = schema_errors(spec.schema)[0]  # the first error is the cause
            raise CaseFailure(f"the response is not valid against {spec.key}'s schema: {error.path}: {error.message}")
        if self.codes:
            code = _first_text(payload, "resultCode")
            error_id = _first_text(payload, "errorId")
            text = _first_text(payload, "resultText") or _first_text(payload, "errorText") or _first_text(payload, "infoText")
            if (
                code not in self.codes
                or (self.error_ids and error_id not in self.error_ids)
                or (self.text is not None and text != templates.fill(self.text, values))
            ):
                got = f"resultCode {code}" + (f", errorId {error_id}" if error_id else "") + (f": {text}" if text else "")
                raise CaseFailure(f"expected {expected}, got {got}")
        for xpath in self.checks:
            xpath.check(payload, spec, values)


def _first_text(payload: etree._Element, local_name: str) -> str | None:
    found = payload.xpath(f"(.//*[local-name()='{local_name}'])[1]")
    assert isinstance(found, list)
    return _text(found[0]) if found else None


@dataclass(frozen=True)
class Fault:
    """A SOAP 1.1 Fault with HTTP 500, where the contract answers with one (bad request, refusal)."""

    def describe(self, values: Mapping[str, str] | None = None) -> str:
        return "a SOAP Fault"

    def check(self, answer: Answer, spec: ContractSpec, values: Mapping[str, str]) -> None:
        if not answer.is_fault:
            assert answer.payload is not None
            code = _first_text(answer.payload, "resultCode")
            got = f"resultCode {code}" if code else f"a {etree.QName(answer.payload).localname} element"
            raise CaseFailure(f"expected a SOAP Fault, got HTTP {answer.status} with {got}")
        if answer.status != 500:
            raise CaseFailure(f"a SOAP 1.1 Fault must come with HTTP 500, got HTTP {answer.status}")


def ok(*checks: XPathCheck) -> Reply:
    return Reply(("OK",), checks=checks)


def info(text: str | None = None, *checks: XPathCheck) -> Reply:
    return Reply(("INFO",), text=text, checks=checks)


def error(*error_ids: str, text: str | None = None, checks: tuple[XPathCheck, ...] = ()) -> Reply:
    """ERROR with one of ``error_ids`` (none given: any errorId, where the contract leaves it open),
    and ``checks`` on the rest of the answer (e.g. a revoked certificate still comes with it)."""
    return Reply(("ERROR",), error_ids=error_ids, text=text, checks=checks)


def answer(*checks: XPathCheck) -> Reply:
    """A valid response without a ResultType (e.g. GetCertificate), checked by XPath."""
    return Reply((), checks=checks)


# -- Steps -----------------------------------------------------------------------------------------

# Changes a rendered request before it is sent (bad input, optional elements); gets the case values.
Mutation = Callable[[etree._Element, Mapping[str, str]], None]

DEFAULT_ADDRESS = "${logicalAddress}"


@dataclass(frozen=True)
class Call:
    """Send one request built from ``template`` to ``contract`` and check the answer.

    ``params`` set or replace case values for this step only (values may use ``${...}``);
    ``address`` is the logical address (``None``: the header is left out).
    """

    contract: str
    template: str
    expect: Expectation
    params: Mapping[str, str] = field(default_factory=dict)
    mutations: tuple[Mutation, ...] = ()
    address: str | None = DEFAULT_ADDRESS
    label: str = ""
    needs: tuple[str, ...] = ()  # data values that must be non-empty

    def contracts(self) -> tuple[str, ...]:
        return (self.contract,)

    def describe(self) -> str:
        return self.label or self.contract

    def run(self, ctx: CaseContext) -> None:
        ctx.call(self)

    def but(self, **changes: Any) -> Call:
        """This call with some fields changed (checked by ``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class WsdlLoads:
    """The WSDL at ``<endpoint>?wsdl`` loads in zeep and describes the contract's operation."""

    contract: str

    def contracts(self) -> tuple[str, ...]:
        return (self.contract,)

    def describe(self) -> str:
        return f"{self.contract} ?wsdl"

    def run(self, ctx: CaseContext) -> None:
        ctx.check_wsdl(self.contract)


Step = Call | WsdlLoads


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    category: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"case {self.id}: category {self.category!r} is not one of {', '.join(CATEGORIES)}")

    def contracts(self) -> list[str]:
        return list(dict.fromkeys(key for step in self.steps for key in step.contracts()))

    def needs(self) -> list[str]:
        return list(dict.fromkeys(name for step in self.steps if isinstance(step, Call) for name in step.needs))


@dataclass(frozen=True)
class Suite:
    """The cases for one contract. ``probe`` names a case with a plain successful call of the
    contract; the generic cases (WSDL, schema violation, missing address, not authorized) repeat
    its steps up to that call and change the call."""

    contract: str
    cases: Sequence[Case]
    probe: str = "valid"
    title: str = ""

    @property
    def id(self) -> str:
        return self.contract

    def all_cases(self) -> list[Case]:
        return [*self.cases, *generic_cases(self)]

    def case(self, case_id: str) -> Case:
        for case in self.all_cases():
            if case.id == case_id:
                return case
        raise KeyError(f"{self.contract} has no case {case_id!r}")


UNKNOWN_ELEMENT = "conformanceUnknownElement"


def insert_unknown_element(payload: etree._Element, _values: Mapping[str, str]) -> None:
    """An element of the payload's own namespace that the schema does not declare, placed first:
    ``xs:any namespace="##other"`` extension points cannot admit it, so any schema rejects it."""
    payload.insert(0, etree.Element(f"{{{etree.QName(payload).namespace}}}{UNKNOWN_ELEMENT}"))


def generic_cases(suite: Suite) -> list[Case]:
    probe = next(case for case in suite.cases if case.id == suite.probe)
    own = [i for i, step in enumerate(probe.steps) if isinstance(step, Call) and step.contract == suite.contract]
    if not own:
        raise ValueError(f"{suite.contract}: the probe case {probe.id!r} never calls {suite.contract}")
    # Up to the probe's own successful call: what comes after it (reading back) is not needed here.
    setup, last = probe.steps[: own[0]], probe.steps[own[0]]
    assert isinstance(last, Call)
    final = last.but(label="")
    # The fault-to-answer rule: where the national service answers a fault with the contract's own
    # response, a schema violation is ERROR / VALIDATION_ERROR with HTTP 200; elsewhere a SOAP Fault.
    spec = contract_specs()[suite.contract]
    if spec.fault_rewrite:
        # The rehabilitation contracts' results carry no errorId.
        violation: Expectation = error() if spec.domain.endswith(":rehabilitation") else error("VALIDATION_ERROR")
        answered = "with ERROR / VALIDATION_ERROR (HTTP 200), as the national service answers"
    else:
        violation, answered = Fault(), "with a SOAP Fault"
    return [
        Case("wsdl", "the WSDL at ?wsdl loads in zeep and declares the operation", "wsdl", (WsdlLoads(suite.contract),)),
        Case(
            "schema-violation",
            f"a request the schema does not allow is answered {answered}",
            "bad-input",
            (*setup, final.but(expect=violation, mutations=(*final.mutations, insert_unknown_element))),
        ),
        Case(
            "missing-logical-address",
            "a request without its logical address (LogicalAddress, or wsa:To in RIV-TA 2.0) is answered with a SOAP Fault",
            "bad-input",
            (*setup, final.but(expect=Fault(), address=None)),
        ),
        Case(
            "not-authorized",
            "a call for a logical address the consumer is not authorized for is answered with a SOAP Fault",
            "not-authorized",
            (
                *setup,
                final.but(
                    expect=Fault(),
                    address="${unauthorizedLogicalAddress}",
                    needs=(*final.needs, "unauthorizedLogicalAddress"),
                ),
            ),
        ),
    ]
