"""Publishing the statistics feed: the outbox rows of ``statistics.feed.CHANNEL`` go to the AMQP
broker instead of a recipient, with the same verdicts, so the outbox's retries, back-off and dead
letters apply unchanged:

* ``delivered``: the broker confirmed the message (publisher confirms: it is in the durable queue);
* ``retry``: a nack, an unroutable message, or a broker that cannot be reached or broke the
  connection (the connection is dropped and opened again on the next attempt; a connection kept
  from earlier messages that turns out broken is replaced at once, within the same attempt);
* ``permanent``: a row that holds no statistics event (it never will).

Every attempt carries the row's delivery id as the message id, so a message published twice (the
broker confirmed, then the worker died before marking the row) is recognised by the consumer.
"""

from __future__ import annotations

import logging
import threading

from intygstjanst.delivery.deliverer import DeliveryResult
from intygstjanst.persistence.outbox import Claimed
from intygstjanst.statistics import amqp, feed
from intygstjanst.statistics.events import EventError, StatisticsEvent

log = logging.getLogger("intygstjanst.delivery.statistics")


class StatisticsPublisher:
    """Publishes statistics events over one broker connection per sender thread."""

    def __init__(self, destination: amqp.Destination, timeout: float) -> None:
        self.destination = destination
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[amqp.Channel] = set()

    def send(self, item: Claimed) -> DeliveryResult:
        try:
            event = feed.decode(item.payload)
        except EventError as exc:
            return DeliveryResult("permanent", f"outbox item {item.id}: {exc}")
        where = self.destination.where
        try:
            self._publish(event, item.delivery_id)
        except amqp.Refused as exc:
            return DeliveryResult("retry", str(exc))
        except amqp.BrokerError as exc:
            self._drop()
            return DeliveryResult("retry", f"{where}: {type(exc).__name__}: {exc or 'connection lost'}")
        return DeliveryResult("delivered", f"{where}: confirmed")

    def _publish(self, event: StatisticsEvent, message_id: str) -> None:
        reused = getattr(self._local, "channel", None) is not None
        try:
            self._channel().publish(event, message_id)
        except amqp.BrokerError:
            self._drop()
            if not reused:
                raise
            # A connection kept from an earlier message may have been closed meanwhile (an idle
            # one misses the broker's heartbeats; the broker restarted): once more on a new one.
            self._channel().publish(event, message_id)

    def _channel(self) -> amqp.Channel:
        channel: amqp.Channel | None = getattr(self._local, "channel", None)
        if channel is None:
            channel = amqp.Channel(self.destination, "publisher", timeout=self.timeout, confirms=True)
            self._local.channel = channel
            with self._lock:
                self._open.add(channel)
        return channel

    def _drop(self) -> None:
        channel: amqp.Channel | None = getattr(self._local, "channel", None)
        self._local.channel = None
        if channel is not None:
            with self._lock:
                self._open.discard(channel)
            channel.close()

    def close(self) -> None:
        """Close every thread's connection (the worker stopped; its threads are done)."""
        with self._lock:
            channels, self._open = self._open, set()
        for channel in channels:
            channel.close()
