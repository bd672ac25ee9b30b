"""Row 3: a DTD, an external subset or an external entity, in any encoding, is refused by the parser
before anything is opened, with one Fault whatever the target; a DOCTYPE inside CDATA is text."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from intygstjanst.contracts.xml import SOAP11
from intygstjanst.tests.attacks.siege import XML, assert_bystanders_served, attack, legitimate_registration
from intygstjanst.tests.soap import REGISTER, fault, result

DTD_FAULT = "the message contains a document type declaration (DTD), which SOAP does not allow"
ENCODINGS = {
    # codec: (the name in the XML declaration, or None for no declaration; bytes prepended)
    "utf-8": ("UTF-8", b""),
    "utf-8 with BOM": ("UTF-8", b"\xef\xbb\xbf"),
    "utf-16 with BOM": ("UTF-16", None),
    "utf-16-le without BOM": ("UTF-16", b""),
    "utf-16-be without BOM": ("UTF-16", b""),
    "utf-32 with BOM": ("UTF-32", None),
    "utf-32-le without BOM": ("UTF-32", b""),
    "utf-32-be without BOM": ("UTF-32", b""),
}
CODECS = {
    "utf-8": "utf-8",
    "utf-8 with BOM": "utf-8",
    "utf-16 with BOM": "utf-16",
    "utf-16-le without BOM": "utf-16-le",
    "utf-16-be without BOM": "utf-16-be",
    "utf-32 with BOM": "utf-32",
    "utf-32-le without BOM": "utf-32-le",
    "utf-32-be without BOM": "utf-32-be",
}


def _doctypes(fifo: Path, secret: Path) -> dict[str, str]:
    return {
        "external subset, existing file": f'<!DOCTYPE soap:Envelope SYSTEM "file://{secret}">',
        "external subset, missing file": f'<!DOCTYPE soap:Envelope SYSTEM "file://{secret}.missing">',
        "external subset, a FIFO nobody writes": f'<!DOCTYPE soap:Envelope SYSTEM "file://{fifo}">',
        "external subset, /dev/stdin": '<!DOCTYPE soap:Envelope SYSTEM "file:///dev/stdin">',
        "external subset over http": '<!DOCTYPE soap:Envelope PUBLIC "-//x//y" "http://127.0.0.1:9/x.dtd">',
        "parameter entity": f'<!DOCTYPE soap:Envelope [<!ENTITY % p SYSTEM "file://{fifo}"> %p;]>',
        "external general entity": f'<!DOCTYPE soap:Envelope [<!ENTITY e SYSTEM "file://{secret}">]>',
        "internal subset only": '<!DOCTYPE soap:Envelope [<!ENTITY e "x">]>',
        "bare doctype": "<!DOCTYPE soap:Envelope>",
    }


def _document(doctype: str, encoding: str) -> bytes:
    name, prefix = ENCODINGS[encoding]
    body = "<x>&e;</x>" if "general entity" in doctype or "internal" in doctype else "<x/>"
    text = f'<?xml version="1.0" encoding="{name}"?>{doctype}<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body>{body}</soap:Body></soap:Envelope>'
    data = text.encode(CODECS[encoding])
    return data if prefix is None else prefix + data


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("targets")
    fifo = directory / "fifo"
    os.mkfifo(fifo)  # opening it for reading would block the server until someone writes
    secret = directory / "secret.dtd"
    secret.write_text('<!ENTITY leak "secret">')
    return fifo, secret


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_every_doctype_in_every_encoding_gets_the_same_fault_without_any_access(live_server, targets, encoding: str) -> None:
    fifo, secret = targets
    for name, doctype in _doctypes(fifo, secret).items():
        body = _document(doctype, encoding)
        started = time.monotonic()
        response = httpx.post(live_server.base_url + REGISTER, content=body, headers=XML, timeout=10)
        elapsed = time.monotonic() - started
        assert response.status_code == 500, (name, response.content[:300])
        assert fault(response.content) == DTD_FAULT, (name, encoding)
        assert elapsed < 2.0, f"{name} in {encoding} took {elapsed:.2f} s"
    assert live_server.process.poll() is None


def test_a_fifo_doctype_does_not_stall_health_or_registrations(live_server, targets) -> None:
    fifo, _secret = targets
    body = _document(f'<!DOCTYPE soap:Envelope SYSTEM "file://{fifo}">', "utf-16 with BOM")
    siege = attack(live_server, lambda client: client.post(live_server.base_url + REGISTER, content=body, headers=XML))
    assert fault(siege.answer.content) == DTD_FAULT
    assert siege.seconds < 2.0
    assert_bystanders_served(siege)


def test_doctype_inside_cdata_is_text(live_server) -> None:
    body = legitimate_registration().replace(
        b"Lagerarbetare, tunga lyft", b"<![CDATA[Lagerarbetare: <!DOCTYPE x SYSTEM 'file:///etc/passwd'> och <!ENTITY]]>", 1
    )
    response = httpx.post(live_server.base_url + REGISTER, content=body, headers=XML, timeout=10)
    assert result(response.content)[0] == "OK", response.content[:500]


@pytest.mark.parametrize("encoding", ["utf-16 with BOM", "utf-32 with BOM", "utf-32-le without BOM"])
def test_a_legitimate_registration_in_a_wide_encoding_is_registered(live_server, encoding: str) -> None:
    text = legitimate_registration().decode("utf-8").replace("encoding='UTF-8'", f"encoding='{ENCODINGS[encoding][0]}'", 1)
    response = httpx.post(live_server.base_url + REGISTER, content=text.encode(CODECS[encoding]), headers=XML, timeout=10)
    assert result(response.content)[0] == "OK", response.content[:500]
