"""Exceptions raised by the TLS layer.

They are separate from the modules that raise them so that callers (the CLI, the app's start-up code,
the caller-identity code) can catch them without importing uvicorn, zeep or the PKI tooling.
"""

from __future__ import annotations

from pathlib import Path


class TlsConfigError(Exception):
    """A TLS file given in the configuration cannot be used.

    Raised while building an SSL context, i.e. at start-up, so that a broken deployment fails before it
    accepts a single connection instead of refusing every handshake later. The message names the role
    of the file, its path and the problem.
    """

    def __init__(self, role: str, path: str | Path, problem: str) -> None:
        self.role = role
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{role} {path}: {problem}")


class PeerIdentityError(ValueError):
    """A client certificate was presented but carries no usable HSA-id."""


class PkiError(Exception):
    """The development PKI tooling cannot do what was asked (existing CA, bad HSA-id, foreign cert)."""


class AuthorizationFileError(Exception):
    """The call-authorization file cannot be used; the message names the file, the entry and the rule.

    Raised at start-up (the server does not start) and on reload (the server keeps its previous table).
    """
