"""messages (arenden) and approved receivers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # --- approved receivers (RegisterApprovedReceivers / ListApprovedReceivers) ---
    op.create_table(
        "approved_receiver",
        sa.Column("certificate_id", sa.String(64), primary_key=True),
        sa.Column("receiver_id", sa.String(32), primary_key=True),
        sa.Column("certificate_type", sa.String(32), nullable=False),
        sa.Column("approval", sa.String(16), nullable=False),
        sa.Column("registered_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("approved_receiver")
