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
    from intygstjanst.persistence.access_log import APPEND_ONLY_TRIGGER

    for statement in APPEND_ONLY_TRIGGER[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    from intygstjanst.persistence.access_log import DROP_APPEND_ONLY_TRIGGER

    for statement in DROP_APPEND_ONLY_TRIGGER[op.get_bind().dialect.name]:
        op.execute(statement)
