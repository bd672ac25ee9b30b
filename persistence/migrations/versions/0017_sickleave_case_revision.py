"""sick-leave cases: a revision number per written row (PostgreSQL), in the unit index

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_INDEX = "ix_sick_leave_case_unit_end"


def upgrade() -> None:
    from intygstjanst.persistence.sickleave import rebuild_case_rows

    bind = op.get_bind()
    _add_revisions(bind.dialect.name)
    if bind.execute(sa.text("SELECT 1 FROM sick_leave_case LIMIT 1")).first() is None:
        # Coming from 0014 (0015 and 0016 left the table empty): the cases of the existing rows,
        # from their stored fragments (a case with a row not rendered yet is stored without its
        # answer until `intygstjanst sickleave rebuild`). The newest migration that shapes the table
        # fills it, as the code writing it expects that shape; a later one takes this over.
        rebuild_case_rows(bind)


def _add_revisions(dialect: str) -> None:
    if dialect != "postgresql":
        # Lists on SQLite do not read revisions: the column is there for one model of the table.
        op.add_column("sick_leave_case", sa.Column("revision", sa.BigInteger, nullable=True))
        return
    op.execute("CREATE SEQUENCE sick_leave_case_revision AS bigint")
    # A default evaluated per row: the existing rows are numbered as the table is rewritten once,
    # and every row written later (an insert, or an upsert's new version) takes the next number.
    op.execute("ALTER TABLE sick_leave_case ADD COLUMN revision bigint DEFAULT nextval('sick_leave_case_revision')")
    op.execute("ALTER SEQUENCE sick_leave_case_revision OWNED BY sick_leave_case.revision")
    op.drop_index(_INDEX, "sick_leave_case")
    op.create_index(_INDEX, "sick_leave_case", ["care_unit_id", "case_end"], postgresql_include=["case_start", "revision"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(_INDEX, "sick_leave_case")
        op.create_index(_INDEX, "sick_leave_case", ["care_unit_id", "case_end"], postgresql_include=["case_start"])
    op.drop_column("sick_leave_case", "revision")
