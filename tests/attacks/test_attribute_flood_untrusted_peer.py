"""Row 8: an attribute flood from a peer that is not a trusted proxy (but forwards a client
certificate as if it were) is refused before its body is parsed: fast, and without the memory a
parse of it would take."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import psutil
import pytest

from intygstjanst.tests.attacks.siege import XML, assert_bystanders_served, attack, attribute_flood
from intygstjanst.tests.soap import REGISTER, fault
from intygstjanst.tests.tlsserver import CONSUMER, Pki, Server, running, standard_grants

TRUSTED = "127.0.0.1"  # the proxy: the bystanders' calls come from here
ATTACKER = "127.0.0.2"  # another loopback address: a real, different TCP peer


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db, pki: Pki) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("proxied")
    args = ["--tls-mode", "proxy", "--trusted-proxy", TRUSTED, "--authorization-file", str(standard_grants(tmp))]
    with running(tmp, database_url, args, lambda: True, scheme="http") as server:
        yield server


def test_attribute_flood_from_an_untrusted_peer_is_refused_before_parsing(proxied: Server, pki: Pki) -> None:
    forwarded = {"x-ssl-client-cert": quote(pki.client(CONSUMER).cert.read_text())}
    body = attribute_flood(560_000)  # about 8.9 MB
    assert 8_500_000 < len(body) < 10 * 1024 * 1024
    server = psutil.Process(proxied.process.pid)
    before = server.memory_info().rss

    def send(client: httpx.Client) -> httpx.Response:
        transport = httpx.HTTPTransport(local_address=ATTACKER)
        with httpx.Client(transport=transport, timeout=60) as attacker:
            return attacker.post(proxied.base_url.replace("localhost", "127.0.0.1") + REGISTER, content=body, headers={**XML, **forwarded})

    siege = attack(proxied, send, legitimate_headers=forwarded)
    assert siege.answer.status_code == 500
    assert fault(siege.answer.content) == (
        f"a forwarded client certificate (x-ssl-client-cert) came from {ATTACKER}, which is not a trusted proxy"
    )
    assert siege.seconds < 10.0
    assert_bystanders_served(siege)
    # The body was read (about 9 MB) but never parsed: a parse of 560,000 attributes takes hundreds of MB.
    grown = server.memory_info().rss - before
    assert grown < 60 * 1024 * 1024, f"the server grew by {grown / 1e6:.0f} MB"
    audit = [line for line in proxied.audit() if line.get("contract") == "RegisterCertificate" and line["result"] == "FAULT"]
    assert audit and audit[-1]["logical_address"] is None
