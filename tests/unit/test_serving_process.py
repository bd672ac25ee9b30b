"""A serving process settles once its app is built (app.freeze_start_up): start-up objects leave
the garbage collector's passes and, with glibc, freed memory is kept for the next large answer.
Run in a child process, as it changes the whole process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_freeze_start_up_freezes_and_keeps_freed_memory_with_glibc() -> None:
    code = (
        "import gc, platform\n"
        "from intygstjanst import app\n"
        "app.freeze_start_up()\n"
        "print(gc.get_freeze_count() > 0, platform.libc_ver()[0] == 'glibc', app._keep_freed_memory())\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.split()
    frozen, glibc, kept = (word == "True" for word in out)
    assert frozen
    # Where the C library is not glibc nothing is changed, and the function says so.
    assert kept is glibc
