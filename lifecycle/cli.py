"""``intygstjanst caregiver inventory|export|erase``, ``intygstjanst certificate destroy`` and
``intygstjanst purge test-certificates``: the data lifecycle for operators."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from intygstjanst.lifecycle import erase as erasing
from intygstjanst.lifecycle.export import DEFAULT_BATCH, ExportError, export
from intygstjanst.persistence import lifecycle
from intygstjanst.persistence.db import Database
from intygstjanst.settings import STORAGE, Settings, add_flags, command_group
from intygstjanst.statistics.store import Sources

def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False), flush=True)


Action = Callable[[argparse.Namespace, Settings, Database], Any]


def _running(action: Action) -> Callable[[argparse.Namespace, Settings], int]:
    """A command running ``action`` on the database and printing what it returns as JSON."""

    def command(args: argparse.Namespace, settings: Settings) -> int:
        with Database.configured(settings) as database:
            try:
                _print(action(args, settings, database))
                return 0
            except (erasing.Refused, ExportError) as exc:
                print(f"intygstjanst: {exc}", file=sys.stderr)
                return 1

    return command


def _inventory(args: argparse.Namespace, settings: Settings, db: Database) -> dict[str, Any]:
    with db.read() as conn:
        return lifecycle.inventory(conn, args.care_giver)


def _export(args: argparse.Namespace, settings: Settings, db: Database) -> dict[str, Any]:
    manifest = export(db, args.care_giver, args.out, batch=args.batch, progress=_progress("exported"))
    summary = {key: manifest[key] for key in ("care_giver", "counts", "export_hash", "completed_at")}
    return summary | {"manifest": str(args.out / "manifest.json")}


def _erase(args: argparse.Namespace, settings: Settings, db: Database) -> dict[str, Any]:
    receipt = erasing.erase(db, args.care_giver, args.manifest, args.operator, batch=args.batch, progress=_progress("erased"))
    return receipt.as_json()


def _destroy(args: argparse.Namespace, settings: Settings, db: Database) -> dict[str, Any]:
    return erasing.destroy(db, args.id, args.decision, args.operator, Sources.from_settings(settings)).as_json()


def _purge(args: argparse.Namespace, settings: Settings, db: Database) -> dict[str, Any]:
    before = dt.datetime.combine(args.before, dt.time())
    receipt = erasing.purge_test_certificates(db, before, args.operator, Sources.from_settings(settings))
    return receipt.as_json() if receipt is not None else {"kind": lifecycle.PURGE, "counts": {}}


def _progress(verb: str) -> Callable[[int], None]:
    def report(done: int) -> None:
        print(f"{verb} {done} certificates", file=sys.stderr, flush=True)

    return report


# What removing a certificate's statistics rows reads (statistics.store.Sources).
_STATISTICS_FLAGS = (STORAGE, "statistics_key_file", "certificate_types_dir", "care_units_file")


def _operator(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--operator", default=getpass.getuser(), help="who runs it, for the receipt (default: the login name)")


def _batch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, metavar="N", help=f"certificates per batch (default {DEFAULT_BATCH})")


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    certificate_commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """``caregiver`` and ``purge``, and ``destroy`` under the ``certificate`` command."""
    commands = command_group(subparsers, "caregiver", "a care giver's data: inventory, export, erasure")
    inventory = commands.add_parser("inventory", help="counts of what the service holds of the care giver (JSON)")
    export_ = commands.add_parser(
        "export",
        help="write every real certificate of the care giver, with its messages, states, relations and receivers, to a directory",
        description="Writes the export into DIR with a manifest (SHA-256 and size per item, counts, the export hash). "
        "Running it again on the same directory continues an unfinished export.",
    )
    export_.add_argument("--out", type=Path, required=True, metavar="DIR", help="the export directory (new, or an unfinished export)")
    _batch(export_)
    erase = commands.add_parser(
        "erase",
        help="remove everything of the care giver, given the manifest of its complete export",
        description="Checks the manifest against the database (a wrong or stale manifest is refused) and removes the "
        "care giver's data in batches, leaving a receipt. Running it again with the same manifest resumes.",
    )
    erase.add_argument("--manifest", type=Path, required=True, metavar="FILE", help="manifest.json of the export")
    _operator(erase)
    _batch(erase)
    for parser, command in ((inventory, _inventory), (export_, _export), (erase, _erase)):
        parser.add_argument("care_giver", metavar="CARE_GIVER", help="the care giver's HSA-id")
        add_flags(parser, STORAGE)
        parser.set_defaults(command=_running(command))

    destroy = certificate_commands.add_parser(
        "destroy",
        help="remove one certificate and everything derived from it, after a decision to destroy the journal",
    )
    destroy.add_argument("id", metavar="ID", help="the certificate id")
    destroy.add_argument("--decision", required=True, metavar="REF", help="the reference of the decision (kept on the receipt)")
    _operator(destroy)
    add_flags(destroy, *_STATISTICS_FLAGS)
    destroy.set_defaults(command=_running(_destroy))

    purges = command_group(subparsers, "purge", "remove data that must not stay")
    tests = purges.add_parser("test-certificates", help="remove test and validation certificates received before a date")
    tests.add_argument("--before", type=dt.date.fromisoformat, required=True, metavar="DATE", help="YYYY-MM-DD (UTC midnight)")
    _operator(tests)
    add_flags(tests, *_STATISTICS_FLAGS)
    tests.set_defaults(command=_running(_purge))
