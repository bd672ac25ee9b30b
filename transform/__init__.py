"""Conversions between formats: RegisterCertificate v3 and the legacy FK7263 and Transportstyrelsen
v1 documents, in both directions, the revocations to each, and the carrier that keeps what v3
cannot say (``formats`` is the entry point; a recipient's format names the contract that carries it).

May import: ``contracts`` (XML helpers). Pure functions over elements: no storage, no registers.
"""
