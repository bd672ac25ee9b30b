"""``intygstjanst worker`` delivers the outbox; ``intygstjanst outbox ...`` inspects and repairs it."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import re
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from intygstjanst.certificates.certtypes import CertificateTypes
from intygstjanst.delivery.deliverer import warn_about_unreachable
from intygstjanst.delivery.transport import OutboundTransport
from intygstjanst.delivery.worker import Worker
from intygstjanst.persistence import outbox
from intygstjanst.persistence.db import Database, utc_now
from intygstjanst.registers.recipients import Recipients
from intygstjanst.settings import DELIVERY, STATISTICS, STORAGE, Settings, SettingsError, add_flags, command_group

log = logging.getLogger("intygstjanst.delivery.worker")


@dataclass(frozen=True)
class WorkerParts:
    """What ``intygstjanst worker`` builds from the settings: only the parts a worker needs."""

    settings: Settings
    db: Database
    recipients: Recipients
    transport: OutboundTransport
    clock: Callable[[], dt.datetime] = utc_now

    @classmethod
    def build(cls, settings: Settings, db: Database) -> WorkerParts:
        recipients = Recipients.load(settings.recipients_file, CertificateTypes.configured(settings))
        return cls(settings, db, recipients, OutboundTransport.from_settings(settings))


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from intygstjanst.tls.errors import TlsConfigError

    database = Database.open(settings.effective_database_url, settings.database_setting)
    try:
        parts = WorkerParts.build(settings, database)  # a broken registry is a SettingsError
    except TlsConfigError as exc:  # outbound TLS files
        raise SettingsError(str(exc)) from None
    # After the files: a broken configuration is the first thing to hear about.
    database.require_newest_schema(settings.database_setting)
    warn_about_unreachable(parts.recipients, parts.transport.base_url)
    worker = Worker(parts, concurrency=args.concurrency)

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("%s: %s received, finishing the messages in flight", worker.name, signal.Signals(signum).name)
        worker.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"{worker.name}: delivering the outbox with {args.concurrency} senders", flush=True)
    stats = worker.run(once=args.once)
    database.dispose()
    print(f"{worker.name}: stopped; delivered {stats.delivered}, retries {stats.retried}, dead {stats.dead}", flush=True)
    return 0


_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> dt.timedelta:
    """``90s``, ``30m``, ``12h``, ``7d``, ``2w``."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 12h, 7d or 2w")
    return dt.timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def _status(args: argparse.Namespace, settings: Settings) -> int:
    now = utc_now()
    with Database.configured(settings) as db, db.read() as conn:
        queues = outbox.queues(conn, now)
        counters = outbox.counters(conn)
    if args.json:
        print(json.dumps({
            "queues": [{**asdict(q), "oldest_pending": q.oldest_pending.isoformat() if q.oldest_pending else None} for q in queues],
            "counters": [asdict(c) for c in counters],
        }))
        return 0
    totals: dict[str, dict[str, int]] = {}
    for c in counters:
        totals.setdefault(c.recipient, {})[c.outcome] = c.count
    recipients = sorted({q.recipient for q in queues} | set(totals))
    by_recipient = {q.recipient: q for q in queues}
    print(f"{'recipient':<12}{'pending':>9}{'in flight':>11}{'dead':>7}{'oldest pending':>16}{'delivered':>11}{'retries':>9}{'dead total':>12}")
    for name in recipients:
        q = by_recipient.get(name) or outbox.RecipientQueue(name, 0, 0, 0, None)
        age = _age(now - q.oldest_pending) if q.oldest_pending else "-"
        t = totals.get(name, {})
        print(f"{name:<12}{q.pending:>9}{q.in_flight:>11}{q.dead:>7}{age:>16}{t.get('delivered', 0):>11}{t.get('retry', 0):>9}{t.get('dead', 0):>12}")
    if not recipients:
        print("the outbox is empty")
    return 0


def _age(delta: dt.timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _list(args: argparse.Namespace, settings: Settings) -> int:
    with Database.configured(settings) as db, db.read() as conn:
        items = outbox.list_items(conn, status=args.status, recipient=args.recipient, limit=args.limit)
    if args.json:
        for item in items:
            print(json.dumps({k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in asdict(item).items()}))
        return 0
    for item in items:
        error = f"  {item.last_error}" if item.last_error else ""
        print(f"{item.id:>8} {item.status:<9} {item.recipient:<8} {item.contract:<28} {item.reference or '-':<36} attempts {item.attempts}{error}")
    return 0


def _retry(args: argparse.Namespace, settings: Settings) -> int:
    if bool(args.ids) == bool(args.all_dead):
        print("outbox retry: give item ids or --all-dead (not both)", file=sys.stderr)
        return 2
    with Database.configured(settings) as db, db.transaction() as conn:
        revived = outbox.revive(conn, None if args.all_dead else args.ids, utc_now())
    if args.all_dead:
        print(f"{len(revived)} dead item(s) queued again")
        return 0
    skipped = sorted(set(args.ids) - set(revived))
    print(f"{len(revived)} item(s) queued again" + (f"; not retried (unknown, delivered or in flight): {', '.join(map(str, skipped))}" if skipped else ""))
    return 1 if skipped else 0


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    with Database.configured(settings) as db, db.transaction() as conn:
        purged = outbox.purge_delivered(conn, utc_now() - args.older_than)
    print(f"{purged} delivered item(s) purged")
    return 0


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = subparsers.add_parser("worker", help="deliver the outbox to recipients")
    # What WorkerParts.build reads.
    add_flags(worker, STORAGE, DELIVERY, STATISTICS, "recipients_file", "certificate_types_dir", leave_out=["statistics_feed"])
    worker.add_argument("--concurrency", type=_positive, default=8, help="messages sent at the same time (default 8)")
    worker.add_argument("--once", action="store_true", help="stop when nothing is due instead of waiting for more")
    worker.set_defaults(command=_worker)

    sub = command_group(subparsers, "outbox", "inspect and repair the delivery outbox")
    status = sub.add_parser("status", help="queue depth, age of the oldest undelivered item, totals per recipient")
    status.add_argument("--json", action="store_true")
    status.set_defaults(command=_status)
    listing = sub.add_parser("list", help="the newest items")
    listing.add_argument("--status", choices=[outbox.PENDING, outbox.DELIVERED, outbox.DEAD])
    listing.add_argument("--recipient")
    listing.add_argument("--limit", type=_positive, default=50)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(command=_list)
    retry = sub.add_parser("retry", help="send dead (or waiting) items again now")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    retry.add_argument("--all-dead", action="store_true", help="every dead item")
    retry.set_defaults(command=_retry)
    purge = sub.add_parser("purge-delivered", help="delete delivered items")
    purge.add_argument("--older-than", type=parse_duration, required=True, metavar="DURATION", help="e.g. 30d")
    purge.set_defaults(command=_purge)
    for command in (status, listing, retry, purge):
        add_flags(command, STORAGE)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value

