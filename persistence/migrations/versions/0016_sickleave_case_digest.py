"""sick-leave cases: the SHA-256 of each lead row's answer, by which serving processes keep answers

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_BATCH = 2_000


def upgrade() -> None:
    from intygstjanst.persistence.sickleave import answer_digest

    op.add_column("sick_leave_case", sa.Column("digest", sa.LargeBinary, nullable=True))
    bind = op.get_bind()
    # Cases stored by 0015 as it was before this revision: their digests (coming from 0014 the table
    # is empty, and 0017 fills it).
    if bind.dialect.name == "postgresql":
        # The same SHA-256 as answer_digest, without moving the answers out of the database.
        op.execute("UPDATE sick_leave_case SET digest = sha256(fragments) WHERE fragments IS NOT NULL")
        return
    after = 0
    while True:
        rows = bind.execute(
            sa.text("SELECT rowid, fragments FROM sick_leave_case WHERE rowid > :after AND fragments IS NOT NULL ORDER BY rowid LIMIT :n"),
            {"after": after, "n": _BATCH},
        ).fetchall()
        if not rows:
            return
        bind.execute(
            sa.text("UPDATE sick_leave_case SET digest = :digest WHERE rowid = :id"),
            [{"digest": answer_digest(bytes(fragments)), "id": rowid} for rowid, fragments in rows],
        )
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_column("sick_leave_case", "digest")
