"""Data lifecycle: a care giver's inventory, export and erasure (``caregiver``), the destruction of
one certificate after a decision to destroy a journal, and the purging of test and validation
certificates; each removal leaves a receipt without personal data. The commands (``cli``) and the
operator HTTP API (``app``) call these modules; the worker calls the purge.

May import: ``settings``, ``persistence`` and ``statistics`` (the statistics rows of a removed
certificate).
"""
