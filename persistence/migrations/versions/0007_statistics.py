"""built-in statistics: the de-identified store and the reports counted ahead

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "stat_certificate",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("patient_key", sa.String(32), nullable=False),
        sa.Column("care_giver_id", sa.String(64), nullable=False),
        sa.Column("care_unit_id", sa.String(64), nullable=False),
        sa.Column("county", sa.String(2), nullable=False),
        sa.Column("type_code", sa.String(32), nullable=False),
        sa.Column("signed_on", sa.Date, nullable=False),
        sa.Column("gender", sa.String(1), nullable=False),
        sa.Column("age_group", sa.String(8), nullable=False),
        sa.Column("chapter", sa.String(8), nullable=False),
        sa.Column("section", sa.String(8), nullable=False),
        sa.Column("periods", sa.Text, nullable=True),
        sa.Column("completion_requested", sa.Boolean, nullable=False),
    )
    op.create_index("ix_stat_certificate_patient", "stat_certificate", ["patient_key", "care_giver_id"])
    op.create_index("ix_stat_certificate_care_giver", "stat_certificate", ["care_giver_id"])
    op.create_table("stat_revoked", sa.Column("key", sa.String(32), primary_key=True))
    op.create_table(
        "stat_message",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("certificate_key", sa.String(32), nullable=False),
        sa.Column("care_giver_id", sa.String(64), nullable=False),
        sa.Column("county", sa.String(2), nullable=False),
        sa.Column("subject", sa.String(8), nullable=False),
        sa.Column("sent_on", sa.Date, nullable=False),
    )
    op.create_index("ix_stat_message_certificate_key", "stat_message", ["certificate_key"])
    op.create_index("ix_stat_message_care_giver_id", "stat_message", ["care_giver_id"])
    op.create_table(
        "stat_case",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("patient_key", sa.String(32), nullable=False),
        sa.Column("care_giver_id", sa.String(64), nullable=False),
        sa.Column("care_unit_id", sa.String(64), nullable=False),
        sa.Column("county", sa.String(2), nullable=False),
        sa.Column("gender", sa.String(1), nullable=False),
        sa.Column("age_group", sa.String(8), nullable=False),
        sa.Column("chapter", sa.String(8), nullable=False),
        sa.Column("start", sa.Date, nullable=False),
        sa.Column("end", sa.Date, nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("degree", sa.Integer, nullable=False),
    )
    op.create_index("ix_stat_case_patient", "stat_case", ["patient_key", "care_giver_id"])
    op.create_index("ix_stat_case_care_giver", "stat_case", ["care_giver_id"])
    op.create_table(
        "stat_count",
        sa.Column("report", sa.String(16), primary_key=True),
        sa.Column("scope", sa.String(72), primary_key=True),
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column("category", sa.String(32), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_stat_count_month", "stat_count", ["report", "month", "scope"], postgresql_include=["category", "count"])


def downgrade() -> None:
    for table in ("stat_count", "stat_case", "stat_message", "stat_revoked", "stat_certificate"):
        op.drop_table(table)
