"""The fault-to-answer rule: on the contracts where the national service does it
(``fault_rewrite`` in contracts.toml), a fault raised while a call is handled (a schema violation,
a Fault from the handler, an unexpected error) is answered as the contract's own response holding an
``ERROR`` result, with HTTP 200, as ``fault-to-response.md`` describes. What is not a call of the
contract at all (unparsable XML, limits, SOAP 1.2, an unknown body element, a refused caller) stays
a SOAP Fault; the dispatcher never rewrites those.

The errorId follows the national order: a schema or binding violation (its text begins
``Unmarshalling Error``) is ``VALIDATION_ERROR``; in the legacy insuranceprocess and
Transportstyrelsen families a Client fault is too; everything else is ``APPLICATION_ERROR``.
``TECHNICAL_ERROR`` is never the result of a rewrite.
"""

from __future__ import annotations

from lxml import etree

from intygstjanst.contracts.naming import ContractName
from intygstjanst.contracts.registry import Contract
from intygstjanst.contracts.result import ErrorId, Outcome, ResultCode, result_payload

UNMARSHALLING = "Unmarshalling Error"
# The families in which a Client fault counts as the caller's error (rule 3b of the spec).
CLIENT_FAULT_FAMILIES = ("insuranceprocess:healthreporting", "local:se:intygstjanster:services")


def fault_outcome(contract: ContractName, text: str, code: str) -> Outcome:
    """The ERROR outcome a fault with faultstring ``text`` and faultcode ``code`` becomes."""
    if UNMARSHALLING in text or (code == "Client" and contract.domain in CLIENT_FAULT_FAMILIES):
        return Outcome(ResultCode.ERROR, text, ErrorId.VALIDATION_ERROR)
    return Outcome(ResultCode.ERROR, text, ErrorId.APPLICATION_ERROR)


def fault_response(contract: Contract, outcome: Outcome) -> etree._Element:
    """``contract``'s response holding ``outcome``: its own ``fault_answer`` where the result
    structure alone is not a valid response, else just the result structure."""
    if contract.fault_answer is not None:
        return contract.fault_answer(contract, outcome)
    return result_payload(contract, outcome)
