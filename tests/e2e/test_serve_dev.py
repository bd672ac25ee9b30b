"""The embedded default of ``intygstjanst serve``: a development PKI and grants created on first start,
reused afterwards, and the documented zeep example registering a certificate over mutual TLS."""

from __future__ import annotations

import json
import re
import ssl
import stat
import subprocess
import sys
from pathlib import Path

from intygstjanst.persistence.db import Database
from intygstjanst.tls.runtime import ServerState
from intygstjanst.tls.security import DEV_CLIENTS

from intygstjanst.tests.conftest import LiveServer
from intygstjanst.tests.dev_support import EXAMPLES
from intygstjanst.tests.soap import REGISTER
from intygstjanst.tests.support import REPO_DIR, require_shared
from intygstjanst.tests.tlsserver import running

DOCUMENTS = [REPO_DIR / "README.md"]


def documented_zeep_mtls_example() -> str:
    """The first Python example in the README that gives zeep a client certificate."""
    for document in DOCUMENTS:
        for block in re.findall(r"```python\n(.*?)```", document.read_text(encoding="utf-8"), re.DOTALL):
            if "session.cert" in block:
                return str(block)
    raise AssertionError(f"no zeep example with a client certificate (session.cert) in {[str(d) for d in DOCUMENTS]}")


def dev_client_context(tls_dir: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tls_dir / "ca.pem"))
    context.load_cert_chain(tls_dir / "clients" / f"{DEV_CLIENTS[0]}.pem", tls_dir / "clients" / f"{DEV_CLIENTS[0]}.key")
    return context


def test_first_start_creates_the_dev_pki_the_example_works_and_a_restart_reuses_it(
    tmp_path: Path, database_url: str, migrated_db: Database
) -> None:
    require_shared()
    workdir = tmp_path / "work"
    workdir.mkdir()
    tls_dir = workdir / "var" / "tls"
    with running(tmp_path, database_url, [], lambda: dev_client_context(tls_dir), data_dir=workdir / "var") as server:
        output = server.log()
        assert f"development PKI in {tls_dir} (created now)" in output
        assert f"CA certificate (trust it to verify the server): {tls_dir / 'ca.pem'}" in output
        for hsa_id in DEV_CLIENTS:
            cert, key = tls_dir / "clients" / f"{hsa_id}.pem", tls_dir / "clients" / f"{hsa_id}.key"
            assert f"client certificate {hsa_id}: {cert}  key: {key}" in output
            assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert f"RegisterCertificate 3.1: https://127.0.0.1:{server.port}{REGISTER}" in output
        grants = (tls_dir / "authorization.toml").read_text(encoding="utf-8")
        assert all(f'consumer = "{hsa_id}"' in grants for hsa_id in DEV_CLIENTS)

        # The shipped example, under an id of its own: the session database is shared with other tests.
        (workdir / "examples").mkdir()
        shipped = (EXAMPLES / "RegisterCertificate-3.xml").read_text(encoding="utf-8")
        (workdir / "examples" / "RegisterCertificate-3.xml").write_text(shipped.replace("example-lisjp-1", "readme-mtls-1"), encoding="utf-8")
        example = documented_zeep_mtls_example().replace("https://localhost:8080", server.base_url)
        ran = subprocess.run([sys.executable, "-c", example], cwd=workdir, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip() == "OK"
        assert server.audit()[-1]["contract"] == "RegisterCertificate"
        assert server.audit()[-1]["authorized"] == DEV_CLIENTS[0]
        for flags, hint in [
            (["--ca", str(tls_dir / "ca.pem")], "The producer probably requires mutual TLS: pass a client certificate it trusts with --cert FILE --key FILE"),
            ([], "The producer's server certificate is not trusted: pass --ca FILE with the CA that signed it"),
        ]:
            kit = subprocess.run(
                [sys.executable, "-m", "intygstjanst.cli", "conformance", "run", "--endpoint", server.base_url, *flags,
                 "--contract", "PingForConfiguration", "--failures-dir", str(tmp_path / "failures")],
                cwd=workdir, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert kit.returncode == 2, kit.stdout + kit.stderr
            assert kit.stderr.startswith(f"intygstjanst conformance run: error: cannot reach the producer at {server.base_url}"), kit.stderr
            assert f". {hint}" in kit.stderr and ".. " not in kit.stderr
        ca = (tls_dir / "ca.pem").read_bytes()
        state = json.loads((workdir / "var" / "serve.json").read_text())
        assert state == {"pid": server.process.pid, "mode": "native", "authorization_file": str(tls_dir / "authorization.toml"), "certificate_types_dir": None}
        assert ServerState.read(workdir / "var").pid == server.process.pid
    assert not (workdir / "var" / "serve.json").exists()  # a stopped server leaves no state for 'reload'

    with running(tmp_path, database_url, [], lambda: dev_client_context(tls_dir), data_dir=workdir / "var") as again:
        assert f"development PKI in {tls_dir} (reused)" in again.log()
    assert (tls_dir / "ca.pem").read_bytes() == ca
    assert (tls_dir / "authorization.toml").read_text(encoding="utf-8") == grants


def test_plain_http_says_in_the_log_that_every_call_is_allowed(live_server: LiveServer) -> None:
    assert "plain HTTP without caller identity: every call is allowed (for development and tests only)" in live_server.log()
    assert live_server.base_url.startswith("http://")
