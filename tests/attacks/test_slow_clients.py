"""Row 6 of issue 12: clients that send slowly or never finish. 1,100 connections dripping headers;
a Content-Length larger than the body; a chunked body that never ends. Each is cut off within its
timeout (header_timeout, body_timeout) by a real server process, the connection cap refuses what is
beyond it, and a legitimate consumer on its established connection is served the whole time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from intygstjanst.tests.conftest import LiveServer
from intygstjanst.tests.connection_attacks import Bystander, exchange, head_request, port_of, server_with
from intygstjanst.tests.support import require_shared

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
MAX_CONNECTIONS = 1000  # the default
SLACK = 8.0  # a loaded test machine: generous, but far below "held indefinitely"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db: object) -> Iterator[LiveServer]:
    require_shared()
    flags = ["--header-timeout", str(HEADER_TIMEOUT), "--body-timeout", str(BODY_TIMEOUT)]
    with server_with(tmp_path_factory.mktemp("slow"), database_url, *flags) as live:
        yield live


async def slowloris(port: int, connections: int, drip_for: float) -> list[tuple[int | str | None, float]]:
    """Open ``connections`` connections, each sending a request line and then one header byte every
    0.5 s; for each: the status it was answered (None: closed without one) and when it was closed."""

    async def one() -> tuple[int | str | None, float]:
        started = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            return f"not connected: {exc}", 0.0
        writer.write(head_request("/health"))
        answer = b""
        while time.monotonic() - started < drip_for:
            try:
                answer += await asyncio.wait_for(reader.read(4096), 0.5)
            except TimeoutError:
                try:
                    writer.write(b"X")
                    await writer.drain()
                except OSError:
                    break
                continue
            except OSError:
                break
            if reader.at_eof():
                break
        closed = time.monotonic() - started
        writer.close()
        status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None
        return status, closed

    return await asyncio.gather(*(one() for _ in range(connections)))


def test_1100_slow_header_connections_are_refused_or_cut_off(server: LiveServer) -> None:
    bystander = Bystander(server.base_url)
    drip_for = HEADER_TIMEOUT + SLACK + 5
    with bystander.watching():
        started = time.monotonic()
        outcomes = asyncio.run(slowloris(port_of(server), 1100, drip_for))
        elapsed = time.monotonic() - started
    statuses = [status for status, _ in outcomes]
    # Beyond the cap (the bystander holds one connection) new connections are answered 503 at once;
    # the others are cut off with 408 when their headers have not arrived in time (or closed without
    # a word when the server had not even read their first bytes by then, on a loaded machine).
    refused = statuses.count(503)
    assert 1100 - MAX_CONNECTIONS <= refused < 1100 - MAX_CONNECTIONS + 50, statuses
    assert statuses.count(408) + statuses.count(None) == 1100 - refused, sorted(set(map(str, statuses)))
    assert statuses.count(408) > statuses.count(None)
    assert max(closed for _, closed in outcomes) < HEADER_TIMEOUT + SLACK, "a slow connection was held open"
    assert elapsed < drip_for + SLACK
    bystander.assert_served(within=SLACK)
    # Once they are gone, new connections are welcome again.
    assert httpx.get(server.base_url + "/health", timeout=10).status_code == 200


def test_content_length_larger_than_the_body_is_cut_off(server: LiveServer) -> None:
    bystander = Bystander(server.base_url)
    with bystander.watching(), ThreadPoolExecutor(20) as pool:
        data = head_request("/clinicalprocess/healthcond/certificate/RegisterCertificate/3/rivtabp21", "Content-Type: text/xml", "Content-Length: 100000") + b"\r\n<soap:Envelope"
        results = list(pool.map(lambda _: exchange(port_of(server), data, wait=BODY_TIMEOUT + 2 * SLACK), range(20)))
    for got in results:
        assert got.status == 408, got.answer[:200]
        assert b"body not received in time" in got.answer
        assert got.closed_after < BODY_TIMEOUT + SLACK
    bystander.assert_served(within=SLACK)
    assert "body not received within 2.0 s (body_timeout)" in server.log()


def test_a_chunked_body_that_never_ends_is_cut_off(server: LiveServer) -> None:
    """The client keeps sending, so only a limit on the whole body's time (not on silence) ends it."""
    bystander = Bystander(server.base_url)
    path = "/clinicalprocess/healthcond/certificate/RegisterCertificate/3/rivtabp21"
    data = head_request(path, "Content-Type: text/xml", "Transfer-Encoding: chunked") + b"\r\n5\r\n<soap\r\n"
    with bystander.watching(), ThreadPoolExecutor(20) as pool:
        results = list(
            pool.map(lambda _: exchange(port_of(server), data, wait=BODY_TIMEOUT + 2 * SLACK, drip=b"1\r\n \r\n", every=0.3), range(20))
        )
    for got in results:
        assert got.status == 408, got.answer[:200]
        assert got.closed_after < BODY_TIMEOUT + SLACK
    bystander.assert_served(within=SLACK)


def test_a_connection_that_sends_nothing_is_closed(server: LiveServer) -> None:
    got = exchange(port_of(server), b"", wait=HEADER_TIMEOUT + 2 * SLACK)
    assert got.answer == b"" and got.closed_after < HEADER_TIMEOUT + SLACK


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(server: LiveServer) -> None:
    got = exchange(port_of(server), b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", wait=5.0 + 2 * SLACK)
    assert got.status == 200
    assert 5.0 - 0.5 < got.closed_after < 5.0 + SLACK  # keep_alive_timeout's default, 5 s
