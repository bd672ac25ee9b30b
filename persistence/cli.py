"""``intygstjanst db upgrade``: the database schema; ``intygstjanst access-log verify|extract|prune|index``:
the access log (persistence/access_log.py)."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from intygstjanst.persistence.access_log import AccessLog, ExtractEntry, key_file, retention_cutoff
from intygstjanst.persistence.db import Database, safe_url, utc_now
from intygstjanst.persistence.keys import read_key
from intygstjanst.settings import ACCESS_LOG, STORAGE, Settings, SettingsError, add_flags, command_group

# The patient's extract speaks the patient's time.
SWEDEN = ZoneInfo("Europe/Stockholm")


def _upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    with Database.configured(settings, newest_schema=False) as database:
        database.upgrade()
    print(f"database {safe_url(settings.effective_database_url)} is at the newest schema")
    return 0


def _with_access_log(
    run: Callable[[argparse.Namespace, Settings, AccessLog], int], with_key: bool = False
) -> Callable[[argparse.Namespace, Settings], int]:
    """``run`` on the access log of the configured database; ``with_key``: with the existing key
    (only the extract needs it)."""

    def command(args: argparse.Namespace, settings: Settings) -> int:
        key = read_key(key_file(settings), "access_log_key_file") if with_key else None
        with Database.configured(settings) as database:
            return run(args, settings, AccessLog(database, key))

    return command


def _verify(_args: argparse.Namespace, _settings: Settings, log: AccessLog) -> int:
    verdict = log.verify()
    if verdict.problem is not None:
        print(f"access log BROKEN: {verdict.problem} ({verdict.entries} entries checked before it)")
        return 1
    # The head's hash, kept outside the database, later shows that the chain was not rewritten.
    print(f"access log intact: {verdict.entries} entries; head entry {verdict.head_seq}, hash {verdict.head_hash}")
    return 0


def _extract(args: argparse.Namespace, _settings: Settings, log: AccessLog) -> int:
    # The entries are keyed by the 12 digits the contracts' handlers read (registers.persons).
    patient = args.patient.strip().replace("-", "")
    if len(patient) != 12 or not patient.isdigit():
        raise SettingsError(f"--patient: {args.patient!r} is not a personnummer of 12 digits (YYYYMMDD-NNNN)")
    start = _day(args.start)
    end = _day(args.end, after=True)  # --to is inclusive
    entries = log.extract(patient, start, end)
    span = f" from {args.start or 'the first entry'} to {args.end or 'today'}"
    print(f"Access log extract for the patient{span} (Swedish time): {len(entries)} entries")
    for entry in entries:
        print(_extract_line(entry))
    return 0


def _extract_line(entry: ExtractEntry) -> str:
    asker = entry.consumer or "(no client certificate)"
    if entry.original_consumer and entry.original_consumer != entry.consumer:
        asker += f" on behalf of {entry.original_consumer}"
    return (
        f"{entry.at.replace(tzinfo=dt.UTC).astimezone(SWEDEN).isoformat(timespec='seconds')}  {asker}  asked through {entry.contract} {entry.version}"
        f" (logical address {entry.logical_address or '-'}): {entry.certificates} certificate(s)"
        f" of care giver {entry.care_giver_id}, care unit {entry.care_unit_id}"
    )


def _prune(_args: argparse.Namespace, settings: Settings, log: AccessLog) -> int:
    before = retention_cutoff(utc_now(), settings.access_log_retention_years)
    if before is None:
        print("access log: access_log_retention_years is 0, every entry is kept")
        return 0
    removed = log.prune(before)
    print(f"access log: {removed} entries written before {before.isoformat(timespec='seconds')}Z removed")
    return 0


def _index(_args: argparse.Namespace, _settings: Settings, log: AccessLog) -> int:
    indexed = log.index_pending()
    print(f"access log: the patient rows held in {indexed} entries indexed; none is pending")
    return 0


def _day(text: str | None, after: bool = False) -> dt.datetime | None:
    """The start of the day in Sweden (``after``: of the next day), as the naive UTC the entries
    are stored in."""
    if text is None:
        return None
    try:
        day = dt.date.fromisoformat(text) + dt.timedelta(days=1 if after else 0)
    except ValueError:
        raise SettingsError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    return dt.datetime.combine(day, dt.time(), tzinfo=SWEDEN).astimezone(dt.UTC).replace(tzinfo=None)


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands = command_group(subparsers, "db", "database maintenance")
    upgrade = commands.add_parser("upgrade", help="apply the migrations up to the newest")
    add_flags(upgrade, STORAGE)
    upgrade.set_defaults(command=_upgrade)

    log_commands = command_group(subparsers, "access-log", "the log of who was disclosed a patient's data")
    verify = log_commands.add_parser("verify", help="check the hash chain; exit status 1 naming the first bad entry")
    extract = log_commands.add_parser("extract", help="the patient's extract: who was disclosed what, when, through which contract")
    extract.add_argument("--patient", required=True, metavar="PNR", help="the patient's personnummer or samordningsnummer, 12 digits (YYYYMMDD-NNNN)")
    extract.add_argument("--from", dest="start", metavar="DATE", help="first day (in Sweden) of the extract, YYYY-MM-DD")
    extract.add_argument("--to", dest="end", metavar="DATE", help="last day (in Sweden) of the extract, YYYY-MM-DD")
    prune = log_commands.add_parser("prune", help="remove the entries older than access_log_retention_years, keeping the chain verifiable")
    index = log_commands.add_parser("index", help="copy the patient rows held in large entries into the patient index (the worker does it every few seconds)")
    for parser, run in ((verify, _verify), (extract, _extract), (prune, _prune), (index, _index)):
        add_flags(parser, STORAGE, ACCESS_LOG)
        parser.set_defaults(command=_with_access_log(run, with_key=parser is extract))
