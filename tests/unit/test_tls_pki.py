"""The development PKI and the ``intygstjanst tls`` commands."""

from __future__ import annotations

import argparse
import ipaddress
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from intygstjanst.tls.cli import add_commands
from intygstjanst.tls.errors import PkiError
from intygstjanst.tls.pki import DevCa, create_dev_pki


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="intygstjanst")
    add_commands(parser.add_subparsers(dest="command_name", required=True))
    args = parser.parse_args(list(argv))
    result: int = args.command(args, None)
    return result


def load(path: str | Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def mode(path: str | Path) -> int:
    return stat.S_IMODE(Path(path).stat().st_mode)


def test_init_json_names_files_that_exist_and_chain_to_the_ca(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pki"
    assert run_cli("tls", "init", "--out", str(out), "--client", "SE2321000016-AAAA", "--client", "TSTNMT2321000156-1002", "--json") == 0
    written = json.loads(capsys.readouterr().out)
    assert set(written) == {"ca", "server", "clients"}
    assert set(written["clients"]) == {"SE2321000016-AAAA", "TSTNMT2321000156-1002"}
    ca = load(written["ca"])
    for pair in [written["server"], *written["clients"].values()]:
        assert Path(pair["key"]).is_file()
        load(pair["cert"]).verify_directly_issued_by(ca)
    assert Path(written["ca"]) == out.resolve() / "ca.pem"


def test_client_certificate_carries_hsa_id_in_subject_serial_number(tmp_path: Path) -> None:
    pki = create_dev_pki(tmp_path, client_hsa_ids=["SE2321000016-15CQ"])
    cert = load(pki.clients["SE2321000016-15CQ"].cert)
    subject = cert.subject
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)] == ["SE2321000016-15CQ"]
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "SE2321000016-15CQ"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_server_certificate_names(tmp_path: Path) -> None:
    default = create_dev_pki(tmp_path / "default")
    san = load(default.server.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]

    assert run_cli("tls", "init", "--out", str(tmp_path / "custom"), "--host", "intyg.example", "--ip", "10.0.0.7") == 0
    san = load(tmp_path / "custom" / "server.pem").extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["intyg.example"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.7")]


def test_private_keys_are_owner_only(tmp_path: Path) -> None:
    pki = create_dev_pki(tmp_path, client_hsa_ids=["SE1-1"])
    for key in (pki.ca_key, pki.server.key, pki.clients["SE1-1"].key):
        assert mode(key) == 0o600, key
    assert mode(pki.ca) == 0o644


def test_replaced_key_gets_owner_only_mode_even_if_the_old_file_was_readable(tmp_path: Path) -> None:
    pki = create_dev_pki(tmp_path)
    pki.server.key.chmod(0o644)
    pki.ca_key.chmod(0o644)
    create_dev_pki(tmp_path, force=True)
    assert mode(pki.server.key) == mode(pki.ca_key) == 0o600


def test_init_refuses_to_replace_a_ca_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli("tls", "init", "--out", str(tmp_path))
    before = (tmp_path / "ca.pem").read_bytes()
    assert run_cli("tls", "init", "--out", str(tmp_path)) == 1
    assert "ca.pem already exists" in capsys.readouterr().err
    assert (tmp_path / "ca.pem").read_bytes() == before


def test_bad_hsa_id_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="HSA-id '../etc'"):
        create_dev_pki(tmp_path / "pki", client_hsa_ids=["../etc"])
    assert not (tmp_path / "pki").exists()


def test_bad_ip_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run_cli("tls", "init", "--out", str(tmp_path), "--ip", "localhost")
    assert caught.value.code == 2
    assert "not an IP address: 'localhost'" in capsys.readouterr().err


def test_client_command_adds_clients_signed_by_the_existing_ca(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca_dir, out = tmp_path / "ca", tmp_path / "more"
    create_dev_pki(ca_dir)
    capsys.readouterr()
    assert run_cli("tls", "client", "--hsa-id", "SE1-NEW", "--out", str(out), "--ca-dir", str(ca_dir), "--json") == 0
    written = json.loads(capsys.readouterr().out)
    cert_path = Path(written["clients"]["SE1-NEW"]["cert"])
    assert cert_path == out.resolve() / "clients" / "SE1-NEW.pem"
    load(cert_path).verify_directly_issued_by(load(ca_dir / "ca.pem"))
    assert mode(written["clients"]["SE1-NEW"]["key"]) == 0o600


def test_client_command_without_a_ca_explains_how_to_make_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("tls", "client", "--hsa-id", "SE1-X", "--out", str(tmp_path)) == 1
    assert f"no development CA in {tmp_path} (ca.pem missing)" in capsys.readouterr().err


def revoked_serials(path: Path) -> set[int]:
    return {entry.serial_number for entry in x509.load_pem_x509_crl(path.read_bytes())}


def test_revocations_accumulate_across_runs(tmp_path: Path) -> None:
    pki = create_dev_pki(tmp_path, client_hsa_ids=["SE1-A", "SE1-B", "SE1-C"])
    a, b = (pki.clients[h].cert for h in ("SE1-A", "SE1-B"))
    assert run_cli("tls", "revoke", "--out", str(tmp_path), "--cert", str(a)) == 0
    assert run_cli("tls", "revoke", "--out", str(tmp_path), "--cert", str(b)) == 0
    crl_path = tmp_path / "crl.pem"
    assert revoked_serials(crl_path) == {load(a).serial_number, load(b).serial_number}
    crl = x509.load_pem_x509_crl(crl_path.read_bytes())
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    assert crl.is_signature_valid(load(pki.ca).public_key())  # type: ignore[arg-type]


def test_revoking_a_certificate_of_another_ca_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    create_dev_pki(tmp_path / "ours")
    theirs = create_dev_pki(tmp_path / "theirs", client_hsa_ids=["SE1-T"])
    assert run_cli("tls", "revoke", "--out", str(tmp_path / "ours"), "--cert", str(theirs.clients["SE1-T"].cert)) == 1
    assert "was not issued by the CA" in capsys.readouterr().err
    assert not (tmp_path / "ours" / "crl.pem").exists()


def test_certificate_may_not_outlive_its_ca(tmp_path: Path) -> None:
    ca = DevCa.create(tmp_path, days=10)
    with pytest.raises(PkiError, match="would outlive the CA"):
        ca.issue_client_cert("SE1-L", tmp_path, days=30)


def test_explicit_validity_window_is_used_as_given(tmp_path: Path) -> None:
    ca = DevCa.create(tmp_path)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    cert = load(ca.issue_client_cert("SE1-OLD", tmp_path, not_before=start, not_after=start + timedelta(days=2)).cert)
    assert (cert.not_valid_before_utc, cert.not_valid_after_utc) == (start, start + timedelta(days=2))
