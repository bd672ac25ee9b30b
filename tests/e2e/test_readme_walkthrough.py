"""The README's shell examples for the embedded default, run as written: the walkthrough of "Trying
it" and the mutual-TLS curl example, taken from README.md, against a fresh ``intygstjanst dev``
(mutual TLS on the development PKI it creates in ``./var``, SQLite), in a directory that has the
repository's ``examples/``. Only the port differs from the README's 8080."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from intygstjanst.tests.dev_support import EXAMPLES, Dev, readme_shell_blocks, run_as_written, running_dev, texts
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


def answer(output: str) -> etree._Element:
    return etree.fromstring(output.strip().encode())


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    workdir = tmp_path_factory.mktemp("readme") / "work"
    workdir.mkdir()
    (workdir / "examples").symlink_to(EXAMPLES)
    with running_dev(workdir) as running:
        yield running


def test_the_readme_walkthrough_works_as_written(dev: Dev) -> None:
    assignments, commands = walkthrough()
    names = [re.search(r"examples/([\w-]+\.xml)", command) for command in commands]
    assert [m.group(1) for m in names if m] == [
        "RegisterCertificate-3.xml", "GetCertificate-2.xml", "ListCertificatesForCare-3.xml",
        "SendCertificateToRecipient-2.xml", "SendMessageToRecipient-2.xml",
    ]  # fmt: skip
    assert commands[-1] == "intygstjanst outbox list"

    def run(command: str) -> str:
        return run_as_written("\n".join([*assignments, command]), dev.workdir, dev.port)

    outputs = {m.group(1): answer(run(command)) for m, command in zip(names, commands) if m}
    assert texts(outputs["RegisterCertificate-3.xml"], "resultCode") == ["OK"]
    got = outputs["GetCertificate-2.xml"]
    assert "example-lisjp-1" in texts(got, "extension") and "RECEIV" in texts(got, "code")
    assert "example-lisjp-1" in texts(outputs["ListCertificatesForCare-3.xml"], "extension")
    assert texts(outputs["SendCertificateToRecipient-2.xml"], "resultCode") == ["OK"]
    assert texts(outputs["SendMessageToRecipient-2.xml"], "resultCode") == ["OK"]

    deadline = time.monotonic() + 60
    while not re.search(r"\bDELIVERED\s+FKASSA\s+SendMessageToRecipient:2\s+example-lisjp-1\b", listing := run(commands[-1])):
        assert time.monotonic() < deadline, listing
        time.sleep(0.5)
    assert {(r["contract"], r["reference"]) for r in dev.received()} >= {
        ("RegisterCertificate:3", "example-lisjp-1"),
        ("SendMessageToRecipient:2", "example-lisjp-1"),
    }


def test_the_readme_mutual_tls_curl_example_works_as_written(dev: Dev) -> None:
    """The example of the development PKI section: a shipped example over mutual TLS."""
    blocks = [block for block in readme_shell_blocks() if block.startswith("curl ") and "--cert " in block]
    assert len(blocks) == 1, blocks
    got = answer(run_as_written(blocks[0], dev.workdir, dev.port))
    # OK on a fresh service; INFO "Certificate already exists" after the walkthrough registered it.
    assert texts(got, "resultCode") in (["OK"], ["INFO"])
    assert texts(got, "resultText") in ([], ["Certificate already exists"])
