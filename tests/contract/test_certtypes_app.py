"""A new certificate type is only a data file: drop it in the configured directory, restart, register.

The app is built in-process twice over the same database: before the file exists the type is
unknown; after a restart with the file in INTYG_CERTIFICATE_TYPES_DIR's directory a certificate of
the type is registered, and one that breaks the type's rules is refused with the rule's message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from lxml import etree
from starlette.testclient import TestClient

from intygstjanst.app import create_app
from intygstjanst.contracts.xml import CORE, TYPES
from intygstjanst.persistence.db import Database
from intygstjanst.registers.persons import FilePersonLookup
from intygstjanst.services import Services
from intygstjanst.settings import Settings
from intygstjanst.tests.soap import REGISTER, certificate, envelope, post, result
from intygstjanst.tests.support import require_shared
from intygstjanst.tests.unit.test_certtypes import NEW_TYPE


def xgrav(certificate_id: str, complications: str, description: str | None) -> etree._Element:
    """A schema-valid RegisterCertificate of type XGRAV (header taken from a LISJP sample)."""
    payload = certificate(certificate_id)
    intyg = payload.find("{*}intyg")
    assert intyg is not None
    intyg.find(f"{{{CORE}}}typ/{{{TYPES}}}code").text = "XGRAV"
    intyg.find(f"{{{CORE}}}typ/{{{TYPES}}}displayName").text = "Intyg om graviditet"
    intyg.find(f"{{{CORE}}}version").text = "1.0"
    for old in intyg.findall(f"{{{CORE}}}svar"):
        intyg.remove(old)
    signature = intyg.find("{urn:riv:clinicalprocess:healthcond:certificate:3.2}underskrift")
    answers = [("1", [("1.1", "2025-03-01")]), ("2", [("2.1", complications)] + ([("2.2", description)] if description else []))]
    for qid, parts in answers:
        svar = etree.Element(f"{{{CORE}}}svar", id=qid)
        for pid, value in parts:
            etree.SubElement(svar, f"{{{CORE}}}delsvar", id=pid).text = value
        if signature is not None:
            signature.addprevious(svar)
        else:
            intyg.append(svar)
    return payload


Starter = Callable[[Path], AbstractContextManager[TestClient]]


@pytest.fixture
def start(settings: Settings, db: Database, persons: FilePersonLookup) -> Starter:
    """Start the app in-process with this certificate-type directory (a fresh start each call)."""

    @contextmanager
    def started(types_dir: Path) -> Iterator[TestClient]:
        configured = dataclasses.replace(settings, certificate_types_dir=types_dir)
        app = create_app(services=Services.build(configured, db=db, persons=persons))
        with TestClient(app, raise_server_exceptions=True) as client:
            yield client

    return started


def register(client: TestClient, payload: etree._Element) -> tuple[str, str | None, str | None]:
    response = post(client, REGISTER, envelope(payload))
    assert response.status_code == 200, response.text
    return result(response.content)


def test_new_type_from_a_file_after_restart(tmp_path: Path, start: Starter) -> None:
    require_shared()
    types_dir = tmp_path / "types"
    types_dir.mkdir()

    with start(types_dir) as client:
        code, error_id, text = register(client, xgrav("xgrav-0", "false", None))
        assert (code, error_id) == ("ERROR", "VALIDATION_ERROR") and "XGRAV" in (text or "")

    (types_dir / "xgrav.v1.toml").write_text(NEW_TYPE, encoding="utf-8")
    with start(types_dir) as client:
        assert register(client, xgrav("xgrav-1", "true", "Havandeskapsförgiftning")) == ("OK", None, None)
        assert register(client, xgrav("xgrav-2", "false", None)) == ("OK", None, None)
        code, error_id, text = register(client, xgrav("xgrav-3", "true", None))
        assert (code, error_id) == ("ERROR", "VALIDATION_ERROR")
        assert text == "XGRAV X1-komplikation-beskrivs at /intyg/svar[@id='2'][1]: Describe the complications (2.2)."
