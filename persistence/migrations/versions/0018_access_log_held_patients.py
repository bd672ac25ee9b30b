"""the access log: an entry naming many patients holds their rows itself, indexed afterwards

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04

The existing entries keep their patient rows in access_log_patient (``patients`` empty): they
verify and are extracted as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("access_log", sa.Column("patients", sa.LargeBinary, nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # Stored as written, out of line: PostgreSQL would otherwise try to compress each held value
        # (hundreds of kB) while the append holds the chain's head row.
        op.execute("ALTER TABLE access_log ALTER COLUMN patients SET STORAGE EXTERNAL")
    op.create_table(
        "access_log_indexed",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("indexed_seq", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    from intygstjanst.persistence.access_log import append_only_trigger, drop_append_only_trigger

    bind = op.get_bind()
    dialect = bind.dialect.name
    pending = bind.execute(
        sa.text(
            "SELECT count(*) FROM access_log WHERE patients IS NOT NULL"
            " AND seq > coalesce((SELECT indexed_seq FROM access_log_indexed), 0)"
        )
    ).scalar_one()
    if pending:
        raise RuntimeError(
            f"{pending} access log entries hold patient rows not indexed yet, which the older schema"
            " cannot hold: run 'intygstjanst access-log index' first"
        )
    op.drop_table("access_log_indexed")
    # SQLite drops the column by copying the table, which loses its trigger: made again after.
    op.execute(drop_append_only_trigger(dialect, "access_log"))
    with op.batch_alter_table("access_log") as batch:
        batch.drop_column("patients")
    op.execute(append_only_trigger(dialect, "access_log"))
