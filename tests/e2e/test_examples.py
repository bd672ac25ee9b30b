"""``examples/``: one ready envelope per served contract, each sent to ``intygstjanst dev`` (the service,
a worker and a stub recipient as real processes, on the embedded default) in the order of the README
table, with the answer the README promises; and the README's plain-HTTP zeep example run against it."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree
from stdnum.se import personnummer

from intygstjanst.tests.dev_support import EXAMPLES, Dev, alive, example_paths, readme_shell_blocks, run_as_written, running_dev, texts
from intygstjanst.tests.support import REPO_DIR

README = (REPO_DIR / "README.md").read_text(encoding="utf-8")
LISJP = "example-lisjp-1"

Check = Callable[[etree._Element], None]


def result(code: str, text: str = "") -> Check:
    def check(body: etree._Element) -> None:
        assert texts(body, "resultCode") == [code]
        if text:
            assert texts(body, "resultText") == [text]

    return check


def lists(value: str, element: str = "extension") -> Check:
    def check(body: etree._Element) -> None:
        assert value in texts(body, element)

    return check


def no_result(body: etree._Element) -> None:
    assert texts(body, "resultCode") in ([], ["OK"])


# The README table's order; the sick-leave lists depend on today's date, so only their result counts.
ANSWERS: list[tuple[str, list[Check]]] = [
    ("RegisterCertificate-3.xml", [result("OK")]),
    ("GetCertificate-2.xml", [lists(LISJP), lists("RECEIV", "code")]),
    ("ListCertificatesForCare-3.xml", [no_result, lists(LISJP)]),
    ("ListCertificatesForCitizen-3.xml", [no_result, lists(LISJP)]),
    ("ListCertificatesForCitizen-4.xml", [no_result, lists(LISJP)]),
    ("SendCertificateToRecipient-2.xml", [result("OK")]),
    ("SendMessageToRecipient-2.xml", [result("OK")]),
    ("SendMessageToCare-2.xml", [result("OK")]),
    ("SetCertificateStatus-2.xml", [result("OK")]),
    ("ListRelationsForCertificate-1.xml", [no_result, lists(LISJP)]),
    ("GetCertificateTypeInfo-1.xml", [no_result, lists("lisjp", "code"), lists("1.0", "typVersion")]),
    ("GetRecipientsForCertificate-1.xml", [no_result, lists("FKASSA", "id")]),
    ("RegisterApprovedReceivers-1.xml", [result("OK")]),
    ("ListApprovedReceivers-1.xml", [no_result, lists("FKASSA", "receiverId"), lists("YES", "approvalStatus")]),
    ("ListKnownRecipients-1.xml", [no_result, lists("FKASSA", "id")]),
    ("ListPossibleReceivers-1.xml", [no_result, lists("FKASSA", "receiverId")]),
    ("ListSickLeavesForCare-1.xml", [no_result]),
    ("ListActiveSickLeavesForCareUnit-1.xml", [no_result]),
    ("ListSickLeavesForPerson-1.xml", [no_result]),
    ("PingForConfiguration-1.xml", [no_result, lists("0.1.0", "version")]),
    ("RegisterMedicalCertificate-3.xml", [result("OK")]),
    ("SendMedicalCertificate-1.xml", [result("OK")]),
    ("SetCertificateStatus-1.xml", [result("OK")]),
    ("GetMedicalCertificate-1.xml", [result("OK"), lists("example-fk7263-1", "certificateId")]),
    ("ListCertificates-1.xml", [result("OK"), lists("example-fk7263-1", "certificateId"), lists(LISJP, "certificateId")]),
    ("GetCertificate-1.xml", [result("OK"), lists("example-fk7263-1", "certificateId"), lists("example-fk7263-1", "lakarutlatande-id")]),
    ("RevokeMedicalCertificate-1.xml", [result("OK")]),
    ("RegisterTSBas-1.xml", [result("OK")]),
    ("GetTSBas-1.xml", [result("OK"), lists("example-tsbas-1", "intygsId")]),
    ("RegisterTSDiabetes-1.xml", [result("OK")]),
    ("GetTSDiabetes-1.xml", [result("OK"), lists("example-tsdiabetes-1", "intygsId")]),
    ("RevokeCertificate-2.xml", [result("OK")]),
]


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    with running_dev(tmp_path_factory.mktemp("examples"), "--tls-mode", "off") as running:
        yield running


def test_there_is_one_example_per_served_contract_and_the_readme_lists_them_in_order() -> None:
    files = sorted(path.name for path in EXAMPLES.glob("*.xml"))
    assert files == sorted(example_paths())
    assert sorted(name for name, _ in ANSWERS) == files
    table = README.split("\n## Trying it\n", 1)[1].split("\n```", 1)[0]
    listed = re.findall(r"`([A-Za-z]+-\d+\.xml)`", table)
    assert listed == [name for name, _ in ANSWERS]


def test_every_person_in_the_examples_has_a_valid_personnummer() -> None:
    found = {
        name: re.findall(r"\b(?:19|20)\d{6}-?\d{4}\b", (EXAMPLES / name).read_text(encoding="utf-8")) for name in example_paths()
    }
    assert any(found.values())
    assert {name: numbers for name, numbers in found.items() if not all(map(personnummer.is_valid, numbers))} == {}


def test_every_example_gets_the_answer_the_readme_promises(dev: Dev) -> None:
    paths = example_paths()
    with httpx.Client(base_url=f"http://127.0.0.1:{dev.port}", timeout=60) as http:
        for name, checks in ANSWERS:
            response = http.post(paths[name], content=(EXAMPLES / name).read_bytes(), headers={"Content-Type": "text/xml; charset=utf-8"})
            assert response.status_code == 200, f"{name}: {response.text}"
            body = etree.fromstring(response.content)
            for check in checks:
                try:
                    check(body)
                except AssertionError as exc:
                    raise AssertionError(f"{name}: {exc}\n{response.text}") from None
        again = http.post(paths["RegisterCertificate-3.xml"], content=(EXAMPLES / "RegisterCertificate-3.xml").read_bytes(), headers={"Content-Type": "text/xml"})
        result("INFO", "Certificate already exists")(etree.fromstring(again.content))


def test_the_stub_recipient_received_what_was_sent(dev: Dev) -> None:
    """Sending works out of the box: the certificate synchronously, the messages through the worker."""
    wanted = {
        ("RegisterCertificate:3", LISJP),
        ("SendMessageToRecipient:2", LISJP),
        ("SendMessageToCare:2", LISJP),
        ("RegisterMedicalCertificate:3", "example-fk7263-1"),
        ("RevokeCertificate:2", LISJP),
    }
    deadline = time.monotonic() + 60
    while not wanted <= {(r["contract"], r["reference"]) for r in dev.received()}:
        assert time.monotonic() < deadline, f"not delivered within 60 s: {dev.received()}"
        time.sleep(0.5)


def test_the_readme_zeep_example_registers_an_example(dev: Dev) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    plain = [block for block in blocks if "RawIntyg" in block and "session.cert" not in block]
    assert len(plain) == 1
    code = plain[0].replace("http://127.0.0.1:8080", f"http://127.0.0.1:{dev.port}")
    ran = subprocess.run([sys.executable, "-c", code], cwd=REPO_DIR, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "INFO"  # the examples registered it already


def test_the_readme_curl_example_registers_an_example(dev: Dev) -> None:
    """The plain-HTTP curl example of "Calling it", run as written in the repository."""
    blocks = [block for block in readme_shell_blocks() if block.startswith("curl ") and "http://" in block]
    assert len(blocks) == 1, blocks
    got = etree.fromstring(run_as_written(blocks[0], REPO_DIR, dev.port).encode())
    # OK on a fresh service; INFO "Certificate already exists" after the other tests registered it.
    assert texts(got, "resultCode") in (["OK"], ["INFO"])
    assert texts(got, "resultText") in ([], ["Certificate already exists"])


def test_stopping_dev_stops_all_three_processes(tmp_path: Path) -> None:
    with running_dev(tmp_path / "work", "--tls-mode", "off") as dev:
        children = dev.child_pids()
        assert len(children) == 3 and all(map(alive, children))
        assert httpx.get(f"http://127.0.0.1:{dev.port}/health").status_code == 200
        assert httpx.get(f"{dev.stub_url}/health").status_code == 200
    assert dev.process.returncode == 0
    assert not any(map(alive, children))  # dev waited for each of them
