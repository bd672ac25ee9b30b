"""Storage: the SQLAlchemy models, the database (``db``: engine, transactions, migrations), one
repository module per aggregate (certificates, messages, receivers, sick leave) and the outbox
table of outbound messages. ``migrations`` holds the Alembic revisions.

May import: ``settings`` (its error type, for a database a setting names that cannot be used, and
the flags of ``intygstjanst db`` and ``access-log``, and where the access-log key is kept). Callers pass plain values in and get rows or small dataclasses
back.
"""
