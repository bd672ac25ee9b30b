"""The statistics page in headless Chromium (Debian's chromium and chromium-driver, driven by
Selenium) on a real running server: a generated data set is ingested as statistics events, and every
chart must show the expected bars; screenshots of the page and of each chart are saved in the
test's temp directory."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from intygstjanst.persistence.db import Database
from intygstjanst.statistics import store
from intygstjanst.statistics.reports import REPORTS

from intygstjanst.tests.conftest import LiveServer
from intygstjanst.tests.statistics_support import FAR_UNIT, OTHER_CARE_GIVER, created, message, sources
from intygstjanst.tests.support import require_shared, unavailable

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AROUND = dt.date(2024, 3, 15)

# What the generated data set must show nationally, chart by chart: (month or "", category) -> value.
EXPECTED = {
    store.CASES: {("2024-03", "K"): "20", ("2024-03", "M"): "10"},
    store.DIAGNOSES: {("", "M00-M99"): "30"},
    store.AGES: {("", "41-45"): "30"},
    store.DEGREES: {("", "100"): "20", ("", "50"): "10"},
    store.LENGTHS: {("", "<15 dagar"): "20", ("", "31-60 dagar"): "10"},
    store.COUNTIES: {("", "01"): "30"},
    store.TYPES: {("2024-03", "LISJP"): "30"},
    store.MESSAGES: {("2024-03", "KOMPLT"): "6", ("2024-03", "OVRIGT"): "5"},
    store.COMPLETIONS: {("2024-03", "andel"): "20.0"},
}


def patient(number: int, woman: bool) -> str:
    return f"19800115{number:02d}{2 if woman else 1}{number % 10}"


@pytest.fixture
def data_set(db: Database) -> None:
    """30 sick-leave certificates in county 01 (20 women for two weeks at 100 %, 10 men for 41 days
    at 50 %), 6 completion requests and 5 other messages in March 2024, and 2 men in county 12 who
    stay below the threshold."""
    require_shared()
    parts = sources()
    events = [created(f"w-{i}", [(0, 13, 100)], patient=patient(i, True), around=AROUND) for i in range(20)]
    events += [created(f"m-{i}", [(0, 40, 50)], patient=patient(i, False), around=AROUND) for i in range(10)]
    events += [created(f"s-{i}", [(0, 9, 100)], patient=patient(50 + i, False), unit=FAR_UNIT, care_giver=OTHER_CARE_GIVER, around=AROUND) for i in range(2)]
    events += [message(f"k-{i}", f"w-{i}") for i in range(6)]
    events += [message(f"o-{i}", f"m-{i}", "OVRIGT") for i in range(5)]
    for event in events:
        store.ingest(db, event, parts)


@pytest.fixture
def browser() -> Iterator[object]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        unavailable("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,3000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_every_chart_shows_the_expected_bars(live_server: LiveServer, data_set: None, browser: object, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(browser, WebDriver)
    browser.get(f"{live_server.base_url}/statistik/?from=2024-01&to=2024-03")
    assert browser.title.startswith("Statistik")
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert [c.get_attribute("data-report") for c in charts] == [d.key for d in REPORTS]
    for chart in charts:
        key = chart.get_attribute("data-report")
        assert key is not None
        bars = chart.find_elements(By.CSS_SELECTOR, "rect.bar")
        shown = {
            (b.get_attribute("data-month") or "", b.get_attribute("data-category") or ""): b.get_attribute("data-value")
            for b in bars
            if b.get_attribute("data-value") not in ("0", "0.0")
        }
        assert shown == EXPECTED[key], key
        # Drawn, not just present: every non-zero bar has a height on screen.
        for bar in bars:
            if bar.get_attribute("data-value") not in ("0", "0.0"):
                assert bar.rect["height"] > 0, (key, bar.get_attribute("data-category"))
        chart.screenshot(str(tmp_path / f"{key}.png"))
    assert browser.save_screenshot(str(tmp_path / "statistik.png"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.data")) == len(REPORTS)

    # The county selector: county 12's two men are below the threshold.
    browser.get(f"{live_server.base_url}/statistik/?from=2024-03&to=2024-03&lan=12")
    cases = browser.find_element(By.CSS_SELECTOR, "svg.chart[data-report='sjukfall']")
    assert {b.get_attribute("data-value") for b in cases.find_elements(By.CSS_SELECTOR, "rect.bar")} == {"0"}
    browser.save_screenshot(str(tmp_path / "statistik-lan-12.png"))

    # The CSV link of the first chart downloads the table.
    link = browser.find_element(By.LINK_TEXT, "Ladda ner CSV").get_attribute("href")
    assert link is not None
    answer = httpx.get(link)
    assert answer.status_code == 200 and answer.content.decode("utf-8-sig").startswith("Månad;Kvinnor;Män;Totalt")
    assert (tmp_path / "statistik.png").stat().st_size > 0
