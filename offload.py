"""The large-request pool: requests of at least ``large_request_bytes`` are parsed, validated and
handled in worker processes of their own, each with a CPU budget per request.

Their parse, schema, rules and storing are linear in their size but may still take seconds of
Python work; in threads that work would share the interpreter lock with the event loop, and
``/health`` and every ordinary call would wait. A worker process has its own interpreter (and its
own services, built from the same settings, and its own dispatcher: the same checks in the same
order; on SIGHUP each reloads the authorization table and the certificate types before its next
request, keeping what it has when a file does not check, as the server does). A request that uses more than ``request_cpu_seconds`` of the worker's CPU is answered as a
server error (the contract's ERROR answer where the national service rewrites faults, a
``soap:Server`` Fault elsewhere) and its work abandoned: the worker is killed (an open transaction
dies with it, uncommitted) and replaced.

The workers run ``large_request_nice`` below the server process's priority: on a machine with few
cores the event loop, with every ordinary call, gets the CPU first, and a stream of large requests
slows down the large requests.

A worker is ``python -m intygstjanst.offload``: settings from its environment (``INTYG_*``, as for
uvicorn's worker processes), requests and answers as length-prefixed pickles on its stdin and
stdout, log lines on the inherited stderr. It ends when its stdin closes, so it never outlives the
server process that started it.

May import: ``contracts``, ``services``, ``settings`` and ``tls``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import struct
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from intygstjanst.contracts.dispatch import Caller, Dispatcher, SoapResponse
from intygstjanst.contracts.registry import Contract
from intygstjanst.settings import Settings, SettingsError

log = logging.getLogger("intygstjanst.offload")

_LENGTH = struct.Struct("!Q")
_READY = b"ready\n"
# How often the CPU time of a busy worker is read: the budget is overrun by at most about this much.
_POLL_SECONDS = 0.05
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class _Job:
    path: str  # the contract's path (a Contract holds its handler and schema: not sent)
    body: bytes
    soap_action: str | None
    caller: Caller


@dataclass(frozen=True)
class _Reload:
    """Read the authorization table and the certificate types again (no answer; the server process
    has logged its own reload, and a file that does not check leaves the worker with what it has,
    as it leaves the server)."""


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc; fields 14 and 15 of its stat line)."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process, generation: int) -> None:
        self.process = process
        self.generation = generation
        self.ready = False

    async def wait_ready(self) -> None:
        if not self.ready:
            assert self.process.stdout is not None
            if await self.process.stdout.readexactly(len(_READY)) != _READY:
                raise ConnectionError("the large-request worker did not start")
            self.ready = True

    async def send(self, job: _Job | _Reload) -> None:
        assert self.process.stdin is not None
        data = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        self.process.stdin.write(_LENGTH.pack(len(data)) + data)
        await self.process.stdin.drain()

    async def receive(self) -> SoapResponse:
        assert self.process.stdout is not None
        (length,) = _LENGTH.unpack(await self.process.stdout.readexactly(_LENGTH.size))
        response = pickle.loads(await self.process.stdout.readexactly(length))
        assert isinstance(response, SoapResponse)
        return response

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()


class LargeRequestPool:
    """``processes`` workers, started with the server (or at the first large request); a request
    waits for a free one without holding up anything else. ``dispatcher`` (the server's) writes the
    answer to a request whose worker was killed."""

    def __init__(self, settings: Settings, dispatcher: Dispatcher[Any]) -> None:
        if not 0 <= settings.large_request_nice <= 19:
            raise SettingsError(f"large_request_nice must be 0 to 19, got {settings.large_request_nice}")
        self.size = settings.large_request_processes
        self.cpu_seconds = settings.request_cpu_seconds
        self.dispatcher = dispatcher
        self._environment = {**os.environ, **settings.as_environment()}
        self._idle: asyncio.Queue[_Worker] | None = None
        self._generation = 0
        self._workers: set[_Worker] = set()

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        # The server takes connections once its workers are ready (they start side by side), so
        # the first large request does not wait for one to start.
        await self._start()
        for worker in list(self._workers):
            await worker.wait_ready()
        try:
            yield
        finally:
            self._stop()

    async def _start(self) -> asyncio.Queue[_Worker]:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self.size):
                self._idle.put_nowait(await self._spawn())
        return self._idle

    def _stop(self) -> None:
        for worker in self._workers:
            worker.kill()

    async def _spawn(self) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "intygstjanst.offload",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=self._environment,
            # 10 MB bodies and answers: the stream's buffer limit is for reading lines, not these.
            limit=64 * 1024 * 1024,
        )
        worker = _Worker(process, self._generation)
        self._workers.add(worker)
        return worker

    async def _replace(self, worker: _Worker) -> None:
        worker.kill()
        self._workers.discard(worker)
        await worker.process.wait()
        idle = await self._start()
        idle.put_nowait(await self._spawn())

    async def handle(self, contract: Contract, body: bytes, soap_action: str | None, caller: Caller) -> SoapResponse:
        idle = await self._start()
        worker = await idle.get()
        began = time.perf_counter()
        try:
            await worker.wait_ready()
            if worker.generation != self._generation:
                await worker.send(_Reload())
                worker.generation = self._generation
            started = _cpu_seconds(worker.process.pid)
            await worker.send(_Job(contract.path, body, soap_action, caller))
            response = await self._answer(worker, started)
        except OverBudget:
            await self._replace(worker)
            log.warning("abandoned %s after %s s of CPU (request_cpu_seconds); its worker was replaced", contract.name, self.cpu_seconds)
            text = f"the request used more than {self.cpu_seconds:g} s of processor time (limit request_cpu_seconds) and was abandoned"
            return self.dispatcher.server_error(contract, caller, text, time.perf_counter() - began)
        except (asyncio.IncompleteReadError, ConnectionError, ProcessLookupError, FileNotFoundError):
            await self._replace(worker)
            log.error("the large-request worker handling %s ended unexpectedly; it was replaced", contract.name)
            text = f"internal error in {contract.name}: the request's worker ended unexpectedly"
            return self.dispatcher.server_error(contract, caller, text, time.perf_counter() - began)
        except BaseException:
            # The client went away (cancelled): the worker's state is unknown, so it is replaced.
            asyncio.ensure_future(self._replace(worker))
            raise
        idle.put_nowait(worker)
        return response

    async def _answer(self, worker: _Worker, started: float) -> SoapResponse:
        reading = asyncio.ensure_future(worker.receive())
        try:
            while True:
                done, _ = await asyncio.wait({reading}, timeout=_POLL_SECONDS)
                if done:
                    return reading.result()
                if _cpu_seconds(worker.process.pid) - started > self.cpu_seconds:
                    raise OverBudget()
        finally:
            reading.cancel()

    def reload(self) -> str:
        """Have every worker read the authorization table and certificate types again, before its
        next request. Safe to call from a signal handler."""
        self._generation += 1
        return f"large-request workers: {self.size} will reload before their next request"


class OverBudget(Exception):
    """The request used more than ``request_cpu_seconds`` of its worker's CPU."""


def _serve(requests: BinaryIO, answers: BinaryIO) -> None:
    from intygstjanst.services import Services
    from intygstjanst.tls.security import TransportSecurity

    settings = Settings.load()
    services = Services.build(settings)
    transport = TransportSecurity.build(settings, services.contracts)
    dispatcher = Dispatcher(services, services.parse_limits, transport.authorizer, services.record_access)

    def reload() -> None:
        for step in (transport.reload_authorization, services.reload_certificate_types):
            with contextlib.suppress(Exception):
                step()

    # Only once built, so that a starting worker does not hold up the server's start.
    os.nice(settings.large_request_nice)
    answers.write(_READY)
    answers.flush()
    while header := requests.read(_LENGTH.size):
        (length,) = _LENGTH.unpack(header)
        job = pickle.loads(requests.read(length))
        if isinstance(job, _Reload):
            reload()
            continue
        assert isinstance(job, _Job)
        contract = services.contracts.by_path(job.path)
        assert contract is not None  # the server found it at this path
        response = dispatcher.handle(contract, job.body, job.soap_action, job.caller)
        data = pickle.dumps(response, protocol=pickle.HIGHEST_PROTOCOL)
        answers.write(_LENGTH.pack(len(data)) + data)
        answers.flush()


def main() -> None:
    import logging.config

    from intygstjanst.contracts.logs import log_config

    logging.config.dictConfig(log_config())
    # The answers go on a copy of stdout; anything printed goes to stderr, never into an answer.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    # Run as the package's module, not as __main__, so that the pickled jobs name the same classes.
    from intygstjanst import offload

    offload.main()
