"""``intygstjanst sickleave rebuild`` and ``check``: the sick-leave data kept at write time (each
row's case bounds and rendered answer, see ``persistence.sickleave``) recomputed from the rows
themselves, written back or compared."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass, field

from intygstjanst.certificates.sickleave_answer import intygs_data
from intygstjanst.persistence import sickleave as repo
from intygstjanst.persistence.db import Database
from intygstjanst.settings import STORAGE, Settings, add_flags

BATCH = 5_000


@dataclass
class Findings:
    rows: int = 0
    cases: list[repo.CaseDifference] = field(default_factory=list)  # bounds that differ
    fragments: list[str] = field(default_factory=list)  # ids of rows whose answer differs or is missing

    @property
    def clean(self) -> bool:
        return not self.cases and not self.fragments


def check(database: Database) -> Findings:
    """What differs between stored and recomputed data; writes nothing."""
    findings = Findings()
    with database.read() as conn:
        findings.cases = repo.case_differences(conn)
    for rendered in _rendered_batches(database, findings):
        findings.fragments.extend(i for i, (stored, fresh) in rendered.items() if stored != fresh)
    return findings


def rebuild(database: Database) -> Findings:
    """Recompute and store everything; the findings are what was different (and is repaired)."""
    findings = Findings()
    with database.transaction() as conn:
        findings.cases = repo.case_differences(conn)
        repo.rebuild_cases(conn)
    for rendered in _rendered_batches(database, findings):
        changed = {i: fresh for i, (stored, fresh) in rendered.items() if stored != fresh}
        findings.fragments.extend(changed)
        with database.transaction() as conn:
            repo.set_fragments(conn, changed)
    return findings


def _rendered_batches(database: Database, findings: Findings) -> Iterator[dict[str, tuple[str | None, str]]]:
    """Every row's stored and freshly rendered answer (certificate id -> (stored, rendered)), one
    batch at a time, each batch read in a transaction of its own."""
    after = ""
    while True:
        with database.read() as conn:
            batch = repo.rows_after(conn, after, BATCH)
        if not batch:
            return
        findings.rows += len(batch)
        after = batch[-1][0].certificate_id
        yield {row.certificate_id: (stored, intygs_data(row)) for row, stored in batch}


def _report(findings: Findings, verb: str) -> None:
    print(f"{findings.rows:,} sick-leave rows: {len(findings.cases):,} with case bounds {verb}, "
          f"{len(findings.fragments):,} with their answer {verb}")
    for difference in findings.cases[:_SHOWN]:
        print(f"  case bounds of {difference.certificate_id}: stored {_span(difference.stored)}, recomputed {_span(difference.recomputed)}")
    for certificate_id in findings.fragments[:_SHOWN]:
        print(f"  answer of {certificate_id}: missing or not as its row renders")


_SHOWN = 20


def _span(bounds: tuple[object, object]) -> str:
    return "none" if bounds == (None, None) else f"{bounds[0]}..{bounds[1]}"


def _check_command(_args: argparse.Namespace, settings: Settings) -> int:
    database = Database.open(settings.effective_database_url, settings.database_setting)
    try:
        findings = check(database)
    finally:
        database.dispose()
    _report(findings, "differing from recomputed")
    return 0 if findings.clean else 1


def _rebuild_command(_args: argparse.Namespace, settings: Settings) -> int:
    database = Database.open(settings.effective_database_url, settings.database_setting)
    try:
        findings = rebuild(database)
    finally:
        database.dispose()
    _report(findings, "rewritten")
    return 0


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``sickleave`` command group."""
    group = subparsers.add_parser("sickleave", help="the sick-leave cases kept for rehab coordination")
    commands = group.add_subparsers(dest="sickleave_command", metavar="COMMAND", required=True)
    check_parser = commands.add_parser(
        "check",
        help="compare the stored sick-leave cases with recomputed ones",
        description="Recomputes every sick-leave row's case bounds and answer from the rows and reports those that "
        "differ from the stored ones. Exit status 1 when any does; nothing is written.",
    )
    add_flags(check_parser, STORAGE)
    check_parser.set_defaults(command=_check_command)
    rebuild_parser = commands.add_parser(
        "rebuild",
        help="recompute and store every sick-leave case",
        description="Recomputes and stores every sick-leave row's case bounds and answer (after migration 0005, or "
        "whenever 'sickleave check' reports a difference). Safe while the service runs.",
    )
    add_flags(rebuild_parser, STORAGE)
    rebuild_parser.set_defaults(command=_rebuild_command)
