"""sick-leave cases kept at write time: case bounds and the rendered answer of each row

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ALL_COLUMNS = [
    "certificate_id", "patient_name", "care_unit_name", "care_giver_id", "care_giver_name", "doctor_id",
    "doctor_name", "doctor_titles", "signed_at", "diagnosis_code", "diagnosis_code_system",
    "secondary_diagnoses", "employment", "periods", "first_day", "last_day", "deleted", "superseded",
    "is_test",
]


def upgrade() -> None:
    from intygstjanst.persistence import sickleave

    with op.batch_alter_table("sick_leave_certificate") as batch:
        batch.add_column(sa.Column("case_start", sa.Date, nullable=True))
        batch.add_column(sa.Column("case_end", sa.Date, nullable=True))
        batch.add_column(sa.Column("fragment", sa.Text, nullable=True))
    op.create_index(
        "ix_sick_leave_unit_case_end",
        "sick_leave_certificate",
        ["care_unit_id", "case_end"],
        postgresql_include=["case_start"],
    )
    # The lists now read a unit's rows through the case-end index; the wide covering index of the
    # whole-history reads only cost every registration.
    op.drop_index("ix_sick_leave_unit_patient", "sick_leave_certificate")
    op.create_index("ix_sick_leave_unit_patient", "sick_leave_certificate", ["care_unit_id", "patient_id"])
    # The lists need the bounds of every existing row at once; the fragments are rendered on reading
    # until `intygstjanst sickleave rebuild` stores them. The repository's own statement computes
    # the bounds (it reads only columns of revision 0004 and these).
    sickleave.rebuild_cases(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_sick_leave_unit_patient", "sick_leave_certificate")
    op.create_index(
        "ix_sick_leave_unit_patient",
        "sick_leave_certificate",
        ["care_unit_id", "patient_id"],
        postgresql_include=_ALL_COLUMNS,
    )
    op.drop_index("ix_sick_leave_unit_case_end", "sick_leave_certificate")
    with op.batch_alter_table("sick_leave_certificate") as batch:
        batch.drop_column("fragment")
        batch.drop_column("case_end")
        batch.drop_column("case_start")
