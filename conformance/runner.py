"""Running suites against a producer: where each contract is, what each case sends, what came back.

Contracts are found under the base URL by the national platform's path convention
(``/<domain parts>/<Name>/<major>/<profile>``); ``urls`` overrides single contracts. Before the
cases run, each contract's ``?wsdl`` is fetched once: a 404 means the contract is not served there
and its cases are skipped (or fail, for contracts the tester required).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import zeep
from lxml import etree
from intygstjanst.conformance import templates
from intygstjanst.contracts.registry import ContractSpec, contract_specs
from intygstjanst.conformance.data import TestData
from intygstjanst.conformance.model import Call, Case, CaseFailure, CaseSkipped, Step, Suite, parse_answer
from intygstjanst.conformance.suites import all_suites
from intygstjanst.conformance.transport import Exchange, Transport, envelope

PERSONNUMMER_ROOT = "1.2.752.129.2.1.3.1"
SAMORDNINGSNUMMER_ROOT = "1.2.752.129.2.1.3.3"


class Status(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass
class CaseResult:
    suite: Suite
    case: Case
    status: Status
    reason: str = ""
    seconds: float = 0.0
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.suite.id}/{self.case.id}"


@dataclass(frozen=True)
class Availability:
    """Whether a contract is served at its URL, as told by its ``?wsdl``."""

    url: str
    served: bool
    detail: str
    unreachable: bool = False  # the request itself failed (refused, TLS, timeout)


class Listener(Protocol):
    """Receives progress as the run goes (the live progress line)."""

    def case_started(self, index: int, total: int, suite: Suite, case: Case) -> None: ...

    def case_finished(self, index: int, total: int, result: CaseResult) -> None: ...


class RunError(Exception):
    """The run cannot start: unknown contract or case name, unreachable endpoint."""


@dataclass(frozen=True)
class Selection:
    """Which suites and cases to run: contract names (``Name`` or ``Name:major``) and case globs."""

    contracts: Sequence[str] = ()
    cases: Sequence[str] = ()

    def suites(self, suites: Sequence[Suite]) -> list[Suite]:
        if not self.contracts:
            return list(suites)
        chosen = [suite for suite in suites if any(_names(suite.id, wanted) for wanted in self.contracts)]
        for wanted in self.contracts:
            if not any(_names(suite.id, wanted) for suite in suites):
                known = ", ".join(suite.id for suite in suites)
                raise RunError(f"no suite for contract {wanted!r}; suites: {known}")
        return chosen

    def wants(self, suite: Suite, case: Case) -> bool:
        full = f"{suite.id}/{case.id}"
        return not self.cases or any(fnmatch.fnmatchcase(full, p) or fnmatch.fnmatchcase(case.id, p) for p in self.cases)


def _names(suite_id: str, wanted: str) -> bool:
    """``RegisterCertificate`` names every major version; ``RegisterCertificate:3`` one."""
    return suite_id == wanted or suite_id.split(":")[0] == wanted


def parse_url_overrides(pairs: Iterable[str], specs: Mapping[str, ContractSpec]) -> dict[str, str]:
    """``CONTRACT=URL`` pairs (``--url``) as suite id -> URL."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep or not url:
            raise RunError(f"--url {pair!r}: expected CONTRACT=URL")
        keys = [key for key in specs if _names(key, name.strip())]
        if not keys:
            raise RunError(f"--url {pair!r}: {name!r} is not a contract the kit knows")
        out.update({key: url.strip() for key in keys})
    return out


class Runner:
    def __init__(
        self,
        endpoint: str,
        transport: Transport,
        data: TestData,
        *,
        urls: Mapping[str, str] | None = None,
        required: Iterable[str] = (),
        suites: Sequence[Suite] | None = None,
        specs: Mapping[str, ContractSpec] | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.transport = transport
        self.data = data
        self.urls = dict(urls or {})
        self.required = set(required)
        self.suites = list(all_suites() if suites is None else suites)
        self.specs = dict(contract_specs() if specs is None else specs)
        self.run_id = secrets.token_hex(4)
        self._availability: dict[str, Availability] = {}

    def url(self, contract: str) -> str:
        return self.urls.get(contract) or self.endpoint + self.spec(contract).path

    def spec(self, contract: str) -> ContractSpec:
        try:
            return self.specs[contract]
        except KeyError:
            raise CaseSkipped(f"{contract} is not a contract the kit has a definition for") from None

    def availability(self, contract: str) -> Availability:
        if contract not in self._availability:
            url = self.url(contract)
            probe = self.transport.get(f"{contract} ?wsdl", url + "?wsdl")
            if probe.error is not None:
                found = Availability(url, True, f"{url}?wsdl could not be fetched: {probe.error}", unreachable=True)
            elif probe.status == 404:
                found = Availability(url, False, f"not served at {url} (HTTP 404 for ?wsdl)")
            else:
                found = Availability(url, True, f"HTTP {probe.status} for {url}?wsdl")
            self._availability[contract] = found
        return self._availability[contract]

    def run(self, selection: Selection, listener: Listener | None = None) -> list[CaseResult]:
        planned = [(suite, case) for suite in selection.suites(self.suites) for case in suite.all_cases() if selection.wants(suite, case)]
        if not planned:
            raise RunError("the selection matches no case; see `intygstjanst conformance list`")
        self._check_reachable({key for _, case in planned for key in case.contracts() if key in self.specs})
        results = []
        for index, (suite, case) in enumerate(planned, 1):
            if listener:
                listener.case_started(index, len(planned), suite, case)
            result = self.run_case(suite, case)
            results.append(result)
            if listener:
                listener.case_finished(index, len(planned), result)
        return results

    def _check_reachable(self, contracts: set[str]) -> None:
        """Refuse to run when no contract can even be fetched: one clear error, not N failures."""
        found = [self.availability(key) for key in sorted(contracts)]
        if found and all(a.unreachable for a in found):
            detail = found[0].detail
            hint = self._hint(detail)
            # The hint is sentences of its own; the library's message may already end in a full stop.
            raise RunError(f"cannot reach the producer at {self.endpoint}: {detail.rstrip('.') if hint else detail}{hint}")

    def _hint(self, detail: str) -> str:
        """What to pass when an https producer could not be reached: its certificate was not trusted,
        or (the usual reason a producer hangs up without a word) it requires a client certificate."""
        from intygstjanst.tls.security import DEV_CLIENTS

        if not self.endpoint.startswith("https:"):
            return ""
        if "CERTIFICATE_VERIFY_FAILED" in detail:
            return (
                ". The producer's server certificate is not trusted: pass --ca FILE with the CA that signed it "
                "(for 'intygstjanst serve' on its development PKI: --ca var/tls/ca.pem)"
            )
        if self.transport.client_certificate:
            return ""
        client = f"var/tls/clients/{DEV_CLIENTS[0]}"
        return (
            ". The producer probably requires mutual TLS: pass a client certificate it trusts with --cert FILE "
            "--key FILE, and --ca FILE for its server certificate (for 'intygstjanst serve' on its development "
            f"PKI: --cert {client}.pem --key {client}.key --ca var/tls/ca.pem)"
        )

    def run_case(self, suite: Suite, case: Case) -> CaseResult:
        started = time.perf_counter()
        ctx = CaseContext(self, suite, case)
        result = CaseResult(suite, case, Status.PASSED, exchanges=ctx.exchanges)
        try:
            self._preconditions(suite, case, ctx.values)
            for number, step in enumerate(case.steps, 1):
                ctx.step_number = number
                try:
                    step.run(ctx)
                except CaseFailure as failure:
                    if len(case.steps) == 1:
                        raise
                    raise CaseFailure(f"step {number}/{len(case.steps)} ({ctx.describe(step)}): {failure}") from None
        except CaseSkipped as skip:
            result.status, result.reason = Status.SKIPPED, str(skip)
        except CaseFailure as failure:
            result.status, result.reason = Status.FAILED, str(failure)
        except templates.TemplateError as exc:
            result.status, result.reason = Status.FAILED, f"test data: {exc}"
        except Exception as exc:  # a kit bug must not stop the other cases; report it as this case's failure
            result.status, result.reason = Status.FAILED, f"the kit failed on this case: {type(exc).__name__}: {exc}"
        result.seconds = time.perf_counter() - started
        return result

    def _preconditions(self, suite: Suite, case: Case, values: Mapping[str, str]) -> None:
        missing = [name for name in case.needs() if not values.get(name)]
        if missing:
            raise CaseSkipped(f"the test data has no {missing[0]} (set it in the data file or with --set {missing[0]}=...)")
        for key in case.contracts():
            found = self.availability(key) if key in self.specs else None
            if found is None:
                raise CaseSkipped(f"needs {key}, which the kit has no contract definition for")
            if not found.served:
                if key == suite.id and (key in self.required or key.split(":")[0] in self.required):
                    raise CaseFailure(f"{key} is required but {found.detail}")
                raise CaseSkipped(f"needs {key}: {found.detail}")


class CaseContext:
    """One case's values (test data plus generated ids and dates) and its exchanges so far."""

    def __init__(self, runner: Runner, suite: Suite, case: Case) -> None:
        self.runner = runner
        self.step_number = 0
        self.exchanges: list[Exchange] = []
        contract_name = suite.id.split(":")[0]
        values = runner.data.for_case(contract_name, suite.id, f"{suite.id}/{case.id}")
        self.values = {**generated_values(values.get("certificateIdPrefix", ""), runner.run_id, suite, case), **values}

    def describe(self, step: Step) -> str:
        """The step's label with the case's values filled in (labels may name them)."""
        values = dict(self.values)
        if isinstance(step, Call):
            values.update((name, templates.fill(value, self.values)) for name, value in step.params.items())
        try:
            return templates.fill(step.describe(), values)
        except templates.TemplateError:
            return step.describe()

    def build(self, step: Call) -> tuple[ContractSpec, etree._Element, dict[str, str]]:
        """The step's request payload, and the values it was filled from (checks use them too)."""
        spec = self.runner.spec(step.contract)
        # Templates shared by two major versions name their namespace through this value.
        values = {**self.values, "responderNamespace": spec.namespace}
        for name, value in step.params.items():
            values[name] = templates.fill(value, self.values)
        for name, value in patient_forms(values.get("patientId", "")).items():
            if name not in step.params:
                values[name] = value
        payload = templates.render(step.template, values)
        for mutate in step.mutations:
            mutate(payload, values)
        return spec, payload, values

    def call(self, step: Call) -> None:
        spec, payload, values = self.build(step)
        address = None if step.address is None else templates.fill(step.address, values)
        body = envelope(payload, spec, address)
        exchange = self.runner.transport.post_soap(
            f"step {self.step_number} {step.contract}", self.runner.url(step.contract), body, spec.soap_action
        )
        self.exchanges.append(exchange)
        if exchange.error is not None:
            raise CaseFailure(f"no answer from {exchange.url}: {exchange.error}")
        answer = parse_answer(exchange.status, exchange.response_headers.get("content-type", ""), exchange.response)
        step.expect.check(answer, spec, values)

    def check_wsdl(self, contract: str) -> None:
        spec = self.runner.spec(contract)
        url = self.runner.url(contract) + "?wsdl"
        fetched = self.runner.transport.get(f"step {self.step_number} {contract} ?wsdl", url)
        self.exchanges.append(fetched)
        if fetched.status != 200:
            raise CaseFailure(f"GET {url} answered {fetched.error or f'HTTP {fetched.status}'}, expected HTTP 200 with the WSDL")
        try:
            client = zeep.Client(url, transport=self.runner.transport.zeep_transport())
        except Exception as exc:  # zeep raises many kinds (XMLSyntaxError, LookupError, TransportError, ...)
            raise CaseFailure(f"zeep cannot load the WSDL at {url}: {type(exc).__name__}: {exc}") from None
        check_wsdl_operation(client, spec, url)


def check_wsdl_operation(client: zeep.Client, spec: ContractSpec, url: str) -> None:
    """The WSDL has a SOAP 1.1 binding for the contract's operation with the RIV-TA soapAction and
    the contract's request and response elements, and a port that uses it."""
    problems = []
    for service in client.wsdl.services.values():
        for port in service.ports.values():
            binding = port.binding
            try:
                operation = binding.get(spec.name)
            except ValueError:
                problems.append(f"port {port.name} has no operation {spec.name}")
                continue
            wrong = []
            if operation.soapaction != spec.soap_action:
                wrong.append(f"soapAction {operation.soapaction!r} (expected {spec.soap_action!r})")
            request = getattr(operation.input.body, "qname", None)
            if str(request) != spec.request_tag:
                wrong.append(f"input element {request} (expected {spec.request_tag})")
            response = getattr(operation.output.body, "qname", None) if operation.output else None
            if str(response) != spec.response_tag:
                wrong.append(f"output element {response} (expected {spec.response_tag})")
            if not wrong:
                return
            problems.append(f"operation {spec.name} of port {port.name} has " + "; ".join(wrong))
    raise CaseFailure(f"the WSDL at {url} does not describe {spec.key}: " + ("; ".join(problems) or "it has no service port"))


# Ids stay within 64 characters with their longest suffix ("-unknown"): real ids are UUIDs (36), and
# 64 is a common column width, so a longer id would test the producer's limits instead of the case.
_ID_BASE_LENGTH = 56


def generated_values(prefix: str, run_id: str, suite: Suite, case: Case) -> dict[str, str]:
    """Ids unique to this run and case (so runs never collide), and dates around today."""
    slug = f"{suite.id.replace(':', '')}-{case.id}"
    base = f"{prefix}{run_id}-{slug}"
    if len(base) > _ID_BASE_LENGTH:
        # Cut the readable part and keep the ids apart with a digest of the whole slug.
        digest = hashlib.sha1(slug.encode()).hexdigest()[:6]
        base = f"{base[: _ID_BASE_LENGTH - len(digest) - 1]}-{digest}"
    now = dt.datetime.now().replace(microsecond=0)
    today = now.date()
    return {
        "runId": run_id,
        "certificateId": base,
        "otherCertificateId": f"{base}-b",
        "unknownCertificateId": f"{base}-unknown",
        "messageId": f"{base}-m",
        "otherMessageId": f"{base}-m2",
        "now": now.isoformat(),
        "signedAt": (now - dt.timedelta(minutes=5)).isoformat(),
        "today": today.isoformat(),
        "periodStart": (today - dt.timedelta(days=2)).isoformat(),
        "periodEnd": (today + dt.timedelta(days=12)).isoformat(),
        "certificateType": "LISJP",
        # The national service's internal id of that type (GetCertificateTypeInfo answers with it).
        "certificateTypeId": "lisjp",
        "certificateVersion": "1.0",
        "part": "HSVARD",
    }


def patient_forms(person_id: str) -> dict[str, str]:
    """What templates need besides the 12 digits: the OID of the number's kind, and the dashed
    form (YYYYMMDD-NNNN) the legacy contracts use."""
    return {"patientIdRoot": person_id_root(person_id), "patientIdDashed": f"{person_id[:8]}-{person_id[8:]}"}


def person_id_root(person_id: str) -> str:
    """Samordningsnummer carry the day of birth plus 60; they have their own OID."""
    day = person_id[6:8]
    return SAMORDNINGSNUMMER_ROOT if day.isdigit() and int(day) > 60 else PERSONNUMMER_ROOT

