"""sick-leave answers kept as UTF-8 bytes, as they go out

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE sick_leave_certificate ALTER COLUMN fragment TYPE bytea USING convert_to(fragment, 'UTF8')"
        )
        return
    # SQLite keeps each value with the type it was written with: the text becomes a blob.
    with op.batch_alter_table("sick_leave_certificate") as batch:
        batch.alter_column("fragment", type_=sa.LargeBinary, existing_type=sa.Text, existing_nullable=True)
    op.execute("UPDATE sick_leave_certificate SET fragment = CAST(fragment AS BLOB) WHERE fragment IS NOT NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE sick_leave_certificate ALTER COLUMN fragment TYPE text USING convert_from(fragment, 'UTF8')"
        )
        return
    with op.batch_alter_table("sick_leave_certificate") as batch:
        batch.alter_column("fragment", type_=sa.Text, existing_type=sa.LargeBinary, existing_nullable=True)
    op.execute("UPDATE sick_leave_certificate SET fragment = CAST(fragment AS TEXT) WHERE fragment IS NOT NULL")
