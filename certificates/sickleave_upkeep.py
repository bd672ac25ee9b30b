"""The ``intygstjanst sickleave`` commands. ``rebuild`` and ``check``: the sick-leave data kept at
write time (each row's case bounds and rendered answer, see ``persistence.sickleave``) recomputed
from the rows themselves, written back or compared. ``list``: the operator's JSON view of a unit's
cases (``sickleave_view``)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from zoneinfo import ZoneInfo
from dataclasses import dataclass, field

from intygstjanst.certificates.sickleave_answer import intygs_data
from intygstjanst.certificates.sickleave_view import Filters, RegisterUnavailable, Visibility, view
from intygstjanst.persistence import sickleave as repo
from intygstjanst.persistence.db import Database
from intygstjanst.settings import STORAGE, Settings, SettingsError, add_flags

# The registers the view needs, built from the settings by the top-level CLI (this layer may not
# import them): the lists' scope of a unit (itself and its sub-units), and who has a protected
# identity. Raises SettingsError for a register file that cannot be used.
Registers = Callable[[Settings], tuple[Callable[[str], Sequence[str]], Visibility]]

BATCH = 5_000


@dataclass
class Findings:
    rows: int = 0
    cases: list[repo.CaseDifference] = field(default_factory=list)  # bounds that differ
    fragments: list[str] = field(default_factory=list)  # ids of rows whose answer differs or is missing
    stored_cases: list[tuple[str, str]] = field(default_factory=list)  # (patient, care giver) whose stored cases differ

    @property
    def clean(self) -> bool:
        return not self.cases and not self.fragments and not self.stored_cases


def check(database: Database) -> Findings:
    """What differs between stored and recomputed data; writes nothing."""
    findings = Findings()
    with database.read() as conn:
        findings.cases = repo.case_differences(conn)
    for rendered in _rendered_batches(database, findings):
        findings.fragments.extend(i for i, (stored, fresh) in rendered.items() if stored != fresh)
    with database.read() as conn:
        findings.stored_cases = repo.case_row_differences(conn)
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
    # Last: the stored cases are made of the rows' bounds and fragments.
    with database.transaction() as conn:
        findings.stored_cases = repo.rebuild_case_rows(conn)
    return findings


def _rendered_batches(database: Database, findings: Findings) -> Iterator[dict[str, tuple[bytes | None, bytes]]]:
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
          f"{len(findings.fragments):,} with their answer {verb}; "
          f"{len(findings.stored_cases):,} patients at a care giver with their stored cases {verb}")
    for difference in findings.cases[:_SHOWN]:
        print(f"  case bounds of {difference.certificate_id}: stored {_span(difference.stored)}, recomputed {_span(difference.recomputed)}")
    for certificate_id in findings.fragments[:_SHOWN]:
        print(f"  answer of {certificate_id}: missing or not as its row renders")
    for patient, care_giver in findings.stored_cases[:_SHOWN]:
        print(f"  stored cases of a patient at {care_giver}: not as the rows make them")


_SHOWN = 20


def _span(bounds: tuple[object, object]) -> str:
    return "none" if bounds == (None, None) else f"{bounds[0]}..{bounds[1]}"


def _check_command(_args: argparse.Namespace, settings: Settings) -> int:
    with Database.configured(settings) as database:
        findings = check(database)
    _report(findings, "differing from recomputed")
    return 0 if findings.clean else 1


def _rebuild_command(_args: argparse.Namespace, settings: Settings) -> int:
    with Database.configured(settings) as database:
        findings = rebuild(database)
    _report(findings, "rewritten")
    return 0


def _list_command(args: argparse.Namespace, settings: Settings, registers: Registers) -> int:
    try:
        filters = Filters(
            diagnoses=tuple(args.diagnosis),
            chapters=tuple(Filters.chapter(c) for c in args.chapter),
            min_age=args.min_age,
            max_age=args.max_age,
            min_days=args.min_days,
            max_days=args.max_days,
            degrees=frozenset(args.degree),
            doctors=frozenset(args.doctor),
            name=args.name,
        )
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    scope, protected_among = registers(settings)
    active_date = args.date or dt.datetime.now(SWEDEN).date()
    try:
        with Database.configured(settings) as database, database.read() as conn:
            cases = view(conn, scope(args.unit), active_date, args.gap, filters, protected_among, args.recently_ended)
    except RegisterUnavailable as exc:
        print(f"intygstjanst sickleave list: no list, since protected identities cannot be respected: {exc}", file=sys.stderr)
        return 1
    json.dump({"unit": args.unit, "date": active_date.isoformat(), "max_gap": args.gap, "cases": cases},
              sys.stdout, ensure_ascii=False, indent=1 if args.pretty else None)
    print()
    return 0


SWEDEN = ZoneInfo("Europe/Stockholm")


def _days(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: must be 0 or more")
    return value


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], registers: Registers) -> None:
    """The ``sickleave`` command group."""
    group = subparsers.add_parser("sickleave", help="the sick-leave cases kept for rehab coordination")
    commands = group.add_subparsers(dest="sickleave_command", metavar="COMMAND", required=True)
    listing = commands.add_parser(
        "list",
        help="a unit's sick-leave cases as JSON, filtered",
        description="The cases of the certificates issued at UNIT and its sub-units (care_units_file) that are active "
        "on the date (default: today in Sweden), merged with --gap days, as one JSON document: per case the patient "
        "(age on the date), start, end, length, certificates, diagnosis, degrees, doctor, unit and the patient's "
        "unanswered questions from Försäkringskassan with the reminders about them. Every filter given must hold. "
        "Patients with a protected identity (persons_file) are left out, unless --doctor names the doctors: then "
        "they are listed without their name, and --name never finds them.",
    )
    listing.add_argument("unit", metavar="UNIT", help="HSA-id of the care unit")
    listing.add_argument("--date", type=dt.date.fromisoformat, help="active on this date (YYYY-MM-DD)")
    listing.add_argument("--gap", type=_days, default=5, help="days allowed between certificates of one case (default 5)")
    listing.add_argument("--recently-ended", type=_days, default=0, metavar="DAYS", help="also cases ended at most DAYS before the date")
    listing.add_argument("--diagnosis", action="append", default=[], metavar="CODE", help="diagnosis code; matches its sub-codes too (repeatable)")
    listing.add_argument("--chapter", action="append", default=[], metavar="A00-B99", help="range of diagnosis codes (repeatable)")
    listing.add_argument("--min-age", type=_days, metavar="YEARS")
    listing.add_argument("--max-age", type=_days, metavar="YEARS")
    listing.add_argument("--min-days", type=_days, metavar="DAYS", help="shortest case length")
    listing.add_argument("--max-days", type=_days, metavar="DAYS", help="longest case length")
    listing.add_argument("--degree", type=int, action="append", default=[], metavar="PERCENT", help="current degree (repeatable)")
    listing.add_argument("--doctor", action="append", default=[], metavar="HSA-ID", help="doctor of the active certificate (repeatable)")
    listing.add_argument("--name", help="part of the patient's name (never matches a protected identity)")
    listing.add_argument("--pretty", action="store_true", help="indented JSON")
    add_flags(listing, STORAGE, "care_units_file", "persons_file", "validation_persons_file")
    listing.set_defaults(command=lambda args, settings: _list_command(args, settings, registers))
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
        description="Recomputes and stores every sick-leave row's case bounds and answer (after migration 0006, or "
        "whenever 'sickleave check' reports a difference). Safe while the service runs.",
    )
    add_flags(rebuild_parser, STORAGE)
    rebuild_parser.set_defaults(command=_rebuild_command)
