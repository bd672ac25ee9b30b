"""Alembic environment: runs against the engine the application passes in (see Database.upgrade)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from intygstjanst.persistence.models import Base

config = context.config
engine = config.attributes.get("engine") or create_engine(config.attributes["connection_url"])

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
