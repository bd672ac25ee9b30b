"""Certificate types changed under a running server (a second process): a type file added to its
``certificate_types_dir`` is in use after ``intygstjanst types reload`` (or SIGHUP) without a
restart; a broken file is refused with its file, rule and line, and the set in use keeps serving;
a removed file takes its type away. With one process and with two workers."""

from __future__ import annotations

import copy
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from intygstjanst.certificates.certtypes import BUILTIN_DIR
from intygstjanst.persistence.db import Database
from intygstjanst.tests.tlsserver import Server
from intygstjanst.tests.tlsserver import running as serving
from intygstjanst.tests.differential import type_corpus
from intygstjanst.tests.e2e.test_authorization_reload import eventually
from intygstjanst.tests.soap import REGISTER, envelope, result
from intygstjanst.tests.support import REPO_DIR

CODE = "XTEST"
ATTEMPTS = 8  # calls per check, so that with two workers both answer some
_ids = itertools.count()


@dataclass
class Running:
    server: Server
    data_dir: Path
    types_dir: Path
    workers: int


@pytest.fixture(scope="module", params=[1, 2], ids=["one process", "two workers"])
def running(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, database_url: str, migrated_db: Database) -> Iterator[Running]:
    workers: int = request.param
    tmp = tmp_path_factory.mktemp("types-reload")
    types_dir = tmp / "types"
    types_dir.mkdir()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("INTYG_CERTIFICATE_TYPES_DIR", str(types_dir))
        with serving(tmp, database_url, ["--tls-mode", "off", "--workers", str(workers)], lambda: True, scheme="http") as server:
            yield Running(server, server.data_dir, types_dir, workers)


def type_file(rule_check: str = "count(1.2) = 1") -> str:
    """A new type XTEST: the AF00213 definition under another code (and, to break it, another rule)."""
    text = (BUILTIN_DIR / "af00213.v1.toml").read_text(encoding="utf-8")
    return text.replace('code = "AF00213"', f'code = "{CODE}"').replace('check = "count(1.2) = 1"', f'check = "{rule_check}"', 1)


def register(live: Running) -> list[str]:
    """resultCode of registering a new XTEST certificate, once per attempt (fresh connections)."""
    code, answers = type_corpus.SEEDS["af00213-yes"]
    codes = []
    for _ in range(ATTEMPTS):
        payload = type_corpus.certificate(code, copy.deepcopy(answers), certificate_id=f"xtest-{os.getpid()}-{next(_ids)}")
        payload.find(".//{*}typ/{*}code").text = CODE  # type: ignore[union-attr]
        with httpx.Client(base_url=live.server.base_url, timeout=30) as http:
            response = http.post(REGISTER, content=envelope(payload), headers={"content-type": "text/xml; charset=utf-8"})
        codes.append(result(response.content)[0])
    return codes


def types_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "intygstjanst.cli", "types", *args],
        capture_output=True, text=True, cwd=REPO_DIR, timeout=60,
    )  # fmt: skip


def test_added_broken_and_removed_type_files_without_a_restart(running: Running) -> None:
    live, path = running, running.types_dir / "xtest.v1.toml"
    assert set(register(live)) == {"ERROR"}  # an unknown type

    # A new type file, then `types reload`: certificates of the type are accepted, no restart.
    path.write_text(type_file(), encoding="utf-8")
    added = types_command("reload", "--data-dir", str(live.data_dir))
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith(f"asked the server (pid {live.server.process.pid}) to reload the certificate types from {live.types_dir}")
    eventually(lambda: set(register(live)) == {"OK"}, "every process accepts the new type")
    # Each process says so (a worker still starting when the file was written has it from the start).
    eventually(lambda: live.server.log().count("certificate types reloaded: 19 types") == live.workers, "each process reloads")
    assert f"certificate types reloaded: 19 types; added {CODE} v1" in live.server.log()
    pid = live.server.process.pid

    # A broken file: the command refuses to send it, naming file, rule and line ...
    text = type_file("count(9.9) = 1")
    path.write_text(text, encoding="utf-8")
    refused = types_command("reload", "--data-dir", str(live.data_dir))
    assert refused.returncode == 1
    # The error names the line of the rule's id.
    line = next(n for n, content in enumerate(text.splitlines(), start=1) if content == 'id = "R1-funktionsnedsattning-beskrivs"')
    broken = f"{path}, line {line}: rule R1-funktionsnedsattning-beskrivs.check: refers to 9.9, which this type does not declare"
    assert refused.stderr.strip().endswith(broken)
    # ... and signalled directly, every process refuses it and keeps serving the set it has.
    os.kill(pid, signal.SIGHUP)
    eventually(lambda: live.server.log().count(broken) == live.workers, "each process reports the broken file")
    assert "certificate types reload failed in process" in live.server.log()
    assert set(register(live)) == {"OK"}

    # The file removed: the type is gone again.
    path.unlink()
    assert types_command("reload", "--data-dir", str(live.data_dir)).returncode == 0
    eventually(lambda: set(register(live)) == {"ERROR"}, "no process knows the removed type")
    assert live.server.log().count(f"certificate types reloaded: 18 types; removed {CODE} v1") == live.workers
    assert live.server.process.pid == pid and live.server.process.poll() is None  # the same server all along


def test_types_check_reports_files_and_runs_them_on_messages(tmp_path: Path) -> None:
    (tmp_path / "xtest.v1.toml").write_text(type_file(), encoding="utf-8")
    code, answers = type_corpus.SEEDS["af00213-no"]
    good, bad = tmp_path / "good.xml", tmp_path / "bad.xml"
    payload = type_corpus.certificate(code, answers)
    payload.find(".//{*}typ/{*}code").text = CODE  # type: ignore[union-attr]
    good.write_bytes(envelope(payload))
    payload.find(".//{*}delsvar[@id='1.1']").text = "true"  # type: ignore[union-attr]  # now the description is missing
    bad.write_bytes(envelope(payload))
    checked = types_command("check", str(tmp_path), str(good), str(bad))
    assert checked.returncode == 1
    lines = checked.stdout.splitlines()
    assert lines[:2] == [f"{CODE} v1: xtest.v1.toml", f"{tmp_path}: 1 type file(s), valid; 19 types with the built-in ones"]
    assert lines[2] == f"{good}: valid"
    assert lines[3].startswith(f"{bad}: invalid: {CODE} R1-funktionsnedsattning-beskrivs at /intyg/svar[@id='1'][1]/delsvar[@id='1.1'][1]")
