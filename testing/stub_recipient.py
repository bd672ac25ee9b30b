"""A stand-in recipient agency for tests and demos: ``intygstjanst stub-recipient``.

It answers every contract in ``delivery.CONTRACTS`` (RegisterCertificate v3, RegisterMedicalCertificate
v3, RevokeCertificate v2, RevokeMedicalCertificate v1, SendMessageToCare v2, SendMessageToRecipient
v2, RegisterTSBas / RegisterTSDiabetes v1) at any path, routing on the body element, without schema
checks. Each accepted message is appended to a JSON-lines record and fsync'ed before the answer
goes out, so what the stub said OK to survives a crash of the stub.

Like a careful real recipient, it recognises a redelivery by its delivery id
(``x-intyg-delivery-id``, else ``wsa:MessageID``): the repeat is answered OK again but recorded as a
``duplicate`` event, not as a second receipt. The record therefore proves exactly-once *processing*
even though the sender delivers at least once.

Operator endpoints (on the same port):

* ``POST /stub/fail?mode=M&count=N[&delay=S]``: the next N calls fail. ``technical``,
  ``validation``, ``application``: an ERROR ResultType with that errorId; ``fault``: a Server
  Fault (HTTP 500); ``client-fault``: a Client Fault; ``timeout``: wait S seconds (default 60), then
  process the call normally (the sender has given up by then: the classic "did it arrive?" case);
  ``refuse``: drop the connection without an answer. ``mode=none`` clears the failures.
* ``GET /stub/received[?payload=1]``: receipts and duplicates as JSON.
* ``GET /health``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from intygstjanst.contracts.xml import SOAP11, WSA
from intygstjanst.contracts.registry import ContractSpec
from intygstjanst.contracts.result import ErrorId, Outcome, ResultCode, result_payload
from intygstjanst.delivery.deliverer import CONTRACTS_BY_TAG, DELIVERY_ID_HEADER
from intygstjanst.tls.uvicorn_mtls import MtlsHttpToolsProtocol

if TYPE_CHECKING:
    from uvicorn._types import ASGI3Application

_XML = "text/xml; charset=utf-8"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
# Where the certificate id sits in the payloads the stub takes (v3, FK7263 legacy, TS legacy, messages).
_REFERENCE = etree.XPath(
    "(//*[local-name()='intygs-id']/*[local-name()='extension']"
    " | //*[local-name()='lakarutlatande-id'] | //*[local-name()='intygsId'])[1]"
)
_TRANSPORT_KEY = "intygstjanst.stub.transport"

FAILURE_MODES = ("technical", "validation", "application", "fault", "client-fault", "timeout", "refuse")


class Record:
    """The append-only, fsync'ed JSON-lines record, with group commit.

    Calls that arrive while a write is in progress wait for the next one, which then carries all of
    them: one fsync per group instead of one per message keeps a recipient on a slow disk fast.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[dict[str, Any]] = []
        self._seen: set[str] = set()
        self._load()
        self._file = path.open("ab")
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        # A crash mid-write can leave a torn last line; it was never answered, so it is dropped.
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            with self.path.open("r+b") as f:
                f.truncate(len(complete))
        for line in complete.splitlines():
            entry = json.loads(line)
            self.entries.append(entry)
            if entry["event"] == "receipt":
                self._seen.add(entry["delivery_id"])

    async def add(self, entry: dict[str, Any]) -> str:
        """Append a receipt, or a duplicate event for a delivery id seen before; durable on return."""
        # Check and mark before any await: on one event loop this cannot race with a concurrent repeat.
        event = "duplicate" if entry["delivery_id"] in self._seen else "receipt"
        self._seen.add(entry["delivery_id"])
        entry = {"event": event, **entry}
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((json.dumps(entry, ensure_ascii=False).encode() + b"\n", future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_groups())
        await future
        self.entries.append(entry)
        return event

    async def _write_groups(self) -> None:
        while self._pending:
            group, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._write, b"".join(line for line, _ in group))
            except OSError as exc:
                for _, future in group:
                    future.set_exception(exc)
            else:
                for _, future in group:
                    future.set_result(None)

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._file.flush()
        os.fsync(self._file.fileno())


@dataclass
class Failures:
    mode: str | None = None
    remaining: int = 0
    delay: float = 60.0

    def take(self) -> str | None:
        if self.mode is None or self.remaining <= 0:
            return None
        self.remaining -= 1
        return self.mode


def create_stub_app(record_path: Path) -> Starlette:
    record = Record(record_path)
    failures = Failures()

    async def soap(request: Request) -> Response:
        body = await request.body()
        try:
            root = etree.fromstring(body, _PARSER)
            header, payload = _split(root)
        except (etree.XMLSyntaxError, ValueError) as exc:
            return _fault("Client", f"not a SOAP 1.1 request: {exc}")
        contract = CONTRACTS_BY_TAG.get(payload.tag)
        if contract is None:
            return _fault("Client", f"the stub recipient does not take {payload.tag}")
        mode = failures.take()
        if mode == "refuse":
            transport = request.scope.get("extensions", {}).get(_TRANSPORT_KEY)
            if transport is not None:
                transport.abort()
            # Nothing can be sent on an aborted connection; this answer goes nowhere.
            return Response(status_code=500)
        if mode in ("technical", "validation", "application"):
            return _answer(contract, Outcome(ResultCode.ERROR, f"stub told to fail with {mode}", ErrorId(f"{mode.upper()}_ERROR")))
        if mode in ("fault", "client-fault"):
            return _fault("Server" if mode == "fault" else "Client", f"stub told to fail with {mode}")
        if mode == "timeout":
            await asyncio.sleep(failures.delay)
        delivery_id = request.headers.get(DELIVERY_ID_HEADER) or _message_id(header) or f"none-{uuid.uuid4()}"
        found = cast(list[etree._Element], _REFERENCE(payload))
        entry = {
            "delivery_id": delivery_id,
            "contract": contract.key,
            "path": request.url.path,
            "logical_address": _routing(header),
            "reference": (found[0].text or "").strip() if found else None,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            "payload": etree.tostring(payload, encoding="unicode"),
        }
        event = await record.add(entry)
        return _answer(contract, Outcome(ResultCode.OK, "already received" if event == "duplicate" else None))

    async def fail(request: Request) -> Response:
        mode = request.query_params.get("mode", "")
        if mode == "none":
            failures.mode, failures.remaining = None, 0
            return JSONResponse({"mode": None, "count": 0})
        if mode not in FAILURE_MODES:
            return JSONResponse({"error": f"mode must be one of {', '.join(FAILURE_MODES)} or none"}, status_code=400)
        try:
            count = int(request.query_params.get("count", "1"))
            delay = float(request.query_params.get("delay", "60"))
        except ValueError:
            return JSONResponse({"error": "count must be an integer and delay a number"}, status_code=400)
        failures.mode, failures.remaining, failures.delay = mode, count, delay
        return JSONResponse({"mode": mode, "count": count, "delay": delay})

    async def received(request: Request) -> Response:
        with_payload = request.query_params.get("payload") in ("1", "true")
        strip = (lambda e: e) if with_payload else (lambda e: {k: v for k, v in e.items() if k != "payload"})
        receipts = [strip(e) for e in record.entries if e["event"] == "receipt"]
        duplicates = [strip(e) for e in record.entries if e["event"] == "duplicate"]
        return JSONResponse({"receipts": receipts, "duplicates": duplicates})

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/stub/fail", fail, methods=["POST"]),
            Route("/stub/received", received),
            Route("/{path:path}", soap, methods=["POST"]),
        ]
    )


def _split(root: etree._Element) -> tuple[etree._Element | None, etree._Element]:
    if root.tag != f"{{{SOAP11}}}Envelope":
        raise ValueError(f"root element is {root.tag}")
    header = root.find(f"{{{SOAP11}}}Header")
    body = root.find(f"{{{SOAP11}}}Body")
    payload = next((c for c in body if isinstance(c.tag, str)), None) if body is not None else None
    if payload is None:
        raise ValueError("empty SOAP Body")
    return header, payload


def _message_id(header: etree._Element | None) -> str | None:
    text = header.findtext(f"{{{WSA}}}MessageID") if header is not None else None
    return text.strip().removeprefix("urn:uuid:") if text else None


def _routing(header: etree._Element | None) -> str | None:
    if header is None:
        return None
    for child in header:
        if isinstance(child.tag, str) and etree.QName(child).localname in ("LogicalAddress", "To"):
            return (child.text or "").strip()
    return None


def _answer(contract: ContractSpec, outcome: Outcome) -> Response:
    return Response(_envelope(etree.tostring(result_payload(contract, outcome))), media_type=_XML)


def _fault(code: str, text: str) -> Response:
    fault = etree.Element(f"{{{SOAP11}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap:{code}"
    etree.SubElement(fault, "faultstring").text = text
    return Response(_envelope(etree.tostring(fault)), status_code=500, media_type=_XML)


def _envelope(payload: bytes) -> bytes:
    return f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body>'.encode() + payload + b"</soap:Body></soap:Envelope>"


ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class StubProtocol(MtlsHttpToolsProtocol):
    """uvicorn's HTTP protocol (with the TLS extension) that also hands the app its transport, so the
    ``refuse`` failure can drop the connection the way a crashing recipient would."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        inner = cast(ASGIApp, self.app)

        async def with_transport(scope: dict[str, Any], receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})[_TRANSPORT_KEY] = transport
            await inner(scope, receive, send)

        # uvicorn types scope extensions as dicts of dicts; this stub adds its own entry, the transport.
        self.app = cast("ASGI3Application", with_transport)
