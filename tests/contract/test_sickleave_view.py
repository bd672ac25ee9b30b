"""The operator's JSON view of a unit's sick leaves (``intygstjanst sickleave list``): every filter,
the protected-identity rules of the contracts, and the unanswered messages from Försäkringskassan
on each patient's row. Certificates and messages arrive through their own contracts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from intygstjanst.certificates.sickleave_answer import PROTECTED_NAME
from intygstjanst.certificates.sickleave_view import Filters, age_on
from intygstjanst.cli import main
from intygstjanst.persistence import certificates
from intygstjanst.settings import Settings

from intygstjanst.tests.messages_support import FK_ADDRESS, TO_CARE, TO_RECIPIENT, to_care, to_recipient
from intygstjanst.tests.sickleave_support import CARE_GIVER, CARE_UNITS_TOML, DOCTOR, NOW, TODAY, UNIT, lisjp
from intygstjanst.tests.soap import REGISTER, TEST_PERSON, envelope, post, result

PROTECTED_PERSON = "194011306380"
YOUNG = "200001012384"  # born 2000-01-01: 24 on TODAY
OTHER_DOCTOR = "SE2321000016-L002"


pytestmark = pytest.mark.usefixtures("shared")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    units = tmp_path / "care_units.toml"
    units.write_text(CARE_UNITS_TOML, encoding="utf-8")
    persons = tmp_path / "persons.toml"
    persons.write_text(f'[[person]]\nid = "{PROTECTED_PERSON}"\nprotected = true\n', encoding="utf-8")
    return Settings(data_dir=tmp_path, care_units_file=units, persons_file=persons)


@pytest.fixture(autouse=True)
def _clock(services) -> None:  # type: ignore[no-untyped-def]
    services.clock = lambda: NOW


def register(client, payload) -> None:  # type: ignore[no-untyped-def]
    response = post(client, REGISTER, envelope(payload))
    assert result(response.content)[0] == "OK", response.text[:800]


def send(client, path: str, payload) -> None:  # type: ignore[no-untyped-def]
    response = post(client, path, envelope(payload))
    assert result(response.content)[0] == "OK", response.text[:800]


def listing(settings: Settings, database_url: str, capsys: pytest.CaptureFixture[str], *filters: str) -> list[dict[str, Any]]:
    flags = ["--database-url", database_url, "--care-units-file", str(settings.care_units_file),
             "--persons-file", str(settings.persons_file)]
    assert main(["sickleave", "list", UNIT, "--date", TODAY.isoformat(), *filters, *flags]) == 0
    document = json.loads(capsys.readouterr().out)
    dates = [f for before, f in zip(filters, filters[1:]) if before == "--date"]
    assert (document["unit"], document["date"], document["max_gap"]) == (UNIT, (dates or [TODAY.isoformat()])[-1], 5)
    cases: list[dict[str, Any]] = document["cases"]
    return cases


@pytest.fixture
def unit(client, db):  # type: ignore[no-untyped-def]
    """Four patients on sick leave at the unit on TODAY."""
    register(client, lisjp("tolvan", [(-30, -11, 100), (-10, 20, 50)], diagnosis="F321", secondary=()))
    young = lisjp("young", [(-5, 5, 100)], patient=YOUNG, diagnosis="M545", doctor=OTHER_DOCTOR)
    young.find(".//{*}patient/{*}fornamn").text = "Ung"
    register(client, young)
    register(client, lisjp("protected", [(-100, 10, 75)], patient=PROTECTED_PERSON, diagnosis="F430"))
    register(client, lisjp("ended", [(-40, -20, 100)], patient="199001012385"))
    return client


def ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["patient"]["id"] for c in cases]


def test_the_view_lists_the_units_cases_without_protected_patients(unit, settings, database_url, capsys) -> None:  # type: ignore[no-untyped-def]
    cases = listing(settings, database_url, capsys)
    assert ids(cases) == [TEST_PERSON, YOUNG]
    tolvan = cases[0]
    assert tolvan["patient"] == {"id": TEST_PERSON, "root": "1.2.752.129.2.1.3.1", "name": "Tolvan Tolvansson", "age": 111}
    assert (tolvan["start"], tolvan["end"], tolvan["days"]) == ((TODAY - dt.timedelta(30)).isoformat(), (TODAY + dt.timedelta(20)).isoformat(), 51)
    assert (tolvan["current_degree"], tolvan["degrees"], tolvan["certificates"]) == (50, [100, 50], ["tolvan"])
    assert tolvan["diagnosis"]["code"] == "F321" and tolvan["doctor"]["id"] == DOCTOR
    assert (tolvan["unanswered_messages"], tolvan["reminders"]) == (0, 0)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["--diagnosis", "F32"], [TEST_PERSON]),
        (["--diagnosis", "f32.1"], [TEST_PERSON]),
        (["--diagnosis", "F33"], []),
        (["--chapter", "M00-M99"], [YOUNG]),
        (["--chapter", "A00-F99", "--chapter", "M54-M54"], [TEST_PERSON, YOUNG]),
        (["--min-age", "25"], [TEST_PERSON]),
        (["--max-age", "24"], [YOUNG]),
        (["--min-days", "12"], [TEST_PERSON]),
        (["--max-days", "11"], [YOUNG]),
        (["--degree", "100"], [YOUNG]),
        (["--degree", "50", "--degree", "100"], [TEST_PERSON, YOUNG]),
        (["--doctor", OTHER_DOCTOR], [YOUNG]),
        (["--name", "tolvan t"], [TEST_PERSON]),
        (["--name", "TOLVAN T", "--max-age", "30"], []),
        (["--name", "ung tolv"], [YOUNG]),
    ],
)
def test_filters(unit, settings, database_url, capsys, filters: list[str], expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert ids(listing(settings, database_url, capsys, *filters)) == expected


def test_a_view_naming_doctors_lists_protected_patients_unnamed_and_never_finds_them_by_name(unit, settings, database_url, capsys) -> None:  # type: ignore[no-untyped-def]
    cases = listing(settings, database_url, capsys, "--doctor", DOCTOR)
    assert {c["patient"]["id"]: c["patient"]["name"] for c in cases} == {TEST_PERSON: "Tolvan Tolvansson", PROTECTED_PERSON: PROTECTED_NAME}
    # The certificate gives the protected patient a name; searching for it finds nobody.
    assert ids(listing(settings, database_url, capsys, "--doctor", DOCTOR, "--name", "Tolvan Tolvansson")) == [TEST_PERSON]
    assert ids(listing(settings, database_url, capsys, "--name", "Tolvan Tolvansson")) == [TEST_PERSON]


def test_active_on_another_date_and_recently_ended(unit, settings, database_url, capsys) -> None:  # type: ignore[no-untyped-def]
    earlier = (TODAY - dt.timedelta(days=25)).isoformat()
    assert ids(listing(settings, database_url, capsys, "--date", earlier)) == [TEST_PERSON, "199001012385"]
    assert ids(listing(settings, database_url, capsys, "--recently-ended", "20")) == [TEST_PERSON, "199001012385", YOUNG]


def test_each_row_counts_unanswered_questions_from_forsakringskassan_and_their_reminders(unit, db, settings, database_url, capsys) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as conn:
        certificates.add_state(conn, "tolvan", "SENT", "FKASSA", dt.datetime(2024, 3, 1))
    address = {"address": UNIT}
    send(unit, TO_CARE, to_care("q-open", "tolvan", subject="KONTKT", **address))
    send(unit, TO_CARE, to_care("q-reminded", "tolvan", subject="OVRIGT", **address))
    send(unit, TO_CARE, to_care("reminder-1", "tolvan", subject="PAMINN", reminder_of="q-reminded", last_answer_date=None, **address))
    send(unit, TO_CARE, to_care("reminder-2", "tolvan", subject="PAMINN", reminder_of="q-reminded", last_answer_date=None, **address))
    send(unit, TO_CARE, to_care("q-answered", "tolvan", subject="KONTKT", **address))
    send(unit, TO_CARE, to_care("reminder-of-answered", "tolvan", subject="PAMINN", reminder_of="q-answered", last_answer_date=None, **address))
    send(unit, TO_RECIPIENT, to_recipient("a-1", "tolvan", subject="KONTKT", answer_to="q-answered", address=FK_ADDRESS, care_giver=CARE_GIVER))
    send(unit, TO_CARE, to_care("q-completed", "tolvan", subject="KOMPLT", **address))
    # A completion request is answered by a completing certificate, too.
    register(unit, lisjp("completion", [(-30, -11, 100), (-10, 20, 50)], diagnosis="F321", secondary=(), relations=[("KOMPLT", "tolvan")]))
    # Care's own question, waiting for Försäkringskassan, is not care's to answer.
    send(unit, TO_RECIPIENT, to_recipient("q-from-care", "tolvan", subject="KONTKT", address=FK_ADDRESS, care_giver=CARE_GIVER, last_answer_date=None))

    (tolvan, young) = listing(settings, database_url, capsys)
    assert (tolvan["certificates"], tolvan["unanswered_messages"], tolvan["reminders"]) == (["completion"], 2, 2)
    assert (young["unanswered_messages"], young["reminders"]) == (0, 0)


def test_bad_filters_are_refused_by_name(settings, database_url, capsys) -> None:  # type: ignore[no-untyped-def]
    flags = ["--database-url", database_url]
    assert main(["sickleave", "list", UNIT, "--chapter", "F99-F00", *flags]) == 2
    assert "chapter 'F99-F00': expected a range of three-character ICD-10 codes such as F00-F99" in capsys.readouterr().err
    assert main(["sickleave", "list", UNIT, "--min-age", "40", "--max-age", "30", *flags]) == 2
    assert "a range from 40 to 30 is empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sickleave", "list", UNIT, "--min-days", "-1", *flags])


def test_age_from_personnummer_and_samordningsnummer() -> None:
    assert age_on("200001012384", dt.date(2024, 1, 1)) == 24
    assert age_on("200001012384", dt.date(2023, 12, 31)) == 23
    assert age_on("200001612380", dt.date(2024, 1, 1)) == 24  # samordningsnummer: day + 60
    assert age_on("20001399xxxx", dt.date(2024, 1, 1)) is None
    assert Filters.chapter("f00-F99") == ("F00", "F99")
