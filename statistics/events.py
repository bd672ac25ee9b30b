"""The statistics event: what the national statistics service reads from its queue.

One event per change: ``created`` and ``revoked`` carry the certificate as RegisterCertificate v3
XML, ``sent`` carries no body, ``message-sent`` carries the SendMessageToCare request. On the wire
the fields are AMQP message properties (headers) named as the national service names them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast, get_args

Action = Literal["created", "revoked", "sent", "message-sent"]
ACTIONS: tuple[Action, ...] = get_args(Action)

# Header names on the wire; the attribute names below are their Python spelling.
ACTION = "action"
CERTIFICATE_ID = "certificate-id"
CERTIFICATE_TYPE = "certificate-type"
CERTIFICATE_RECIPIENT = "certificate-recipient"
MESSAGE_ID = "message-id"


class EventError(ValueError):
    """A message that is not a statistics event (a missing or unknown header)."""


@dataclass(frozen=True)
class StatisticsEvent:
    action: Action
    certificate_id: str
    certificate_type: str
    # The recipient a certificate was sent to (``sent``) or a message came from (``message-sent``).
    recipient: str | None = None
    message_id: str | None = None
    body: bytes | None = None

    def headers(self) -> dict[str, str]:
        headers = {ACTION: self.action, CERTIFICATE_ID: self.certificate_id, CERTIFICATE_TYPE: self.certificate_type}
        if self.recipient is not None:
            headers[CERTIFICATE_RECIPIENT] = self.recipient
        if self.message_id is not None:
            headers[MESSAGE_ID] = self.message_id
        return headers

    @classmethod
    def from_headers(cls, headers: Mapping[str, object], body: bytes | None) -> StatisticsEvent:
        def text(name: str, required: bool) -> str | None:
            value = headers.get(name)
            if isinstance(value, bytes):
                value = value.decode("utf-8")
            if value is None or value == "":
                if required:
                    raise EventError(f"statistics event without the header {name!r}")
                return None
            return str(value)

        action = text(ACTION, True)
        if action not in ACTIONS:
            raise EventError(f"unknown statistics action {action!r}; expected one of {', '.join(ACTIONS)}")
        return cls(
            action=action,
            certificate_id=cast(str, text(CERTIFICATE_ID, True)),
            certificate_type=cast(str, text(CERTIFICATE_TYPE, True)),
            recipient=text(CERTIFICATE_RECIPIENT, False),
            message_id=text(MESSAGE_ID, False),
            body=body or None,
        )
