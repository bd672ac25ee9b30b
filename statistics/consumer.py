"""Consuming the statistics feed: each event from the queue is handed to a callable, and
acknowledged only after the callable returned (committed), so a consumer that dies in between
gets the event again rather than losing it.

Delivery is at least once: the worker may publish an event twice (see ``delivery.statistics``)
and the broker redelivers what was not acknowledged when a connection broke. Repeats carry the
same message id; the consumer skips those it has seen recently (a bounded window, which covers
the repeats of a crash and restart), and whatever it hands on must still tolerate a repeat seen
across a restart of the consumer itself (the built-in store keys its rows on the certificate and
message ids).

A message that is not a statistics event (a missing or unknown header), or whose event the
callable refuses with ``EventError`` (a body that is not XML), is rejected without requeueing: the broker drops it, or moves it to the queue's dead-letter exchange if one is set.
A callable that fails leaves the event in the queue: it is given back and tried again after a pause.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from intygstjanst.statistics import amqp
from intygstjanst.statistics.events import EventError, StatisticsEvent

log = logging.getLogger("intygstjanst.statistics.consumer")

Handler = Callable[[StatisticsEvent], None]

IDLE_SECONDS = 0.5
PREFETCH = 64
# Message ids remembered for skipping repeats: far more than a lease's worth of events.
SEEN_WINDOW = 100_000


@dataclass
class ConsumerStats:
    handled: int = 0
    repeats: int = 0
    rejected: int = 0
    failures: int = 0


class Consumer:
    def __init__(self, destination: amqp.Destination, handle: Handler, *, timeout: float = 30.0, retry_seconds: float = 2.0) -> None:
        self.destination = destination
        self.handle = handle
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.stats = ConsumerStats()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._stop = threading.Event()

    def stop(self) -> None:
        """Return from :meth:`run` after the event being handled (thread- and signal-safe)."""
        self._stop.set()

    def run(self, until_idle: bool = False) -> ConsumerStats:
        """Consume until :meth:`stop` (or, with ``until_idle``, until the queue has been empty for a moment).

        A broker that cannot be reached or breaks the connection is tried again every
        ``retry_seconds``; unacknowledged events are then redelivered by the broker.
        """
        while not self._stop.is_set():
            try:
                channel = amqp.Channel(self.destination, "consumer", timeout=self.timeout, prefetch=PREFETCH)
            except amqp.BrokerError as exc:
                log.warning("statistics broker %s: %s: %s; trying again shortly", self.destination.where, type(exc).__name__, exc)
                self._stop.wait(self.retry_seconds)
                continue
            try:
                if self._drain(channel, until_idle):
                    break
            except amqp.BrokerError as exc:
                log.warning("statistics broker %s: connection lost (%s: %s); reconnecting", self.destination.where, type(exc).__name__, exc)
                self._stop.wait(self.retry_seconds)
            finally:
                channel.close()
        return self.stats

    def _drain(self, channel: amqp.Channel, until_idle: bool) -> bool:
        """Handle deliveries until stopped; True when done (stopped, or idle with ``until_idle``)."""
        for delivery in channel.deliveries(IDLE_SECONDS):
            if self._stop.is_set():
                if delivery is not None:
                    channel.give_back(delivery.tag, requeue=True)
                return True
            if delivery is None:
                if until_idle:
                    return True
                continue
            self._take(channel, delivery)
        return False

    def _take(self, channel: amqp.Channel, delivery: amqp.Delivery) -> None:
        if delivery.message_id is not None and delivery.message_id in self._seen:
            self.stats.repeats += 1
            channel.ack(delivery.tag)
            return
        try:
            event = StatisticsEvent.from_headers(delivery.event_headers, delivery.body)
        except EventError as exc:
            log.error("statistics message %s is not an event, rejected: %s", delivery.message_id, exc)
            self.stats.rejected += 1
            channel.give_back(delivery.tag, requeue=False)
            return
        try:
            self.handle(event)
        except EventError as exc:
            log.error("statistics event %s (%s %s) cannot be used, rejected: %s", delivery.message_id, event.action, event.certificate_id, exc)
            self.stats.rejected += 1
            channel.give_back(delivery.tag, requeue=False)
            return
        except Exception:
            log.exception("handling statistics event %s (%s %s) failed; it stays in the queue", delivery.message_id, event.action, event.certificate_id)
            self.stats.failures += 1
            self._stop.wait(self.retry_seconds)
            channel.give_back(delivery.tag, requeue=True)
            return
        self.stats.handled += 1
        # Remembered before the ack: an ack lost with the connection brings the event back as a repeat.
        if delivery.message_id is not None:
            self._seen[delivery.message_id] = None
            if len(self._seen) > SEEN_WINDOW:
                self._seen.popitem(last=False)
        channel.ack(delivery.tag)
