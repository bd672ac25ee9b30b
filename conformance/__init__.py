"""The conformance kit: contract suites run against any producer of the contracts this project serves.

``intygstjanst conformance run --endpoint URL`` runs them; see the README's "Conformance kit" section.
"""
