"""The README's promises that can drift from the code: its two commands, its endpoint table and the
files its examples send."""

from __future__ import annotations

import re

from intygstjanst.contracts.registry import ContractRegistry
from intygstjanst.tests.support import REPO_DIR

README = (REPO_DIR / "README.md").read_text(encoding="utf-8")


def test_every_served_contract_is_in_the_endpoint_table() -> None:
    rows = set(re.findall(r"^\| `(/[^`]+)` \| (\w+) \| ([\d.]+) \| `([^`]+)` \|", README, re.MULTILINE))
    served = {(c.path, c.name, c.version, c.namespace) for c in ContractRegistry.load()}
    assert served - rows == set(), "contracts missing from the README endpoint table"
    assert rows - served == set(), "README lists contracts that are not served"


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.search(r"```sh\n(.*?)```", README, re.DOTALL)
    assert commands is not None
    test_line = [line for line in commands.group(1).splitlines() if "pytest" in line][0]
    test_command = test_line.split(" && ", 2)[2]  # after creating and activating the venv
    assert test_command in (REPO_DIR / ".ci" / "run").read_text(encoding="utf-8")


def test_every_package_is_listed_for_installation() -> None:
    """``pip install .`` (the README's first command) installs only the listed packages."""
    import tomllib

    listed = set(tomllib.loads((REPO_DIR / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {
        ".".join(["intygstjanst", *init.parent.relative_to(REPO_DIR).parts])
        for init in REPO_DIR.rglob("__init__.py")
        if not {"tests", ".venv", "build"} & set(init.relative_to(REPO_DIR).parts)
    }
    assert found == listed


def test_every_file_an_example_sends_is_shipped() -> None:
    """A newcomer copies the commands: every request file they name is in the repository."""
    sent = set(re.findall(r"--data-binary @([\w./-]+)", README)) | set(re.findall(r'etree\.parse\("([^"]+)"\)', README))
    assert sent, "the README's examples send files"
    sent -= set(re.findall(r"--out ([\w./-]+)", README))  # written by a command the README shows first
    assert {path for path in sent if not (REPO_DIR / path).is_file()} == set()
    assert all(path.startswith("examples/") for path in sent), sent


def test_every_national_address_is_in_its_table() -> None:
    rows = set(re.findall(r"^\| `(/inera-certificate/[^`]+)` \| (\w+) \| ([\d.]+) \|$", README, re.MULTILINE))
    served = {(c.national_path, c.name, c.version) for c in ContractRegistry.load() if c.national_path}
    assert rows == served
