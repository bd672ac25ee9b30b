"""Fixtures shared by the contract tests of the data lifecycle (commands, operator API)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from intygstjanst.registers.persons import FilePersonLookup

from intygstjanst.tests.lifecycle_support import Fresh, fill, fresh_service
from intygstjanst.tests.support import require_shared


@pytest.fixture
def fresh(tmp_path: Path, persons: FilePersonLookup) -> Iterator[Fresh]:
    """A service of its own on a scratch database, filled by ``lifecycle_support.fill``."""
    require_shared()
    with fresh_service(tmp_path, persons) as service:
        fill(service)
        yield service
