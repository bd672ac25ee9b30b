"""The statistics feed: statistics events written to the outbox in the transaction of the change.

Handlers call :func:`record` inside the transaction that stores the registration, revocation,
sending or message, so an event exists exactly when its change was committed. The worker publishes
the outbox rows of :data:`CHANNEL` to the AMQP broker (``delivery.statistics``) with the outbox's
retries and dead letters. Each event is queued once: its dedupe key names the change (a certificate
is created and revoked once, sent once per recipient; a message is accepted once).

Nothing is queued while ``statistics_feed`` is off, nor for test certificates (test and validation
persons): the callers pass only certificates that are not ``is_test``.
"""

from __future__ import annotations

import json

from lxml import etree
from sqlalchemy.engine import Connection

from intygstjanst.persistence import outbox
from intygstjanst.settings import Settings
from intygstjanst.statistics.events import EventError, StatisticsEvent
from intygstjanst.transform import formats
from intygstjanst.transform.formats import Format

# The outbox "recipient" of statistics events: not a recipient in the registry (their ids are the
# registry's upper-case codes; this one is never listed there), so the worker routes it to the broker.
CHANNEL = "STATISTICS"


def record(conn: Connection, settings: Settings, event: StatisticsEvent) -> None:
    """Queue ``event`` in the caller's transaction, when the feed is on."""
    if not settings.statistics_feed:
        return
    key = ":".join(part for part in ("statistics", event.action, event.certificate_id, event.recipient or "", event.message_id or "") if part)
    outbox.enqueue(
        conn,
        recipient=CHANNEL,
        contract=f"statistics:{event.action}",
        payload=encode(event),
        dedupe_key=key[:255],
        reference=event.certificate_id[:64],
    )


def certificate_body(stored: etree._Element) -> bytes:
    """The body of ``created`` and ``revoked``: the stored certificate as a RegisterCertificate v3
    request, through the same outbound conversion as GetCertificate and sending (a legacy FK7263 is
    stored in this form already; the conversion drops the carrier of what v3 cannot say)."""
    return etree.tostring(formats.outbound(stored, Format.REGISTER_CERTIFICATE_3), xml_declaration=True, encoding="UTF-8")


# The outbox payload of an event: its headers as one JSON line, then the body as it is.
_SEPARATOR = b"\n"


def encode(event: StatisticsEvent) -> bytes:
    return json.dumps(event.headers(), ensure_ascii=False, sort_keys=True).encode("utf-8") + _SEPARATOR + (event.body or b"")


def decode(payload: bytes) -> StatisticsEvent:
    """The event of an outbox payload; EventError when it is none."""
    head, separator, body = payload.partition(_SEPARATOR)
    try:
        headers = json.loads(head)
    except ValueError as exc:
        raise EventError(f"outbox payload is not a statistics event: {exc}") from None
    if not separator or not isinstance(headers, dict):
        raise EventError("outbox payload is not a statistics event: no header line")
    return StatisticsEvent.from_headers(headers, body)
