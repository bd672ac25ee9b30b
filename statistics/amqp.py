"""The AMQP 0-9-1 side of the statistics feed: the broker, exchange and queue of the settings, and
one connection with one channel to them, behind a small typed surface (pika has no type
information; nothing outside this module touches it).

The queue is declared durable and every message is persistent (delivery mode 2), so a broker
restart loses nothing it confirmed. A message carries the event's headers
(``StatisticsEvent.headers``) as AMQP headers and the outbox row's delivery id as its
``message_id`` property: the same on every attempt, so a consumer recognises a repeat.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pika
from pika import exceptions as pika_errors

from intygstjanst.settings import Settings, SettingsError
from intygstjanst.statistics.events import StatisticsEvent

# Everything a broker or the way to it can do to a connection or a channel.
BrokerError = (pika_errors.AMQPError, OSError)
PERSISTENT = 2
CONTENT_TYPE = "application/xml"


class Refused(Exception):
    """The broker did not take a message (a nack, or no queue to route it to); it may take it later."""


@dataclass(frozen=True)
class Destination:
    url: str
    exchange: str  # "" is the default exchange, which routes on the queue's name
    queue: str  # also the routing key

    @classmethod
    def from_settings(cls, settings: Settings) -> Destination:
        """The settings' destination; SettingsError for a URL that names no AMQP broker."""
        url = settings.statistics_amqp_url
        scheme = url.partition("://")[0]
        try:
            if scheme not in ("amqp", "amqps"):
                raise ValueError("the scheme must be amqp:// or amqps://")
            pika.URLParameters(url)
        except (ValueError, IndexError) as exc:  # pika's own words for an unreadable URL
            raise SettingsError(f"statistics_amqp_url: not an AMQP broker URL ({exc})") from None
        if not settings.statistics_queue:
            raise SettingsError("statistics_queue: must name a queue")
        return cls(url, settings.statistics_exchange, settings.statistics_queue)

    @property
    def where(self) -> str:
        """For logs and errors: the broker without its password, the exchange and the queue."""
        params = pika.URLParameters(self.url)
        return f"amqp://{params.host}:{params.port}{params.virtual_host} exchange {self.exchange or '(default)'} queue {self.queue}"


@dataclass(frozen=True)
class Delivery:
    """A message taken from the queue, to be acknowledged (or given back) by its tag."""

    tag: int
    event_headers: dict[str, object]
    message_id: str | None
    body: bytes
    redelivered: bool


class Channel:
    """One connection and one channel (pika connections are not thread-safe: one per thread)."""

    def __init__(self, destination: Destination, role: str, *, timeout: float, confirms: bool = False, prefetch: int = 0) -> None:
        params = pika.URLParameters(destination.url)
        # The name the broker's tools show for the connection (rabbitmqctl list_connections).
        params.client_properties = {"connection_name": f"intygstjanst {role} {destination.queue}"}
        params.socket_timeout = timeout
        params.blocked_connection_timeout = timeout
        params.connection_attempts = 1
        self.destination = destination
        self._connection: Any = pika.BlockingConnection(params)
        try:
            self._channel: Any = self._connection.channel()
            self._channel.queue_declare(queue=destination.queue, durable=True)
            if confirms:
                # basic_publish then waits for the broker's ack and raises on a nack.
                self._channel.confirm_delivery()
            if prefetch:
                self._channel.basic_qos(prefetch_count=prefetch)
        except BaseException:
            self.close()
            raise

    def publish(self, event: StatisticsEvent, message_id: str) -> None:
        """Publish ``event`` and return once the broker confirmed it (on a confirming channel).

        Raises :class:`Refused` for a nack or an unroutable message, a :data:`BrokerError` when the
        connection or channel failed (then the message may or may not have arrived).
        """
        properties = pika.BasicProperties(
            headers=event.headers(), message_id=message_id, delivery_mode=PERSISTENT, content_type=CONTENT_TYPE
        )
        try:
            self._channel.basic_publish(
                exchange=self.destination.exchange,
                routing_key=self.destination.queue,
                body=event.body or b"",
                properties=properties,
                mandatory=True,
            )
        except pika_errors.NackError:
            raise Refused(f"{self.destination.where}: the broker refused the message (nack)") from None
        except pika_errors.UnroutableError:
            raise Refused(f"{self.destination.where}: the broker could not route the message to a queue") from None

    def deliveries(self, idle_seconds: float) -> Iterator[Delivery | None]:
        """Messages from the queue as they arrive; None after ``idle_seconds`` without one."""
        for method, properties, body in self._channel.consume(self.destination.queue, inactivity_timeout=idle_seconds):
            if method is None:
                yield None
                continue
            yield Delivery(
                tag=int(method.delivery_tag),
                event_headers=dict(properties.headers or {}),
                message_id=properties.message_id,
                body=bytes(body or b""),
                redelivered=bool(method.redelivered),
            )

    def ack(self, tag: int) -> None:
        self._channel.basic_ack(delivery_tag=tag)

    def give_back(self, tag: int, requeue: bool) -> None:
        """Reject a message: back to the queue (``requeue``), or to the queue's dead-letter exchange."""
        self._channel.basic_reject(delivery_tag=tag, requeue=requeue)

    def close(self) -> None:
        """Close the connection; quietly, since it is often closed because it broke."""
        try:
            if self._connection.is_open:
                self._connection.close()
        except BrokerError:
            pass
