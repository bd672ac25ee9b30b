"""The certificate domain: what a certificate of each type must contain and what its history means.

Owns the certificate-type definitions (data files in ``certificate_types/``) and their loader
(``certtypes``), the rule engine (``rules``), the runner for the owners' Schematron files
(``schematron``), offline validation of message files (``validate``), the status rules (``status``:
which state history means what, and which part sees which entry), the sick-leave engine
(``sickleave``: chaining certificates into cases), a stored sick-leave certificate as the lists
answer it (``sickleave_answer``), the upkeep of the stored cases (``sickleave_upkeep``: the
``intygstjanst sickleave`` commands), the doctor's signature (``xmldsig``: the
signature profile and its cryptographic check; ``signer_trust``: the signer against the trusted CAs
at the signing time; ``signature``: the modes off / report / enforce), and the ``intygstjanst types``
and ``certificate show`` commands (``cli``: check type files, reload the running server's, show a
stored certificate).

May import: ``contracts`` (XML helpers and the contract table), ``persistence`` (read models) and
``settings``. Never ``handlers``, ``delivery``, ``registers``, ``tls``, the app or the top-level
CLI (which hands ``cli`` the way to find the running server).
"""
