"""The sick-leave data kept in the certificate's own transaction: which certificates become sick-leave
rows, what the rows hold, the superseded / deleted flags in every order of events, and the table
as the migration creates it."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from lxml import etree
from sqlalchemy import select

from intygstjanst.persistence import sickleave as repo
from intygstjanst.persistence.models import Base, SickLeaveCertificate

from intygstjanst.tests.recipient_calls import REGISTER_MEDICAL, REVOKE, call, legacy_sample, revoke_request
from intygstjanst.tests.sickleave_support import CARE_GIVER, DOCTOR, UNIT, day, lisjp
from intygstjanst.tests.soap import REGISTER, TEST_PERSON, certificate, envelope, post, result

FK7263_V3_WITH_DIAGNOSIS = "common__fk7263-scenarios-rivtav3-valid-scenario11.xml"
FK7263_V3_INFECTION_CONTROL = "common__fk7263-scenarios-rivtav3-valid-scenario1.xml"
LEGACY_WITH_DIAGNOSIS = "common__fk7263-Fk7263ModuleApiTest-utlatande.xml"


pytestmark = pytest.mark.usefixtures("shared")


def register(client, payload: etree._Element) -> None:  # type: ignore[no-untyped-def]
    response = post(client, REGISTER, envelope(payload))
    assert result(response.content)[0] == "OK", response.text[:800]


def rows(db) -> dict[str, SickLeaveCertificate]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return {r.certificate_id: r for r in session.scalars(select(SickLeaveCertificate))}


def flags(db) -> dict[str, tuple[bool, bool]]:  # type: ignore[no-untyped-def]
    """certificate id -> (superseded, deleted)."""
    return {i: (r.superseded, r.deleted) for i, r in rows(db).items()}


def test_a_lisjp_row_holds_the_facts_of_the_certificate(client, db) -> None:
    register(client, lisjp("lisjp-1", [(-10, 4, 100), (5, 20, 50)], diagnosis="M545", secondary=("F321", "Z730")))
    row = rows(db)["lisjp-1"]
    assert (row.type_code, row.patient_id, row.patient_name) == ("LISJP", TEST_PERSON, "Tolvan Tolvansson")
    assert (row.care_unit_id, row.care_unit_name, row.care_giver_id, row.care_giver_name) == (
        UNIT,
        f"Enhet {UNIT}",
        CARE_GIVER,
        "Region Test",
    )
    assert (row.doctor_id, row.doctor_name, repo.codes(row.doctor_titles)) == (DOCTOR, "Doktor Dolittle", ["203090"])
    assert (row.diagnosis_code, row.diagnosis_code_system) == ("M545", "1.2.752.116.1.1.1.1.3")
    assert (repo.codes(row.secondary_diagnoses), repo.codes(row.employment)) == (["F321", "Z730"], ["NUVARANDE_ARBETE"])
    assert repo.periods_of(row) == [(day(-10), day(4), 100), (day(5), day(20), 50)]
    assert (row.first_day, row.last_day, row.signed_at) == (day(-10), day(20), dt.datetime.combine(day(-10), dt.time(9)))
    assert (row.is_test, row.deleted, row.superseded) == (False, False, False)


def test_fk7263_with_a_diagnosis_is_sick_leave_data_from_either_contract(client, db) -> None:
    register(client, certificate("fk7263-v3", name=FK7263_V3_WITH_DIAGNOSIS))
    assert call(client, REGISTER_MEDICAL, legacy_sample("RegisterMedicalCertificate", LEGACY_WITH_DIAGNOSIS, "fk7263-legacy")).code == "OK"
    stored = rows(db)
    assert set(stored) == {"fk7263-v3", "fk7263-legacy"}
    legacy = stored["fk7263-legacy"]
    assert (legacy.type_code, legacy.diagnosis_code) == ("FK7263", "S47")
    assert sorted(repo.period_texts(legacy)) == [
        ["2011-01-26", "2011-02-13", "100"],
        ["2011-02-14", "2011-03-06", "75"],
        ["2011-03-07", "2011-03-31", "50"],
        ["2011-04-01", "2011-05-31", "25"],
    ]


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(lambda: lisjp("lisjp-smitta", [(-5, 10, 100)], infection_control=True), id="LISJP smittbararpenning"),
        pytest.param(lambda: certificate("fk7263-smitta", name=FK7263_V3_INFECTION_CONTROL), id="FK7263 avstangning SmL"),
        pytest.param(lambda: certificate("luse", name="common__fk-luse-v1-luse.xml"), id="a type without sick leave"),
    ],
)
def test_certificates_that_are_not_sick_leave_data_get_no_row(client, db, payload) -> None:  # type: ignore[no-untyped-def]
    register(client, payload())
    assert rows(db) == {}


@pytest.mark.parametrize(
    ("name", "type_code"),
    [("common__skl-ag7804-v1-transport-ag7804.xml", "AG7804"), ("common__skl-ag114-v1-transport-ag114-2.xml", "AG1-14")],
)
def test_types_whose_file_lists_their_periods_are_sick_leave_data(client, db, name: str, type_code: str) -> None:  # type: ignore[no-untyped-def]
    payload = certificate("agx", name=name)
    register(client, payload)
    row = rows(db)["agx"]
    assert row.type_code == type_code
    assert row.diagnosis_code and repo.periods_of(row)
    # The periods as the certificate states them (degree: a code in AG7804, a percentage in AG1-14).
    written = [
        (d.findtext(f"{{*}}datePeriod/{{*}}start"), d.findtext(f"{{*}}datePeriod/{{*}}end"))
        for d in payload.iterfind(".//{*}delsvar")
        if d.get("id") in ("32.2", "7.2")
    ]
    assert sorted((s.isoformat(), e.isoformat()) for s, e, _ in repo.periods_of(row)) == sorted(written)


def test_a_replacement_that_arrives_first_still_supersedes(client, db) -> None:
    register(client, lisjp("replacement", [(-5, 10, 100)], relations=[("ERSATT", "original")]))
    register(client, lisjp("original", [(-5, 10, 100)]))
    assert flags(db) == {"replacement": (False, False), "original": (True, False)}


def test_a_certificate_stays_superseded_while_one_live_successor_remains(client, db) -> None:
    register(client, lisjp("original", [(-5, 10, 100)]))
    register(client, lisjp("completion", [(-5, 10, 100)], relations=[("KOMPLT", "original")]))
    register(client, lisjp("replacement", [(-5, 10, 100)], relations=[("ERSATT", "original")]))
    assert call(client, REVOKE, revoke_request("completion")).code == "OK"
    assert flags(db)["original"] == (True, False)
    assert call(client, REVOKE, revoke_request("replacement")).code == "OK"
    assert flags(db) == {"original": (False, False), "completion": (False, True), "replacement": (False, True)}


def test_a_replacement_that_is_no_sick_leave_data_still_supersedes(client, db) -> None:
    register(client, lisjp("original", [(-5, 10, 100)]))
    register(client, lisjp("now-smittbararpenning", [(-5, 10, 100)], infection_control=True, relations=[("ERSATT", "original")]))
    assert flags(db) == {"original": (True, False)}


def test_revoking_twice_changes_nothing_more(client, db) -> None:
    register(client, lisjp("revoked", [(-5, 10, 100)]))
    assert call(client, REVOKE, revoke_request("revoked")).code == "OK"
    assert call(client, REVOKE, revoke_request("revoked")).code == "INFO"
    assert flags(db) == {"revoked": (False, True)}


def test_a_failed_registration_leaves_no_row(client, db) -> None:
    register(client, lisjp("once", [(-5, 10, 100)]))
    again = lisjp("once", [(-50, -40, 100)])
    assert result(post(client, REGISTER, envelope(again)).content)[0] == "INFO"
    assert rows(db)["once"].first_day == day(-5)


def _new(periods: tuple[tuple[dt.date, dt.date, int], ...], employment: tuple[str, ...] = ()) -> repo.NewSickLeave:
    return repo.NewSickLeave(
        "x", "LISJP", TEST_PERSON, "", UNIT, "", CARE_GIVER, "", DOCTOR, "", (), dt.datetime(2024, 1, 1), "M54", "", (), employment, periods, False
    )


def test_a_row_needs_a_period_and_codes_that_xml_can_carry() -> None:
    with pytest.raises(ValueError, match="sick-leave certificate x: has no period"):
        _new(())
    with pytest.raises(ValueError, match="sick-leave certificate x: employment holds U\\+001F"):
        _new(((day(0), day(1), 100),), employment=("A\x1fB",))


def test_migration_creates_the_sick_leave_table_as_modelled(db) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, Base.metadata) if "sick_leave" in repr(d)]
    assert differences == []
