"""Who and where: the registers a decision consults.

``persons`` (the population register, PU: persons, protected identities, test and validation
persons), ``care_units`` (HSA: care units, their sub-units and county) and ``recipients`` (the
recipient registry: parts, the certificate types each receives, where and in which format).

May import: ``contracts``, ``certificates``, ``transform`` (format names) and ``settings``.
Never ``handlers``, ``delivery``, ``persistence``, the app or the CLI.
"""
