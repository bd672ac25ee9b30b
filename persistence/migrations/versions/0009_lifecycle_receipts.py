"""data lifecycle: the receipts of care-giver erasures, certificate destructions and test purges

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lifecycle_receipt",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("operator", sa.String(255), nullable=False),
        sa.Column("export_hash", sa.String(64), nullable=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("completed_at", sa.DateTime, nullable=True),
        sa.Column("counts", sa.Text, nullable=False),
        sa.Column("cursor", sa.String(64), nullable=True),
    )
    op.create_index("ix_lifecycle_receipt_subject", "lifecycle_receipt", ["kind", "subject"])


def downgrade() -> None:
    op.drop_index("ix_lifecycle_receipt_subject", table_name="lifecycle_receipt")
    op.drop_table("lifecycle_receipt")
