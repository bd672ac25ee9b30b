"""the access log refuses changes to its entries (a trigger on UPDATE)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from intygstjanst.persistence.access_log import APPEND_ONLY_FUNCTION, append_only_trigger

    dialect = op.get_bind().dialect.name
    for statement in (*APPEND_ONLY_FUNCTION[dialect], append_only_trigger(dialect, "access_log")):
        op.execute(statement)


def downgrade() -> None:
    from intygstjanst.persistence.access_log import DROP_APPEND_ONLY_FUNCTION, drop_append_only_trigger

    dialect = op.get_bind().dialect.name
    for statement in (drop_append_only_trigger(dialect, "access_log"), *DROP_APPEND_ONLY_FUNCTION[dialect]):
        op.execute(statement)
