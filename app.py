"""The ASGI application: SOAP endpoints, their WSDLs and schemas, and the operator endpoints.

May import: ``contracts``, ``lifecycle``, ``services``, ``settings``, ``statistics``, ``tls``, ``offload`` and ``metrics``.
"""

from __future__ import annotations

import ctypes
import gc
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from intygstjanst.contracts.dispatch import Authorizer, Caller, Dispatcher, allow_all, audit_call
from intygstjanst.contracts.faults import SoapFault, render_fault
from intygstjanst.contracts.registry import Contract
from intygstjanst.contracts.wsdl import render_wsdl, xsd_file
from intygstjanst import metrics
from intygstjanst.offload import LargeRequestPool
from intygstjanst.services import Services
from intygstjanst.settings import Settings
from intygstjanst.statistics import web as statistics_web
from intygstjanst.lifecycle import web as lifecycle_web
from intygstjanst.tls.authorization import OPERATOR_NAMESPACE, STATISTICS_NAMESPACE, CallAuthorizer

if TYPE_CHECKING:
    from intygstjanst.tls.security import TransportSecurity

_XML = "text/xml; charset=utf-8"
# SOAP 1.1 is text/xml; the national service's stack takes application/xml as well, and so do we.
_SOAP11_MEDIA = ("text/xml", "application/xml")

log = logging.getLogger("intygstjanst.app")

# Resolves the caller of a request from its ASGI scope and headers (transport identity). It refuses
# by returning a Caller with ``refusal`` set, or by raising SoapFault; either way the dispatcher
# answers the call with a Fault before parsing its body, and audits it.
CallerResolver = Callable[[Request], Caller]


def anonymous(_request: Request) -> Caller:
    return Caller()


def _resolve(resolver: CallerResolver, request: Request) -> Caller:
    try:
        return resolver(request)
    except SoapFault as fault:
        return Caller(refusal=fault.message)


def create_app(
    settings: Settings | None = None,
    services: Services | None = None,
    caller_resolver: CallerResolver = anonymous,
    authorizer: Authorizer = allow_all,
    worker_processes: bool = False,
) -> Starlette:
    """``worker_processes``: large requests go to worker processes (offload.py), which build their
    services from the settings, so only where ``services`` are what the settings build."""
    services = services or Services.build(settings or Settings.load())
    dispatcher = Dispatcher(services, services.parse_limits, authorizer, services.record_access)
    processes = worker_processes and services.settings.large_request_processes > 0
    pool = LargeRequestPool(services.settings, dispatcher) if processes else None
    max_body = services.settings.max_body_bytes
    threads = services.settings.handler_threads
    handler_threads = anyio.CapacityLimiter(threads) if threads > 0 else None
    offload_bytes = services.settings.large_request_bytes
    large_requests = anyio.CapacityLimiter(services.settings.large_request_threads)

    async def soap(request: Request) -> Response:
        contract = services.contracts.by_path(request.url.path)
        if request.method in ("GET", "HEAD") and contract is not None:
            return _describe(request, contract)
        caller = _resolve(caller_resolver, request)

        def fault(message: str, status: int = 500, code: str = "Client") -> Response:
            # Refused before the dispatcher: audited here, with what is known of the call.
            audit_call(caller, None, contract, None, None, 0.0, request.url.path)
            return Response(render_fault(SoapFault(message, code)), status_code=status, media_type=_XML)

        if contract is None:
            return fault(f"no service contract is served at {request.url.path}", status=404)
        content_type = request.headers.get("content-type", "")
        media = content_type.split(";", 1)[0].strip().lower()
        if media == "application/soap+xml":
            return fault("SOAP 1.2 (application/soap+xml) is not supported; send SOAP 1.1 as text/xml", code="VersionMismatch")
        if media not in _SOAP11_MEDIA:
            return fault(f"content type must be text/xml (or application/xml) for SOAP 1.1, got {content_type or 'none'!r}")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body:
            return fault(f"the message is {declared} bytes, more than the limit of {max_body}")
        try:
            body = await _read_limited(request, max_body)
        except ClientDisconnect:
            # Nothing to answer and nothing to learn from a traceback: one line.
            log.warning("the client closed the connection before sending the whole body of %s", contract.name)
            return Response(status_code=400)
        if body is None:
            return fault(f"the message is more than the limit of {max_body} bytes")
        action = request.headers.get("soapaction")
        if caller.refusal is not None:
            # Refused before its body is parsed (dispatcher): answered here at once, whatever its
            # size, rather than queued behind large requests for a worker of lower priority.
            result = dispatcher.handle(contract, body, action, caller)
        elif pool is not None and len(body) >= offload_bytes:
            # A large request may take seconds (parse, schema, rules are linear in its size): it runs
            # in a worker process with a CPU budget, so the event loop keeps answering /health and
            # small calls, and one request cannot hold on for ever.
            result = await pool.handle(contract, body, action, caller)
        elif contract.calls_out:
            result = await run_in_threadpool(dispatcher.handle, contract, body, action, caller)
        elif len(body) >= offload_bytes:
            # Without worker processes, a large request runs on a bounded pool of threads of its own.
            result = await anyio.to_thread.run_sync(dispatcher.handle, contract, body, action, caller, limiter=large_requests)
        elif handler_threads is None:
            result = dispatcher.handle(contract, body, action, caller)
        else:
            result = await anyio.to_thread.run_sync(dispatcher.handle, contract, body, action, caller, limiter=handler_threads)
        return Response(result.body, status_code=result.status, media_type=_XML)

    async def schema(request: Request) -> Response:
        path = xsd_file(request.path_params["path"])
        if path is None:
            return PlainTextResponse("no such schema", status_code=404)
        return FileResponse(path, media_type=_XML)

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(_request: Request) -> Response:
        try:
            await run_in_threadpool(services.db.ping)
        except Exception as exc:  # the point of /ready is to report, not to raise
            return JSONResponse({"status": "unavailable", "database": str(exc)}, status_code=503)
        # Every contract's schema was compiled when the registry loaded (a schema that does not
        # compile stops start-up), so a running service reports them compiled.
        return JSONResponse(
            {"status": "ready", "database": "reachable", "schemas": "compiled", "contracts": len(services.contracts)}
        )

    routes = [
        Route("/health", health),
        Route("/ready", ready),
        Route("/metrics", metrics.endpoint),
        *statistics_web.routes(services.db, _statistics_access(caller_resolver, authorizer)),
        *lifecycle_web.routes(services.db, services.settings, _operator_access(caller_resolver, authorizer)),
        Route("/xsd/{path:path}", schema),
        Route("/{path:path}", soap, methods=["GET", "POST"]),
    ]
    app = _SoapFirst(routes=routes, lifespan=pool.lifespan if pool is not None else None)
    app.soap = soap
    app.is_contract_path = lambda path: services.contracts.by_path(path) is not None
    app.state.services = services
    app.state.large_requests = pool
    return app


class _SoapFirst(Starlette):
    """The app, with a SOAP call (a POST to a contract's path) handed to its endpoint at once: the
    calls are nearly all the traffic, and Starlette's exception middleware, router (every route's
    pattern tried before the catch-all) and request wrappers cost a registration about 4% of its
    CPU. Only while no middleware was added (``TransportSecurity.apply`` adds one in proxy mode);
    the endpoint answers every error of a call itself (the dispatcher never raises)."""

    soap: Callable[[Request], Awaitable[Response]] | None = None
    is_contract_path: Callable[[str], bool] = staticmethod(lambda _path: False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.soap is not None
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and not self.user_middleware
            and self.is_contract_path(scope["path"])
        ):
            scope["app"] = self
            response = await self.soap(Request(scope, receive, send))
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _statistics_access(caller_resolver: CallerResolver, authorizer: Authorizer) -> statistics_web.Access:
    """Who may see a care giver's own statistics: a caller the authorization table grants
    ``STATISTICS_NAMESPACE`` for that care giver; everyone on plain HTTP without caller identity
    (``allow_all``, development and tests only), as for the contracts."""

    def may_see(request: Request, care_giver: str) -> bool:
        if authorizer is allow_all:
            return True
        if not isinstance(authorizer, CallAuthorizer):
            return False
        return authorizer.permits(_resolve(caller_resolver, request), STATISTICS_NAMESPACE, care_giver)

    return may_see


def _operator_access(caller_resolver: CallerResolver, authorizer: Authorizer) -> lifecycle_web.Access:
    """Who may call the operator API: a caller the authorization table grants ``OPERATOR_NAMESPACE``
    for the care giver (or ``"*"``), by name; on plain HTTP without caller identity (``allow_all``,
    development and tests only) everyone, as for the contracts."""

    def operator(request: Request, logical_address: str) -> str:
        caller = _resolve(caller_resolver, request)
        identity = caller.original_consumer or caller.consumer
        if authorizer is allow_all:
            return identity or "anonymous (tls mode off)"
        if isinstance(authorizer, CallAuthorizer) and authorizer.permits(caller, OPERATOR_NAMESPACE, logical_address):
            assert identity is not None  # permits() needs one
            return identity
        raise PermissionError(f"no grant of {OPERATOR_NAMESPACE} for {identity or 'an unidentified caller'} and {logical_address}")

    return operator


def secured_app(settings: Settings) -> tuple[Starlette, TransportSecurity]:
    """The app with the caller identity and call authorization that ``settings`` configure (tls/).

    ``settings`` must have been through ``tls.security.prepare`` (no ``tls_mode auto``).
    """
    from intygstjanst.tls.security import TransportSecurity

    services = Services.build(settings)
    transport = TransportSecurity.build(settings, services.contracts)
    app = create_app(settings, services, transport.resolver, transport.authorizer, worker_processes=True)
    transport.apply(app)
    return app, transport


def app_from_environment() -> Starlette:
    """Factory for uvicorn worker processes: settings come from INTYG_* variables set by ``serve``."""
    app, transport = secured_app(Settings.load())
    reload_on_sighup(app, transport)
    freeze_start_up()
    return app


def freeze_start_up() -> None:
    """Settle a serving process once its app is built (call once per serving process).

    Leave what start-up built out of the cyclic garbage collector's passes from now on: the
    compiled schemas, rules, registers and modules are hundreds of thousands of objects that live
    as long as the process; a call that makes many objects (a unit's sick-leave list: 13,078 rows,
    8,498 disclosures) sets off full collections, each walking all of them: 154 -> 120 ms of
    server CPU per such call over HTTP (benchmarks/sick_leave.py's unit, load 2.3-2.5). Garbage
    made later is collected as before. And keep freed memory for reuse (:func:`_keep_freed_memory`)."""
    gc.collect()
    gc.freeze()
    _keep_freed_memory()


# glibc's mallopt parameters, and the values set: blocks up to 32 MB (its largest) come from the
# heap, and up to 128 MB freed at a heap's top stay with the process.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
KEPT_FREE_BYTES = 128 * 1024 * 1024
_MMAP_FROM_BYTES = 32 * 1024 * 1024


def _keep_freed_memory() -> bool:
    """With glibc, have a large answer's memory reused instead of mapped anew for every call:
    otherwise glibc gives the freed memory of a handler thread's heap back to the system and the
    next 14.6 MB answer faults in every page again (3,564 page faults and 7 ms of system CPU for
    the envelope alone; in process the whole list call took 122 -> 87-99 ms of CPU). The process
    then holds up to ``KEPT_FREE_BYTES`` of freed memory beyond what it uses. False where the C
    library is not glibc (nothing is changed)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_FROM_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, KEPT_FREE_BYTES))


def reload_on_sighup(app: Starlette, transport: TransportSecurity) -> None:
    """SIGHUP reloads this process's authorization table and certificate types (each only when its
    files check; call from the process's main thread)."""
    from intygstjanst.tls.security import Reloader

    services: Services = app.state.services
    reloaders = [Reloader("certificate types", services.reload_certificate_types)]
    pool: LargeRequestPool | None = app.state.large_requests
    if pool is not None:
        reloaders.append(Reloader("large-request workers", pool.reload))
    transport.install_reload_signal(*reloaders)


def _describe(request: Request, contract: Contract) -> Response:
    if "wsdl" in {key.lower() for key in request.query_params}:
        path = request.url.path.rstrip("/")
        return Response(render_wsdl(contract, _base_url(request), path), media_type=_XML)
    return PlainTextResponse(
        f"{contract.name} {contract.version} ({contract.namespace}).\n"
        f"POST a SOAP 1.1 message (text/xml); the WSDL is at {request.url.path}?wsdl\n"
    )


def _base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it grows past ``limit`` (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
