"""Sending a hostile request to a real server while legitimate traffic goes on: the attack's answer,
how long it took, and whether ``/health`` and a legitimate RegisterCertificate were answered
meanwhile (each attack test module of the issue's table uses this)."""

from __future__ import annotations

import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from typing import Protocol
from intygstjanst.tests.soap import REGISTER, result
from intygstjanst.tests.support import REPO_DIR

XML = {"content-type": "text/xml; charset=utf-8"}
_EXAMPLE = (REPO_DIR / "examples" / "RegisterCertificate-3.xml").read_bytes()
# Generous: a legitimate call takes milliseconds; these bound "answered in its normal time" on a
# loaded two-core machine without turning a slow run into a failure.
HEALTH_SECONDS = 2.0
REGISTER_SECONDS = 5.0


def legitimate_registration(certificate_id: str | None = None) -> bytes:
    """The example LISJP (examples/RegisterCertificate-3.xml) under a fresh id."""
    certificate_id = certificate_id or f"siege-{uuid.uuid4().hex[:12]}"
    return _EXAMPLE.replace(b"<t:extension>example-lisjp-1</t:extension>", f"<t:extension>{certificate_id}</t:extension>".encode(), 1)


class Target(Protocol):
    base_url: str


@dataclass
class Siege:
    """What happened while the attack was in flight."""

    answer: httpx.Response
    seconds: float
    health: list[float] = field(default_factory=list)  # seconds per /health answer
    registrations: list[float] = field(default_factory=list)  # seconds per OK RegisterCertificate


def attack(
    server: Target,
    send: Callable[[httpx.Client], httpx.Response],
    legitimate_headers: dict[str, str] | None = None,
    verify: ssl.SSLContext | bool = True,
) -> Siege:
    """Run ``send`` (the attack) in a thread; meanwhile call ``/health`` and register a certificate
    (with ``legitimate_headers``, over TLS with ``verify``), again and again until the attack is answered (at least once each).
    Every legitimate answer must be right: health 200, registration OK."""
    answers: list[httpx.Response] = []
    failure: list[BaseException] = []
    started = time.monotonic()
    timing: list[float] = []

    def run() -> None:
        try:
            with httpx.Client(timeout=120) as client:
                answers.append(send(client))
        except BaseException as exc:  # handed to the test thread
            failure.append(exc)
        timing.append(time.monotonic() - started)

    thread = threading.Thread(target=run)
    thread.start()
    health: list[float] = []
    registrations: list[float] = []
    with httpx.Client(base_url=server.base_url, timeout=60, verify=verify) as client:
        while thread.is_alive() or not health or not registrations:
            began = time.monotonic()
            response = client.get("/health")
            assert response.status_code == 200
            health.append(time.monotonic() - began)
            began = time.monotonic()
            response = client.post(REGISTER, content=legitimate_registration(), headers={**XML, **(legitimate_headers or {})})
            assert result(response.content)[0] == "OK", response.content[:500]
            registrations.append(time.monotonic() - began)
    thread.join()
    if failure:
        raise failure[0]
    return Siege(answers[0], timing[0], health, registrations)


def assert_bystanders_served(siege: Siege) -> None:
    """/health and the legitimate registrations were answered in their normal time."""
    assert max(siege.health) < HEALTH_SECONDS, f"/health took up to {max(siege.health):.2f} s during the attack"
    assert max(siege.registrations) < REGISTER_SECONDS, (
        f"a legitimate RegisterCertificate took up to {max(siege.registrations):.2f} s during the attack"
    )
