"""``intygstjanst dev`` in a second process, for the tests of the examples and the README walkthrough."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
from lxml import etree

from intygstjanst.contracts.registry import ContractRegistry

from intygstjanst.tests.conftest import free_port
from intygstjanst.tests.support import REPO_DIR, START_SECONDS

EXAMPLES = REPO_DIR / "examples"
READY = "intygstjanst dev: running "


@dataclass
class Dev:
    process: subprocess.Popen[bytes]
    port: int
    stub_url: str
    workdir: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def received(self) -> list[dict[str, Any]]:
        """What the stub recipient has taken so far."""
        receipts: list[dict[str, Any]] = httpx.get(f"{self.stub_url}/stub/received", timeout=10).json()["receipts"]
        return receipts

    def child_pids(self) -> list[int]:
        match = re.search(rf"{READY}(.*)", self.log())
        assert match, self.log()
        return [int(pid) for pid in re.findall(r"\(pid (\d+)\)", match.group(1))]


def texts(body: etree._Element, name: str) -> list[str]:
    """The text of every element called ``name``, in any namespace."""
    found = cast(list[Any], body.xpath(f"//*[local-name()='{name}']/text()"))
    return [str(text) for text in found]


def readme_shell_blocks() -> list[str]:
    """Every ``sh`` block of the README, in order."""
    return re.findall(r"```sh\n(.*?)```", (REPO_DIR / "README.md").read_text(encoding="utf-8"), re.DOTALL)


def run_as_written(script: str, workdir: Path, port: int) -> str:
    """A shell snippet from the README, run by bash in ``workdir`` with this ``intygstjanst`` on the
    PATH; only the README's default address (port 8080) is pointed at ``port``. Its output."""
    assert re.search(r"(127\.0\.0\.1|localhost):8080\b", script), f"the README's default address is not in:\n{script}"
    script = re.sub(r"(127\.0\.0\.1|localhost):8080\b", rf"\g<1>:{port}", script)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("INTYG_")}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    done = subprocess.run(["bash", "-c", script], cwd=workdir, env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def example_paths() -> dict[str, str]:
    """Example file name -> the path of its contract (``RegisterCertificate-3.xml`` -> ``/.../3/rivtabp21``)."""
    return {f"{c.name}-{c.path.split('/')[-2]}.xml": c.path for c in ContractRegistry.load()}


@contextmanager
def running_dev(workdir: Path, *flags: str) -> Iterator[Dev]:
    """``intygstjanst dev`` on free ports, run in ``workdir`` (its data directory is ``workdir/var``,
    the embedded default), once it reports all three parts running."""
    workdir.mkdir(parents=True, exist_ok=True)
    port, stub_port = free_port(), free_port()
    log_path = workdir / "dev.log"
    environment = {name: value for name, value in os.environ.items() if not name.startswith("INTYG_")}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "intygstjanst.cli", "dev", "--port", str(port), "--stub-port", str(stub_port), *flags],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=workdir,
        )
    dev = Dev(process, port, f"http://127.0.0.1:{stub_port}", workdir, log_path)
    try:
        deadline = time.monotonic() + START_SECONDS
        while READY not in dev.log():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"intygstjanst dev did not start (exit status {process.poll()}):\n{dev.log()}")
            time.sleep(0.2)
        yield dev
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
