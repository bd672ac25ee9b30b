"""Statistics: the feed to the national statistics service and the built-in de-identified statistics.

The feed is a statistics event per registered, revoked or sent certificate and per accepted message,
written to the outbox in the transaction of the change and published to an AMQP broker by the
worker. The built-in statistics consume the same events into a store holding no personal data.

May import: ``settings``, ``contracts``, ``persistence``, ``certificates``, ``registers`` and
``transform``.
"""
