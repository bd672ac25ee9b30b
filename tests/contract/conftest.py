"""Fixtures shared by the contract tests: the official RIV-TA files, and a filled service of its own for
the tests of the data lifecycle (commands, operator API)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from intygstjanst.registers.persons import FilePersonLookup

from intygstjanst.tests.lifecycle_support import Fresh, fill, fresh_service
from intygstjanst.tests.support import require_shared


@pytest.fixture
def shared() -> Path:
    """``../shared/riv-contracts``, or a skip (a failure in CI) where it is absent: modules whose tests
    all read it say ``pytestmark = pytest.mark.usefixtures("shared")``."""
    return require_shared()


@pytest.fixture
def fresh(tmp_path: Path, persons: FilePersonLookup) -> Iterator[Fresh]:
    """A service of its own on a scratch database, filled by ``lifecycle_support.fill``."""
    require_shared()
    with fresh_service(tmp_path, persons) as service:
        fill(service)
        yield service
