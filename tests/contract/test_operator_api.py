"""The operator HTTP API of the data lifecycle (lifecycle/web.py): the same inventory, export, erase,
destroy and purge as the commands, as JSON; and only for callers whose grant names the operator API
(a grant of every contract does not)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.testclient import TestClient

from intygstjanst.app import create_app
from intygstjanst.contracts.dispatch import Caller
from intygstjanst.tls.authorization import OPERATOR_NAMESPACE, CallAuthorizer

from intygstjanst.tests.lifecycle_support import NEEDLES, OTHER_GIVER, TEST_CERTIFICATE, Fresh, rows_mentioning
from intygstjanst.tests.messages_support import CARE_GIVER, CERT

OPERATOR = "SE2321000016-OPS1"
EVERYTHING = "SE2321000016-ALL1"


def test_inventory_export_erase_over_http(fresh: Fresh) -> None:
    client = fresh.client
    base = f"/operator/caregivers/{CARE_GIVER}"
    assert client.get(f"{base}/inventory").json()["certificates"] == 4
    assert client.get(f"{base}/export/manifest").status_code == 404
    manifest = client.post(f"{base}/export").json()
    assert manifest["counts"]["certificates"] == 3
    assert client.get(f"{base}/export/manifest").json() == manifest
    part = manifest["parts"][0]
    fetched = client.get(f"{base}/export/files/{part['file']}")
    assert fetched.status_code == 200 and hashlib.sha256(fetched.content).hexdigest() == part["sha256"]
    assert client.get(f"{base}/export/files/..%2Fmanifest.json").status_code == 404

    wrong = client.post(f"{base}/erase", json={**manifest, "export_hash": "0" * 64})
    assert wrong.status_code == 409 and "not the manifest of the finished export" in wrong.json()["error"]
    receipt = client.post(f"{base}/erase", json=manifest).json()
    assert receipt["kind"] == "care-giver-erasure" and receipt["counts"]["certificates"] == 3
    assert receipt["operator"] == "anonymous (tls mode off)" and receipt["export_hash"] == manifest["export_hash"]
    assert rows_mentioning(fresh.db, NEEDLES) == []


def test_destroy_and_purge_over_http(fresh: Fresh) -> None:
    client = fresh.client
    assert client.post(f"/operator/certificates/{CERT}/destroy", json={}).status_code == 409
    receipt = client.post(f"/operator/certificates/{CERT}/destroy", json={"decision": "Dnr 7"}).json()
    assert receipt["subject"] == "Dnr 7" and receipt["counts"]["certificates"] == 1
    assert client.post(f"/operator/certificates/{CERT}/destroy", json={"decision": "Dnr 7"}).status_code == 409
    assert client.post("/operator/purge/test-certificates", json={"before": "not a date"}).status_code == 400
    purged = client.post("/operator/purge/test-certificates", json={"before": "2030-01-01"}).json()
    assert purged["counts"]["certificates"] == 1
    assert rows_mentioning(fresh.db, [CERT, TEST_CERTIFICATE]) == []


def test_only_a_grant_naming_the_operator_api_opens_it(fresh: Fresh, tmp_path: Path) -> None:
    grants = tmp_path / "grants.toml"
    grants.write_text(
        f'[[grant]]\nconsumer = "{OPERATOR}"\nlogical_address = "{CARE_GIVER}"\ncontract = "{OPERATOR_NAMESPACE}"\n'
        "valid_from = 2020-01-01\nvalid_to = 2099-12-31\n\n"
        f'[[grant]]\nconsumer = "{EVERYTHING}"\nlogical_address = "*"\ncontract = "*"\n'
        "valid_from = 2020-01-01\nvalid_to = 2099-12-31\n",
        encoding="utf-8",
    )
    services = fresh.client.app.state.services  # type: ignore[attr-defined]
    authorizer = CallAuthorizer(grants, {c.namespace for c in services.contracts})

    def as_caller(consumer: str | None) -> TestClient:
        return TestClient(create_app(services=services, caller_resolver=lambda _r: Caller(consumer=consumer), authorizer=authorizer))

    assert as_caller(OPERATOR).get(f"/operator/caregivers/{CARE_GIVER}/inventory").status_code == 200
    assert as_caller(OPERATOR).get(f"/operator/caregivers/{OTHER_GIVER}/inventory").status_code == 403
    assert as_caller(OPERATOR).post(f"/operator/certificates/{CERT}/destroy", json={"decision": "x"}).status_code == 403
    assert as_caller(EVERYTHING).get(f"/operator/caregivers/{CARE_GIVER}/inventory").status_code == 403
    assert as_caller(None).post(f"/operator/caregivers/{CARE_GIVER}/export").status_code == 403
    # The operator on the receipt is the caller's HSA-id.
    manifest = as_caller(OPERATOR).post(f"/operator/caregivers/{CARE_GIVER}/export").json()
    receipt = as_caller(OPERATOR).post(f"/operator/caregivers/{CARE_GIVER}/erase", json=manifest).json()
    assert receipt["operator"] == OPERATOR
