"""Helpers shared by the test suites.

The official RIV-TA files under ``../shared/riv-contracts`` are test oracles only: tests read them
from there (never from a copy inside the repository) and skip with a clear message when the folder
is absent, e.g. in a bare checkout. In CI (``CI=true``) a missing outside part fails the test
instead: there every suite must run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest
from lxml import etree

REPO_DIR = Path(__file__).resolve().parents[1]

SOAP11_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"

# How long a server process started by a test may take to answer: a start (imports, schemas,
# migrations) takes seconds on an idle machine and over 30 s on a loaded one. Only a hang hits it.
START_SECONDS = 120

# Samples come from outside the project: never resolve entities or touch the network for them.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def shared_dir() -> Path:
    """``<repo>/../shared/riv-contracts``: the official schemas, Schematron files and samples."""
    return (REPO_DIR / ".." / "shared" / "riv-contracts").resolve()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(reason: str) -> NoReturn:
    """Skip the calling test (or module, when called at import) for a part that is not on this
    machine; with ``CI=true`` fail it instead, so that CI never passes with a suite left out."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing part fails the run instead of skipping it)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def postgresql_only(is_sqlite: bool) -> None:
    """Skip the calling test on SQLite: it runs when the suite runs on PostgreSQL
    (``INTYG_TEST_DATABASE_URL``), as CI's second pass does. Not a missing part, so not a failure in CI."""
    if is_sqlite:
        pytest.skip("PostgreSQL only: runs when the suite does (INTYG_TEST_DATABASE_URL, as CI sets it)")


def sqlite_only(is_sqlite: bool) -> None:
    """Skip the calling test on PostgreSQL: it is about SQLite's own behaviour and runs in CI's
    first pass. Not a missing part, so not a failure in CI."""
    if not is_sqlite:
        pytest.skip("SQLite only: runs when the suite runs on the embedded default, as CI's first pass does")


def require_shared() -> Path:
    """Return :func:`shared_dir`, or skip the calling test (fail it in CI) when it does not exist."""
    path = shared_dir()
    if not path.is_dir():
        unavailable(f"../shared/riv-contracts not found: {path}")
    return path


def payload_of(path: Path | str) -> etree._Element:
    """The payload element of a sample file.

    A sample is either the bare payload element or a whole SOAP 1.1 envelope; for an envelope the
    payload is the first element child of ``Body``.
    """
    root = etree.parse(str(path), _PARSER).getroot()
    if root.tag != f"{{{SOAP11_ENV_NS}}}Envelope":
        return root
    body = root.find(f"{{{SOAP11_ENV_NS}}}Body")
    if body is None:
        raise ValueError(f"{path}: SOAP 1.1 Envelope has no Body element")
    for child in body:
        if isinstance(child.tag, str):
            return child
    raise ValueError(f"{path}: SOAP 1.1 Body has no payload element")
