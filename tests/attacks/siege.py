"""Sending a hostile request to a real server while legitimate traffic goes on: the attack's answer,
how long it took, and whether ``/health`` and a legitimate RegisterCertificate were answered
meanwhile (each attack test module of the issue's table uses this)."""

from __future__ import annotations

import re
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from typing import Protocol
from intygstjanst.contracts.xml import SOAP11
from intygstjanst.tests.soap import REGISTER, envelope, result, sample
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


def supplementary_flood(count: int, certificate_id: str | None = None) -> bytes:
    """The example LISJP with ``count`` distinct supplementary answers (60,000: about 7 MB)."""
    answers = "".join(f'<svar id="{9001 + i}"><delsvar id="{9001 + i}.1">Svar {i}</delsvar></svar>' for i in range(count))
    return legitimate_registration(certificate_id).replace(b"</reg:intyg>", answers.encode() + b"</reg:intyg>", 1)


def repeated_question_9(count: int) -> bytes:
    """The official DOI sample with its question 9 repeated ``count`` more times (dates as early as
    the first instance's, so every instance passes the chronology check and is compared)."""
    body = envelope(sample("common__sos-doi-v1-doi.xml")).decode()
    first = re.search(r"<svar id=\"9\">.*?</svar>", body, re.DOTALL)
    assert first is not None
    template = first.group(0)
    extra = "".join(re.sub(r"<instans>\d+</instans>", f"<instans>{i}</instans>", template) for i in range(4, 4 + count))
    return body.replace(template, template + extra, 1).encode()


def namespace_flood(count: int) -> bytes:
    declarations = " ".join(f'xmlns:n{i}="u:{i}"' for i in range(count))
    return f'<soap:Envelope xmlns:soap="{SOAP11}" {declarations}><soap:Body><x/></soap:Body></soap:Envelope>'.encode()


def attribute_flood(count: int) -> bytes:
    attributes = " ".join(f'a{i}="{i}"' for i in range(count))
    return f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><x {attributes}/></soap:Body></soap:Envelope>'.encode()


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
