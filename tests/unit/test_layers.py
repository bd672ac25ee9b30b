"""The import rules of the package: layers only import downwards.

Each folder's ``__init__.py`` (and each top-level module) says in its docstring what it may import,
in a sentence ``May import: ``a``, ``b`` and ``c``.`` (or ``May import: nothing else in the
package.``); a module whose docstring is text for users (the command's help) says it in a comment. This test reads those sentences, so the documentation is the rule, and checks every
import of every module against them: module-level, function-level and ``TYPE_CHECKING`` imports,
absolute and relative. Imports by name at run time (the handlers named in contracts.toml) are not
seen here; the registry resolves those.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from intygstjanst.tests.support import REPO_DIR

PACKAGE = "intygstjanst"
# Not part of the package: tests and benchmarks may import anything.
OUTSIDE = {"tests", "benchmarks", ".venv", "build", "dist"}
_MAY_IMPORT = re.compile(r"May import:(.*?)(?:\.\s|\.$)", re.DOTALL)
_NAME = re.compile(r"``([A-Za-z_][\w]*)``")


@dataclass(frozen=True)
class Violation:
    module: str  # the importing file, relative to the package root
    line: int
    imported: str
    reason: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: imports {self.imported}: {self.reason}"


def parts(root: Path) -> dict[str, Path]:
    """The top-level parts of the package below ``root``: folders (by their ``__init__.py``) and
    top-level modules, each with the file whose docstring holds its rule."""
    found: dict[str, Path] = {}
    for path in sorted(root.iterdir()):
        if path.name in OUTSIDE or path.name.startswith("."):
            continue
        if path.is_dir() and (path / "__init__.py").is_file():
            found[path.name] = path / "__init__.py"
        elif path.suffix == ".py" and path.name != "__init__.py":
            found[path.stem] = path
    return found


def allowed_imports(rule_file: Path, known: set[str]) -> set[str]:
    """The parts a part may import, from the ``May import:`` sentence of its docstring (or, where
    the docstring is text for users, such as the command's help, of its leading comment)."""
    source = rule_file.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source)) or ""
    comment = " ".join(line.lstrip("# ") for line in source.splitlines() if line.startswith("#"))
    match = _MAY_IMPORT.search(docstring) or _MAY_IMPORT.search(comment + " ")
    if match is None:
        raise ValueError(f"{rule_file}: the docstring has no 'May import:' sentence")
    names = set(_NAME.findall(match.group(1)))
    unknown = names - known
    if unknown:
        raise ValueError(f"{rule_file}: 'May import:' names {', '.join(sorted(unknown))}, not parts of the package")
    return names


def imported_modules(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path`` (module ``module``), wherever it
    stands in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # ``from intygstjanst import metrics`` imports the part ``metrics``.
            if target == PACKAGE:
                found.extend((node.lineno, f"{PACKAGE}.{alias.name}") for alias in node.names)
            else:
                found.append((node.lineno, target))
    return found


def check(root: Path) -> list[Violation]:
    """Every import in the package below ``root`` that its part's rule does not allow."""
    rules_of = parts(root)
    known = set(rules_of)
    rules = {part: allowed_imports(rule_file, known) for part, rule_file in rules_of.items()}
    violations: list[Violation] = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts[0] in OUTSIDE or relative.parts[0].startswith("."):
            continue
        own = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        if own not in rules:
            continue  # the package's own __init__.py
        module = ".".join([PACKAGE, *relative.with_suffix("").parts])
        for line, imported in imported_modules(path, module):
            names = imported.split(".")
            if names[0] != PACKAGE or len(names) < 2:
                continue  # another library, or the package root (its version)
            target = names[1]
            if target == own:
                continue
            if target not in known:
                violations.append(Violation(str(relative), line, imported, "no such part of the package"))
            elif target not in rules[own]:
                allowed = f"only {', '.join(sorted(rules[own]))}" if rules[own] else "nothing else in the package"
                violations.append(Violation(str(relative), line, imported, f"{own} may import {allowed}"))
    return violations


def test_the_package_keeps_its_import_rules() -> None:
    violations = check(REPO_DIR)
    assert not violations, "\n".join(map(str, violations))


def test_every_part_states_its_rule() -> None:
    known = set(parts(REPO_DIR))
    for part, rule_file in parts(REPO_DIR).items():
        allowed_imports(rule_file, known)  # raises for a missing or wrong sentence
        assert part not in allowed_imports(rule_file, known), f"{part} names itself"


def test_nothing_but_the_command_line_imports_the_test_tools() -> None:
    known = set(parts(REPO_DIR))
    importers = {part for part, rule_file in parts(REPO_DIR).items() if "testing" in allowed_imports(rule_file, known)}
    assert importers == {"cli"}


# -- the checker itself, on a package written for the test ---------------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


_LOW = '"""The lowest layer.\n\nMay import: nothing else in the package.\n"""\n'
_HIGH = '"""A higher layer.\n\nMay import: ``low`` (its helpers). Never ``top``.\n"""\n'
_TOP = '"""The top.\n\nMay import: ``low`` and ``high``.\n"""\n'


@pytest.mark.parametrize(
    "violating",
    [
        "from intygstjanst.top import x\n",
        "import intygstjanst.top.deep\n",
        "from intygstjanst import top\n",
        "def f():\n    from intygstjanst.top import x\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from intygstjanst.top import x\n",
        "from ..top import x\n",
    ],
    ids=["from", "import", "from package", "in a function", "TYPE_CHECKING", "relative"],
)
def test_the_checker_finds_an_upward_import(tmp_path: Path, violating: str) -> None:
    root = _package(
        tmp_path,
        {
            "low/__init__.py": _LOW,
            "high/__init__.py": _HIGH,
            "high/module.py": "from intygstjanst.low import ok\nfrom .sibling import ok\n" + violating,
            "top/__init__.py": _TOP,
        },
    )
    [violation] = check(root)
    assert violation.module == "high/module.py"
    assert violation.imported.startswith("intygstjanst.top")
    assert violation.reason == "high may import only low"


def test_the_checker_accepts_allowed_imports(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "low/__init__.py": _LOW,
            "high/__init__.py": _HIGH,
            "high/module.py": "import os\nfrom intygstjanst.low import a\nfrom intygstjanst.high.other import b\nimport intygstjanst\n",
            "top/__init__.py": _TOP,
            "top/module.py": "from intygstjanst import low, high\n",
        },
    )
    assert check(root) == []


def test_the_checker_refuses_a_part_without_a_rule(tmp_path: Path) -> None:
    root = _package(tmp_path, {"low/__init__.py": '"""No rule here."""\n'})
    with pytest.raises(ValueError, match="no 'May import:' sentence"):
        check(root)


def test_the_checker_refuses_a_rule_naming_an_unknown_part(tmp_path: Path) -> None:
    root = _package(tmp_path, {"low/__init__.py": '"""Low.\n\nMay import: ``lowest``.\n"""\n'})
    with pytest.raises(ValueError, match="names lowest"):
        check(root)
