"""The test suite's own rules: one group per folder, each a registered marker, and no test that
quietly skips in CI (``CI=true``) because a part outside the repository is missing."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from intygstjanst.tests import support
from intygstjanst.tests.conftest import GROUPS, TESTS_DIR
from intygstjanst.tests.support import REPO_DIR


def test_every_group_is_a_registered_marker_and_every_test_folder_a_group() -> None:
    markers = tomllib.loads((REPO_DIR / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]["markers"]
    assert [marker.split(":", 1)[0] for marker in markers] == list(GROUPS)
    folders = {path.name for path in TESTS_DIR.iterdir() if path.is_dir() and any(path.glob("test_*.py"))}
    assert folders <= set(GROUPS)


@pytest.mark.parametrize("ci", ["true", ""])
def test_a_missing_shared_folder_skips_only_outside_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci: str) -> None:
    monkeypatch.setattr(support, "shared_dir", lambda: tmp_path / "missing")
    monkeypatch.setenv("CI", ci)
    outcome = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(outcome, match=f"../shared/riv-contracts not found: {tmp_path / 'missing'}") as raised:
        support.require_shared()
    assert ("CI=true: a missing part fails the run" in str(raised.value)) == bool(ci)


def test_every_skip_goes_through_the_ci_rule() -> None:
    """A bare pytest.skip (or skipif, importorskip) would pass CI with a suite left out; support.py
    holds the skips there are: a missing outside part (fails in CI), PostgreSQL-only tests on SQLite
    (CI's second pass runs them) and SQLite-only tests on PostgreSQL (its first pass runs them)."""
    bare = re.compile(r"pytest\.(skip\(|importorskip\(|mark\.skip)")
    found = [
        f"{path.relative_to(REPO_DIR)}:{number}"
        for path in sorted(TESTS_DIR.rglob("*.py"))
        if path.name != "support.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bare.search(line)
    ]
    assert found == [], "use tests.support.unavailable (skips, but fails with CI=true), postgresql_only or sqlite_only"
