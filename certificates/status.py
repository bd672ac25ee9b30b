"""What a certificate's state history means, and which part may see which entry."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lxml import etree

from intygstjanst.contracts.xml import CORE, PART_CODE_SYSTEM, STATUS_CODE_SYSTEM, cv, sub
from intygstjanst.persistence.certificates import StateEntry

CARE = "HSVARD"
CITIZEN = "INVANA"

# Display names of the code systems KV_PART and KV_STATUS.
PART_NAMES = {
    "FKASSA": "Försäkringskassan",
    "HSVARD": "Hälso- och sjukvården",
    "INVANA": "Invånaren",
    "TRANSP": "Transportstyrelsen",
    "SKV": "Skatteverket",
    "SOS": "Socialstyrelsen",
    "AF": "Arbetsförmedlingen",
    "AG": "Arbetsgivaren",
}
STATUS_NAMES = {
    "RECEIVED": "Mottaget",
    "SENT": "Skickat",
    "CANCELLED": "Makulerat",
    "DELETED": "Arkiverat",
    "RESTORED": "Återaktiverat",
}


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


def status_elements(states: Iterable[StateEntry], namespace: str = CORE) -> list[etree._Element]:
    """IntygsStatus elements (``part``, ``status``, ``tidpunkt``) in the core namespace."""
    out = []
    for entry in states:
        element = etree.Element(f"{{{namespace}}}status")
        cv(element, f"{{{CORE}}}part", entry.target, PART_CODE_SYSTEM, PART_NAMES.get(entry.target))
        cv(element, f"{{{CORE}}}status", entry.state, STATUS_CODE_SYSTEM, STATUS_NAMES.get(entry.state))
        sub(element, f"{{{CORE}}}tidpunkt", entry.at.replace(microsecond=0).isoformat())
        out.append(element)
    return out
