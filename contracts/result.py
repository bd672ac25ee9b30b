"""The logical outcome of a call and the result structures that carry it on the wire.

A decision ends in one :class:`Outcome`: OK, INFO with a text, or ERROR with an errorId and a text.
Only TECHNICAL_ERROR invites the caller to retry; VALIDATION_ERROR and APPLICATION_ERROR mean that
the same request will fail again. Each contract family writes the outcome in its own structure
(:class:`ResultShape`): the certificate:3 ``ResultType``, insuranceprocess ``ResultOfCall``
(RIV-TA 2.0) or Transportstyrelsen's ``ResultatTyp``; the same decision is served by contracts of
all three, so the business logic never writes the structure itself.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

from lxml import etree

from intygstjanst.contracts.xml import CORE, HEALTHREPORTING, TS_SERVICES, element, sub

if TYPE_CHECKING:
    from intygstjanst.contracts.naming import ContractName


class ResultCode(str, enum.Enum):
    OK = "OK"
    INFO = "INFO"
    ERROR = "ERROR"


class ErrorId(str, enum.Enum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    APPLICATION_ERROR = "APPLICATION_ERROR"
    TECHNICAL_ERROR = "TECHNICAL_ERROR"
    REVOKED = "REVOKED"


def listed(items: Iterable[object], limit: int, separator: str = "; ", prefix: str = "") -> str:
    """At most ``limit`` of ``items`` (each after ``prefix``), joined, and how many more there were:
    an answer listing violations stays bounded however many a request holds (only the listed ones
    are turned into text)."""
    collected = list(items)
    text = separator.join(prefix + str(item) for item in islice(collected, limit))
    if len(collected) > limit:
        text += f"{separator}{prefix}and {len(collected) - limit} more (limit max_listed_violations)"
    return text


@dataclass(frozen=True)
class Outcome:
    """What a call achieved, whatever structure its contract writes it in."""

    code: ResultCode
    text: str | None = None
    error_id: ErrorId | None = None


OK = Outcome(ResultCode.OK)


def info(text: str) -> Outcome:
    return Outcome(ResultCode.INFO, text)


class LogicalError(Exception):
    """A handler's logical refusal, answered as ``ERROR`` with the given errorId and text."""

    def __init__(self, error_id: ErrorId, text: str) -> None:
        super().__init__(text)
        self.error_id = error_id
        self.text = text

    @property
    def outcome(self) -> Outcome:
        return Outcome(ResultCode.ERROR, self.text, self.error_id)


# The version 1 certificate ResultType, of the intyg helper contracts that predate version 3.
CERTIFICATE_1 = "urn:riv:clinicalprocess:healthcond:certificate:1"


class ResultShape(enum.Enum):
    """The result structure a contract answers with (``result`` in contracts.toml)."""

    RESULT_TYPE = "ResultType"  # certificate:3, in ``result``
    RESULT_TYPE_1 = "ResultType1"  # certificate:1 (same children), in ``result``
    RESULT_OF_CALL = "ResultOfCall"  # insuranceprocess healthreporting:2, in ``result``
    RESULTAT_TYP = "ResultatTyp"  # Transportstyrelsen services:1, in ``resultat``

    @property
    def element(self) -> str:
        """The local name of the response child holding the structure."""
        return "resultat" if self is ResultShape.RESULTAT_TYP else "result"

    @property
    def namespace(self) -> str:
        """The namespace of ``resultCode`` and its siblings."""
        return _NAMESPACES[self]


_NAMESPACES = {
    ResultShape.RESULT_TYPE: CORE,
    ResultShape.RESULT_TYPE_1: CERTIFICATE_1,
    ResultShape.RESULT_OF_CALL: HEALTHREPORTING,
    ResultShape.RESULTAT_TYP: TS_SERVICES,
}


def result_payload(contract: ContractName, outcome: Outcome) -> etree._Element:
    """``contract``'s response holding nothing but ``outcome`` in the contract's result structure."""
    if contract.result in (ResultShape.RESULT_TYPE, ResultShape.RESULT_TYPE_1):
        return result_response(
            contract.namespace, contract.response, outcome.code, outcome.text, outcome.error_id, contract.result.namespace
        )
    if contract.result is ResultShape.RESULT_OF_CALL:
        return _result_of_call(contract, outcome)
    return _resultat(contract, outcome)


def _result_of_call(contract: ContractName, outcome: Outcome) -> etree._Element:
    """healthreporting:2 ``ResultOfCall``: INFO carries ``infoText``, ERROR ``errorId`` and ``errorText``."""
    response = contract.response_element(r=HEALTHREPORTING)
    result = sub(response, f"{{{contract.namespace}}}result")
    sub(result, f"{{{HEALTHREPORTING}}}resultCode", outcome.code.value)
    if outcome.code is ResultCode.INFO and outcome.text:
        sub(result, f"{{{HEALTHREPORTING}}}infoText", outcome.text)
    if outcome.code is ResultCode.ERROR:
        # This domain predates REVOKED: a refusal because of a revocation is an application error.
        error_id = outcome.error_id if outcome.error_id not in (None, ErrorId.REVOKED) else ErrorId.APPLICATION_ERROR
        assert error_id is not None
        sub(result, f"{{{HEALTHREPORTING}}}errorId", error_id.value)
        if outcome.text:
            sub(result, f"{{{HEALTHREPORTING}}}errorText", outcome.text)
    return response


def _resultat(contract: ContractName, outcome: Outcome) -> etree._Element:
    """Transportstyrelsen's ``ResultatTyp``, in ``resultat``."""
    response = contract.response_element(r=TS_SERVICES)
    result = sub(response, f"{{{contract.namespace}}}resultat")
    sub(result, f"{{{TS_SERVICES}}}resultCode", outcome.code.value)
    if outcome.text:
        sub(result, f"{{{TS_SERVICES}}}resultText", outcome.text)
    if outcome.error_id is not None:
        sub(result, f"{{{TS_SERVICES}}}errorId", outcome.error_id.value)
    return response


def result_element(
    parent_namespace: str,
    code: ResultCode,
    text: str | None = None,
    error_id: ErrorId | None = None,
    tag: str = "result",
    namespace: str = CORE,
) -> etree._Element:
    """A ``<result>`` element in the responder namespace holding a ResultType of ``namespace``
    (certificate:3 by default, or certificate:1: both write resultCode, resultText, errorId)."""
    element = etree.Element(f"{{{parent_namespace}}}{tag}")
    sub(element, f"{{{namespace}}}resultCode", code.value)
    if text:
        sub(element, f"{{{namespace}}}resultText", text)
    if error_id is not None:
        sub(element, f"{{{namespace}}}errorId", error_id.value)
    return element


def result_response(
    namespace: str,
    response: str,
    code: ResultCode,
    text: str | None = None,
    error_id: ErrorId | None = None,
    result_namespace: str = CORE,
) -> etree._Element:
    """The common response shape ``<XResponse><result>...</result></XResponse>``."""
    root = element(f"{{{namespace}}}{response}", {None: namespace, "core": result_namespace})
    root.append(result_element(namespace, code, text, error_id, namespace=result_namespace))
    return root
