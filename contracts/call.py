"""One incoming call as handlers see it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from intygstjanst.contracts.registry import Contract

if TYPE_CHECKING:
    from intygstjanst.services import Services


@dataclass(frozen=True)
class Call:
    contract: Contract
    request: etree._Element  # the schema-valid payload element
    logical_address: str | None
    consumer: str | None  # the authorized caller's HSA-id; None on plain HTTP without authorization
    services: Services
    body: bytes  # the complete request as received, kept byte for byte where a contract stores it
