"""Storage: the SQLAlchemy models, the database (``db``: engine, transactions, migrations), one
repository module per aggregate (certificates, messages, receivers, sick leave) and the outbox
table of outbound messages. ``migrations`` holds the Alembic revisions.

May import: nothing else in the package. Callers pass plain values in and get rows or small
dataclasses back.
"""
