"""Tools for tests and demonstrations, never used by the service itself.

``stub_recipient`` (a recipient agency that records what it receives), ``tls`` (serving an app
over real mutual TLS inside a test process) and ``dev`` (``intygstjanst dev``).

May import: ``contracts``, ``certificates``, ``delivery``, ``registers``, ``tls``, ``persistence``
(the dev command checks the database before it starts anything) and ``settings``. Nothing outside
``testing``, ``tests``, ``benchmarks`` and the CLI's demo commands imports it.
"""
