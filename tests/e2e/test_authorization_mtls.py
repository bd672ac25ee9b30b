"""Who gets in, natively: real mutual TLS handshakes against ``intygstjanst serve`` in a second process,
then call authorization by (consumer, contract, logical address) and the platform's original consumer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from lxml import etree

from intygstjanst.persistence.db import Database
from intygstjanst.tls.callers import ORIGINAL_CONSUMER_HEADER

from intygstjanst.tests.soap import GET, GET_NS, REGISTER, REGISTER_NS, certificate, envelope, fault, get_request, result
from intygstjanst.tests.support import require_shared
from intygstjanst.tests.tlsserver import (
    ADDRESS,
    CONSUMER,
    OTHER,
    OTHER_ADDRESS,
    PLATFORM,
    REVOKED,
    Pki,
    Server,
    handshake_refused,
    running_native,
    soap,
)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki, database_url: str, migrated_db: Database
) -> Iterator[Server]:
    with running_native(tmp_path_factory.mktemp("native"), database_url, pki) as live:
        yield live


def client(server: Server, pki: Pki, hsa_id: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, verify=pki.context(pki.client(hsa_id)), timeout=30)


def register_body(certificate_id: str, address: str = ADDRESS) -> bytes:
    require_shared()
    return envelope(certificate(certificate_id), logical_address=address)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize("case", ["no certificate", "other CA", "expired", "revoked"])
def test_handshake_is_refused(server: Server, pki: Pki, case: str) -> None:
    cert = {
        "no certificate": None,
        "other CA": pki.foreign.clients[CONSUMER],
        "expired": pki.expired,
        "revoked": pki.client(REVOKED),
    }[case]
    assert handshake_refused(server.port, pki.context(cert))
    # Control: the same server lets a valid certificate through the same probe.
    assert not handshake_refused(server.port, pki.context(pki.client(CONSUMER)))


def test_granted_consumer_registers_and_is_audited(server: Server, pki: Pki) -> None:
    certificate_id = unique("mtls")
    with client(server, pki, CONSUMER) as http:
        response = soap(http, REGISTER, register_body(certificate_id))
    assert response.status_code == 200, response.text
    assert result(response.content)[0] == "OK"
    record = server.audit()[-1]
    assert record["consumer"] == record["authorized"] == CONSUMER
    assert (record["contract"], record["logical_address"], record["result"]) == ("RegisterCertificate", ADDRESS, "OK")
    assert record["original_consumer"] is None and record["ms"] > 0
    assert "191212121212" not in server.log()  # the patient's personnummer is never logged


def refusal(response: httpx.Response) -> str:
    assert response.status_code == 500, response.text
    assert b"Traceback" not in response.content
    return fault(response.content)


def minimal_register(address: str = ADDRESS) -> bytes:
    """Authorization comes before schema validation, so a refused call needs no valid certificate."""
    return envelope(etree.Element(f"{{{REGISTER_NS}}}RegisterCertificate"), logical_address=address)


def test_granted_consumer_calling_another_logical_address_gets_a_fault(server: Server, pki: Pki) -> None:
    with client(server, pki, CONSUMER) as http:
        message = refusal(soap(http, REGISTER, minimal_register(OTHER_ADDRESS)))
    assert message == (
        f"consumer {CONSUMER} is not authorized to call RegisterCertificate ({REGISTER_NS}) "
        f"for logical address {OTHER_ADDRESS}"
    )
    assert f"refused: {message}; consumer {CONSUMER} has 2 grant(s), none for this contract" in server.log()
    record = server.audit()[-1]
    assert (record["consumer"], record["authorized"], record["result"]) == (CONSUMER, None, "FAULT")
    assert record["logical_address"] == OTHER_ADDRESS


def test_consumer_without_grants_gets_a_fault(server: Server, pki: Pki) -> None:
    with client(server, pki, OTHER) as http:
        message = refusal(soap(http, GET, envelope(get_request("x"), logical_address=ADDRESS)))
    assert message == f"consumer {OTHER} is not authorized to call GetCertificate ({GET_NS}) for logical address {ADDRESS}"


def test_granted_consumer_calling_a_contract_it_has_no_grant_for_gets_a_fault(server: Server, pki: Pki) -> None:
    revoke_path = "/clinicalprocess/healthcond/certificate/RevokeCertificate/2/rivtabp21"
    revoke_ns = "urn:riv:clinicalprocess:healthcond:certificate:RevokeCertificateResponder:2"
    body = envelope(etree.Element(f"{{{revoke_ns}}}RevokeCertificate"), logical_address=ADDRESS)
    with client(server, pki, CONSUMER) as http:
        message = refusal(soap(http, revoke_path, body))
    assert message == (
        f"consumer {CONSUMER} is not authorized to call RevokeCertificate ({revoke_ns}) for logical address {ADDRESS}"
    )


def test_platform_passes_the_original_consumer_who_is_then_authorized(server: Server, pki: Pki) -> None:
    certificate_id = unique("via-platform")
    with client(server, pki, PLATFORM) as http:
        alone = refusal(soap(http, REGISTER, minimal_register()))
        response = soap(http, REGISTER, register_body(certificate_id), **{ORIGINAL_CONSUMER_HEADER: CONSUMER})
    assert alone.startswith(f"consumer {PLATFORM} is not authorized to call RegisterCertificate")
    assert result(response.content)[0] == "OK", response.text
    record = server.audit()[-1]
    assert (record["consumer"], record["original_consumer"], record["authorized"]) == (PLATFORM, CONSUMER, CONSUMER)


def test_platform_cannot_lend_an_original_consumer_more_than_its_grants(server: Server, pki: Pki) -> None:
    with client(server, pki, PLATFORM) as http:
        message = refusal(soap(http, REGISTER, minimal_register(OTHER_ADDRESS), **{ORIGINAL_CONSUMER_HEADER: CONSUMER}))
    assert message == (
        f"consumer {CONSUMER} (original consumer, passed by platform {PLATFORM}) is not authorized to call "
        f"RegisterCertificate ({REGISTER_NS}) for logical address {OTHER_ADDRESS}"
    )


def test_original_consumer_header_from_a_non_platform_is_refused(server: Server, pki: Pki) -> None:
    with client(server, pki, OTHER) as http:
        message = refusal(soap(http, REGISTER, minimal_register(), **{ORIGINAL_CONSUMER_HEADER: CONSUMER}))
    assert message == f"{ORIGINAL_CONSUMER_HEADER} is only accepted from platform consumers; consumer {OTHER} is not one"
    record = server.audit()[-1]
    assert (record["consumer"], record["original_consumer"], record["authorized"]) == (OTHER, None, None)
    assert f"refused RegisterCertificate before reading the body: {message}" in server.log()


def test_forwarded_certificate_header_is_refused_in_native_mode(server: Server, pki: Pki) -> None:
    forged = quote(pki.client(CONSUMER).cert.read_text())
    with client(server, pki, OTHER) as http:
        message = refusal(soap(http, GET, envelope(get_request("x"), logical_address=ADDRESS), **{"x-ssl-client-cert": forged}))
    assert "is only accepted from a trusted proxy in proxy mode; this server runs in native mode" in message


def test_wsdl_over_mtls_names_the_https_endpoint(server: Server, pki: Pki) -> None:
    with client(server, pki, OTHER) as http:
        wsdl = http.get(f"{REGISTER}?wsdl")
    address = etree.fromstring(wsdl.content).find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address is not None and address.get("location") == f"{server.base_url}{REGISTER}"


def test_the_log_names_how_callers_are_identified(server: Server) -> None:
    log = server.log()
    assert "callers are identified by their verified TLS client certificates (native mutual TLS)" in log
    assert "call authorization: 3 grant(s) from" in log
    assert f"platform consumers (may pass the original consumer): {PLATFORM}" in log
