"""``intygstjanst certificate destroy`` and the purging of test certificates (lifecycle/erase.py):
a destroyed certificate leaves no row (and on SQLite no byte) naming it, only a receipt with the
decision reference and counts; a purge takes test certificates older than the date and nothing else,
on demand and from the worker."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from intygstjanst.delivery.worker import Worker
from intygstjanst.lifecycle.erase import Refused, destroy, purge_test_certificates
from intygstjanst.persistence import lifecycle, sickleave
from intygstjanst.persistence.models import Certificate, OutboxItem, SickLeaveCertificate, StatCertificate
from intygstjanst.settings import Settings
from intygstjanst.statistics import store as statistics
from intygstjanst.statistics.events import StatisticsEvent
from intygstjanst.statistics.store import Sources

from intygstjanst.tests.lifecycle_support import (
    ANSWER,
    ANSWER_TEXT,
    OTHER_GIVER_CERT,
    QUESTION,
    QUESTION_TEXT,
    REPLACEMENT,
    TEST_CERTIFICATE,
    Fresh,
    file_bytes_mentioning,
    rows_mentioning,
)
from intygstjanst.tests.listing import store
from intygstjanst.tests.messages_support import CARE_GIVER, CARE_UNIT, CERT, OTHER_CERT

DECISION = "Dnr IVO 2026/0042"


@pytest.fixture
def sources(tmp_path: Path) -> Sources:
    return Sources.from_settings(Settings(data_dir=tmp_path))


def stored_ids(fresh: Fresh) -> set[str]:
    with fresh.db.read() as conn:
        return set(conn.execute(select(Certificate.id)).scalars())


def test_destroy_leaves_no_row_or_byte_naming_the_certificate(fresh: Fresh, sources: Sources) -> None:
    with fresh.db.read() as conn:
        original = conn.execute(select(Certificate.original).where(Certificate.id == CERT)).scalar_one()
    statistics.ingest(fresh.db, StatisticsEvent("created", CERT, "LISJP", body=original), sources)
    with fresh.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(StatCertificate)).scalar_one() == 1
    needles = [CERT, QUESTION, ANSWER, QUESTION_TEXT, ANSWER_TEXT]
    if fresh.sqlite_file is not None:
        assert file_bytes_mentioning(fresh.sqlite_file, needles) == needles

    receipt = destroy(fresh.db, CERT, DECISION, "operator-1", sources)

    assert receipt.subject == DECISION and receipt.kind == lifecycle.DESTRUCTION and receipt.completed_at is not None
    assert receipt.counts == {
        "certificates": 1, "states": 2, "relations": 1, "messages": 2, "approved_receivers": 2,
        "sick_leave_rows": 1, "signatures": 1, "outbox_items": 2,
    }  # fmt: skip
    assert rows_mentioning(fresh.db, needles) == []
    if fresh.sqlite_file is not None:
        assert file_bytes_mentioning(fresh.sqlite_file, needles) == []
    with fresh.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(StatCertificate)).scalar_one() == 0
    assert stored_ids(fresh) == {OTHER_CERT, REPLACEMENT, TEST_CERTIFICATE, OTHER_GIVER_CERT}


def test_destroying_a_replacement_brings_the_replaced_sick_leave_back(fresh: Fresh, sources: Sources) -> None:
    with fresh.db.transaction() as conn:
        sickleave.store(conn, None, supersedes=[CERT])  # as the replacement's registration does

    def superseded() -> bool:
        with fresh.db.read() as conn:
            return bool(conn.execute(select(SickLeaveCertificate.superseded).where(SickLeaveCertificate.certificate_id == CERT)).scalar_one())

    assert superseded()
    destroy(fresh.db, REPLACEMENT, DECISION, "operator-1", sources)
    assert not superseded()


def test_destroy_refuses_an_unknown_certificate_and_a_missing_decision(fresh: Fresh, sources: Sources) -> None:
    with pytest.raises(Refused, match="no certificate no-such-id"):
        destroy(fresh.db, "no-such-id", DECISION, "operator-1", sources)
    with pytest.raises(Refused, match="needs the reference of the decision"):
        destroy(fresh.db, CERT, " ", "operator-1", sources)
    with fresh.db.read() as conn:
        assert lifecycle.receipts(conn) == []


def test_purge_takes_old_test_certificates_and_leaves_real_ones_untouched(fresh: Fresh, sources: Sources) -> None:
    store(fresh.db, "lifecycle-test-new", unit=CARE_UNIT, care_giver=CARE_GIVER, is_test=True, received=dt.datetime(2024, 3, 1))
    with fresh.db.read() as conn:
        before = {row.id: tuple(row) for row in conn.execute(select(Certificate).where(Certificate.is_test.is_(False)))}
    receipt = purge_test_certificates(fresh.db, dt.datetime(2024, 2, 1), "operator-1", sources)
    assert receipt is not None and receipt.counts["certificates"] == 1 and receipt.subject == "received before 2024-02-01T00:00:00Z"
    with fresh.db.read() as conn:
        after = {row.id: tuple(row) for row in conn.execute(select(Certificate).where(Certificate.is_test.is_(False)))}
    assert after == before
    assert TEST_CERTIFICATE not in stored_ids(fresh) and "lifecycle-test-new" in stored_ids(fresh)
    assert rows_mentioning(fresh.db, [TEST_CERTIFICATE]) == []
    assert purge_test_certificates(fresh.db, dt.datetime(2024, 2, 1), "operator-1", sources) is None


def test_the_worker_purges_test_certificates_older_than_the_setting(fresh: Fresh, tmp_path: Path) -> None:
    from intygstjanst.delivery.cli import WorkerParts

    settings = Settings(data_dir=tmp_path, test_certificate_max_age_days=14)
    received = dt.datetime(2024, 1, 10, 10, 0, 5)  # when tests.listing.store receives

    def run_at(now: dt.datetime) -> None:
        parts = WorkerParts.build(settings, fresh.db)
        Worker(WorkerParts(parts.settings, parts.db, parts.recipients, parts.transport, clock=lambda: now), concurrency=1).run(once=True)

    with fresh.db.transaction() as conn:  # nothing to deliver: the worker only purges
        conn.execute(delete(OutboxItem))
    run_at(received + dt.timedelta(days=13))
    assert TEST_CERTIFICATE in stored_ids(fresh)
    run_at(received + dt.timedelta(days=15))
    assert TEST_CERTIFICATE not in stored_ids(fresh)
    assert {CERT, OTHER_CERT, REPLACEMENT, OTHER_GIVER_CERT} <= stored_ids(fresh)
