"""PingForConfiguration v1 and the operator endpoints /health and /ready."""

from __future__ import annotations

import datetime as dt

from starlette.testclient import TestClient

from intygstjanst.app import create_app
from intygstjanst.persistence.db import Database
from intygstjanst.services import Services

from intygstjanst.tests.listing import payload
from intygstjanst.tests.soap import envelope, post

PING = "/itintegration/monitoring/PingForConfiguration/1/rivtabp21"
PING_NS = "urn:riv:itintegration:monitoring:PingForConfigurationResponder:1"
MONITORING = "urn:riv:itintegration:monitoring:1"
GET_NS = "urn:riv:clinicalprocess:healthcond:certificate:GetCertificateResponder:2"


def ping_request(namespace: str = GET_NS, logical_address: str = "ANY-ADDRESS-1") -> bytes:
    return envelope(
        f'<p:PingForConfiguration xmlns:p="{PING_NS}"><p:serviceContractNamespace>{namespace}</p:serviceContractNamespace>'
        f"<p:logicalAddress>{logical_address}</p:logicalAddress></p:PingForConfiguration>".encode(),
        logical_address=logical_address,
    )


def configuration(answer) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        item.findtext(f"{{{MONITORING}}}name"): item.findtext(f"{{{MONITORING}}}value")
        for item in answer.iterfind(f"{{{PING_NS}}}configuration")
    }


def test_ping_answers_version_time_and_configuration(client, services) -> None:
    services.clock = lambda: dt.datetime(2024, 3, 1, 12, 30, 45)
    response = post(client, PING, ping_request())
    assert response.status_code == 200, response.text
    answer = payload(response.content, services.contracts.by_path(PING))
    assert answer.findtext(f"{{{PING_NS}}}version")
    expected = dt.datetime(2024, 3, 1, 12, 30, 45, tzinfo=dt.UTC).astimezone().strftime("%Y%m%d%H%M%S")
    assert answer.findtext(f"{{{PING_NS}}}pingDateTime") == expected
    items = configuration(answer)
    assert items["database"] == "ok"
    assert items["databaseDialect"] in ("sqlite", "postgresql")
    assert items["servedContracts"] == str(len(services.contracts))
    assert items["serviceContract"] == f"{GET_NS} is served here"
    assert int(items["uptimeSeconds"]) >= 0


def test_ping_answers_for_any_logical_address_and_says_when_a_contract_is_not_served(client, services) -> None:
    response = post(client, PING, ping_request("urn:riv:no:SuchResponder:1", logical_address="SE-SOMEWHERE-ELSE"))
    assert response.status_code == 200
    items = configuration(payload(response.content, services.contracts.by_path(PING)))
    assert items["serviceContract"] == "urn:riv:no:SuchResponder:1 is not served here"


def test_ping_never_reveals_the_database_url_or_paths(client, services, settings) -> None:
    body = post(client, PING, ping_request()).content.decode()
    assert services.db.url not in body
    assert str(settings.data_dir) not in body
    assert "postgres@" not in body and "sqlite:" not in body


def test_ping_reports_an_unreachable_database_instead_of_failing(settings, persons, tmp_path) -> None:
    broken = Database("postgresql+psycopg://nobody@127.0.0.1:1/none", pool_pre_ping=False, connect_args={"connect_timeout": 1})
    services = Services.build(settings, db=broken, persons=persons)
    with TestClient(create_app(services=services)) as client:
        response = post(client, PING, ping_request())
        assert response.status_code == 200
        assert configuration(payload(response.content, services.contracts.by_path(PING)))["database"] == "unavailable"
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
        assert client.get("/health").json() == {"status": "ok"}


def test_ready_reports_database_and_schemas(client, services) -> None:
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "database": "reachable",
        "schemas": "compiled",
        "contracts": len(services.contracts),
    }
