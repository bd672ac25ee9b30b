"""Everything outbound: the deliverer that calls recipients, the outbox worker and its commands.

``deliverer`` builds and sends the outbound SOAP calls (over mutual TLS) and classifies answers;
``worker`` claims outbox rows and delivers them with retries, back-off and dead letters.

May import: ``contracts``, ``certificates``, ``registers``, ``transform``, ``persistence``, ``tls``
and ``settings``. Never ``handlers``, the app or the CLI.
"""
