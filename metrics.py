"""Prometheus metrics at ``/metrics`` (text exposition format 0.0.4).

Everything is read from the database, not from process memory: the workers are other processes
(and there may be several), and counts kept in the outbox_counter table survive restarts and purges
of delivered rows, so they behave as Prometheus counters should.

May import: ``persistence``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from intygstjanst.persistence import outbox, signatures
from intygstjanst.persistence.db import Database, utc_now

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render(db: Database, now: dt.datetime | None = None) -> str:
    now = now or utc_now()
    with db.read() as conn:
        queues = outbox.queues(conn, now)
        counters = outbox.counters(conn)
        signature_counts = signatures.counts(conn)
    out: list[str] = []

    def family(name: str, kind: str, text: str, samples: Iterable[tuple[dict[str, str], float]]) -> None:
        out.append(f"# HELP {name} {text}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            out.append(f"{name}{{{label_text}}} {_number(value)}" if label_text else f"{name} {_number(value)}")

    oldest = [q.oldest_pending for q in queues if q.oldest_pending is not None]
    family("intyg_outbox_queue_depth", "gauge", "Undelivered outbox messages, in flight included.", [({}, sum(q.pending for q in queues))])
    family(
        "intyg_outbox_oldest_undelivered_age_seconds",
        "gauge",
        "Age of the oldest undelivered message (0 when none).",
        [({}, (now - min(oldest)).total_seconds() if oldest else 0.0)],
    )
    family("intyg_outbox_pending", "gauge", "Undelivered messages per recipient.", [({"recipient": q.recipient}, q.pending) for q in queues])
    family("intyg_outbox_in_flight", "gauge", "Messages being sent right now per recipient.", [({"recipient": q.recipient}, q.in_flight) for q in queues])
    family("intyg_outbox_dead", "gauge", "Dead-lettered messages per recipient (revive with `outbox retry`).", [({"recipient": q.recipient}, q.dead) for q in queues])
    family(
        "intyg_outbox_oldest_pending_age_seconds",
        "gauge",
        "Age of the oldest undelivered message per recipient.",
        [({"recipient": q.recipient}, (now - q.oldest_pending).total_seconds()) for q in queues if q.oldest_pending is not None],
    )
    family(
        "intyg_outbox_deliveries_total",
        "counter",
        "Messages delivered per recipient.",
        [({"recipient": c.recipient}, c.count) for c in counters if c.outcome == "delivered"],
    )
    family(
        "intyg_outbox_failures_total",
        "counter",
        "Failed delivery attempts per recipient: kind retry (technical, will be retried) or dead (refused for good).",
        [({"recipient": c.recipient, "kind": c.outcome}, c.count) for c in counters if c.outcome != "delivered"],
    )
    by_status: dict[str, int] = {}
    for (status, _reason), count in signature_counts.items():
        by_status[status] = by_status.get(status, 0) + count
    family(
        "intyg_certificate_signatures",
        "gauge",
        "Stored certificates by the result of checking their signature: valid, invalid, unsigned or not_checked.",
        [({"status": status}, count) for status, count in sorted(by_status.items())],
    )
    family(
        "intyg_certificate_signatures_invalid",
        "gauge",
        "Stored certificates whose signature does not hold, by the first reason (digest, signature, untrusted_issuer, ...).",
        [({"reason": reason}, count) for (status, reason), count in sorted(signature_counts.items()) if status == "invalid"],
    )
    return "\n".join(out) + "\n"


async def endpoint(request: Request) -> Response:
    db: Database = request.app.state.services.db
    return PlainTextResponse(await run_in_threadpool(render, db), media_type=CONTENT_TYPE)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
