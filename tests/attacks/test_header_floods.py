"""Row 7 of issue 12: an 8 MB header, 100,000 headers, and 50 connections with unfinished 8 MB
headers. A real server process (default limits: 64 KB of request line and headers, 100 headers)
answers 431 after reading at most the limit, its memory does not grow with what is sent, and a
legitimate consumer is served meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from intygstjanst.tests.conftest import LiveServer
from intygstjanst.tests.connection_attacks import Bystander, exchange, head_request, port_of, server_with
from intygstjanst.tests.support import require_shared

SLACK = 8.0  # seconds; a loaded test machine
EIGHT_MB = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db: object) -> Iterator[LiveServer]:
    require_shared()
    with server_with(tmp_path_factory.mktemp("floods"), database_url) as live:
        yield live


def test_an_8_mb_header_is_answered_431(server: LiveServer) -> None:
    bystander = Bystander(server.base_url)
    with bystander.watching():
        got = exchange(port_of(server), head_request("/health", "X-Big: " + "a" * EIGHT_MB) + b"\r\n", wait=SLACK)
    assert got.status == 431, got.answer[:200]
    assert b"more than 65536 bytes of request line and headers" in got.answer
    assert got.closed_after < SLACK
    bystander.assert_served(within=SLACK)


def test_100000_headers_are_answered_431(server: LiveServer) -> None:
    bystander = Bystander(server.base_url)
    with bystander.watching():
        got = exchange(port_of(server), head_request("/health", *["X-A: b"] * 100_000) + b"\r\n", wait=SLACK)
    assert got.status == 431, got.answer[:200]
    assert b"more than 100 headers" in got.answer
    assert got.closed_after < SLACK
    bystander.assert_served(within=SLACK)


def test_50_unfinished_8_mb_headers_do_not_grow_memory(server: LiveServer) -> None:
    process = psutil.Process(server.process.pid)
    before = process.memory_info().rss
    unfinished = head_request("/health", "X-Big: " + "a" * EIGHT_MB)  # the header never ends
    bystander = Bystander(server.base_url)
    with bystander.watching(), ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda _: exchange(port_of(server), unfinished, wait=SLACK), range(50)))
        grown = process.memory_info().rss - before
    assert {got.status for got in results} == {431}
    assert max(got.closed_after for got in results) < SLACK
    # 50 x 64 KB is what the limit lets in; the issue saw +411 MB.
    assert grown < 32 * 1024 * 1024, f"the server grew by {grown / 1e6:.0f} MB"
    bystander.assert_served(within=SLACK)


def test_headers_within_the_limits_are_served(server: LiveServer) -> None:
    headers = [f"X-Header-{i}: " + "v" * 500 for i in range(90)]  # 90 headers, about 46 KB
    got = exchange(port_of(server), "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + "".join(f"{h}\r\n" for h in headers).encode() + b"Connection: close\r\n\r\n", wait=SLACK)
    assert got.status == 200, got.answer[:200]
