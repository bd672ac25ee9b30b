"""the outbox indexed by reference: an erasure batch or a destruction finds a certificate's items
without scanning the outbox (persistence/lifecycle.py)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_reference", "outbox", ["reference"])


def downgrade() -> None:
    op.drop_index("ix_outbox_reference", table_name="outbox")
