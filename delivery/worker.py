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

import datetime as dt
import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from intygstjanst.delivery.deliverer import Deliverer, DeliveryResult
from intygstjanst.delivery.statistics import StatisticsPublisher
from intygstjanst.delivery.transport import OutboundTransport
from intygstjanst.lifecycle.erase import purge_expired_test_certificates
from intygstjanst.persistence import outbox
from intygstjanst.persistence.access_log import AccessLog, retention_cutoff
from intygstjanst.persistence.db import Database
from intygstjanst.statistics import amqp, feed

if TYPE_CHECKING:
    from intygstjanst.registers.recipients import Recipients
    from intygstjanst.settings import Settings

log = logging.getLogger("intygstjanst.delivery.worker")

IDLE_POLL_SECONDS = 0.5
# Outcomes are written when this many are waiting or the oldest has waited this long.
FLUSH_COUNT = 64
FLUSH_SECONDS = 0.05
# How often an idle worker looks for test certificates to purge and access-log entries past their
# retention (and once when it starts).
PURGE_INTERVAL_SECONDS = 3600.0
# How often an idle worker indexes the patient rows held in large access-log entries (the extract
# reads those not indexed yet from the entries themselves, more slowly).
INDEX_INTERVAL_SECONDS = 5.0


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


class Worker:
    def __init__(self, services: WorkerServices, *, concurrency: int = 8, name: str | None = None) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        settings = services.settings
        self.db = services.db
        self.recipients = services.recipients
        # Connections of its own, closed when the worker stops.
        self.deliverer = Deliverer(services.transport)
        # Connects on the first statistics event only: a worker without a broker runs as long as
        # the feed queues nothing.
        self.statistics = StatisticsPublisher(amqp.Destination.from_settings(settings), settings.delivery_timeout)
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
        self.settings = settings
        self._next_purge = 0.0
        self._next_index = 0.0

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
                    self._upkeep()
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
            self.statistics.close()
        return self.stats

    def _upkeep(self) -> None:
        """Index the access log, at most once per ``INDEX_INTERVAL_SECONDS``; purge test
        certificates and prune the access log, at most once per ``PURGE_INTERVAL_SECONDS``; a
        failure is logged and tried again next time."""
        jobs = []
        if time.monotonic() >= self._next_index:
            self._next_index = time.monotonic() + INDEX_INTERVAL_SECONDS
            jobs.append(("indexing the access log", self._index_access_log))
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
            jobs += [("purging test certificates", self._purge_test_certificates), ("pruning the access log", self._prune_access_log)]
        for what, job in jobs:
            try:
                job()
            except Exception:
                log.exception("%s: %s failed; trying again next time", self.name, what)

    def _index_access_log(self) -> None:
        indexed = AccessLog(self.db, None).index_pending()
        if indexed:
            log.debug("%s: indexed the patient rows held in %d access-log entries", self.name, indexed)

    def _purge_test_certificates(self) -> None:
        """Remove test and validation certificates older than ``test_certificate_max_age_days``."""
        days = self.settings.test_certificate_max_age_days
        if days <= 0:
            return
        receipt = purge_expired_test_certificates(self.db, self.settings, self.name, self.clock())
        if receipt is not None:
            log.info("%s: purged test certificates (%s): %s", self.name, receipt.subject, receipt.counts)

    def _prune_access_log(self) -> None:
        """Remove the access-log entries older than ``access_log_retention_years`` (0: keep all)."""
        before = retention_cutoff(self.clock(), self.settings.access_log_retention_years)
        if before is None:
            return
        removed = AccessLog(self.db, None).prune(before)
        if removed:
            log.info("%s: pruned %d access-log entries written before %s", self.name, removed, before.isoformat(timespec="seconds"))

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
        try:
            return self.statistics.send(item) if item.recipient == feed.CHANNEL else self._deliver(item)
        except Exception as exc:  # a bug must not kill the sender thread and strand the claim
            log.exception("%s: unexpected error delivering outbox item %d", self.name, item.id)
            return DeliveryResult("retry", f"internal error while sending: {type(exc).__name__}: {exc}")

    def _deliver(self, item: outbox.Claimed) -> DeliveryResult:
        recipient = self.recipients.delivery_target(item.recipient)
        if recipient is None:
            return DeliveryResult("permanent", f"recipient {item.recipient} is not in the recipient registry")
        if not recipient.active:
            return DeliveryResult("retry", f"recipient {item.recipient} is inactive in the recipient registry")
        return self.deliverer.send(recipient, item.contract, item.payload, item.logical_address, item.delivery_id)

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
