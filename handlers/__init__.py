"""The business logic, one module per contract family: each served contract's handler decides and
answers (``contracts.call.Answer``). No HTTP and no SQL strings here: storage goes through the
repositories in ``persistence``, sending through ``services.deliverer`` or the outbox.

May import: ``contracts``, ``certificates``, ``registers``, ``transform``, ``persistence``,
``statistics`` (the statistics feed), ``delivery`` (the contract keys of outbound messages),
``services`` and ``settings``. Nothing imports
handlers by module name except the contract table, which names each handler.
"""
