"""certificates, their state history and relations

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificate",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("type_code", sa.String(32), nullable=False),
        sa.Column("type_version", sa.String(16), nullable=False),
        sa.Column("patient_id", sa.String(12), nullable=False),
        sa.Column("care_unit_id", sa.String(64), nullable=False),
        sa.Column("care_unit_name", sa.String(255), nullable=False),
        sa.Column("care_giver_id", sa.String(64), nullable=False),
        sa.Column("signing_doctor_id", sa.String(64), nullable=False),
        sa.Column("signing_doctor_name", sa.String(255), nullable=False),
        sa.Column("signed_at", sa.DateTime, nullable=True),
        sa.Column("valid_from", sa.Date, nullable=True),
        sa.Column("valid_to", sa.Date, nullable=True),
        sa.Column("is_test", sa.Boolean, nullable=False),
        sa.Column("deleted_by_care_giver", sa.Boolean, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("original", sa.LargeBinary, nullable=False),
        sa.Column("canonical", sa.LargeBinary, nullable=True),
    )
    op.create_index("ix_certificate_patient_signed", "certificate", ["patient_id", "signed_at"])
    op.create_index("ix_certificate_unit_patient", "certificate", ["care_unit_id", "patient_id"])
    op.create_index("ix_certificate_care_giver", "certificate", ["care_giver_id"])
    op.create_table(
        "certificate_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("certificate_id", sa.String(64), sa.ForeignKey("certificate.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_certificate_state_certificate_id", "certificate_state", ["certificate_id"])
    op.create_table(
        "certificate_relation",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("from_id", sa.String(64), nullable=False),
        sa.Column("to_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
    )
    op.create_index("ix_certificate_relation_from_id", "certificate_relation", ["from_id"])
    op.create_index("ix_certificate_relation_to_id", "certificate_relation", ["to_id"])


def downgrade() -> None:
    op.drop_table("certificate_relation")
    op.drop_table("certificate_state")
    op.drop_table("certificate")
