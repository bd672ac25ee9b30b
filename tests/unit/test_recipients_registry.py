"""The recipient registry: the seed file, the checks (file + entry + field), lookups and reloading."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from intygstjanst.registers import recipients as registry
from intygstjanst.certificates.certtypes import CertificateTypes
from intygstjanst.registers.recipients import RecipientKind, Recipients, RecipientsError
from intygstjanst.tests.conftest import free_port
from intygstjanst.tests.support import REPO_DIR
from intygstjanst.transform.formats import Format

TYPES = CertificateTypes.load()

GOOD = """
[[recipient]]
id = "FKASSA"
name = "Försäkringskassan"
kind = "HUVUDMOTTAGARE"
logical_address = "2021005521"
certificate_types = ["fk7263", "LISJP"]
active = true
trusted = true
url = "https://fk.example:8443/"
formats = { fk7263 = "RegisterMedicalCertificate:3" }

[[recipient]]
id = "OLD"
name = "Gammal mottagare"
kind = "MOTTAGARE"
logical_address = "OLD-1"
certificate_types = ["LISJP"]
active = false
trusted = false

[[part]]
id = "HSVARD"
name = "Vården"
"""


def write(tmp_path: Path, text: str, name: str = "recipients.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_seed_has_the_agencies_and_the_parts() -> None:
    seed = Recipients.load(None, TYPES)
    assert [r.id for r in seed.all()] == ["AF", "FKASSA", "SKV", "SOS", "TRANSP"]
    assert [p.id for p in seed.parts()] == ["HSVARD", "INVANA"]
    fk = seed.get("FKASSA")
    assert fk is not None and fk.kind is RecipientKind.HUVUDMOTTAGARE and fk.trusted
    assert fk.format_for("fk7263") is Format.REGISTER_MEDICAL_CERTIFICATE_3
    assert fk.format_for("LISJP") is Format.REGISTER_CERTIFICATE_3
    transp = seed.get("TRANSP")
    assert transp is not None
    assert transp.format_for("TSTRK1007") is Format.REGISTER_TS_BAS_1
    assert transp.format_for("TSTRK1031") is Format.REGISTER_TS_DIABETES_1
    assert [r.id for r in seed.for_type("DB")] == ["SKV"]
    assert [r.id for r in seed.for_type("doi")] == ["SOS"]


def test_parts_are_never_send_targets() -> None:
    seed = Recipients.load(None, TYPES)
    for part in ("HSVARD", "INVANA"):
        assert seed.get(part) is None
        known = seed.part(part)
        assert known is not None and known.id == part
    assert seed.part("FKASSA") is seed.get("FKASSA")
    assert seed.part("NOBODY") is None


def test_lookups(tmp_path: Path) -> None:
    loaded = Recipients.load(write(tmp_path, GOOD), TYPES)
    fk = loaded.get("fkassa")  # ids are matched case-insensitively
    old = loaded.get("OLD")
    assert fk is not None and old is not None
    assert fk.url == "https://fk.example:8443"
    assert loaded.accepts(fk, "lisjp") and loaded.accepts(fk, "FK7263")
    assert not loaded.accepts(fk, "DB")
    assert not loaded.accepts(old, "LISJP")  # inactive
    assert [r.id for r in loaded.for_type("LISJP")] == ["FKASSA"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('kind = "MOTTAGARE"', 'kind = "BOSS"'), "recipient #2 (OLD): field 'kind' must be one of HUVUDMOTTAGARE"),
        (('certificate_types = ["LISJP"]', 'certificate_types = ["LIJSP"]'), "recipient #2 (OLD): field 'certificate_types': 'LIJSP' is not a known certificate type"),
        (('active = false', 'active = "no"'), "recipient #2 (OLD): field 'active' is required and must be true or false"),
        (('logical_address = "OLD-1"\n', ''), "recipient #2 (OLD): field 'logical_address' is required"),
        (('id = "OLD"', 'id = "FKASSA"'), "recipient #2 (FKASSA): field 'id': FKASSA is already used by"),
        (('id = "HSVARD"', 'id = "OLD"'), "part #1 (OLD): field 'id': OLD is already used by"),
        (('url = "https://fk.example:8443/"', 'url = "fk.example"'), "recipient #1 (FKASSA): field 'url' must be an http:// or https:// base URL"),
        (('fk7263 = "RegisterMedicalCertificate:3"', 'fk7263 = "RegisterTSBas:1"'), "field 'formats.fk7263': a fk7263 certificate cannot be sent as RegisterTSBas:1"),
        (('fk7263 = "RegisterMedicalCertificate:3"', 'DB = "RegisterCertificate:3"'), "field 'formats.DB': DB is not in this recipient's certificate_types"),
        (('fk7263 = "RegisterMedicalCertificate:3"', 'fk7263 = "Fax:1"'), "field 'formats.fk7263' must be one of RegisterCertificate:3"),
        (('trusted = false', 'trusted = false\ncolour = "red"'), "recipient #2 (OLD): unknown field(s) colour"),
    ],
)
def test_errors_name_file_entry_and_field(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(RecipientsError) as raised:
        Recipients.load(path, TYPES)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(RecipientsError, match="cannot read the recipient registry"):
        Recipients.load(tmp_path / "missing.toml")
    with pytest.raises(RecipientsError, match="not valid TOML"):
        Recipients.load(write(tmp_path, "[[recipient]\n"))


def test_edited_file_is_picked_up_and_a_broken_edit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "RELOAD_CHECK_SECONDS", 0.0)
    path = write(tmp_path, GOOD)
    loaded = Recipients.load(path, TYPES)
    assert not loaded.get("OLD").active

    _rewrite(path, GOOD.replace("active = false", "active = true"))
    assert loaded.get("OLD").active

    _rewrite(path, GOOD.replace('kind = "MOTTAGARE"', 'kind = "BOSS"'))
    old = loaded.get("OLD")  # the broken file is refused; the last good registry stays
    assert old is not None and old.active

    with pytest.raises(RecipientsError, match="field 'kind'"):
        loaded.reload()


def _rewrite(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    # Coarse file-system clocks could leave the modification time unchanged.
    os.utime(path, ns=(time.time_ns(), max(before + 1_000_000, time.time_ns())))


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "intygstjanst.cli", *args],
        env={**os.environ, **env},
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_service_and_worker_refuse_to_start_with_a_broken_registry(tmp_path: Path) -> None:
    bad = write(tmp_path, GOOD.replace('kind = "MOTTAGARE"', 'kind = "BOSS"'))
    env = {"INTYG_RECIPIENTS_FILE": str(bad), "INTYG_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    for args in (["worker", "--once"], ["serve", "--tls-mode", "off", "--port", str(free_port())]):
        run = cli(*args, env=env)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        assert f"{bad}: recipient #2 (OLD): field 'kind' must be one of" in run.stderr


def test_recipients_check(tmp_path: Path) -> None:
    bad = write(tmp_path, GOOD.replace('certificate_types = ["LISJP"]', 'certificate_types = ["LIJSP"]'))
    run = cli("recipients", "check", "--file", str(bad), env={})
    assert run.returncode == 1
    assert run.stdout.startswith(f"invalid: {bad}: recipient #2 (OLD): field 'certificate_types'")
    run = cli("recipients", "check", env={"INTYG_DELIVERY_BASE_URL": "https://ntjp.example"})
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].endswith("recipients.toml: 5 recipients, 2 parts")
    (fkassa,) = [line for line in lines if line.strip().startswith("FKASSA ")]
    assert "HUVUDMOTTAGARE" in fkassa and "2021005521" in fkassa and "https://ntjp.example" in fkassa
    assert any("FK7263=RegisterMedicalCertificate:3" in line for line in lines)
    assert any("INVANA   part (never a send target)" in line for line in lines)


def test_care_systems_receive_messages_but_never_certificates(tmp_path: Path) -> None:
    path = tmp_path / "recipients.toml"
    path.write_text('[[part]]\nid = "HSVARD"\nname = "Vården"\nurl = "https://care.example/services/"\n', encoding="utf-8")
    loaded = Recipients.load(path)
    assert loaded.get("HSVARD") is None and loaded.all() == []
    target = loaded.delivery_target("HSVARD")
    assert target is not None and target.url == "https://care.example/services" and target.certificate_types == frozenset()
    assert Recipients.load().delivery_target("HSVARD").url is None  # the seed: through delivery_base_url
    assert loaded.delivery_target("NOBODY") is None
    path.write_text('[[part]]\nid = "HSVARD"\nname = "Vården"\nurl = "ftp://x"\n', encoding="utf-8")
    with pytest.raises(RecipientsError, match="part #1 .*'url'"):
        Recipients.load(path)
