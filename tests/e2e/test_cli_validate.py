"""``intygstjanst validate``: its schema verdict equals the official schema's for every sample."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from intygstjanst.tests.support import payload_of, require_shared

OFFICIAL = {
    "RegisterCertificate": "rivta/clinicalprocess-healthcond-certificate/schemas/interactions/RegisterCertificateInteraction/RegisterCertificateResponder_3.1.xsd",
    "GetCertificate": "rivta/clinicalprocess-healthcond-certificate/schemas/interactions/GetCertificateInteraction/GetCertificateResponder_2.1.xsd",
}


def run_validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "intygstjanst.cli", "validate", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("contract", list(OFFICIAL))
def test_schema_verdicts_equal_the_official_schema(contract: str) -> None:
    shared = require_shared()
    official = etree.XMLSchema(etree.parse(str(shared / OFFICIAL[contract])))
    files = sorted((shared / "samples" / contract).glob("*.xml"))
    assert files
    completed = run_validate("--json", *map(str, files))
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    assert len(lines) == len(files), completed.stderr
    disagreements = []
    for path, line in zip(files, lines, strict=True):
        expected = official.validate(payload_of(path))
        if line["schema_valid"] != expected:
            disagreements.append((path.name, expected, line["schema_errors"][:1]))
    assert disagreements == []
    valid = sum(1 for line in lines if line["schema_valid"])
    assert 0 < valid < len(lines) or contract == "GetCertificate"


def test_exit_code_and_human_output(tmp_path: Path) -> None:
    shared = require_shared()
    good = shared / "samples/RegisterCertificate/common__fk-lisjp-module-bootstrap-certificate-lisjp__2_locked.1.xml"
    broken = tmp_path / "broken.xml"
    broken.write_text("<not-closed>")
    ok = run_validate(str(good))
    assert ok.returncode == 0 and ok.stdout.strip() == f"{good}: valid"
    bad = run_validate(str(good), str(broken))
    assert bad.returncode == 1
    assert bad.stdout.splitlines()[1].startswith(f"{broken}: invalid: ")
    missing = run_validate(str(tmp_path / "nope.xml"))
    assert missing.returncode == 1 and "invalid" in missing.stdout
