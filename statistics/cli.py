"""The ``intygstjanst statistics`` commands of the built-in statistics."""

from __future__ import annotations

import argparse
import time

from intygstjanst.persistence.db import Database
from intygstjanst.registers.care_units import CareUnitsError
from intygstjanst.settings import CERTIFICATES, REGISTERS, STORAGE, Settings, SettingsError, add_flags
from intygstjanst.statistics.rebuild import rebuild
from intygstjanst.statistics.store import Sources


def sources(settings: Settings) -> Sources:
    try:
        return Sources.from_settings(settings)
    except CareUnitsError as exc:
        raise SettingsError(f"care_units_file: {exc}") from exc


def _rebuild_command(_args: argparse.Namespace, settings: Settings) -> int:
    parts = sources(settings)
    database = Database.open(settings.effective_database_url, settings.database_setting)
    try:
        database.require_newest_schema(settings.database_setting)
        started = time.perf_counter()
        done = rebuild(database, parts)
    finally:
        database.dispose()
    print(
        f"statistics rebuilt in {time.perf_counter() - started:.1f} s: {done.certificates:,} certificates, "
        f"{done.revoked:,} revoked, {done.cases:,} sick-leave cases, {done.messages:,} messages"
    )
    return 0


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``statistics`` command group."""
    group = subparsers.add_parser("statistics", help="the built-in de-identified statistics")
    commands = group.add_subparsers(dest="statistics_command", metavar="COMMAND", required=True)
    rebuild_parser = commands.add_parser(
        "rebuild",
        help="recompute the statistics from the stored certificates",
        description="Empties the de-identified statistics store and computes it again from the stored certificates, "
        "their sick-leave data and the messages to care, in one transaction (the reports show the old figures until "
        "it commits). Uses the statistics key, the care-unit register (counties) and the certificate types.",
    )
    add_flags(rebuild_parser, STORAGE, REGISTERS, CERTIFICATES)
    rebuild_parser.set_defaults(command=_rebuild_command)
