"""Secret keys kept in files beside the data (the statistics' and the access log's keyed hashes):
read, or made the first time."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from intygstjanst.settings import SettingsError


def read_or_make_key(path: Path) -> bytes:
    """The key in ``path``, made (random, 256 bits, readable only by the owner) when missing. Every
    process using the same data must use the same key, so a second process that finds the file
    made meanwhile uses that one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it meanwhile: use theirs
        else:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_hex(32) + "\n")
    return path.read_text(encoding="ascii").strip().encode("ascii")


def read_key(path: Path, setting: str) -> bytes:
    """The key in ``path``, which must exist: a command that only reads what was hashed with it
    must not make a new one (it would find nothing, and say nothing)."""
    if not path.exists():
        raise SettingsError(f"{setting}: {path} does not exist; use the key file the server wrote with")
    return path.read_text(encoding="ascii").strip().encode("ascii")
