"""The conformance kit: contract suites run against any producer of the contracts this project serves.

``intygstjanst conformance run --endpoint URL`` runs them; see the README's "Conformance kit" section.

May import: ``contracts`` (the contract table and the platform's naming conventions) and ``tls``
(client certificates). Never the service itself (handlers, services, persistence): the kit tests
any producer.
"""
