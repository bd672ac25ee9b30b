"""the access log: who was disclosed which patient's data, chained by hashes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.Column("contract", sa.String(64), nullable=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("consumer", sa.Text, nullable=True),
        sa.Column("original_consumer", sa.Text, nullable=True),
        sa.Column("logical_address", sa.Text, nullable=True),
        sa.Column("patient_key", sa.String(64), nullable=False),
        sa.Column("care_giver_id", sa.Text, nullable=False),
        sa.Column("care_unit_id", sa.Text, nullable=False),
        sa.Column("certificates", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_access_log_patient", "access_log", ["patient_key", "at"])
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_table(
        "access_log_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("anchor_seq", sa.BigInteger, nullable=False),
        sa.Column("anchor_hash", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("access_log_head")
    op.drop_index("ix_access_log_at", table_name="access_log")
    op.drop_index("ix_access_log_patient", table_name="access_log")
    op.drop_table("access_log")
