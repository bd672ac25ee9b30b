"""From HTTP request to handler and back: every check a RIV-TA producer makes before the business
logic runs, in order, each failure answered with a SOAP Fault that says what to fix."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from lxml import etree

from intygstjanst.contracts.call import Call
from intygstjanst.contracts.envelope import Serialized, read_envelope, wrap_response, wrap_serialized
from intygstjanst.contracts.faults import SoapFault, render_fault
from intygstjanst.contracts.registry import Contract
from intygstjanst.contracts.result import LogicalError, ResultCode, result_response
from intygstjanst.contracts.xml import HardenedParser, ParseLimits, UnsafeXml

if TYPE_CHECKING:
    from intygstjanst.services import Services

log = logging.getLogger("intygstjanst.dispatch")
audit = logging.getLogger("intygstjanst.audit")

# The answer's result code for the audit line: a child of the response or of its ``result``
# (``resultat`` in the legacy contracts); never a search through a possibly huge answer.
_RESULT_CODE = etree.XPath(
    "*[local-name() = 'resultCode']/text() | */*[local-name() = 'resultCode']/text()", smart_strings=False
)


@dataclass(frozen=True)
class Caller:
    """Who is calling, as established by the transport (see tls/ for how)."""

    consumer: str | None = None  # HSA-id from the verified client certificate
    original_consumer: str | None = None  # x-rivta-original-serviceconsumer-hsaid, from platforms only
    # Why the transport's identity claims cannot be accepted (e.g. a forwarded certificate from an
    # untrusted peer); the call is then refused at authorization, so it is audited like any other.
    refusal: str | None = None


# Decides whether ``caller`` may call ``contract`` for ``logical_address``; raises SoapFault if not,
# and returns the HSA-id that was authorized.
Authorizer = Callable[[Caller, Contract, str], str | None]


def allow_all(caller: Caller, contract: Contract, logical_address: str) -> str | None:
    return caller.original_consumer or caller.consumer


@dataclass(frozen=True)
class SoapResponse:
    status: int
    body: bytes


class Dispatcher:
    def __init__(self, services: Services, authorizer: Authorizer = allow_all) -> None:
        self.services = services
        self.authorizer = authorizer
        settings = services.settings
        self.parser = HardenedParser(ParseLimits(settings.max_body_bytes, settings.max_depth, settings.max_elements))

    def handle(self, contract: Contract, body: bytes, soap_action: str | None, caller: Caller) -> SoapResponse:
        """Parse, check, authorize, validate and run one call; never raises."""
        started = time.perf_counter()
        outcome = "FAULT"
        logical_address: str | None = None
        authorized: str | None = None
        try:
            root = self.parser.parse(body)
            envelope = read_envelope(root)
            self._check_body(contract, envelope.payload.tag)
            self._check_soap_action(contract, soap_action)
            logical_address = self._logical_address(contract, envelope.logical_address, envelope.wsa_to)
            authorized = self.authorizer(caller, contract, logical_address)
            self._validate(contract, envelope.payload)
            call = Call(contract, envelope.payload, logical_address, authorized, self.services, body)
            try:
                response = contract.handler(call)
            except LogicalError as refusal:
                response = result_response(
                    contract.namespace, contract.response, ResultCode.ERROR, refusal.text, refusal.error_id
                )
            if isinstance(response, Serialized):
                outcome = response.result_code or "OK"
                return SoapResponse(200, wrap_serialized(response.xml))
            codes = cast(list[str], _RESULT_CODE(response))
            outcome = str(codes[0]).strip() if codes else "OK"
            return SoapResponse(200, wrap_response(response))
        except UnsafeXml as exc:
            return SoapResponse(500, render_fault(SoapFault(str(exc))))
        except SoapFault as fault:
            return SoapResponse(fault.status, render_fault(fault))
        except Exception:
            reference = uuid.uuid4().hex[:12]
            log.exception("unexpected error in %s (reference %s)", contract.name, reference)
            return SoapResponse(
                500,
                render_fault(
                    SoapFault(f"internal error in {contract.name}; reference {reference} in the service log", "Server")
                ),
            )
        finally:
            audit_call(caller, authorized, contract, logical_address, outcome, time.perf_counter() - started)

    @staticmethod
    def _check_body(contract: Contract, tag: str) -> None:
        if tag != contract.request_tag:
            raise SoapFault(
                f"this endpoint serves {contract.name} {contract.version} and expects the body element "
                f"{contract.request_tag}, got {tag}"
            )

    @staticmethod
    def _check_soap_action(contract: Contract, soap_action: str | None) -> None:
        if soap_action is None:
            return
        action = soap_action.strip().strip('"')
        if action and action != contract.soap_action:
            raise SoapFault(f"SOAPAction {action!r} does not match the body element; expected {contract.soap_action!r}")

    @staticmethod
    def _logical_address(contract: Contract, logical_address: str | None, wsa_to: str | None) -> str:
        if contract.uses_wsa_to:
            address = wsa_to if wsa_to is not None else logical_address
            header = "wsa:To (http://www.w3.org/2005/08/addressing)"
        else:
            address = logical_address
            header = "LogicalAddress (urn:riv:itintegration:registry:1)"
        if not address:
            raise SoapFault(f"the SOAP Header must carry a non-empty {header} for {contract.name} ({contract.profile})")
        return address

    @staticmethod
    def _validate(contract: Contract, payload: etree._Element) -> None:
        if contract.schema.validate(payload):
            return
        errors = list(contract.schema.error_log)  # type: ignore[call-overload]  # lxml-stubs lacks __iter__
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise SoapFault(
            f"{contract.name} {contract.version} schema violation at {first.path} (line {first.line}): {first.message}{more}"
        )


def audit_call(
    caller: Caller,
    authorized: str | None,
    contract: Contract | None,
    logical_address: str | None,
    outcome: str,
    seconds: float,
    path: str | None = None,
) -> None:
    """One JSON line per call, also for calls refused before they reach a contract (``contract``
    None: the ``path`` asked for is logged instead)."""
    if not audit.isEnabledFor(logging.INFO):
        return
    record: dict[str, Any] = {
        "event": "call",
        "consumer": caller.consumer,
        "original_consumer": caller.original_consumer,
        "authorized": authorized,
        "contract": contract.name if contract else None,
        "version": contract.version if contract else None,
        "path": path,
        "logical_address": logical_address,
        "result": outcome,
        "ms": round(seconds * 1000, 2),
    }
    audit.info(json.dumps(record, ensure_ascii=False))
