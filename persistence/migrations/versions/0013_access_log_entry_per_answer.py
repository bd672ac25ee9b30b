"""the access log: one entry per disclosing answer, its patients in access_log_patient

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

The existing entries (one patient each) keep their hashes: an entry with one patient row has the
canonical form it had (persistence/access_log.py), so the chain still verifies.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_MOVED = ("patient_key", "care_giver_id", "care_unit_id", "certificates")


def upgrade() -> None:
    from intygstjanst.persistence.access_log import append_only_trigger, drop_append_only_trigger

    dialect = op.get_bind().dialect.name
    op.create_table(
        "access_log_patient",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("patient_key", sa.String(64), primary_key=True),
        sa.Column("care_giver_id", sa.Text, primary_key=True),
        sa.Column("care_unit_id", sa.Text, primary_key=True),
        sa.Column("certificates", sa.Integer, nullable=False),
    )
    op.execute(f"INSERT INTO access_log_patient (seq, {', '.join(_MOVED)}) SELECT seq, {', '.join(_MOVED)} FROM access_log")
    op.create_index("ix_access_log_patient_key", "access_log_patient", ["patient_key"])
    op.execute(append_only_trigger(dialect, "access_log_patient"))
    op.drop_index("ix_access_log_patient", table_name="access_log")
    # SQLite drops the columns by copying the table, which loses its trigger: made again after.
    op.execute(drop_append_only_trigger(dialect, "access_log"))
    with op.batch_alter_table("access_log") as batch:
        for column in _MOVED:
            batch.drop_column(column)
    op.execute(append_only_trigger(dialect, "access_log"))


def downgrade() -> None:
    from intygstjanst.persistence.access_log import append_only_trigger, drop_append_only_trigger

    bind = op.get_bind()
    dialect = bind.dialect.name
    shared = bind.execute(
        sa.text("SELECT count(*) FROM (SELECT seq FROM access_log_patient GROUP BY seq HAVING count(*) > 1) AS many")
    ).scalar_one()
    if shared:
        raise RuntimeError(
            f"{shared} access log entries name several patients, which the older schema cannot hold: "
            "downgrading would lose them"
        )
    op.execute(drop_append_only_trigger(dialect, "access_log"))
    with op.batch_alter_table("access_log") as batch:
        batch.add_column(sa.Column("patient_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("care_giver_id", sa.Text, nullable=True))
        batch.add_column(sa.Column("care_unit_id", sa.Text, nullable=True))
        batch.add_column(sa.Column("certificates", sa.Integer, nullable=True))
    for column in _MOVED:
        op.execute(
            f"UPDATE access_log SET {column} = "
            f"(SELECT p.{column} FROM access_log_patient p WHERE p.seq = access_log.seq)"
        )
    with op.batch_alter_table("access_log") as batch:
        for column in _MOVED:
            batch.alter_column(column, nullable=False)
    op.create_index("ix_access_log_patient", "access_log", ["patient_key", "at"])
    op.execute(append_only_trigger(dialect, "access_log"))
    op.drop_table("access_log_patient")
