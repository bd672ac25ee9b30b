"""Tools for tests and demonstrations, never used by the service itself.

``stub_recipient`` (a recipient agency that records what it receives) and ``tls`` (serving an app
over real mutual TLS inside a test process).

May import: ``contracts``, ``certificates``, ``delivery``, ``registers``, ``tls`` and ``settings``. Nothing outside
``testing``, ``tests``, ``benchmarks`` and the CLI's demo commands imports it.
"""
