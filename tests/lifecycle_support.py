"""A care giver with every kind of data for the data-lifecycle tests, stored in a database of its own
(so that the file's bytes hold nothing of other tests), and a search of every row and, on SQLite,
every byte of the database files for what must be gone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from intygstjanst.app import create_app
from intygstjanst.persistence import certificates, receivers
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import Base
from intygstjanst.registers.persons import FilePersonLookup
from intygstjanst.services import Services
from intygstjanst.settings import Settings

from intygstjanst.tests.conftest import scratch_database
from intygstjanst.tests.listing import store
from intygstjanst.tests.messages_support import CARE_GIVER, CARE_UNIT, CERT, OTHER_CERT, to_care, to_recipient
from intygstjanst.tests.soap import REGISTER, TEST_PERSON, certificate, envelope, post, result
from intygstjanst.tests.messages_support import TO_CARE, TO_RECIPIENT

REPLACEMENT = "lifecycle-replacement-1"
TEST_CERTIFICATE = "lifecycle-test-cert-1"
OTHER_GIVER = "SE2321000016-OTHERVG"
OTHER_GIVER_CERT = "lifecycle-other-giver-1"
OTHER_PATIENT = "194011306125"
QUESTION = "lifecycle-question-1"
ANSWER = "lifecycle-answer-1"
QUESTION_TEXT = "Lifecycle question about the work capacity of the patient"
ANSWER_TEXT = "Lifecycle answer: completed in the replacing certificate"

# What must be gone from the database after the care giver's erasure (the care giver's id itself
# stays on the receipt).
NEEDLES = (CERT, OTHER_CERT, REPLACEMENT, TEST_CERTIFICATE, TEST_PERSON, CARE_UNIT, QUESTION, ANSWER, QUESTION_TEXT, ANSWER_TEXT)


@dataclass
class Fresh:
    db: Database
    client: TestClient
    url: str
    sqlite_file: Path | None


@contextmanager
def fresh_service(tmp_path: Path, persons: FilePersonLookup) -> Iterator[Fresh]:
    """The in-process app on an empty migrated database of its own."""
    with scratch_database(tmp_path / "lifecycle.db", "life14") as url:
        db = Database(url)
        db.upgrade()
        services = Services.build(Settings(data_dir=tmp_path), db=db, persons=persons)
        sqlite_file = Path(make_url(url).database or "") if db.is_sqlite else None
        try:
            with TestClient(create_app(services.settings, services)) as client:
                yield Fresh(db, client, url, sqlite_file)
        finally:
            db.dispose()


def register(client: TestClient, certificate_id: str) -> None:
    response = post(client, REGISTER, envelope(certificate(certificate_id)))
    assert result(response.content)[0] == "OK", response.text[:800]


def fill(fresh: Fresh) -> None:
    """The care giver of the LISJP sample: two registered certificates sent to Försäkringskassan,
    a question and an answer about the first, receiver approvals, a replacement of the first and a
    test certificate; and one certificate of another care giver."""
    for certificate_id in (CERT, OTHER_CERT):
        register(fresh.client, certificate_id)
        with fresh.db.transaction() as conn:
            certificates.add_state(conn, certificate_id, "SENT", "FKASSA", dt.datetime(2030, 1, 2, 8, 0))
    for path, payload in (
        (TO_CARE, to_care(QUESTION, CERT, text=QUESTION_TEXT)),
        (TO_RECIPIENT, to_recipient(ANSWER, CERT, subject="KOMPLT", text=ANSWER_TEXT, answer_to=QUESTION)),
    ):
        response = post(fresh.client, path, envelope(payload))
        assert result(response.content)[0] == "OK", response.text[:800]
    with fresh.db.transaction() as conn:
        receivers.replace_approvals(conn, CERT, "LISJP", [("FKASSA", "YES"), ("AF", "NO")], dt.datetime(2030, 1, 3))
    store(fresh.db, REPLACEMENT, unit=CARE_UNIT, care_giver=CARE_GIVER, relations=[certificates.RelationEntry("ERSATT", CERT)])
    store(fresh.db, TEST_CERTIFICATE, unit=CARE_UNIT, care_giver=CARE_GIVER, is_test=True)
    store(fresh.db, OTHER_GIVER_CERT, patient=OTHER_PATIENT, unit="SE2321000016-OTHERUNIT", care_giver=OTHER_GIVER)


def rows_mentioning(db: Database, needles: Iterable[str]) -> list[str]:
    """``table.column = value`` for every stored value holding one of ``needles``."""
    wanted = [needle.encode("utf-8") for needle in needles]
    found = []
    with db.read() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for column, value in row._mapping.items():
                    data = value if isinstance(value, bytes) else str(value).encode("utf-8")
                    if any(needle in data for needle in wanted):
                        found.append(f"{table.name}.{column} = {str(value)[:80]}")
    return found


def file_bytes_mentioning(sqlite_file: Path, needles: Iterable[str]) -> list[str]:
    """The needles found anywhere in the SQLite database file or its WAL."""
    data = b"".join(path.read_bytes() for path in (sqlite_file, Path(f"{sqlite_file}-wal")) if path.exists())
    return [needle for needle in needles if needle.encode("utf-8") in data]
