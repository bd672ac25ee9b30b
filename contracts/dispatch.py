"""From HTTP request to handler and back: every check a RIV-TA producer makes before the business
logic runs, in order, each failure answered with a SOAP Fault that says what to fix."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, runtime_checkable

from lxml import etree

from intygstjanst.contracts.binding import binding_errors
from intygstjanst.contracts.call import Answer, Call, Disclosure, S
from intygstjanst.contracts.envelope import read_envelope, read_routing_header, wrap
from intygstjanst.contracts.faults import SoapFault, render_fault
from intygstjanst.contracts.logs import structured
from intygstjanst.contracts.registry import Contract
from intygstjanst.contracts.result import LogicalError, Outcome
from intygstjanst.contracts.rewrite import UNMARSHALLING, fault_outcome, fault_response
from intygstjanst.contracts.xml import HardenedParser, ParseLimits, UnsafeXml, schema_errors

log = logging.getLogger("intygstjanst.dispatch")
audit = logging.getLogger("intygstjanst.audit")


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


@runtime_checkable
class Screening(Protocol):
    """An authorizer that can tell from the caller and the contract alone (before the logical address
    is known) that no logical address would be granted; such a call is refused before its body is
    parsed."""

    def may_grant(self, caller: Caller, contract: Contract) -> bool: ...


def allow_all(caller: Caller, contract: Contract, logical_address: str) -> str | None:
    return caller.original_consumer or caller.consumer


@dataclass(frozen=True)
class Access:
    """An answer about to disclose patients' data, and who asked for it."""

    caller: Caller
    contract: Contract
    logical_address: str
    disclosed: tuple[Disclosure, ...]


# Writes the access-log entries of an answer, committed before it returns; raises when they cannot
# be written, and the answer is then withheld.
Recorder = Callable[[Access], None]


@dataclass(frozen=True)
class SoapResponse:
    status: int
    body: bytes


class Dispatcher(Generic[S]):
    """Runs calls for handlers that work with ``services`` (passed on to them in every ``Call``)."""

    def __init__(self, services: S, limits: ParseLimits, authorizer: Authorizer = allow_all, recorder: Recorder | None = None) -> None:
        self.services = services
        self.authorizer = authorizer
        self.screening: Screening | None = authorizer if isinstance(authorizer, Screening) else None
        self.recorder = recorder  # None: no access log (protocol tests and benchmarks of the handlers alone)
        self.parser = HardenedParser(limits)

    def handle(self, contract: Contract, body: bytes, soap_action: str | None, caller: Caller) -> SoapResponse:
        """Parse, check, authorize, validate and run one call; never raises."""
        started = time.perf_counter()
        outcome: Outcome | None = None  # None: answered with a Fault
        logical_address: str | None = None
        authorized: str | None = None
        try:
            if caller.refusal is not None:
                # The transport did not accept the caller's identity: refused before a byte of the body
                # is parsed, so a flood from such a peer costs nothing but its reading.
                log.warning("refused %s before reading the body: %s", contract.name, caller.refusal)
                raise SoapFault(caller.refusal)
            if self.screening is not None and not self.screening.may_grant(caller, contract):
                # Refused whatever the logical address: only the routing header is read (the Fault
                # names the address), so a hostile payload from a caller without a grant costs
                # nothing but a scan of its bytes.
                header = read_routing_header(self.parser, body)
                if header is not None:
                    logical_address = self._logical_address(contract, header.logical_address, header.wsa_to)
                    authorized = self.authorizer(caller, contract, logical_address)
            root = self.parser.parse(body)
            envelope = read_envelope(root)
            self._check_body(contract, envelope.payload.tag)
            self._check_soap_action(contract, soap_action)
            logical_address = self._logical_address(contract, envelope.logical_address, envelope.wsa_to)
            authorized = self.authorizer(caller, contract, logical_address)
        except Exception as exc:
            # Not a call of the contract (unsafe or malformed XML, not SOAP 1.1, another body
            # element, a wrong SOAPAction, no routing header, a refused caller): always a Fault.
            audit_call(caller, authorized, contract, logical_address, None, time.perf_counter() - started)
            if isinstance(exc, UnsafeXml):
                return SoapResponse(500, render_fault(SoapFault(str(exc))))
            if isinstance(exc, SoapFault):
                return SoapResponse(exc.status, render_fault(exc))
            return self._internal_error(contract)
        # From here on it is a call of the contract: where the national service answers a fault
        # with an ordinary ERROR answer (contracts.rewrite), so does this one.
        try:
            try:
                self._validate(contract, envelope.payload)
                call = Call(contract, envelope.payload, logical_address, authorized, self.services, body)
                try:
                    answer = contract.handler(call)
                except LogicalError as refusal:
                    # A refusal the handler did not answer itself, in the contract's result structure.
                    answer = Answer.result(contract, refusal.outcome)
                if answer.disclosed and self.recorder is not None:
                    self._record(Access(caller, contract, logical_address, answer.disclosed))
            except SoapFault as fault:
                if not contract.fault_rewrite:
                    return SoapResponse(fault.status, render_fault(fault))
                answer = self._rewritten(contract, fault.message, fault.code)
            except Exception:
                if not contract.fault_rewrite:
                    return self._internal_error(contract)
                reference = self._log_internal_error(contract)
                answer = self._rewritten(contract, _internal_text(contract, reference), "Server")
            outcome = answer.outcome
            return SoapResponse(200, wrap(answer.payload))
        finally:
            audit_call(caller, authorized, contract, logical_address, outcome, time.perf_counter() - started)

    def _record(self, access: Access) -> None:
        """The access log written, or a Fault (rewritten where the contract's national service
        rewrites faults) instead of the answer: data whose disclosure is not logged is not given."""
        assert self.recorder is not None
        try:
            self.recorder(access)
        except Exception as exc:
            reference = uuid.uuid4().hex[:12]
            # Database errors carry no statement parameters (persistence.db hides them): no personnummer.
            log.error(
                "the access log could not be written for %s, so the answer is withheld (reference %s): %s: %s",
                access.contract.name, reference, type(exc).__name__, exc,
            )
            raise SoapFault(f"the access log could not be written, so nothing is disclosed; reference {reference} in the service log", "Server") from None

    def server_error(self, contract: Contract, caller: Caller, text: str, seconds: float) -> SoapResponse:
        """The answer to a call whose handling was abandoned (see offload.py): a server error, in
        the contract's ERROR answer where the national service rewrites faults; audited here."""
        outcome: Outcome | None = None
        try:
            if not contract.fault_rewrite:
                return SoapResponse(500, render_fault(SoapFault(text, "Server")))
            answer = self._rewritten(contract, text, "Server")
            outcome = answer.outcome
            return SoapResponse(200, wrap(answer.payload))
        finally:
            audit_call(caller, None, contract, None, outcome, seconds)

    @staticmethod
    def _rewritten(contract: Contract, text: str, code: str) -> Answer:
        outcome = fault_outcome(contract, text, code)
        return Answer(fault_response(contract, outcome), outcome)

    @staticmethod
    def _log_internal_error(contract: Contract) -> str:
        reference = uuid.uuid4().hex[:12]
        log.exception("unexpected error in %s (reference %s)", contract.name, reference)
        return reference

    def _internal_error(self, contract: Contract) -> SoapResponse:
        reference = self._log_internal_error(contract)
        return SoapResponse(500, render_fault(SoapFault(_internal_text(contract, reference), "Server")))
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
        """A schema violation is answered as the national service's SOAP stack words it: the text
        begins ``Unmarshalling Error: `` (consumers and the fault rewrite recognise it by that)."""
        if contract.schema.validate(payload):
            return
        errors = schema_errors(contract.schema)
        if not contract.validate_request:
            errors = binding_errors(errors, contract.xsd_path)
            if not errors:
                return
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        what = "schema violation" if contract.validate_request else "the request does not bind"
        raise SoapFault(
            f"{UNMARSHALLING}: {contract.name} {contract.version} {what} at {first.path} (line {first.line}): {first.message}{more}"
        )


def _internal_text(contract: Contract, reference: str) -> str:
    return f"internal error in {contract.name}; reference {reference} in the service log"


def audit_call(
    caller: Caller,
    authorized: str | None,
    contract: Contract | None,
    logical_address: str | None,
    outcome: Outcome | None,
    seconds: float,
    path: str | None = None,
) -> None:
    """One JSON line per call, also for calls refused before they reach a contract (``contract``
    None: the ``path`` asked for is logged instead). ``outcome`` None: answered with a Fault."""
    if not audit.isEnabledFor(logging.INFO):
        return
    audit.info(
        "call",
        extra=structured(
            "call",
            consumer=caller.consumer,
            original_consumer=caller.original_consumer,
            authorized=authorized,
            contract=contract.name if contract else None,
            version=contract.version if contract else None,
            path=path,
            logical_address=logical_address,
            result=outcome.code.value if outcome else "FAULT",
            error_id=outcome.error_id.value if outcome and outcome.error_id else None,
            ms=round(seconds * 1000, 2),
        ),
    )
