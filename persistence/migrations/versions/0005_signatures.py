"""the doctor's signature: the result of checking it, per certificate

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificate_signature",
        sa.Column(
            "certificate_id",
            sa.String(64),
            sa.ForeignKey("certificate.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("signer_subject", sa.Text, nullable=False),
        sa.Column("signer_hsa_id", sa.String(64), nullable=False),
        sa.Column("remark", sa.Text, nullable=False),
        sa.Column("checked_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_certificate_signature_status", "certificate_signature", ["status", "reason_code"])


def downgrade() -> None:
    op.drop_index("ix_certificate_signature_status", table_name="certificate_signature")
    op.drop_table("certificate_signature")
