"""The outcome of a call, independent of the contract generation that answers it.

The same decision (register, send, revoke, set a status) is served by RIV-TA 2.1 contracts that
answer with the certificate:3 ``ResultType`` and by legacy contracts that answer with
``ResultOfCall`` (insuranceprocess, RIV-TA 2.0) or ``ResultatTyp`` (Transportstyrelsen v1). The
business logic returns an :class:`Outcome` for OK / INFO and raises ``LogicalError`` for ERROR;
each endpoint renders it in its own shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from intygstjanst.contracts.call import Call
from intygstjanst.contracts.result import ErrorId, LogicalError, ResultCode, result_response
from intygstjanst.contracts.xml import sub

HR = "urn:riv:insuranceprocess:healthreporting:2"
TS = "urn:local:se:intygstjanster:services:1"


@dataclass(frozen=True)
class Outcome:
    code: ResultCode
    text: str | None = None
    error_id: ErrorId | None = None


OK = Outcome(ResultCode.OK)


def info(text: str) -> Outcome:
    return Outcome(ResultCode.INFO, text)


def outcome_of(decide: Callable[[], Outcome]) -> Outcome:
    """Run ``decide`` and turn a logical refusal into an ERROR outcome."""
    try:
        return decide()
    except LogicalError as refusal:
        return Outcome(ResultCode.ERROR, refusal.text, refusal.error_id)


def result_type(call: Call, outcome: Outcome) -> etree._Element:
    """``<XResponse><result>`` holding a certificate:3 ``ResultType``."""
    contract = call.contract
    return result_response(contract.namespace, contract.response, outcome.code, outcome.text, outcome.error_id)


def result_of_call(call: Call, outcome: Outcome) -> etree._Element:
    """``<XResponse><result>`` holding a healthreporting:2 ``ResultOfCall``: INFO carries
    ``infoText``, ERROR ``errorId`` and ``errorText``."""
    response = _response(call, HR)
    result = sub(response, f"{{{call.contract.namespace}}}result")
    sub(result, f"{{{HR}}}resultCode", outcome.code.value)
    if outcome.code is ResultCode.INFO and outcome.text:
        sub(result, f"{{{HR}}}infoText", outcome.text)
    if outcome.code is ResultCode.ERROR:
        # This domain predates REVOKED: a refusal because of a revocation is an application error.
        error_id = outcome.error_id if outcome.error_id not in (None, ErrorId.REVOKED) else ErrorId.APPLICATION_ERROR
        assert error_id is not None
        sub(result, f"{{{HR}}}errorId", error_id.value)
        if outcome.text:
            sub(result, f"{{{HR}}}errorText", outcome.text)
    return response


def resultat(call: Call, outcome: Outcome) -> etree._Element:
    """``<XResponse><resultat>`` holding Transportstyrelsen's ``ResultatTyp``."""
    response = _response(call, TS)
    result = sub(response, f"{{{call.contract.namespace}}}resultat")
    sub(result, f"{{{TS}}}resultCode", outcome.code.value)
    if outcome.text:
        sub(result, f"{{{TS}}}resultText", outcome.text)
    if outcome.error_id is not None:
        sub(result, f"{{{TS}}}errorId", outcome.error_id.value)
    return response


def _response(call: Call, result_namespace: str) -> etree._Element:
    return call.contract.response_element(r=result_namespace)


Render = Callable[[Call, Outcome], etree._Element]


def answered(render: Render, decide: Callable[[Call], Outcome]) -> Callable[[Call], etree._Element]:
    """A handler answering ``decide``'s outcome, refusals included, with ``render``.

    Legacy contracts need this: the dispatcher answers an escaped refusal with the certificate:3
    ResultType, which their schemas do not have.
    """

    def handler(call: Call) -> etree._Element:
        return render(call, outcome_of(lambda: decide(call)))

    return handler
