"""Everything outbound: the deliverer that calls recipients, the outbox worker and its commands.

``transport`` is how recipients are reached (outbound TLS, timeout, base URL, keep-alive
connections), built from the settings; ``deliverer`` builds and sends the outbound SOAP calls of the
contracts marked ``called`` in contracts.toml and classifies answers; ``worker`` claims outbox rows
and delivers them with retries, back-off and dead letters.

May import: ``contracts``, ``certificates``, ``registers``, ``transform``, ``persistence``, ``tls``,
``statistics`` (the events the worker publishes to the statistics broker), ``lifecycle`` (the worker purges
test certificates) and ``settings``. Never ``handlers``, ``services``, the app or the CLI: it is given what it needs.
"""
