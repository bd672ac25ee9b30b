"""``intygstjanst caregiver erase`` killed with SIGKILL half-way, then run again: the second run
resumes after the last batch the first one committed and completes, with a receipt counting every
certificate once, and nothing of the care giver left in the rows (or the SQLite files)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from intygstjanst.lifecycle.export import MANIFEST, export
from intygstjanst.persistence import lifecycle
from intygstjanst.persistence.db import Database
from intygstjanst.registers.persons import FilePersonLookup

from intygstjanst.tests.lifecycle_support import file_bytes_mentioning, fresh_service, rows_mentioning
from intygstjanst.tests.listing import store
from intygstjanst.tests.support import REPO_DIR, require_shared

CARE_GIVER = "SE2321000016-CRASHVG"
UNIT = "SE2321000016-CRASHUNIT"
COUNT = 120
PATIENT = "193903222382"


def erase_command(url: str, manifest: Path) -> list[str]:
    return [
        sys.executable, "-m", "intygstjanst.cli", "caregiver", "erase", CARE_GIVER, "--manifest", str(manifest),
        "--batch", "1", "--operator", "crash-test", "--database-url", url,
    ]  # fmt: skip


def test_killed_mid_erase_then_resumed_completes(tmp_path: Path, persons: FilePersonLookup) -> None:
    require_shared()
    with fresh_service(tmp_path, persons) as fresh:
        ids = [f"crash-cert-{n:04d}" for n in range(COUNT)]
        for certificate_id in ids:
            store(fresh.db, certificate_id, patient=PATIENT, unit=UNIT, care_giver=CARE_GIVER, states=[("SENT", "FKASSA")])
        export(fresh.db, CARE_GIVER, tmp_path / "export")
        manifest = tmp_path / "export" / MANIFEST

        first = subprocess.Popen(erase_command(fresh.url, manifest), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_DIR)
        assert first.stderr is not None
        for line in first.stderr:
            if line.startswith(b"erased 10 certificates"):
                os.kill(first.pid, signal.SIGKILL)
                break
        first.wait()
        assert first.returncode == -signal.SIGKILL
        remaining = count(fresh.db)
        assert 0 < remaining < COUNT
        with fresh.db.read() as conn:
            [running] = lifecycle.receipts(conn, lifecycle.ERASURE)
        assert running.completed_at is None and running.counts["certificates"] == COUNT - remaining

        second = subprocess.run(erase_command(fresh.url, manifest), capture_output=True, cwd=REPO_DIR, timeout=600)
        assert second.returncode == 0, second.stderr.decode()
        receipt = json.loads(second.stdout)
        assert receipt["receipt"] == running.id and receipt["completed_at"] is not None
        assert receipt["counts"]["certificates"] == COUNT and receipt["counts"]["states"] == 2 * COUNT
        assert count(fresh.db) == 0
        needles = [*ids, PATIENT, UNIT]
        assert rows_mentioning(fresh.db, needles) == []
        if fresh.sqlite_file is not None:
            assert file_bytes_mentioning(fresh.sqlite_file, needles) == []


def count(db: Database) -> int:
    with db.read() as conn:
        return int(lifecycle.inventory(conn, CARE_GIVER)["certificates"])
