"""The cheapest refusals first: a consumer with no grant for a contract (for any logical address) is
refused from the routing header alone, before the payload is parsed. Its 7 MB payload is broken at
the end, so a parse would answer "not well-formed"; it gets the authorization Fault instead, worded
as when the whole message is read (the Fault names the logical address). A granted consumer sending
the same bytes gets the parse Fault, which shows the payload would have been parsed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from intygstjanst.tests.attacks.siege import XML, assert_bystanders_served, attack, supplementary_flood
from intygstjanst.tests.soap import REGISTER, REGISTER_NS, fault
from intygstjanst.tests.tlsserver import ADDRESS, CONSUMER, OTHER, Pki, Server, running_native

# The 60,000-answer LISJP with its last end tag misspelt (the body element names its contract): well-formed up to its final bytes.
BROKEN = supplementary_flood(60_000).replace(b"</soapenv:Envelope>", b"</soapenv:Envelop>")
REVOKE = "/clinicalprocess/healthcond/certificate/RevokeCertificate/2/rivtabp21"
REVOKE_NS = "urn:riv:clinicalprocess:healthcond:certificate:RevokeCertificateResponder:2"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pki: Pki, database_url: str, migrated_db) -> Iterator[Server]:
    with running_native(tmp_path_factory.mktemp("authorization-first"), database_url, pki) as live:
        yield live


def _post(server: Server, pki: Pki, hsa_id: str, path: str, body: bytes) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, verify=pki.context(pki.client(hsa_id)), timeout=120) as client:
        return client.post(path, content=body, headers=XML)


def test_a_consumer_without_grants_is_refused_before_its_payload_is_parsed(server: Server, pki: Pki) -> None:
    assert b"</soapenv:Envelop>" in BROKEN and len(BROKEN) > 3_000_000
    siege = attack(server, lambda _client: _post(server, pki, OTHER, REGISTER, BROKEN), verify=pki.context(pki.client(CONSUMER)))
    assert siege.answer.status_code == 500
    message = fault(siege.answer.content)
    assert message == f"consumer {OTHER} is not authorized to call RegisterCertificate ({REGISTER_NS}) for logical address {ADDRESS}"
    assert_bystanders_served(siege)
    log = server.log()
    assert f"refused: {message}; no grant names consumer {OTHER}" in log
    [refused] = [record for record in server.audit() if record["consumer"] == OTHER]
    assert (refused["result"], refused["authorized"], refused["logical_address"]) == ("FAULT", None, ADDRESS)


def test_a_consumer_with_grants_for_other_contracts_only_is_refused_the_same_way(server: Server, pki: Pki) -> None:
    body = BROKEN.replace(REGISTER_NS.encode(), REVOKE_NS.encode())
    answer = _post(server, pki, CONSUMER, REVOKE, body)
    assert answer.status_code == 500
    assert fault(answer.content) == (
        f"consumer {CONSUMER} is not authorized to call RevokeCertificate ({REVOKE_NS}) for logical address {ADDRESS}"
    )


def test_a_granted_consumer_gets_the_parse_fault_for_the_same_bytes(server: Server, pki: Pki) -> None:
    answer = _post(server, pki, CONSUMER, REGISTER, BROKEN)
    assert answer.status_code == 500
    assert fault(answer.content).startswith("the message is not well-formed XML")


def test_a_broken_header_is_still_the_parse_fault(server: Server, pki: Pki) -> None:
    """Without a readable routing header there is no address to name: the message is parsed (and
    fails where the header breaks), as before."""
    body = BROKEN.replace(b"</ns0:LogicalAddress>", b"</ns0:LogicalAddres>", 1)
    assert body != BROKEN
    answer = _post(server, pki, OTHER, REGISTER, body)
    assert fault(answer.content).startswith("the message is not well-formed XML")
