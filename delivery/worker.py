"""``intygstjanst worker``: delivers the outbox; ``intygstjanst outbox ...``: operates it.

One worker process runs a claim loop and a pool of sender threads. The loop claims due rows in
batches (a lease per claim), hands them to the threads, and writes their outcomes back in batches:
one transaction per group of results, not one per message. Run as many worker processes as
needed; claims never overlap (see ``persistence.outbox.claim``).

Crash safety comes from the lease: a row is only ever "claimed until T". If the worker dies at any
instant, the row falls due again at T and another claim sends it again with the same delivery id.
A message is therefore delivered at least once, and exactly once wherever the recipient
deduplicates on the delivery id (the README section on delivery).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import random
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from intygstjanst.delivery.deliverer import Deliverer, DeliveryResult
from intygstjanst.delivery.transport import OutboundTransport
from intygstjanst.persistence import outbox
from intygstjanst.persistence.db import Database, utc_now

if TYPE_CHECKING:
    from intygstjanst.registers.recipients import Recipients
    from intygstjanst.settings import Settings

log = logging.getLogger("intygstjanst.delivery.worker")

IDLE_POLL_SECONDS = 0.5
# Outcomes are written when this many are waiting or the oldest has waited this long.
FLUSH_COUNT = 64
FLUSH_SECONDS = 0.05


@dataclass
class WorkerStats:
    delivered: int = 0
    retried: int = 0
    dead: int = 0


class WorkerServices(Protocol):
    """What a worker needs (``services.Services`` has it all; ``intygstjanst worker`` builds only this)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def db(self) -> Database: ...
    @property
    def recipients(self) -> Recipients: ...
    @property
    def transport(self) -> OutboundTransport: ...
    @property
    def clock(self) -> Callable[[], dt.datetime]: ...


@dataclass(frozen=True)
class _Configured:
    """The worker's collaborators as the settings configure them."""

    settings: Settings
    db: Database
    recipients: Recipients
    transport: OutboundTransport
    clock: Callable[[], dt.datetime] = utc_now

    @classmethod
    def build(cls, settings: Settings) -> _Configured:
        from intygstjanst.certificates.certtypes import CertificateTypes
        from intygstjanst.registers.recipients import Recipients

        recipients = Recipients.load(settings.recipients_file, CertificateTypes.configured(settings))
        return cls(settings, Database(settings.effective_database_url), recipients, OutboundTransport.from_settings(settings))


class Worker:
    def __init__(self, services: WorkerServices, *, concurrency: int = 8, name: str | None = None) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        settings = services.settings
        self.db = services.db
        self.recipients = services.recipients
        # Connections of its own, closed when the worker stops.
        self.deliverer = Deliverer(services.transport)
        self.concurrency = concurrency
        # Rows claimed ahead of the senders, so they never wait for the next claim.
        self.capacity = concurrency * 4
        rounds = math.ceil(self.capacity / concurrency) + 1
        # A row waits at most `rounds` sends before its own finishes; the lease must outlast that.
        self.lease = dt.timedelta(seconds=settings.outbox_lease or settings.delivery_timeout * rounds + 10)
        self.retry_base = settings.retry_base_delay
        self.retry_max = settings.retry_max_delay
        self.name = name or f"worker-{uuid.uuid4().hex[:8]}"
        self.clock = services.clock
        self.stats = WorkerStats()
        self._stop = threading.Event()

    def stop(self) -> None:
        """Finish the messages being sent, give back the others, and return from :meth:`run`."""
        self._stop.set()

    def run(self, once: bool = False) -> WorkerStats:
        """Deliver until :meth:`stop` (or, with ``once``, until nothing is due)."""
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=self.name)
        in_flight: dict[Future[DeliveryResult], outbox.Claimed] = {}
        done: list[tuple[outbox.Claimed, DeliveryResult]] = []
        oldest_done = 0.0
        try:
            while not self._stop.is_set():
                claimed: list[outbox.Claimed] = []
                room = self.capacity - len(in_flight)
                # Claim in batches: wait until a sender's worth of room is free.
                if room >= self.concurrency and (in_flight or self._anything_due()):
                    claimed = self._claim(room)
                    for item in claimed:
                        in_flight[pool.submit(self._send, item)] = item
                if not in_flight and not claimed:
                    self._flush(done)
                    if once:
                        break
                    self._stop.wait(IDLE_POLL_SECONDS)
                    continue
                finished, _ = wait(list(in_flight), timeout=FLUSH_SECONDS, return_when=FIRST_COMPLETED)
                if finished and not done:
                    oldest_done = time.monotonic()
                for future in finished:
                    done.append((in_flight.pop(future), future.result()))
                if len(done) >= FLUSH_COUNT or (done and time.monotonic() - oldest_done >= FLUSH_SECONDS):
                    self._flush(done)
            self._shut_down(in_flight, done)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self.deliverer.close()
        return self.stats

    def _anything_due(self) -> bool:
        try:
            with self.db.read() as conn:
                return outbox.has_due(conn, self.clock())
        except Exception:
            log.exception("%s: reading the outbox failed; trying again shortly", self.name)
            return False

    def _claim(self, limit: int) -> list[outbox.Claimed]:
        now = self.clock()
        token = str(uuid.uuid4())
        try:
            with self.db.transaction() as conn:
                return outbox.claim(conn, limit=limit, lease_until=now + self.lease, token=token, now=now)
        except Exception:
            # The database is unreachable or busy; nothing was claimed, so nothing is at risk.
            log.exception("%s: claiming from the outbox failed; trying again shortly", self.name)
            self._stop.wait(IDLE_POLL_SECONDS)
            return []

    def _send(self, item: outbox.Claimed) -> DeliveryResult:
        recipient = self.recipients.delivery_target(item.recipient)
        if recipient is None:
            return DeliveryResult("permanent", f"recipient {item.recipient} is not in the recipient registry")
        if not recipient.active:
            return DeliveryResult("retry", f"recipient {item.recipient} is inactive in the recipient registry")
        try:
            return self.deliverer.send(recipient, item.contract, item.payload, item.logical_address, item.delivery_id)
        except Exception as exc:  # a bug must not kill the sender thread and strand the claim
            log.exception("%s: unexpected error delivering outbox item %d", self.name, item.id)
            return DeliveryResult("retry", f"internal error while sending: {type(exc).__name__}: {exc}")

    def _flush(self, done: list[tuple[outbox.Claimed, DeliveryResult]]) -> None:
        """Write the outcomes in ``done`` (emptied on success; kept for the next try on failure)."""
        if not done:
            return
        now = self.clock()
        delivered = [item for item, result in done if result.verdict == "delivered"]
        retries = [
            (item, outbox.Retry(now + dt.timedelta(seconds=self.backoff(item.attempts)), result.detail))
            for item, result in done
            if result.verdict == "retry"
        ]
        dead = [(item, outbox.Dead(result.detail)) for item, result in done if result.verdict == "permanent"]
        try:
            with self.db.transaction() as conn:
                outbox.record_results(conn, delivered=delivered, retries=retries, dead=dead, now=now)
        except Exception:
            # The deliveries happened; if this write never succeeds the leases expire and the rows are
            # sent again with the same delivery ids, which the recipient recognises.
            log.exception("%s: recording %d outcomes failed; retrying", self.name, len(done))
            self._stop.wait(IDLE_POLL_SECONDS)
            return
        for item, retry in retries:
            log.warning("outbox item %d to %s: attempt %d failed, next at %s: %s", item.id, item.recipient, item.attempts, retry.due_at.isoformat(timespec="seconds"), retry.error)
        for item, failure in dead:
            log.error("outbox item %d to %s: dead letter after attempt %d: %s", item.id, item.recipient, item.attempts, failure.error)
        self.stats.delivered += len(delivered)
        self.stats.retried += len(retries)
        self.stats.dead += len(dead)
        done.clear()

    def backoff(self, attempts: int) -> float:
        """Seconds until the next attempt: doubling per attempt up to the maximum, jittered.

        The jitter (a random 50-100 % of the step) spreads out the messages that failed together when
        a recipient went down, so its recovery is not met by all of them at the same instant.
        """
        step = min(self.retry_max, self.retry_base * 2.0 ** max(0, attempts - 1))
        return step * random.uniform(0.5, 1.0)

    def _shut_down(self, in_flight: dict[Future[DeliveryResult], outbox.Claimed], done: list[tuple[outbox.Claimed, DeliveryResult]]) -> None:
        unsent = [item for future, item in in_flight.items() if future.cancel()]
        running = [future for future in in_flight if not future.cancelled()]
        for future in wait(running).done:
            done.append((in_flight[future], future.result()))
        self._flush(done)
        if unsent:
            try:
                with self.db.transaction() as conn:
                    by_token: dict[str, list[int]] = {}
                    for item in unsent:
                        by_token.setdefault(item.token, []).append(item.id)
                    for token, ids in by_token.items():
                        outbox.release(conn, ids, token, self.clock())
            except Exception:
                log.exception("%s: giving back %d unsent claims failed; their leases will expire", self.name, len(unsent))


# -- command line ---------------------------------------------------------------------------------


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from intygstjanst.settings import SettingsError
    from intygstjanst.tls.errors import TlsConfigError

    try:
        services = _Configured.build(settings)
    except (SettingsError, TlsConfigError) as exc:  # recipient registry, outbound TLS files
        print(f"intygstjanst worker: error: {exc}", file=sys.stderr)
        return 2
    worker = Worker(services, concurrency=args.concurrency)

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("%s: %s received, finishing the messages in flight", worker.name, signal.Signals(signum).name)
        worker.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"{worker.name}: delivering the outbox with {args.concurrency} senders", flush=True)
    stats = worker.run(once=args.once)
    services.db.dispose()
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


def _database(settings: Settings) -> Database:
    return Database(settings.effective_database_url)


def _status(args: argparse.Namespace, settings: Settings) -> int:
    db = _database(settings)
    now = utc_now()
    with db.read() as conn:
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
    db = _database(settings)
    with db.read() as conn:
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
    db = _database(settings)
    with db.transaction() as conn:
        revived = outbox.revive(conn, None if args.all_dead else args.ids, utc_now())
    if args.all_dead:
        print(f"{len(revived)} dead item(s) queued again")
        return 0
    skipped = sorted(set(args.ids) - set(revived))
    print(f"{len(revived)} item(s) queued again" + (f"; not retried (unknown, delivered or in flight): {', '.join(map(str, skipped))}" if skipped else ""))
    return 1 if skipped else 0


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    db = _database(settings)
    with db.transaction() as conn:
        purged = outbox.purge_delivered(conn, utc_now() - args.older_than)
    print(f"{purged} delivered item(s) purged")
    return 0


def add_commands(subparsers: Any) -> None:
    worker = subparsers.add_parser("worker", help="deliver the outbox to recipients")
    worker.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in the data directory)")
    worker.add_argument("--concurrency", type=_positive, default=8, help="messages sent at the same time (default 8)")
    worker.add_argument("--once", action="store_true", help="stop when nothing is due instead of waiting for more")
    worker.set_defaults(command=_worker)

    box = subparsers.add_parser("outbox", help="inspect and repair the delivery outbox")
    sub = box.add_subparsers(dest="outbox_command", required=True)
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
        command.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in the data directory)")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value

