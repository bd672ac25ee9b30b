"""The README's walkthrough, run as written: its shell lines, taken from README.md, against a fresh
``intygstjanst dev`` on the embedded default (mutual TLS on the development PKI it creates in
``./var``, SQLite), in a directory that has the repository's ``examples/``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from lxml import etree

from intygstjanst.tests.dev_support import EXAMPLES, running_dev, texts
from intygstjanst.tests.support import REPO_DIR

README = (REPO_DIR / "README.md").read_text(encoding="utf-8")


def walkthrough() -> tuple[list[str], list[str]]:
    """The shell block of the README section "Trying it": its variable assignments and its commands."""
    section = README.split("\n## Trying it\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, "the Trying it section has one shell block, the walkthrough"
    lines = [line for line in blocks[0].splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assignments = [line for line in lines if re.match(r"^[A-Z_]+=", line)]
    return assignments, [line for line in lines if line not in assignments]


def run(assignments: list[str], command: str, workdir: Path) -> str:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("INTYG_")}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"  # intygstjanst itself
    done = subprocess.run(["bash", "-c", "\n".join([*assignments, command])], cwd=workdir, env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def answer(output: str) -> etree._Element:
    return etree.fromstring(output.strip().encode())


def test_the_readme_walkthrough_works_as_written(tmp_path: Path) -> None:
    assignments, commands = walkthrough()
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "examples").symlink_to(EXAMPLES)
    names = [re.search(r"examples/([\w-]+\.xml)", command) for command in commands]
    assert [m.group(1) for m in names if m] == [
        "RegisterCertificate-3.xml", "GetCertificate-2.xml", "ListCertificatesForCare-3.xml",
        "SendCertificateToRecipient-2.xml", "SendMessageToRecipient-2.xml",
    ]  # fmt: skip
    assert commands[-1] == "intygstjanst outbox list"
    with running_dev(workdir) as dev:
        port = [line.replace("127.0.0.1:8080", f"127.0.0.1:{dev.port}") for line in assignments]
        assert port != assignments, "the walkthrough names the default address https://127.0.0.1:8080"
        outputs = {m.group(1): answer(run(port, command, workdir)) for m, command in zip(names, commands) if m}

        assert texts(outputs["RegisterCertificate-3.xml"], "resultCode") == ["OK"]
        got = outputs["GetCertificate-2.xml"]
        assert "example-lisjp-1" in texts(got, "extension") and "RECEIVED" in texts(got, "code")
        assert "example-lisjp-1" in texts(outputs["ListCertificatesForCare-3.xml"], "extension")
        assert texts(outputs["SendCertificateToRecipient-2.xml"], "resultCode") == ["OK"]
        assert texts(outputs["SendMessageToRecipient-2.xml"], "resultCode") == ["OK"]

        deadline = time.monotonic() + 60
        while not re.search(r"\bDELIVERED\s+FKASSA\s+SendMessageToRecipient:2\s+example-lisjp-1\b", listing := run(port, commands[-1], workdir)):
            assert time.monotonic() < deadline, listing
            time.sleep(0.5)
        assert {(r["contract"], r["reference"]) for r in dev.received()} >= {
            ("RegisterCertificate:3", "example-lisjp-1"),
            ("SendMessageToRecipient:2", "example-lisjp-1"),
        }
