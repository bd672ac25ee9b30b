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
    # --- messages (SendMessageToCare / SendMessageToRecipient) ---
    op.create_table(
        "message",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column(
            "certificate_id", sa.String(64), sa.ForeignKey("certificate.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("patient_id", sa.String(12), nullable=False),
        sa.Column("subject", sa.String(8), nullable=False),
        sa.Column("reference_id", sa.String(128), nullable=True),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("sender_unit", sa.String(64), nullable=True),
        sa.Column("recipient_address", sa.String(64), nullable=False),
        sa.Column("reminder_of", sa.String(128), nullable=True),
        sa.Column("answer_to", sa.String(128), nullable=True),
        sa.Column("last_answer_date", sa.Date, nullable=True),
        sa.Column("sent_at", sa.DateTime, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("original", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_message_certificate_id", "message", ["certificate_id"])
    op.create_index("ix_message_reminder_of", "message", ["reminder_of"])
    op.create_index("ix_message_answer_to", "message", ["answer_to"])

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
    op.drop_table("message")
