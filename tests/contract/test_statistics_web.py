"""The statistics page and API (statistics/web.py) in the app: charts, tables, CSV, JSON, the period
and scope parameters, and care-giver figures only for callers granted that care giver."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

from lxml import html
from starlette.testclient import TestClient

from intygstjanst.app import create_app
from intygstjanst.contracts.dispatch import Caller
from intygstjanst.persistence import statistics as repo
from intygstjanst.persistence.db import Database
from intygstjanst.services import Services
from intygstjanst.statistics import store
from intygstjanst.statistics.reports import REPORTS
from intygstjanst.tls.authorization import STATISTICS_NAMESPACE, CallAuthorizer

MONTH = dt.date(2024, 3, 1)


def fill(db: Database) -> None:
    with db.transaction() as conn:
        store.write_counts(conn, {
            (store.CASES, "lan:01", MONTH, "K"): 12,
            (store.CASES, "lan:01", MONTH, "M"): 7,
            (store.CASES, "lan:12", MONTH, "M"): 3,
            (store.CASES, "vg:VG-A", MONTH, "K"): 12,
            (store.CASES, "vg:VG-A", MONTH, "M"): 3,
            (store.TYPES, "lan:01", MONTH, "LISJP"): 20,
            (store.TYPES, "lan:01", MONTH, "AG7804"): 2,
            (store.TYPES, "lan:01", MONTH, "DB"): 4,
            (store.COMPLETIONS, "lan:01", MONTH, "med"): 5,
            (store.COMPLETIONS, "lan:01", MONTH, "utan"): 15,
        })


def test_the_page_has_a_chart_and_a_table_per_report(client: TestClient, db: Database) -> None:
    fill(db)
    response = client.get("/statistik/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = html.fromstring(response.content)
    charts = page.xpath("//*[local-name()='svg'][@class='chart']")
    assert [c.get("data-report") for c in charts] == [d.key for d in REPORTS]
    assert len(page.xpath("//table[@class='data']")) == len(REPORTS)
    cases = next(c for c in charts if c.get("data-report") == store.CASES)
    march = {b.get("data-category"): b.get("data-value") for b in cases.iter("{*}rect") if b.get("data-month") == "2024-03"}
    assert march == {"K": "12", "M": "7"}  # the 3 men of county 12 are hidden
    types = next(c for c in charts if c.get("data-report") == store.TYPES)
    assert {b.get("data-category") for b in types.iter("{*}rect")} == {"LISJP"}  # AG7804: 2 and DB: 4, not even named
    assert "Sjukfall per månad och kön" in response.text and "Ladda ner CSV" in response.text


def test_json_csv_and_parameters(client: TestClient, db: Database) -> None:
    fill(db)
    index = client.get("/statistik/api/").json()
    assert [r["report"] for r in index["reports"]] == [d.key for d in REPORTS]
    assert index["months_with_data"] == {"from": "2024-03", "to": "2024-03"}
    data = client.get("/statistik/api/sjukfall?from=2024-01&to=2024-03").json()
    assert data["from"] == "2024-01" and len(data["months"]) == 3 and data["suppressed"] is True
    assert data["months"][2] == {"month": "2024-03", "counts": {"K": 12, "M": 7}, "total": 19}
    assert client.get("/statistik/api/sjukfall?lan=12").json()["total"] == 0
    share = client.get("/statistik/api/komplettering").json()
    assert share["share"] == 0.25 and len(share["months"]) == 12  # default: twelve months to the last with data
    response = client.get("/statistik/api/sjukfall.csv?from=2024-03&to=2024-03")
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Månad", "Kvinnor", "Män", "Totalt"] and rows[1] == ["2024-03", "12", "7", "19"]
    assert client.get("/statistik/api/nothing").status_code == 404
    assert client.get("/statistik/api/sjukfall?from=2024-13").status_code == 400
    assert client.get("/statistik/api/sjukfall?from=2024-05&to=2024-03").status_code == 400
    assert client.get("/statistik/api/sjukfall?lan=99").status_code == 400


def test_care_giver_figures_only_for_callers_granted_that_care_giver(services: Services, db: Database, tmp_path: Path) -> None:
    fill(db)
    grants = tmp_path / "grants.toml"
    grants.write_text(
        f'[[grant]]\nconsumer = "SE2321000016-AAAA"\nlogical_address = "VG-A"\ncontract = "{STATISTICS_NAMESPACE}"\n'
        "valid_from = 2020-01-01\nvalid_to = 2099-12-31\n",
        encoding="utf-8",
    )
    authorizer = CallAuthorizer(grants, {c.namespace for c in services.contracts})

    def as_caller(consumer: str | None) -> TestClient:
        return TestClient(create_app(services=services, caller_resolver=lambda _r: Caller(consumer=consumer), authorizer=authorizer))

    granted = as_caller("SE2321000016-AAAA").get("/statistik/api/sjukfall?vardgivare=VG-A&from=2024-03&to=2024-03")
    assert granted.status_code == 200
    assert granted.json()["months"][0]["counts"] == {"K": 12, "M": 3} and granted.json()["suppressed"] is False
    assert as_caller("SE2321000016-AAAA").get("/statistik/api/sjukfall?vardgivare=VG-B").status_code == 403
    assert as_caller("SE2321000016-BBBB").get("/statistik/?vardgivare=VG-A").status_code == 403
    assert as_caller(None).get("/statistik/api/sjukfall?vardgivare=VG-A").status_code == 403
    # National figures are public.
    assert as_caller(None).get("/statistik/").status_code == 200
    assert re.search(r"Vårdgivare VG-A", as_caller("SE2321000016-AAAA").get("/statistik/?vardgivare=VG-A").text)
