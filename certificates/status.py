"""What a certificate's state history means, and which part may see which entry."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lxml import etree

from intygstjanst.contracts.xml import CORE, PART_CODE_SYSTEM, STATUS_CODE_SYSTEM, cv, sub
from intygstjanst.persistence.certificates import StateEntry

CARE = "HSVARD"
CITIZEN = "INVANA"

# The one mapping between the states storage keeps and the national status codes (code system
# KV_STATUS) written on the wire; the national service writes the stored name as displayName.
# Storage also keeps the v1-only states (UNHANDLED, IN_PROGRESS, PROCESSED) SetCertificateStatus v1
# accepts: they have no wire code and never appear in a status list.
WIRE_CODES = {
    "RECEIVED": "RECEIV",
    "SENT": "SENTTO",
    "CANCELLED": "CANCEL",
    "DELETED": "DELETE",
    "RESTORED": "RESTOR",
}
STATES_BY_WIRE_CODE = {code: state for state, code in WIRE_CODES.items()}


def visible_states(states: Iterable[StateEntry], part: str) -> list[StateEntry]:
    """The entries ``part`` may see.

    The citizen sees everything. Care sees all but the citizen's own archiving (DELETED /
    RESTORED are the citizen's private housekeeping). A recipient sees that the certificate was
    received and whether it was revoked, plus only the SENT entries addressed to itself: who else
    got the certificate is none of its business.
    """
    if part == CITIZEN:
        return list(states)
    if part == CARE:
        return [s for s in states if s.state not in ("DELETED", "RESTORED")]
    return [s for s in states if s.state in ("RECEIVED", "CANCELLED") or (s.state == "SENT" and s.target == part)]


def is_revoked(states: Sequence[StateEntry]) -> bool:
    return any(s.state == "CANCELLED" for s in states)


def is_archived(states: Sequence[StateEntry]) -> bool:
    """Archived by the citizen: the latest DELETED/RESTORED entry decides."""
    latest = None
    for entry in states:
        if entry.state in ("DELETED", "RESTORED"):
            latest = entry.state
    return latest == "DELETED"


def sent_to(states: Sequence[StateEntry], part: str) -> bool:
    return any(s.state == "SENT" and s.target == part for s in states)


def status_elements(states: Sequence[StateEntry], namespace: str = CORE) -> list[etree._Element]:
    """IntygsStatus elements (``part``, ``status``, ``tidpunkt``) in the core namespace, newest first
    as the national service lists them (``states`` come oldest first, as stored). The part carries no
    displayName, the status its wire code with the stored name as displayName, as the national
    service writes them."""
    out = []
    for entry in reversed(states):
        code = WIRE_CODES.get(entry.state)
        if code is None:
            continue  # a v1-only state (see WIRE_CODES)
        element = etree.Element(f"{{{namespace}}}status")
        cv(element, f"{{{CORE}}}part", entry.target, PART_CODE_SYSTEM)
        cv(element, f"{{{CORE}}}status", code, STATUS_CODE_SYSTEM, entry.state)
        sub(element, f"{{{CORE}}}tidpunkt", entry.at.replace(microsecond=0).isoformat())
        out.append(element)
    return out
