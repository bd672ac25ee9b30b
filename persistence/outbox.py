"""The delivery outbox: messages to recipients, queued in the transaction of the change that causes
them and delivered by ``intygstjanst worker``.

Life of a row: ``PENDING`` (due at ``due_at``) -> claimed by a worker (``claim_token`` set, ``due_at``
moved to the end of the lease) -> ``DELIVERED``, or back to ``PENDING`` with a later ``due_at`` for a
retry, or ``DEAD`` with the reason. A worker that dies holding a claim needs no clean-up: the row
falls due again when the lease ends and another claim picks it up. The same message can therefore
be sent twice (a crash after the recipient accepted it but before the row was marked); every
attempt carries the row's ``delivery_id`` so the recipient can recognise the repeat.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, case, func, or_, select, update
from sqlalchemy.engine import Connection

from intygstjanst.persistence.models import OutboxCounter
from intygstjanst.persistence.tables import OUTBOX as _T, insert_or_skip
from intygstjanst.persistence.db import utc_now

PENDING = "PENDING"
DELIVERED = "DELIVERED"
DEAD = "DEAD"

_C = cast(Table, OutboxCounter.__table__)


def enqueue(
    conn: Connection,
    *,
    recipient: str,
    contract: str,
    payload: bytes,
    dedupe_key: str,
    reference: str | None = None,
    logical_address: str | None = None,
    not_before: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Queue one message in the caller's transaction; False when ``dedupe_key`` is already queued.

    ``contract`` is the outbound contract key (``"RevokeCertificate:2"``, see ``delivery.CONTRACTS``),
    ``payload`` the request payload element as XML. ``logical_address`` overrides the recipient's own.
    ``not_before`` (naive UTC) delays the first attempt.
    """
    now = now or utc_now()
    statement = (
        insert_or_skip(conn, _T)
        .values(
            delivery_id=str(uuid.uuid4()),
            dedupe_key=dedupe_key,
            recipient=recipient,
            contract=contract,
            logical_address=logical_address,
            reference=reference,
            payload=payload,
            status=PENDING,
            attempts=0,
            created_at=now,
            due_at=max(now, not_before) if not_before else now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(_T.c.id)
    )
    # RETURNING rather than rowcount: drivers report rowcount for INSERT .. ON CONFLICT differently.
    return conn.execute(statement).first() is not None


# -- claiming and results (the worker) ------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    delivery_id: str
    recipient: str
    contract: str
    logical_address: str | None
    reference: str | None
    payload: bytes
    attempts: int  # including this one
    token: str  # the claim's; outcomes other than "delivered" only apply while the row is still this claim's


def claim(conn: Connection, *, limit: int, lease_until: dt.datetime, token: str, now: dt.datetime) -> list[Claimed]:
    """Claim up to ``limit`` due rows until ``lease_until``.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets concurrent workers claim disjoint rows without
    waiting on each other. SQLite ignores it; there the whole transaction holds the write lock
    (BEGIN IMMEDIATE), so claims are serialised and just as disjoint.
    """
    due = (
        select(_T.c.id)
        .where(_T.c.status == PENDING, _T.c.due_at <= now)
        .order_by(_T.c.due_at, _T.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    statement = (
        update(_T)
        .where(_T.c.id.in_(due))
        .values(due_at=lease_until, claim_token=token, attempts=_T.c.attempts + 1, last_attempt_at=now)
        .returning(
            _T.c.id, _T.c.delivery_id, _T.c.recipient, _T.c.contract, _T.c.logical_address, _T.c.reference, _T.c.payload, _T.c.attempts
        )
    )
    rows = conn.execute(statement).all()
    return sorted((Claimed(**row._asdict(), token=token) for row in rows), key=lambda c: c.id)


def has_due(conn: Connection, now: dt.datetime) -> bool:
    """Whether any row is due: a read, so that idle workers polling do not take SQLite's write lock."""
    return conn.execute(select(_T.c.id).where(_T.c.status == PENDING, _T.c.due_at <= now).limit(1)).first() is not None


@dataclass(frozen=True)
class Retry:
    due_at: dt.datetime
    error: str


@dataclass(frozen=True)
class Dead:
    error: str


# Prebuilt: the worker runs these for every batch.
# One statement for the whole batch (the common outcome); an executemany costs a round trip per row.
_MARK_DELIVERED = (
    update(_T)
    .where(_T.c.id.in_(bindparam("b_ids", expanding=True)), _T.c.status == PENDING)
    .values(status=DELIVERED, delivered_at=bindparam("b_now"), claim_token=None, last_error=None)
)
# Retries and dead letters only apply while the row is still this claim's: if the lease ran out and
# another worker claimed the row, that worker's outcome is the newer one.
_MARK_RETRY = (
    update(_T)
    .where(_T.c.id == bindparam("b_id"), _T.c.status == PENDING, _T.c.claim_token == bindparam("b_token"))
    .values(due_at=bindparam("b_due"), claim_token=None, last_error=bindparam("b_error"))
)
_MARK_DEAD = (
    update(_T)
    .where(_T.c.id == bindparam("b_id"), _T.c.status == PENDING, _T.c.claim_token == bindparam("b_token"))
    .values(status=DEAD, claim_token=None, last_error=bindparam("b_error"))
)


def record_results(
    conn: Connection,
    *,
    delivered: Sequence[Claimed],
    retries: Sequence[tuple[Claimed, Retry]],
    dead: Sequence[tuple[Claimed, Dead]],
    now: dt.datetime,
) -> None:
    """Write one batch of outcomes and count them per recipient, in one transaction.

    A delivered row is marked whoever holds the claim: the recipient has it, which is what counts.
    """
    if delivered:
        conn.execute(_MARK_DELIVERED, {"b_ids": [c.id for c in delivered], "b_now": now})
    if retries:
        conn.execute(
            _MARK_RETRY, [{"b_id": c.id, "b_token": c.token, "b_due": r.due_at, "b_error": r.error[:2000]} for c, r in retries]
        )
    if dead:
        conn.execute(_MARK_DEAD, [{"b_id": c.id, "b_token": c.token, "b_error": d.error[:2000]} for c, d in dead])
    counts: dict[tuple[str, str], int] = {}
    for outcome, items in (("delivered", delivered), ("retry", [c for c, _ in retries]), ("dead", [c for c, _ in dead])):
        for item in items:
            counts[(item.recipient, outcome)] = counts.get((item.recipient, outcome), 0) + 1
    add_counts(conn, counts)


def release(conn: Connection, ids: Iterable[int], token: str, now: dt.datetime) -> int:
    """Give back claimed rows that were never attempted (worker shutting down): due now, attempt undone."""
    id_list = list(ids)
    if not id_list:
        return 0
    result = conn.execute(
        update(_T)
        .where(_T.c.id.in_(id_list), _T.c.status == PENDING, _T.c.claim_token == token)
        .values(due_at=now, claim_token=None, attempts=_T.c.attempts - 1)
    )
    return result.rowcount


def add_counts(conn: Connection, counts: dict[tuple[str, str], int]) -> None:
    if not counts:
        return
    insert = insert_or_skip(conn, _C)
    statement = insert.on_conflict_do_update(
        index_elements=["recipient", "outcome"], set_={"count": _C.c.count + insert.excluded.count}
    )
    # Sorted, so two workers updating the same counters lock them in the same order (no deadlock).
    conn.execute(statement, [{"recipient": r, "outcome": o, "count": n} for (r, o), n in sorted(counts.items())])


# -- operators and metrics ------------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientQueue:
    recipient: str
    pending: int
    in_flight: int  # claimed right now (lease running)
    dead: int
    oldest_pending: dt.datetime | None


@dataclass(frozen=True)
class Counter:
    recipient: str
    outcome: str
    count: int


def queues(conn: Connection, now: dt.datetime) -> list[RecipientQueue]:
    """Per recipient: undelivered rows (in flight included) and dead ones.

    Delivered rows are left out so that the query (run on every metrics scrape) reads only the
    queue, however many delivered rows await purging; delivered counts are in :func:`counters`.
    """

    def count_if(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    pending = _T.c.status == PENDING
    rows = conn.execute(
        select(
            _T.c.recipient,
            count_if(pending),
            count_if(and_(pending, _T.c.claim_token.is_not(None), _T.c.due_at > now)),
            count_if(_T.c.status == DEAD),
            func.min(case((pending, _T.c.created_at), else_=None)),
        )
        .where(_T.c.status.in_([PENDING, DEAD]))
        .group_by(_T.c.recipient)
        .order_by(_T.c.recipient)
    )
    return [
        RecipientQueue(recipient, int(p or 0), int(f or 0), int(d or 0), oldest) for recipient, p, f, d, oldest in rows
    ]


def counters(conn: Connection) -> list[Counter]:
    rows = conn.execute(select(_C.c.recipient, _C.c.outcome, _C.c.count).order_by(_C.c.recipient, _C.c.outcome))
    return [Counter(r, o, int(n)) for r, o, n in rows]


@dataclass(frozen=True)
class ItemView:
    id: int
    delivery_id: str
    recipient: str
    contract: str
    reference: str | None
    status: str
    attempts: int
    created_at: dt.datetime
    due_at: dt.datetime
    delivered_at: dt.datetime | None
    last_error: str | None


_ITEM_COLUMNS = (
    _T.c.id, _T.c.delivery_id, _T.c.recipient, _T.c.contract, _T.c.reference, _T.c.status, _T.c.attempts,
    _T.c.created_at, _T.c.due_at, _T.c.delivered_at, _T.c.last_error,
)


def list_items(
    conn: Connection,
    *,
    status: str | None = None,
    recipient: str | None = None,
    ids: Sequence[int] | None = None,
    limit: int = 50,
) -> list[ItemView]:
    """Rows for operators, newest first."""
    statement = select(*_ITEM_COLUMNS).order_by(_T.c.id.desc()).limit(limit)
    if status is not None:
        statement = statement.where(_T.c.status == status)
    if recipient is not None:
        statement = statement.where(_T.c.recipient == recipient)
    if ids is not None:
        statement = statement.where(_T.c.id.in_(list(ids)))
    return [ItemView(*row) for row in conn.execute(statement)]


def revive(conn: Connection, ids: Sequence[int] | None, now: dt.datetime) -> list[int]:
    """Make rows due now; returns the ids that were changed.

    With ``ids``: dead rows, and pending rows waiting for a retry (not those in flight). Without:
    every dead row. Delivered rows are never sent again.
    """
    waiting = and_(_T.c.status == PENDING, or_(_T.c.claim_token.is_(None), _T.c.due_at <= now))
    condition = _T.c.status == DEAD if ids is None else and_(_T.c.id.in_(list(ids)), or_(_T.c.status == DEAD, waiting))
    statement = update(_T).where(condition).values(status=PENDING, due_at=now, claim_token=None).returning(_T.c.id)
    return sorted(conn.execute(statement).scalars())


def purge_delivered(conn: Connection, older_than: dt.datetime) -> int:
    """Delete delivered rows delivered before ``older_than``; returns how many."""
    return conn.execute(_T.delete().where(_T.c.status == DELIVERED, _T.c.delivered_at < older_than)).rowcount
