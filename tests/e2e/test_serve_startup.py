"""``intygstjanst serve`` refuses transport-security settings that do not fit, before it listens, with
one line naming the setting or file; and ``intygstjanst authorization check`` reports on a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from intygstjanst.cli import main
from intygstjanst.tls.pki import DevPki, create_dev_pki

from intygstjanst.tests.soap import GET_NS
from intygstjanst.tests.tlsserver import CONSUMER, grants


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return create_dev_pki(tmp_path_factory.mktemp("startup-pki"), client_hsa_ids=[CONSUMER])


@pytest.fixture
def authorization(tmp_path: Path) -> Path:
    path = tmp_path / "authorization.toml"
    path.write_text(grants((CONSUMER, "*", GET_NS)), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the flags of each case count (the surrounding environment may set INTYG_TLS_MODE)."""
    for name in ("INTYG_TLS_MODE", "INTYG_AUTHORIZATION_FILE", "INTYG_TRUSTED_PROXIES", "INTYG_PLATFORM_CONSUMERS", "INTYG_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    """Run ``serve`` with ``flags``; it must stop with status 2 before listening. Returns the error."""
    status = main(["serve", "--data-dir", str(tmp_path / "data"), "--port", "1", *flags])
    captured = capsys.readouterr()
    assert status == 2, captured
    assert captured.err.startswith("intygstjanst serve: error: ")
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    return captured.err.removeprefix("intygstjanst serve: error: ").strip()


def native(pki: DevPki, **replace: str) -> list[str]:
    files = {"cert": str(pki.server.cert), "key": str(pki.server.key), "ca": str(pki.ca)} | replace
    return [arg for role, path in files.items() if path for arg in (f"--tls-{role}", path)]


def test_native_needs_all_three_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], pki: DevPki) -> None:
    message = refused(tmp_path, capsys, "--tls-cert", str(pki.server.cert))
    assert message == "tls mode native needs tls_key (--tls-key), tls_ca (--tls-ca)"


def test_unusable_tls_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str], pki: DevPki, authorization: Path) -> None:
    missing = tmp_path / "nope.pem"
    message = refused(tmp_path, capsys, *native(pki, key=str(missing)), "--authorization-file", str(authorization))
    assert message.startswith(f"server private key {missing}: cannot read file")
    message = refused(tmp_path, capsys, *native(pki, key=str(pki.clients[CONSUMER].key)), "--authorization-file", str(authorization))
    assert message.startswith(f"server private key {pki.clients[CONSUMER].key}: does not belong to certificate")


def test_native_and_proxy_need_an_authorization_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], pki: DevPki) -> None:
    expected = "needs an authorization_file (--authorization-file): without one every holder of a certificate"
    assert expected in refused(tmp_path, capsys, *native(pki))
    assert expected in refused(tmp_path, capsys, "--trusted-proxy", "127.0.0.1")


def test_broken_authorization_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str], pki: DevPki) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(grants((CONSUMER, "*", "urn:riv:nothing:Served:1")), encoding="utf-8")
    message = refused(tmp_path, capsys, *native(pki), "--authorization-file", str(broken))
    assert message == (
        f"authorization file {broken}: grant #1: contract 'urn:riv:nothing:Served:1' is not the namespace of a contract "
        "this service serves"
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--tls-mode", "proxy"], "tls mode proxy needs at least one trusted_proxies (--trusted-proxy) address"),
        (["--trusted-proxy", "nginx"], "trusted proxy 'nginx' is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"),
        (["--tls-mode", "proxy", "--trusted-proxy", "127.0.0.1", "--tls-crl", "crl.pem"], "tls_crl (--tls-crl) cannot take effect in tls mode proxy"),
        (["--tls-mode", "native", "--trusted-proxy", "127.0.0.1"], "trusted_proxies (--trusted-proxy) only applies in tls mode proxy"),
        (["--tls-mode", "off", "--platform-consumer", CONSUMER], "tls_mode off serves plain HTTP without caller identity, so platform_consumers (--platform-consumer) cannot take effect"),
        (["--tls-mode", "off", "--platform-consumer", "not an id"], "platform_consumers (--platform-consumer) 'not an id' is not an HSA-id"),
    ],
)
def test_settings_that_do_not_fit_the_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str) -> None:
    assert refused(tmp_path, capsys, *flags).startswith(message)


def test_off_refuses_an_authorization_file_it_could_not_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], authorization: Path
) -> None:
    message = refused(tmp_path, capsys, "--tls-mode", "off", "--authorization-file", str(authorization))
    assert message.startswith("tls_mode off serves plain HTTP without caller identity, so authorization_file (--authorization-file)")


def test_unknown_mode_from_the_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTYG_TLS_MODE", "tls")
    assert refused(tmp_path, capsys) == "tls_mode (--tls-mode) must be auto, off, native or proxy, got 'tls'"


def test_authorization_check_lists_grants(capsys: pytest.CaptureFixture[str], authorization: Path) -> None:
    assert main(["authorization", "check", str(authorization)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"grant #1 ({CONSUMER}, *, {GET_NS}, 2000-01-01T00:00:00+01:00 to 2100-01-01T00:00:00+01:00)")
    assert out[-1] == f"{authorization}: 1 grant(s), valid"


def test_authorization_check_reports_a_mistake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('[[grant]]\nconsumer = "SE1"\n', encoding="utf-8")
    assert main(["authorization", "check", str(broken)]) == 1
    assert capsys.readouterr().err == (
        f"intygstjanst authorization check: error: authorization file {broken}: grant #1: "
        "missing logical_address, contract, valid_from, valid_to\n"
    )
