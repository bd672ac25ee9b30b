"""persistence.prepared: the registration's INSERTs, run on the driver's cursor on SQLite, store
exactly what SQLAlchemy would (read back through SQLAlchemy), and a driver error is SQLAlchemy's,
without the parameters. On SQLite and PostgreSQL (where they run through SQLAlchemy). The same for
``pipelined`` (PostgreSQL's pipeline mode past SQLAlchemy; through SQLAlchemy on SQLite)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from intygstjanst.persistence import certificates as repo
from intygstjanst.persistence import signatures
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.prepared import Prepared, pipelined
from intygstjanst.persistence.tables import CERTIFICATES, SIGNATURES, STATES

from intygstjanst.tests.support import postgresql_only, sqlite_only

NEW = repo.NewCertificate(
    id="prepared-1",
    type_code="LISJP",
    type_version="1.3",
    patient_id="191212121212",
    care_unit_id="SE-UNIT",
    care_unit_name="Enheten",
    care_giver_id="SE-GIVER",
    signing_doctor_id="SE-DOCTOR",
    signing_doctor_name="Doktor",
    signed_at=dt.datetime(2026, 12, 4, 10, 0, 0),  # no microseconds: stored with them all the same
    valid_from=dt.date(2026, 12, 1),
    valid_to=dt.date(2026, 12, 31),
    is_test=True,
    source="RegisterCertificate:3",
    original=b"<original/>",
)


def test_rows_read_back_as_written(db: Database) -> None:
    received = dt.datetime(2026, 12, 4, 10, 0, 1, 250000)
    record = signatures.SignatureRecord("unsigned", remark="none")
    with db.transaction() as conn:
        repo.insert_certificate(conn, NEW, received)
        signatures.insert(conn, NEW.id, record, received)
    with db.read() as conn:
        row = conn.execute(select(CERTIFICATES).where(CERTIFICATES.c.id == NEW.id)).one()
        state = conn.execute(select(STATES.c.state, STATES.c.target, STATES.c.at).where(STATES.c.certificate_id == NEW.id)).one()
    assert {name: getattr(row, name) for name in NEW.__dataclass_fields__} == NEW.__dict__
    assert (row.received_at, row.deleted_by_care_giver) == (received, False)
    assert tuple(state) == ("RECEIVED", "HSVARD", received)
    with db.read() as conn:
        stored = signatures.get(conn, NEW.id)
    assert stored is not None and (stored.record, stored.checked_at) == (record, received)


def test_a_taken_id_is_reported_and_a_driver_error_is_sqlalchemys_without_parameters(db: Database) -> None:
    received = dt.datetime(2026, 12, 4, 10, 0, 1)
    with db.transaction() as conn:
        repo.insert_certificate(conn, NEW, received)
        with pytest.raises(repo.AlreadyStored):
            repo.insert_certificate(conn, NEW, received)
    row = {"certificate_id": NEW.id, "status": "unsigned", "reason_code": "", "reason": "", "signer_subject": "",
           "signer_hsa_id": "", "remark": "secret-191212121212", "checked_at": received}  # fmt: skip
    with pytest.raises(IntegrityError) as raised, db.transaction() as conn:
        conn.execute(insert(SIGNATURES), row)
        Prepared(insert(SIGNATURES)).execute(conn, row)
    assert "191212121212" not in str(raised.value)


def test_a_column_with_a_python_default_must_be_given(db: Database) -> None:
    values = {name: value for name, value in NEW.__dict__.items() if name != "is_test"}  # is_test has default=False
    sqlite_only(db.is_sqlite)  # compiled for the driver's cursor on SQLite only
    with pytest.raises(ValueError, match="Python-side default"), db.transaction() as conn:
        Prepared(insert(CERTIFICATES)).execute(conn, {**values, "deleted_by_care_giver": False, "received_at": dt.datetime(2026, 1, 1)})


def test_a_connection_without_a_transaction_yet_begins_one(db: Database) -> None:
    """The first statement of a connection begins its transaction (SQLAlchemy's autobegin), also
    when it is a prepared one: not committed, it is not stored."""
    with db.transaction() as conn:
        repo.insert_certificate(conn, NEW, dt.datetime(2026, 12, 4))
    with db.engine.connect() as conn:
        repo.add_state(conn, NEW.id, "SENT", "FKASSA", dt.datetime(2026, 12, 4, 1))
        assert conn.in_transaction()
        conn.rollback()
    with db.read() as conn:
        assert conn.execute(select(STATES.c.state).where(STATES.c.certificate_id == NEW.id)).scalars().all() == ["RECEIVED"]


_STATE_OF = select(STATES.c.state, STATES.c.target).where(STATES.c.certificate_id == bindparam("id"), STATES.c.state != "SENT")
_ADD_STATE = insert(STATES)
_ADD_SIGNATURE = insert(SIGNATURES)


def test_pipelined_steps_run_in_order_and_return_their_rows(db: Database) -> None:
    """Sent at once on PostgreSQL: each statement still sees what the ones before it wrote, a list
    of parameter sets runs the statement once per set, and the literal a statement carries is
    passed along."""
    at = dt.datetime(2026, 12, 4, 11)
    with db.transaction() as conn:
        repo.insert_certificate(conn, NEW, at)
        added = [{"certificate_id": NEW.id, "state": state, "target": "FKASSA", "at": at} for state in ("SENT", "ARCHIVED")]
        results = pipelined(conn, [(_STATE_OF, {"id": NEW.id}), (_ADD_STATE, added), (_STATE_OF, {"id": NEW.id})])
    assert results[0] == [("RECEIVED", "HSVARD")]
    assert results[1] == []
    assert sorted(results[2]) == [("ARCHIVED", "FKASSA"), ("RECEIVED", "HSVARD")]


def test_a_pipelined_driver_error_is_sqlalchemys_without_parameters(db: Database) -> None:
    at = dt.datetime(2026, 12, 4, 11)
    with db.transaction() as conn:
        repo.insert_certificate(conn, NEW, at)
    row = {"certificate_id": NEW.id, "status": "unsigned", "reason_code": "", "reason": "", "signer_subject": "",
           "signer_hsa_id": "", "remark": "secret-191212121212", "checked_at": at}  # fmt: skip
    with pytest.raises(IntegrityError) as raised, db.transaction() as conn:
        pipelined(conn, [(_ADD_SIGNATURE, row), (_STATE_OF, {"id": NEW.id}), (_ADD_SIGNATURE, row)])
    assert "191212121212" not in str(raised.value)


def test_a_pipelined_statement_with_an_expanding_parameter_is_refused(db: Database) -> None:
    postgresql_only(db.is_sqlite)  # compiled past SQLAlchemy on PostgreSQL only
    statement = select(STATES.c.state).where(STATES.c.certificate_id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(ValueError, match="expanding"), db.transaction() as conn:
        repo.insert_certificate(conn, NEW, dt.datetime(2026, 12, 4))
        pipelined(conn, [(statement, {"ids": [NEW.id]})])
