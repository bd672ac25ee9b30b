"""Call authorization: which consumer may call which contract for which logical address, and when.

The national service platform refuses every call that its authorization table (TAK) does not grant,
keyed by consumer HSA-id, logical address and contract namespace, each grant valid for a period. A
producer called directly, without the platform in front, needs the same check; this is that table,
read from a TOML file that operators edit and reload without restarting the service::

    [[grant]]
    consumer = "SE2321000016-ABCD"      # HSA-id in the consumer's certificate
    logical_address = "*"                # one logical address, or "*" for any
    contract = "urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3"  # or "*"
    valid_from = 2025-01-01              # first day (Swedish calendar day) or an offset date-time
    valid_to = 2026-12-31                # last day, inclusive, or the date-time the grant ends

A care giver's own statistics (``/statistik/?vardgivare=...``) are granted the same way: the contract
``STATISTICS_NAMESPACE`` with the care giver's HSA-id as the logical address (or ``"*"``). So is the
operator API of the data lifecycle (``/operator/...``: export, erase, destroy): ``OPERATOR_NAMESPACE``,
which only a grant naming it covers, never ``contract = "*"``.

Everything is checked when the file is read, so a mistake stops the start-up (or is refused on
reload, keeping the table in force) instead of silently refusing or allowing calls later.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import tomllib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from intygstjanst.contracts.dispatch import Caller
from intygstjanst.contracts.faults import SoapFault
from intygstjanst.contracts.registry import Contract
from intygstjanst.tls.errors import AuthorizationFileError
from intygstjanst.tls.files import utc_now
from intygstjanst.tls.identity import HSA_ID, HSA_ID_RULE

log = logging.getLogger("intygstjanst.authorization")

ANY = "*"
# Grants are written in Swedish calendar days, like the platform's table.
SWEDEN = ZoneInfo("Europe/Stockholm")
_FIELDS = ("consumer", "logical_address", "contract", "valid_from", "valid_to")
# Not a SOAP contract: the name a grant gives to the care-giver statistics pages (logical address =
# the care giver).
STATISTICS_NAMESPACE = "urn:intygstjanst:statistics:care-giver:1"
# Not a SOAP contract either: the operator API of the data lifecycle (logical address = the care
# giver, or "*" for destroy and purge). It can export and erase whole care givers, so a grant of
# every contract ("*") does not include it.
OPERATOR_NAMESPACE = "urn:intygstjanst:operator:data-lifecycle:1"
_NAMED_ONLY = frozenset({OPERATOR_NAMESPACE})


@dataclass(frozen=True)
class Grant:
    """One row of the table; it applies when ``start <= now < end``."""

    consumer: str
    logical_address: str
    contract: str
    start: dt.datetime
    end: dt.datetime
    entry: int  # position in the file, for messages

    def covers(self, namespace: str, logical_address: str) -> bool:
        named = self.contract == namespace or (self.contract == ANY and namespace not in _NAMED_ONLY)
        return named and self.logical_address in (ANY, logical_address)

    def in_force(self, now: dt.datetime) -> bool:
        return self.start <= now < self.end

    def describe(self) -> str:
        return (
            f"grant #{self.entry} ({self.consumer}, {self.logical_address}, {self.contract}, "
            f"{self.start.isoformat()} to {self.end.isoformat()})"
        )


class AuthorizationTable:
    """The grants of one file, indexed by consumer."""

    def __init__(self, grants: Iterable[Grant], source: Path | None = None) -> None:
        self.source = source
        self._by_consumer: dict[str, list[Grant]] = {}
        for grant in grants:
            self._by_consumer.setdefault(grant.consumer, []).append(grant)

    @classmethod
    def load(cls, path: Path, namespaces: Collection[str]) -> AuthorizationTable:
        """Read and check ``path``; ``namespaces`` are the served contracts' (a grant must name one)."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise AuthorizationFileError(f"authorization file {path}: cannot read it: {exc.strerror or exc}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise AuthorizationFileError(f"authorization file {path}: not valid TOML: {exc}") from exc
        unknown = sorted(set(data) - {"grant"})
        if unknown:
            raise AuthorizationFileError(
                f"authorization file {path}: unknown top-level key {unknown[0]!r}; grants are [[grant]] tables"
            )
        entries = data.get("grant", [])
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise AuthorizationFileError(f"authorization file {path}: 'grant' must be an array of tables ([[grant]])")
        return cls((_grant(entry, index, path, namespaces) for index, entry in enumerate(entries, 1)), path)

    def __len__(self) -> int:
        return sum(len(grants) for grants in self._by_consumer.values())

    def grants(self) -> list[Grant]:
        return sorted((g for grants in self._by_consumer.values() for g in grants), key=lambda g: g.entry)

    def permits(self, consumer: str, namespace: str, logical_address: str, now: dt.datetime) -> bool:
        return any(
            grant.covers(namespace, logical_address) and grant.in_force(now)
            for grant in self._by_consumer.get(consumer, ())
        )

    def grants_some_address(self, consumer: str, namespace: str, now: dt.datetime) -> bool:
        """Whether some logical address would be granted (a call for any other is refused)."""
        return any(
            grant.contract in (ANY, namespace) and grant.in_force(now) for grant in self._by_consumer.get(consumer, ())
        )

    def why_not(self, consumer: str, namespace: str, logical_address: str, now: dt.datetime) -> str:
        """For the operator's log: the closest the table comes to granting the call."""
        grants = self._by_consumer.get(consumer, [])
        if not grants:
            return f"no grant names consumer {consumer}"
        covering = [grant for grant in grants if grant.covers(namespace, logical_address)]
        if covering:
            return "not in force now: " + "; ".join(grant.describe() for grant in covering)
        return f"consumer {consumer} has {len(grants)} grant(s), none for this contract and logical address"


def _grant(entry: Mapping[str, Any], index: int, path: Path, namespaces: Collection[str]) -> Grant:
    where = f"authorization file {path}: grant #{index}"

    def fail(problem: str) -> AuthorizationFileError:
        return AuthorizationFileError(f"{where}: {problem}")

    unknown = sorted(set(entry) - set(_FIELDS))
    if unknown:
        raise fail(f"unknown key {unknown[0]!r} (a grant has {', '.join(_FIELDS)})")
    missing = [name for name in _FIELDS if name not in entry]
    if missing:
        raise fail(f"missing {', '.join(missing)}")
    consumer, address, contract = (entry[name] for name in ("consumer", "logical_address", "contract"))
    for name, value in (("consumer", consumer), ("logical_address", address), ("contract", contract)):
        if not isinstance(value, str) or not value or value != value.strip():
            raise fail(f"{name} must be a non-empty string without surrounding spaces, got {value!r}")
    if consumer == ANY:
        # A wildcard consumer would grant every holder of a certificate from the trusted CAs.
        raise fail("consumer must be one HSA-id; '*' is not allowed for the consumer")
    if not HSA_ID.fullmatch(consumer):
        raise fail(f"consumer {consumer!r} is not an HSA-id ({HSA_ID_RULE})")
    if contract != ANY and contract not in namespaces:
        close = difflib.get_close_matches(contract, list(namespaces), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise fail(f"contract {contract!r} is not the namespace of a contract this service serves{hint}")
    start = _moment(entry["valid_from"], fail, "valid_from", end_of_day=False)
    end = _moment(entry["valid_to"], fail, "valid_to", end_of_day=True)
    if end <= start:
        raise fail(f"valid_to {entry['valid_to']} is not after valid_from {entry['valid_from']}")
    return Grant(consumer, address, contract, start, end, index)


def _moment(
    value: object, fail: Callable[[str], AuthorizationFileError], name: str, *, end_of_day: bool
) -> dt.datetime:
    """A TOML date (a Swedish day; ``end_of_day`` takes the midnight after it) or date-time."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=SWEDEN)
    if isinstance(value, dt.date):
        day = value + dt.timedelta(days=1) if end_of_day else value
        return dt.datetime.combine(day, dt.time(), SWEDEN)
    raise fail(f"{name} must be a TOML date such as 2025-01-01 (unquoted) or a date-time, got {value!r}")


class CallAuthorizer:
    """The dispatcher's authorizer over a table file; :meth:`reload` swaps in a re-read table.

    The identity authorized is the original consumer when a platform passed one (the caller resolver
    only lets platforms do that), otherwise the certificate's HSA-id. Requests are served from worker
    threads while a reload runs in the main thread; replacing the table is one reference assignment,
    so a call sees either the old table or the new one.
    """

    def __init__(
        self, path: Path, namespaces: Collection[str], clock: Callable[[], dt.datetime] = utc_now
    ) -> None:
        self.path = path
        self._namespaces = frozenset(namespaces) | {STATISTICS_NAMESPACE, OPERATOR_NAMESPACE}
        self._clock = clock
        self.table = AuthorizationTable.load(path, self._namespaces)

    def reload(self) -> AuthorizationTable:
        """Re-read the file; on :class:`AuthorizationFileError` the current table stays in force."""
        self.table = AuthorizationTable.load(self.path, self._namespaces)
        return self.table

    def may_grant(self, caller: Caller, contract: Contract) -> bool:
        """False when no logical address would be granted: the dispatcher then refuses the call (by
        :meth:`__call__`, for the same Fault) before parsing its body."""
        identity = caller.original_consumer or caller.consumer
        return identity is not None and self.table.grants_some_address(identity, contract.namespace, self._clock())

    def permits(self, caller: Caller, namespace: str, logical_address: str) -> bool:
        """Whether the table grants ``caller`` ``namespace`` for ``logical_address`` now (for what is
        not a SOAP call: the care-giver statistics)."""
        identity = caller.original_consumer or caller.consumer
        return caller.refusal is None and identity is not None and self.table.permits(identity, namespace, logical_address, self._clock())

    def __call__(self, caller: Caller, contract: Contract, logical_address: str) -> str:
        identity = caller.original_consumer or caller.consumer
        if identity is None:
            raise SoapFault(f"{contract.name} needs an authenticated consumer (a client certificate with an HSA-id)")
        table = self.table
        now = self._clock()
        if table.permits(identity, contract.namespace, logical_address, now):
            return identity
        who = f"consumer {identity}"
        if caller.original_consumer is not None:
            who += f" (original consumer, passed by platform {caller.consumer})"
        message = (
            f"{who} is not authorized to call {contract.name} ({contract.namespace}) "
            f"for logical address {logical_address}"
        )
        log.warning("refused: %s; %s", message, table.why_not(identity, contract.namespace, logical_address, now))
        raise SoapFault(message)
