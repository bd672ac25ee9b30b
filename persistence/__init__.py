"""Storage: the SQLAlchemy models, the database (``db``: engine, transactions, migrations), one
repository module per aggregate (certificates, messages, receivers, sick leave) and the outbox
table of outbound messages; ``threshold``, the rule by which the national and county statistics
are stored as shown (a migration computes them too, so it lives here). ``migrations`` holds the Alembic revisions.

May import: ``settings`` (its error type, for a database a setting names that cannot be used, and
the flags of ``intygstjanst db`` and ``access-log``, and where the access-log key is kept). Callers pass plain values in and get rows or small dataclasses
back.
"""
