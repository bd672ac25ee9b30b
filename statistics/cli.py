"""The ``intygstjanst statistics`` commands: the built-in statistics and the statistics feed."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import time
from typing import Any

from lxml import etree

from intygstjanst.persistence.db import Database
from intygstjanst.registers.care_units import CareUnitsError
from intygstjanst.settings import CERTIFICATES, REGISTERS, STATISTICS, STORAGE, Settings, SettingsError, add_flags, command_group
from intygstjanst.statistics import amqp, store
from intygstjanst.statistics.consumer import Consumer, Handler
from intygstjanst.statistics.events import EventError, StatisticsEvent
from intygstjanst.statistics.rebuild import rebuild
from intygstjanst.statistics.store import Sources

log = logging.getLogger("intygstjanst.statistics.consumer")


def sources(settings: Settings) -> Sources:
    try:
        return Sources.from_settings(settings)
    except CareUnitsError as exc:
        raise SettingsError(f"care_units_file: {exc}") from exc


def _rebuild_command(_args: argparse.Namespace, settings: Settings) -> int:
    parts = sources(settings)
    with Database.configured(settings) as database:
        started = time.perf_counter()
        done = rebuild(database, parts)
    print(
        f"statistics rebuilt in {time.perf_counter() - started:.1f} s: {done.certificates:,} certificates, "
        f"{done.revoked:,} revoked, {done.cases:,} sick-leave cases, {done.messages:,} messages"
    )
    return 0


def _print_event(event: StatisticsEvent) -> None:
    """One JSON line per event: its headers and the size of its body (the body holds personal data)."""
    print(json.dumps({**event.headers(), "body_bytes": len(event.body or b"")}, ensure_ascii=False), flush=True)


def _ingester(database: Database, parts: Sources) -> Handler:
    def ingest(event: StatisticsEvent) -> None:
        try:
            store.ingest(database, event, parts)
        except etree.XMLSyntaxError as exc:  # never readable: the consumer rejects it
            raise EventError(f"the body of the {event.action} event of {event.certificate_id} is not XML: {exc}") from None

    return ingest


def _consume_command(args: argparse.Namespace, settings: Settings) -> int:
    destination = amqp.Destination.from_settings(settings)
    database = None
    handle: Handler = _print_event
    if not args.print:
        parts = sources(settings)
        database = Database.open(settings.effective_database_url, settings.database_setting)
        database.require_newest_schema(settings.database_setting)
        handle = _ingester(database, parts)
    consumer = Consumer(destination, handle)

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("%s received, stopping after the event being handled", signal.Signals(signum).name)
        consumer.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stats = consumer.run(until_idle=args.until_idle)
    finally:
        if database is not None:
            database.dispose()
    log.info(
        "consumed %d events from %s (%d repeats skipped, %d rejected, %d failed attempts)",
        stats.handled, destination.where, stats.repeats, stats.rejected, stats.failures,
    )
    return 0


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``statistics`` command group."""
    commands = command_group(subparsers, "statistics", "the built-in de-identified statistics")
    rebuild_parser = commands.add_parser(
        "rebuild",
        help="recompute the statistics from the stored certificates",
        description="Empties the de-identified statistics store and computes it again from the stored certificates, "
        "their sick-leave data and the messages to care, in one transaction (the reports show the old figures until "
        "it commits). Uses the statistics key, the care-unit register (counties) and the certificate types.",
    )
    add_flags(rebuild_parser, STORAGE, REGISTERS, CERTIFICATES)
    rebuild_parser.set_defaults(command=_rebuild_command)
    consume = commands.add_parser(
        "consume",
        help="read the statistics feed from the broker into the built-in statistics",
        description="Reads the statistics events from the broker's queue and applies each to the de-identified "
        "statistics store; a message is acknowledged only after its event was stored. Can run as a process of its own.",
    )
    add_flags(consume, STORAGE, REGISTERS, CERTIFICATES, STATISTICS, leave_out=["statistics_feed"])
    consume.add_argument("--print", action="store_true", help="print each event's headers as a JSON line instead of storing it")
    consume.add_argument("--until-idle", action="store_true", help="stop once the queue is empty instead of waiting for more")
    consume.set_defaults(command=_consume_command)
