"""The type check CI runs (``.ci/typecheck``) cannot be hollow: every module of the project is
resolved, and one that is not fails the check instead of turning into ``Any``."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from intygstjanst.tests.support import REPO_DIR

PYPROJECT = REPO_DIR / "pyproject.toml"


def _mypy_config() -> dict[str, object]:
    config: dict[str, object] = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["mypy"]
    return config


def test_the_configuration_is_strict_and_hides_no_project_import() -> None:
    config = _mypy_config()
    assert config["strict"] is True
    assert config["disallow_any_unimported"] is True
    assert "ignore_missing_imports" not in config, "a global ignore_missing_imports turns unresolved imports into Any"
    assert config.get("follow_imports", "normal") == "normal"
    overrides = config.get("overrides", [])
    assert isinstance(overrides, list)
    for override in overrides:
        modules = override["module"] if isinstance(override["module"], list) else [override["module"]]
        assert not [m for m in modules if m == "intygstjanst" or m.startswith("intygstjanst.") or m == "*"], override


def test_ci_runs_the_type_check_script() -> None:
    ci = (REPO_DIR / ".ci" / "run").read_text(encoding="utf-8")
    assert ".ci/typecheck" in ci
    assert "mypy . " not in ci


def _package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / "intygstjanst" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _mypy(root: Path) -> subprocess.CompletedProcess[str]:
    """mypy with the project's configuration on the package ``intygstjanst`` below ``root``, as
    .ci/typecheck runs it."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(PYPROJECT), "--cache-dir", str(root / ".cache"), "-p", "intygstjanst"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "MYPYPATH": ""},
    )


def test_a_project_import_that_does_not_resolve_fails_the_check(tmp_path: Path) -> None:
    _package(
        tmp_path,
        {
            "__init__.py": "",
            "layer/__init__.py": "",
            "layer/good.py": "def answer() -> int:\n    return 42\n",
            "layer/user.py": (
                "from intygstjanst.layer.good import answer\n"
                "from intygstjanst.layer.gone import Thing\n\n\n"
                "def use(thing: Thing) -> int:\n    return answer()\n"
            ),
        },
    )
    result = _mypy(tmp_path)
    assert result.returncode == 1, result.stdout
    assert 'Cannot find implementation or library stub for module named "intygstjanst.layer.gone"' in result.stdout
    assert "[import-not-found]" in result.stdout


def test_a_resolved_project_import_is_checked(tmp_path: Path) -> None:
    _package(
        tmp_path,
        {
            "__init__.py": "",
            "layer/__init__.py": "",
            "layer/good.py": "def answer() -> int:\n    return 42\n",
            "layer/user.py": "from intygstjanst.layer.good import answer\n\n\ndef use() -> str:\n    return answer()\n",
        },
    )
    result = _mypy(tmp_path)
    # The imported function's real type is known: returning its int as a str is an error.
    assert result.returncode == 1, result.stdout
    assert 'Incompatible return value type (got "int", expected "str")' in result.stdout
