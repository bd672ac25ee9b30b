"""``intygstjanst statistics rebuild``: the store recomputed from the stored certificates equals the
store the events built, case for case and count for count."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import insert

from intygstjanst import cli
from intygstjanst.persistence import certificates
from intygstjanst.persistence import statistics as repo
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import Message
from intygstjanst.registers.persons import FilePersonLookup, Person
from intygstjanst.settings import Settings
from intygstjanst.statistics import store
from intygstjanst.statistics.events import StatisticsEvent
from intygstjanst.statistics.rebuild import rebuild

from intygstjanst.tests.messages_support import to_care
from intygstjanst.tests.sickleave_support import OTHER_UNIT, care_unit_settings, lisjp
from intygstjanst.tests.soap import REGISTER, envelope, post, result
from intygstjanst.tests.statistics_support import sources, stored_counts, stored_shown
from intygstjanst.tests.support import require_shared

WOMAN = "198502022384"
# (id, periods, patient, unit): two joined into one case, one apart, one revoked, one elsewhere.
CERTIFICATES = [
    ("r-1", [(0, 9, 100)], "191212121212", None),
    ("r-2", [(13, 30, 50)], "191212121212", None),
    ("r-3", [(60, 70, 25)], "191212121212", None),
    ("r-4", [(0, 200, 75)], WOMAN, OTHER_UNIT),
    ("r-5", [(5, 9, 100)], WOMAN, None),
]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return care_unit_settings(tmp_path)


@pytest.fixture
def persons() -> FilePersonLookup:
    return FilePersonLookup({p: Person(p) for p in ("191212121212", WOMAN)})


def snapshot(db: Database) -> tuple[object, ...]:
    with db.read() as conn:
        return (
            stored_counts(conn),
            stored_shown(conn),
            sorted(tuple(r)[1:] for r in conn.execute(repo.CASES.select())),
            sorted(tuple(r) for r in conn.execute(repo.CERTIFICATES.select())),
            sorted(tuple(r) for r in conn.execute(repo.REVOKED.select())),
        )


def test_rebuild_gives_what_the_events_gave(client, db: Database) -> None:  # type: ignore[no-untyped-def]
    require_shared()
    events = []
    for certificate_id, periods, patient, unit in CERTIFICATES:
        payload = lisjp(certificate_id, periods, patient=patient, **({"unit": unit} if unit else {}))
        response = post(client, REGISTER, envelope(payload))
        assert result(response.content)[0] == "OK", response.text[:500]
        events.append(StatisticsEvent("created", certificate_id, "LISJP", body=etree.tostring(payload)))
    message = to_care("q-1", "r-1")
    with db.transaction() as conn:
        certificates.add_state(conn, "r-5", "CANCELLED", "HSVARD", dt.datetime(2024, 3, 20))
        conn.execute(insert(Message), [{
            "id": "q-1", "direction": "TO_CARE", "certificate_id": "r-1", "patient_id": "191212121212", "subject": "KOMPLT",
            "sender": "FKASSA", "recipient_address": "x", "sent_at": dt.datetime(2030, 1, 10, 9, 30),
            "received_at": dt.datetime(2030, 1, 10, 9, 30), "digest": "d", "original": etree.tostring(message),
        }])
    events += [
        StatisticsEvent("revoked", "r-5", "LISJP"),
        StatisticsEvent("message-sent", "r-1", "LISJP", "FKASSA", "q-1", etree.tostring(message)),
    ]
    parts = sources(client.app.state.services.care_units)
    for event in events:
        store.ingest(db, event, parts)
    from_events = snapshot(db)
    assert len(from_events[2]) == 3  # cases: r-1 + r-2, r-3, r-4 (r-5 revoked)

    done = rebuild(db, parts)
    assert (done.certificates, done.revoked, done.cases, done.messages) == (4, 1, 3, 1)
    assert snapshot(db) == from_events


def test_the_command_rebuilds(settings: Settings, db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["statistics", "rebuild", "--database-url", db.url, "--data-dir", str(settings.data_dir)]) == 0
    assert "statistics rebuilt in" in capsys.readouterr().out
