"""sick-leave data for rehab coordination

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sick_leave_certificate",
        sa.Column(
            "certificate_id",
            sa.String(64),
            sa.ForeignKey("certificate.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("type_code", sa.String(32), nullable=False),
        sa.Column("patient_id", sa.String(12), nullable=False),
        sa.Column("patient_name", sa.String(255), nullable=False),
        sa.Column("care_unit_id", sa.String(64), nullable=False),
        sa.Column("care_unit_name", sa.String(255), nullable=False),
        sa.Column("care_giver_id", sa.String(64), nullable=False),
        sa.Column("care_giver_name", sa.String(255), nullable=False),
        sa.Column("doctor_id", sa.String(64), nullable=False),
        sa.Column("doctor_name", sa.String(255), nullable=False),
        sa.Column("doctor_titles", sa.Text, nullable=False),
        sa.Column("signed_at", sa.DateTime, nullable=False),
        sa.Column("diagnosis_code", sa.String(16), nullable=False),
        sa.Column("diagnosis_code_system", sa.String(64), nullable=False),
        sa.Column("secondary_diagnoses", sa.Text, nullable=False),
        sa.Column("employment", sa.Text, nullable=False),
        sa.Column("periods", sa.Text, nullable=False),
        sa.Column("first_day", sa.Date, nullable=False),
        sa.Column("last_day", sa.Date, nullable=False),
        sa.Column("is_test", sa.Boolean, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("superseded", sa.Boolean, nullable=False),
    )
    # Covering on PostgreSQL (see the model): a unit's lists read one index range.
    op.create_index(
        "ix_sick_leave_unit_last_day",
        "sick_leave_certificate",
        ["care_unit_id", "last_day"],
        postgresql_include=["first_day", "patient_id", "deleted", "superseded", "is_test"],
    )
    op.create_index(
        "ix_sick_leave_unit_patient",
        "sick_leave_certificate",
        ["care_unit_id", "patient_id"],
        postgresql_include=[
            "certificate_id", "patient_name", "care_unit_name", "care_giver_id", "care_giver_name", "doctor_id",
            "doctor_name", "doctor_titles", "signed_at", "diagnosis_code", "diagnosis_code_system",
            "secondary_diagnoses", "employment", "periods", "first_day", "last_day", "deleted", "superseded",
            "is_test",
        ],
    )
    op.create_index("ix_sick_leave_patient", "sick_leave_certificate", ["patient_id"])


def downgrade() -> None:
    op.drop_table("sick_leave_certificate")
