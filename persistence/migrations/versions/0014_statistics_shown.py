"""the national and county statistics as shown, kept ahead (stat_shown)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from intygstjanst.persistence.threshold import shown_of

    table = op.create_table(
        "stat_shown",
        sa.Column("report", sa.String(16), primary_key=True),
        sa.Column("scope", sa.String(72), primary_key=True),
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column("category", sa.String(32), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    # Computed from the counts already kept, as a rebuild would.
    c = sa.table(
        "stat_count", sa.column("report", sa.String), sa.column("scope", sa.String), sa.column("month", sa.Date),
        sa.column("category", sa.String), sa.column("count", sa.BigInteger),
    ).c
    rows = op.get_bind().execute(sa.select(c.report, c.scope, c.month, c.category, c["count"]).where(c.scope.startswith("lan:")))
    counts = {(report, scope, month, category): count for report, scope, month, category, count in rows}
    shown = [{"report": r, "scope": s, "month": m, "category": c, "count": n} for (r, s, m, c), n in shown_of(counts).items()]
    if shown:
        op.bulk_insert(table, shown)


def downgrade() -> None:
    op.drop_table("stat_shown")
