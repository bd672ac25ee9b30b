"""``intygstjanst db upgrade``: the database schema."""

from __future__ import annotations

import argparse

from intygstjanst.persistence.db import Database, safe_url
from intygstjanst.settings import STORAGE, Settings, add_flags


def _upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    database = Database.open(settings.effective_database_url, settings.database_setting)
    try:
        database.upgrade()
    finally:
        database.dispose()
    print(f"database {safe_url(settings.effective_database_url)} is at the newest schema")
    return 0


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = subparsers.add_parser("db", help="database maintenance")
    commands = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    upgrade = commands.add_parser("upgrade", help="apply the migrations up to the newest")
    add_flags(upgrade, STORAGE)
    upgrade.set_defaults(command=_upgrade)
