"""Repository of care's receiver approvals: per certificate, which receivers it may be sent to."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.engine import Connection

from intygstjanst.persistence import certificates
from intygstjanst.persistence.models import ApprovedReceiver


@dataclass(frozen=True)
class Approval:
    receiver_id: str
    approval: str  # YES, NO or UNDEFINED
    certificate_type: str


_DELETE = delete(ApprovedReceiver).where(ApprovedReceiver.certificate_id == bindparam("certificate"))
_INSERT = insert(ApprovedReceiver)
_OF_CERTIFICATE = (
    select(ApprovedReceiver.receiver_id, ApprovedReceiver.approval, ApprovedReceiver.certificate_type)
    .where(ApprovedReceiver.certificate_id == bindparam("certificate"))
    .order_by(ApprovedReceiver.receiver_id)
)


def replace_approvals(
    conn: Connection,
    certificate_id: str,
    certificate_type: str,
    approvals: Sequence[tuple[str, str]],
    at: dt.datetime,
) -> None:
    """Make ``approvals`` ((receiver id, YES/NO/UNDEFINED), ids unique) the certificate's whole set.

    Each registration states care's complete decision, so an earlier one is replaced, not merged:
    a receiver left out of the new registration is no longer approved.
    """
    certificates.hold(conn, [certificate_id])  # not erased unexported meanwhile (see hold)
    conn.execute(_DELETE, {"certificate": certificate_id})
    if approvals:
        conn.execute(
            _INSERT,
            [
                {
                    "certificate_id": certificate_id,
                    "receiver_id": receiver,
                    "certificate_type": certificate_type,
                    "approval": approval,
                    "registered_at": at,
                }
                for receiver, approval in approvals
            ],
        )


def approvals_for(conn: Connection, certificate_id: str) -> list[Approval]:
    """The certificate's registered approvals, by receiver id."""
    return [Approval(r.receiver_id, r.approval, r.certificate_type) for r in conn.execute(_OF_CERTIFICATE, {"certificate": certificate_id})]
