"""ListRelationsForCertificate v1: how certificates replace, complete, renew and copy each other.

For each asked certificate the answer holds its whole line of relations in both directions: every
certificate it derives from, transitively (the one it replaces, the one that one completes, ...),
and every certificate derived from it, transitively (its replacement, the completion of that
replacement, ...). Siblings reached only through a common ancestor are not part of a certificate's
line. Relations come in the order they were made, each with whether its newer ("från") certificate
has been revoked, which is what a journal system needs to find the valid successor.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from lxml import etree
from sqlalchemy.engine import Connection

from intygstjanst.contracts.call import Answer, Call
from intygstjanst.contracts.result import OK
from intygstjanst.contracts.xml import RELATION_CODE_SYSTEM, TYPES, cv, sub
from intygstjanst.persistence import certificates as repo
from intygstjanst.persistence.certificates import RelationRow
from intygstjanst.services import Services

# Display names of KV_RELATION.
RELATION_NAMES = {"ERSATT": "Ersätter", "KOMPLT": "Kompletterar", "FRLANG": "Förlänger", "KOPIA": "Kopia"}


def list_relations_for_certificate(call: Call[Services]) -> Answer:
    ns = call.contract.namespace
    # Each distinct id once, in the order asked.
    asked = list(dict.fromkeys((e.text or "").strip() for e in call.request.iterfind(f"{{{ns}}}intygs-id")))
    with call.services.db.read() as conn:
        edges = _load_lines(conn, asked)
        revoked = repo.revoked_among(conn, {e.from_id for e in edges})
        units = repo.care_units_of(conn, {*asked, *(e.from_id for e in edges), *(e.to_id for e in edges)})

    by_from: dict[str, list[RelationRow]] = defaultdict(list)
    by_to: dict[str, list[RelationRow]] = defaultdict(list)
    for edge in edges:
        by_from[edge.from_id].append(edge)
        by_to[edge.to_id].append(edge)

    response = call.contract.response_element(types=TYPES)
    for certificate_id in asked:
        entry = sub(response, f"{{{ns}}}intygRelation")
        _intyg_id(entry, f"{{{ns}}}intygs-id", certificate_id, units)
        line = _walk(certificate_id, by_from, "to_id") | _walk(certificate_id, by_to, "from_id")
        for edge in sorted(line, key=lambda e: (e.created_at, e.id)):
            relation = sub(entry, f"{{{ns}}}relation")
            cv(relation, f"{{{ns}}}typ", edge.kind, RELATION_CODE_SYSTEM, RELATION_NAMES.get(edge.kind))
            _intyg_id(relation, f"{{{ns}}}fran-intygs-id", edge.from_id, units)
            _intyg_id(relation, f"{{{ns}}}till-intygs-id", edge.to_id, units)
            sub(relation, f"{{{ns}}}skapad", edge.created_at.replace(microsecond=0).isoformat())
            sub(relation, f"{{{ns}}}fran-intyg-makulerat", "true" if edge.from_id in revoked else "false")
    return Answer(response, OK)


def _load_lines(conn: Connection, asked: Sequence[str]) -> list[RelationRow]:
    """Every relation on the asked certificates' lines, one query per generation.

    Upwards means "the certificates this one derives from" (follow from -> to), downwards "the ones
    derived from it" (to -> from); each id is expanded at most once per direction, so a relation
    cycle (which registration does not prevent) ends the walk instead of looping.
    """
    edges: dict[int, RelationRow] = {}
    up, down = set(asked), set(asked)
    seen_up: set[str] = set()
    seen_down: set[str] = set()
    while up or down:
        rows = repo.relations_from_or_to(conn, up, down)
        seen_up |= up
        seen_down |= down
        next_up = {r.to_id for r in rows if r.from_id in up}
        next_down = {r.from_id for r in rows if r.to_id in down}
        edges.update((r.id, r) for r in rows)
        up, down = next_up - seen_up, next_down - seen_down
    return list(edges.values())


def _walk(start: str, index: dict[str, list[RelationRow]], towards: str) -> set[RelationRow]:
    """The relations reachable from ``start`` following ``index`` and moving to each edge's ``towards`` end."""
    found: set[RelationRow] = set()
    stack, visited = [start], {start}
    while stack:
        for edge in index.get(stack.pop(), ()):
            found.add(edge)
            nxt = getattr(edge, towards)
            if nxt not in visited:
                visited.add(nxt)
                stack.append(nxt)
    return found


def _intyg_id(parent: etree._Element, tag: str, certificate_id: str, units: dict[str, str]) -> None:
    # The root of a certificate id is, by the convention journal systems follow, the issuing care
    # unit's HSA-id; it is not stored separately, so it is given for certificates stored here and
    # left empty for ids this service has never received.
    element = sub(parent, tag)
    sub(element, f"{{{TYPES}}}root", units.get(certificate_id, ""))
    sub(element, f"{{{TYPES}}}extension", certificate_id)
