"""The outbox repository: enqueue in the caller's transaction, claims, outcomes, operator queries."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from intygstjanst.persistence import outbox
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.models import OutboxItem

T0 = dt.datetime(2026, 1, 1, 12, 0, 0)
LEASE = dt.timedelta(seconds=60)


def put(db: Database, key: str, recipient: str = "FKASSA", **extra: object) -> bool:
    with db.transaction() as conn:
        return outbox.enqueue(
            conn, recipient=recipient, contract="RevokeCertificate:2", payload=b"<p/>", dedupe_key=key, now=T0, **extra
        )


def claim(db: Database, limit: int = 10, now: dt.datetime = T0, token: str = "w1") -> list[outbox.Claimed]:
    with db.transaction() as conn:
        return outbox.claim(conn, limit=limit, lease_until=now + LEASE, token=token, now=now)


def test_enqueue_is_idempotent_on_the_dedupe_key_and_keeps_the_transaction_usable(db: Database) -> None:
    with db.transaction() as conn:
        assert outbox.enqueue(conn, recipient="FKASSA", contract="RevokeCertificate:2", payload=b"<a/>", dedupe_key="k", reference="c-1")
        assert not outbox.enqueue(conn, recipient="FKASSA", contract="RevokeCertificate:2", payload=b"<b/>", dedupe_key="k")
        # After the refused duplicate the same transaction still works (PostgreSQL would have
        # aborted it after a failed plain INSERT).
        assert outbox.enqueue(conn, recipient="SKV", contract="RevokeCertificate:2", payload=b"<c/>", dedupe_key="k2")
    with db.read() as conn:
        rows = conn.execute(select(OutboxItem.dedupe_key, OutboxItem.payload, OutboxItem.status).order_by(OutboxItem.id)).all()
    assert [tuple(r) for r in rows] == [("k", b"<a/>", "PENDING"), ("k2", b"<c/>", "PENDING")]


def test_enqueue_rolls_back_with_the_state_change(db: Database) -> None:
    with pytest.raises(RuntimeError):
        with db.transaction() as conn:
            outbox.enqueue(conn, recipient="FKASSA", contract="RevokeCertificate:2", payload=b"<a/>", dedupe_key="k")
            raise RuntimeError("the state change failed")
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(OutboxItem)).scalar_one() == 0


def test_claim_takes_due_rows_once_and_the_lease_hides_them(db: Database) -> None:
    for i in range(5):
        assert put(db, f"k{i}")
    assert put(db, "later", not_before=T0 + dt.timedelta(minutes=5))
    first = claim(db, limit=3)
    assert [c.attempts for c in first] == [1, 1, 1]
    second = claim(db, limit=10, token="w2")
    assert len(second) == 2
    assert {c.id for c in first}.isdisjoint(c.id for c in second)
    assert claim(db, token="w3") == []
    with db.read() as conn:
        assert not outbox.has_due(conn, T0)
        assert outbox.has_due(conn, T0 + LEASE + dt.timedelta(seconds=1))
    # When the lease ends (the worker died), the rows fall due again, with the attempt counted.
    again = claim(db, now=T0 + LEASE + dt.timedelta(seconds=1), token="w4")
    assert len(again) == 5 and {c.attempts for c in again} == {2}
    # Later still, the delayed row is due (first attempt) next to the five whose leases ran out again.
    late = claim(db, now=T0 + dt.timedelta(minutes=6), token="w5")
    assert sorted(c.attempts for c in late) == [1, 3, 3, 3, 3, 3]


def test_concurrent_claims_are_disjoint(db: Database) -> None:
    for i in range(200):
        put(db, f"k{i}")

    def worker(token: str) -> list[int]:
        got: list[int] = []
        while batch := claim(db, limit=7, token=token):
            got.extend(c.id for c in batch)
        return got

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(worker, ["a", "b", "c", "d"]))
    everything = [i for r in results for i in r]
    assert len(everything) == 200 and len(set(everything)) == 200


def test_outcomes_are_recorded_and_counted(db: Database) -> None:
    for key, recipient in (("a", "FKASSA"), ("b", "FKASSA"), ("c", "SKV")):
        put(db, key, recipient)
    a, b, c = claim(db)
    later = T0 + dt.timedelta(seconds=30)
    with db.transaction() as conn:
        outbox.record_results(
            conn,
            delivered=[a],
            retries=[(b, outbox.Retry(later, "FKASSA RevokeCertificate:2: timed out"))],
            dead=[(c, outbox.Dead("SKV RevokeCertificate:2: ERROR VALIDATION_ERROR: bad"))],
            now=T0,
        )
    with db.read() as conn:
        items = {i.id: i for i in outbox.list_items(conn)}
        queues = {q.recipient: q for q in outbox.queues(conn, T0)}
        counts = {(x.recipient, x.outcome): x.count for x in outbox.counters(conn)}
    assert items[a.id].status == "DELIVERED" and items[a.id].delivered_at == T0
    assert items[b.id].status == "PENDING" and items[b.id].due_at == later and "timed out" in (items[b.id].last_error or "")
    assert items[c.id].status == "DEAD" and "VALIDATION_ERROR" in (items[c.id].last_error or "")
    assert queues["FKASSA"] == outbox.RecipientQueue("FKASSA", 1, 0, 0, T0)
    assert queues["SKV"] == outbox.RecipientQueue("SKV", 0, 0, 1, None)
    assert counts == {("FKASSA", "delivered"): 1, ("FKASSA", "retry"): 1, ("SKV", "dead"): 1}


def test_a_stale_claim_cannot_overwrite_a_newer_one(db: Database) -> None:
    put(db, "a")
    (old,) = claim(db, token="old")
    (new,) = claim(db, now=T0 + LEASE + dt.timedelta(seconds=1), token="new")
    with db.transaction() as conn:
        outbox.record_results(conn, delivered=[], retries=[], dead=[(old, outbox.Dead("late verdict"))], now=T0)
    with db.read() as conn:
        (item,) = outbox.list_items(conn)
    assert item.status == "PENDING"
    # ... but "delivered" is a fact, whoever reports it.
    with db.transaction() as conn:
        outbox.record_results(conn, delivered=[old], retries=[], dead=[], now=T0)
    with db.read() as conn:
        (item,) = outbox.list_items(conn)
    assert item.status == "DELIVERED"


def test_release_revive_and_purge(db: Database) -> None:
    for key in "abc":
        put(db, key)
    a, b, c = claim(db)
    with db.transaction() as conn:
        assert outbox.release(conn, [a.id], "w1", T0) == 1
        outbox.record_results(conn, delivered=[b], retries=[], dead=[(c, outbox.Dead("no"))], now=T0)
    (again,) = claim(db, token="w2")
    assert again.id == a.id and again.attempts == 1  # the released claim did not count as an attempt
    with db.transaction() as conn:
        assert outbox.revive(conn, [b.id, c.id, a.id], T0) == [c.id]  # delivered: never; a: in flight
        assert outbox.revive(conn, None, T0) == []  # no dead row left
        assert outbox.purge_delivered(conn, T0) == 0  # delivered at T0, not before
        assert outbox.purge_delivered(conn, T0 + dt.timedelta(seconds=1)) == 1
    with db.read() as conn:
        assert sorted(i.status for i in outbox.list_items(conn)) == ["PENDING", "PENDING"]
        assert [i.id for i in outbox.list_items(conn, ids=[c.id])] == [c.id]
