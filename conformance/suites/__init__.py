"""One module per contract family; each defines ``SUITES``, a list of :class:`~..model.Suite`.

Modules whose names start with ``_`` hold shared building blocks, not suites.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from intygstjanst.conformance.model import Suite


@lru_cache(maxsize=1)
def all_suites() -> tuple[Suite, ...]:
    suites: list[Suite] = []
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_"):
            continue
        suites.extend(importlib.import_module(f"{__name__}.{module.name}").SUITES)
    ids = [suite.id for suite in suites]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"more than one suite for {', '.join(duplicates)}")
    return tuple(sorted(suites, key=lambda suite: suite.id))
