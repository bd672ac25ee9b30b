"""The doctor's signature on RegisterCertificate through the service: report mode stores the result
and answers as before, enforce refuses what does not hold, every certificate gets a stored result
(``intygstjanst certificate show``, ``/metrics``), on SQLite and (INTYG_TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from lxml import etree
from starlette.testclient import TestClient

from intygstjanst import cli
from intygstjanst.app import create_app
from intygstjanst.certificates import xmldsig
from intygstjanst.contracts.xml import CORE, CORE_32
from intygstjanst.persistence import signatures
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import Base
from intygstjanst.persistence.signatures import SignatureRecord
from intygstjanst.registers.persons import FilePersonLookup
from intygstjanst.services import Services
from intygstjanst.settings import Settings

from intygstjanst.tests.signing_support import DOCTOR, SAMPLE_ID, SIGNED_SAMPLES, SigningPki, intyg_of, lisjp, signed
from intygstjanst.tests.soap import REGISTER, envelope, post, result, sample
from intygstjanst.tests.support import REPO_DIR, require_shared

REGISTER_MEDICAL = "/insuranceprocess/healthreporting/RegisterMedicalCertificate/3/rivtabp20"


def client_for(settings: Settings, db: Database, persons: FilePersonLookup) -> Iterator[TestClient]:
    with TestClient(create_app(services=Services.build(settings, db=db, persons=persons))) as test_client:
        yield test_client


@pytest.fixture
def reporting(tmp_path: Path, db: Database, persons: FilePersonLookup, signing_pki: SigningPki) -> Iterator[TestClient]:
    """The default mode, report, with the test CA trusted."""
    yield from client_for(Settings(data_dir=tmp_path, signature_trust_bundle=signing_pki.bundle), db, persons)


@pytest.fixture
def enforcing(tmp_path: Path, db: Database, persons: FilePersonLookup, signing_pki: SigningPki) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path, signature_mode="enforce", signature_trust_bundle=signing_pki.bundle, signature_required_types=("LISJP",)
    )
    yield from client_for(settings, db, persons)


def register(client: TestClient, payload: etree._Element) -> tuple[str, str | None, str | None]:
    return result(post(client, REGISTER, envelope(payload)).content)


def stored(db: Database, certificate_id: str) -> SignatureRecord | None:
    with db.read() as conn:
        found = signatures.get(conn, certificate_id)
    return found.record if found is not None else None


def tampered(payload: etree._Element) -> etree._Element:
    """``payload`` with a free-text answer changed after signing."""
    delsvar = next(d for d in intyg_of(payload).iter(f"{{{CORE}}}delsvar") if " " in (d.text or "").strip())
    delsvar.text = f"{delsvar.text} (changed after signing)"
    return payload


def test_report_mode_stores_each_result_and_answers_as_without_it(reporting: TestClient, db: Database, signing_pki: SigningPki, other_signing_pki: SigningPki) -> None:
    assert register(reporting, signed(lisjp("valid-1"), signing_pki.signer())) == ("OK", None, None)
    assert register(reporting, tampered(signed(lisjp("changed-1"), signing_pki.signer()))) == ("OK", None, None)
    assert register(reporting, signed(lisjp("foreign-1"), other_signing_pki.signer())) == ("OK", None, None)
    assert register(reporting, lisjp("unsigned-1")) == ("OK", None, None)

    valid = stored(db, "valid-1")
    assert valid is not None and (valid.status, valid.signer_hsa_id) == ("valid", DOCTOR)
    assert f"2.5.4.5={DOCTOR}" in valid.signer_subject
    changed = stored(db, "changed-1")
    assert changed is not None and (changed.status, changed.reason_code) == ("invalid", "digest")
    foreign = stored(db, "foreign-1")
    assert foreign is not None and (foreign.status, foreign.reason_code) == ("invalid", "untrusted_issuer")
    assert stored(db, "unsigned-1") == SignatureRecord("unsigned", reason="no underskrift")

    metrics = reporting.get("/metrics").text
    for line in (
        'intyg_certificate_signatures{status="invalid"} 2',
        'intyg_certificate_signatures{status="unsigned"} 1',
        'intyg_certificate_signatures{status="valid"} 1',
        'intyg_certificate_signatures_invalid{reason="digest"} 1',
        'intyg_certificate_signatures_invalid{reason="untrusted_issuer"} 1',
    ):
        assert line in metrics.splitlines(), metrics


def test_a_legacy_certificate_is_stored_as_not_checked(reporting: TestClient, db: Database) -> None:
    body = (REPO_DIR / "examples" / "RegisterMedicalCertificate-3.xml").read_bytes()
    response = reporting.post(REGISTER_MEDICAL, content=body, headers={"content-type": "text/xml; charset=utf-8"})
    assert etree.fromstring(response.content).findtext(".//{*}resultCode") == "OK", response.text
    certificate_id = etree.fromstring(body).findtext(".//{*}lakarutlatande-id")
    assert certificate_id
    record = stored(db, certificate_id)
    assert record == SignatureRecord("not_checked", reason="it arrived in a format without a signature")


def test_enforce_refuses_a_signature_that_does_not_hold_and_stores_nothing(enforcing: TestClient, db: Database, other_signing_pki: SigningPki, signing_pki: SigningPki) -> None:
    code, error, text = register(enforcing, tampered(signed(lisjp("changed-2"), signing_pki.signer())))
    assert (code, error) == ("ERROR", "VALIDATION_ERROR")
    assert text == (
        "underskrift: the signature does not hold (digest): the signed content does not match the signature's digest: "
        "the certificate was changed after signing"
    )
    code, error, text = register(enforcing, signed(lisjp("foreign-2"), other_signing_pki.signer()))
    assert (code, error) == ("ERROR", "VALIDATION_ERROR")
    assert text is not None and text.startswith("underskrift: the signature does not hold (untrusted_issuer): untrusted issuer: ")
    code, error, text = register(enforcing, lisjp("unsigned-2"))
    assert (code, error, text) == (
        "ERROR", "VALIDATION_ERROR", "underskrift: a certificate of type LISJP must be signed, and this one is not (no underskrift)"
    )
    assert [stored(db, i) for i in ("changed-2", "foreign-2", "unsigned-2")] == [None, None, None]
    with db.read() as conn:
        assert conn.execute(Base.metadata.tables["certificate"].select()).first() is None

    assert register(enforcing, signed(lisjp("valid-2"), signing_pki.signer())) == ("OK", None, None)
    record = stored(db, "valid-2")
    assert record is not None and record.status == "valid"


def test_certificate_show_prints_the_signature_result(reporting: TestClient, db: Database, signing_pki: SigningPki, database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert register(reporting, tampered(signed(lisjp("shown-1"), signing_pki.signer()))) == ("OK", None, None)
    capsys.readouterr()
    assert cli.main(["certificate", "show", "shown-1", "--database-url", database_url]) == 0
    out = capsys.readouterr().out
    assert "signature status: invalid" in out
    assert "signature reason_code: digest" in out
    assert f"signature signer_hsa_id: {DOCTOR}" in out
    assert "signature checked_at: " in out
    assert cli.main(["certificate", "show", "shown-1", "--json", "--database-url", database_url]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["id"], shown["type"], shown["signature"]["status"]) == ("shown-1", "LISJP 1.0", "invalid")
    assert "191212121212" not in json.dumps(shown)  # the patient is left out
    assert cli.main(["certificate", "show", "no-such", "--database-url", database_url]) == 1
    assert "no certificate no-such" in capsys.readouterr().err


def test_migration_creates_the_signature_table_as_modelled(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, Base.metadata) if "certificate_signature" in repr(d)]
    assert differences == []


def test_an_official_signed_sample_in_underskrift_is_accepted_and_recorded_as_untrusted(reporting: TestClient, db: Database) -> None:
    """The journal system's signature moved into underskrift (as the contract carries it): still
    intact, stored as from an untrusted issuer (a self-signed test certificate), and accepted."""
    require_shared()
    payload = sample(SIGNED_SAMPLES[1])
    located = xmldsig.locate(intyg_of(payload))
    assert located is not None and located.wrapper is None
    located.signature.addprevious(underskrift := etree.Element(f"{{{CORE_32}}}underskrift"))
    underskrift.append(located.signature)
    assert register(reporting, payload) == ("OK", None, None)
    record = stored(db, SAMPLE_ID)
    assert record is not None
    assert (record.status, record.reason_code, record.signer_subject) == ("invalid", "untrusted_issuer", "O=Callista,L=Gothenburg,ST=VG,C=SE")
