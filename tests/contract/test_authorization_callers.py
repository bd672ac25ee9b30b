"""Caller resolution per transport mode, and how the app answers and audits a refused caller."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import pytest
from starlette.requests import Request
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from intygstjanst.app import create_app
from intygstjanst.contracts.dispatch import Caller
from intygstjanst.contracts.faults import SoapFault
from intygstjanst.services import Services
from intygstjanst.tls.callers import ORIGINAL_CONSUMER_HEADER, CallerResolver, TlsMode, TrustedProxyScheme, parse_networks
from intygstjanst.tls.pki import create_dev_pki

from intygstjanst.tests.soap import GET, envelope, fault, get_request, post

PLATFORM = "SE2321000016-PLAT"
CONSUMER = "SE2321000016-A001"
NO_HSA_ID = "server"  # the dev PKI's server certificate: a valid certificate without serialNumber


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    pki = create_dev_pki(tmp_path_factory.mktemp("callers"), client_hsa_ids=[PLATFORM, CONSUMER])
    pems = {hsa_id: files.cert.read_text() for hsa_id, files in pki.clients.items()}
    pems[NO_HSA_ID] = pki.server.cert.read_text()
    return pems


def request(peer: str = "127.0.0.1", headers: Mapping[str, str | list[str]] | None = None, cert: str | None = None) -> Request:
    raw = [
        (name.encode(), value.encode())
        for name, values in (headers or {}).items()
        for value in ([values] if isinstance(values, str) else values)
    ]
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/", "headers": raw, "client": (peer, 50000)}
    if cert is not None:
        scope["extensions"] = {"tls": {"client_cert_chain": (cert,), "client_cert_error": None}}
    return Request(scope)


NATIVE = CallerResolver(TlsMode.NATIVE, frozenset({PLATFORM}))
PROXY = CallerResolver(TlsMode.PROXY, frozenset({PLATFORM}), parse_networks(["127.0.0.2", "10.1.0.0/16"]))
OFF = CallerResolver(TlsMode.OFF)


def test_native_identity_is_the_certificate_hsa_id(pems: dict[str, str]) -> None:
    assert NATIVE(request(cert=pems[CONSUMER])) == Caller(CONSUMER)


def test_native_without_certificate_or_hsa_id_is_refused(pems: dict[str, str]) -> None:
    assert NATIVE(request()).refusal == "the connection carries no verified client certificate"
    refusal = NATIVE(request(cert=pems[NO_HSA_ID])).refusal
    assert refusal is not None and "has no serialNumber (HSA-id)" in refusal


def test_native_refuses_a_forwarded_certificate_header(pems: dict[str, str]) -> None:
    caller = NATIVE(request(headers={"x-ssl-client-cert": quote(pems[PLATFORM])}, cert=pems[CONSUMER]))
    assert caller.refusal is not None and "only accepted from a trusted proxy in proxy mode" in caller.refusal


def test_platform_passes_the_original_consumer(pems: dict[str, str]) -> None:
    caller = NATIVE(request(headers={ORIGINAL_CONSUMER_HEADER: CONSUMER}, cert=pems[PLATFORM]))
    assert caller == Caller(PLATFORM, CONSUMER)


def test_original_consumer_from_anyone_else_is_refused_but_the_caller_is_kept_for_the_audit(pems: dict[str, str]) -> None:
    caller = NATIVE(request(headers={ORIGINAL_CONSUMER_HEADER: PLATFORM}, cert=pems[CONSUMER]))
    assert caller.consumer == CONSUMER and caller.original_consumer is None
    assert caller.refusal == f"{ORIGINAL_CONSUMER_HEADER} is only accepted from platform consumers; consumer {CONSUMER} is not one"


@pytest.mark.parametrize(
    ("values", "message"),
    [(["A", "B"], "carries 2 x-rivta-original-serviceconsumer-hsaid headers"), (["bad id"], "is not an HSA-id")],
)
def test_original_consumer_must_be_one_hsa_id(pems: dict[str, str], values: list[str], message: str) -> None:
    refusal = NATIVE(request(headers={ORIGINAL_CONSUMER_HEADER: values}, cert=pems[PLATFORM])).refusal
    assert refusal is not None and message in refusal


@pytest.mark.parametrize("peer", ["127.0.0.2", "10.1.200.3", "::ffff:127.0.0.2"])
def test_proxy_forwarded_certificate_from_a_trusted_proxy(pems: dict[str, str], peer: str) -> None:
    forwarded = {"x-ssl-client-cert": quote(pems[CONSUMER])}
    assert PROXY(request(peer, forwarded)) == Caller(CONSUMER)


@pytest.mark.parametrize(
    ("peer", "headers", "message"),
    [
        ("127.0.0.1", {"x-ssl-client-cert": "CERT"}, "came from 127.0.0.1, which is not a trusted proxy"),
        # X-Forwarded-For is not believed: it would let any client name a trusted proxy as itself.
        ("127.0.0.1", {"x-ssl-client-cert": "CERT", "x-forwarded-for": "127.0.0.2"}, "came from 127.0.0.1"),
        ("10.2.0.1", {}, "calls must come through a trusted proxy"),
        ("127.0.0.2", {}, "the proxy 127.0.0.2 forwarded no client certificate in x-ssl-client-cert"),
        ("127.0.0.2", {"x-ssl-client-cert": ""}, "forwarded no client certificate"),
        ("127.0.0.2", {"x-ssl-client-cert": ["CERT", "CERT"]}, "carries 2 x-ssl-client-cert headers"),
        ("127.0.0.2", {"x-ssl-client-cert": "garbage"}, "does not start with -----BEGIN CERTIFICATE-----"),
    ],
)
def test_proxy_refusals(pems: dict[str, str], peer: str, headers: Mapping[str, str | list[str]], message: str) -> None:
    def real(value: str) -> str:  # "CERT" stands for a genuine forwarded certificate
        return quote(pems[CONSUMER]) if value == "CERT" else value

    caller = PROXY(request(peer, {k: [real(v) for v in vs] if isinstance(vs, list) else real(vs) for k, vs in headers.items()}))
    assert caller.consumer is None
    assert caller.refusal is not None and message in caller.refusal


def test_proxy_platform_passes_the_original_consumer(pems: dict[str, str]) -> None:
    headers = {"x-ssl-client-cert": quote(pems[PLATFORM]), ORIGINAL_CONSUMER_HEADER: CONSUMER}
    assert PROXY(request("127.0.0.2", headers)) == Caller(PLATFORM, CONSUMER)


def test_off_mode_is_anonymous_and_refuses_identity_claims(pems: dict[str, str]) -> None:
    assert OFF(request()) == Caller()
    refusal = OFF(request(headers={"x-ssl-client-cert": quote(pems[CONSUMER])})).refusal
    assert refusal is not None and "this server runs in off mode" in refusal
    assert OFF(request(headers={ORIGINAL_CONSUMER_HEADER: CONSUMER})).refusal == (
        f"{ORIGINAL_CONSUMER_HEADER} is only accepted from platform consumers; an unauthenticated caller is not one"
    )


def test_bad_proxy_address_is_named() -> None:
    with pytest.raises(ValueError, match="trusted proxy 'nginx' is not an IP address or network"):
        parse_networks(["nginx"])


def test_trusted_proxy_requests_are_https() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["scheme"])

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        pass

    middleware = TrustedProxyScheme(app, parse_networks(["127.0.0.2"]))
    for peer in ("127.0.0.2", "127.0.0.1"):
        asyncio.run(middleware({"type": "http", "scheme": "http", "client": (peer, 1)}, receive, send))
    assert seen == ["https", "http"]


@pytest.mark.parametrize("refuse", ["returned", "raised"])
def test_app_answers_a_refused_caller_with_a_fault_and_audits_it(
    services: Services, refuse: str, caplog: pytest.LogCaptureFixture
) -> None:
    def resolver(_request: Request) -> Caller:
        if refuse == "raised":
            raise SoapFault("no entry for you")
        return Caller(CONSUMER, refusal="no entry for you")

    with TestClient(create_app(services=services, caller_resolver=resolver)) as client, caplog.at_level(logging.INFO):
        response = post(client, GET, envelope(get_request("any-id"), logical_address="5565594230"))
    assert response.status_code == 500
    assert fault(response.content) == "no entry for you"
    assert b"Traceback" not in response.content
    [line] = [vars(r)["fields"] for r in caplog.records if r.name == "intygstjanst.audit"]
    assert line["result"] == "FAULT"
    # Refused before the body was parsed: the logical address was never read.
    assert (line["contract"], line["logical_address"], line["authorized"]) == ("GetCertificate", None, None)
    assert line["consumer"] == (CONSUMER if refuse == "returned" else None)
    assert any("refused GetCertificate before reading the body: no entry for you" in r.getMessage() for r in caplog.records)
