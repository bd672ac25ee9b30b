"""Alembic migrations of the schema in ``persistence.models``: one revision per schema change in
``versions``, run by ``Database.upgrade`` (``intygstjanst db upgrade``)."""
