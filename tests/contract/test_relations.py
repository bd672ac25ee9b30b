"""ListRelationsForCertificate v1 through the in-process app; answers checked against the schema."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from intygstjanst.contracts.xml import CORE
from intygstjanst.persistence.certificates import RelationEntry

from intygstjanst.tests.listing import payload, store
from intygstjanst.tests.soap import REGISTER, certificate, envelope, post

RELATIONS = "/clinicalprocess/healthcond/certificate/ListRelationsForCertificate/1/rivtabp21"
NS = "urn:riv:clinicalprocess:healthcond:certificate:ListRelationsForCertificate:1"
TYPES = "urn:riv:clinicalprocess:healthcond:certificate:types:3"

pytestmark = pytest.mark.usefixtures("shared")


def at(minute: int) -> dt.datetime:
    return dt.datetime(2024, 1, 10, 10, minute, 0)


def relations(client, services, *ids: str) -> dict[str, list[tuple[str, str, str, str, str]]]:  # type: ignore[no-untyped-def]
    """Per asked id: (typ, från, till, skapad, från-makulerat) in the answer's order."""
    body = "".join(f"<r:intygs-id>{i}</r:intygs-id>" for i in ids)
    response = post(client, RELATIONS, envelope(f'<r:ListRelationsForCertificate xmlns:r="{NS}">{body}</r:ListRelationsForCertificate>'.encode()))
    assert response.status_code == 200, response.text
    answer = payload(response.content, services.contracts.by_path(RELATIONS))
    out = {}
    for entry in answer.iterfind(f"{{{NS}}}intygRelation"):
        key = entry.findtext(f"{{{NS}}}intygs-id/{{{TYPES}}}extension")
        out[key] = [
            (
                r.findtext(f"{{{NS}}}typ/{{{TYPES}}}code"),
                r.findtext(f"{{{NS}}}fran-intygs-id/{{{TYPES}}}extension"),
                r.findtext(f"{{{NS}}}till-intygs-id/{{{TYPES}}}extension"),
                r.findtext(f"{{{NS}}}skapad"),
                r.findtext(f"{{{NS}}}fran-intyg-makulerat"),
            )
            for r in entry.iterfind(f"{{{NS}}}relation")
        ]
    return out


def chain(db) -> None:  # type: ignore[no-untyped-def]
    """orig <-ERSATT- repl <-KOMPLT- compl <-FRLANG- renew, plus a sibling copy of orig."""
    store(db, "orig", received=at(0))
    store(db, "repl", received=at(1), relations=[RelationEntry("ERSATT", "orig")], states=[("CANCELLED", "HSVARD")])
    store(db, "copy", received=at(2), relations=[RelationEntry("KOPIA", "orig")])
    store(db, "compl", received=at(3), relations=[RelationEntry("KOMPLT", "repl")])
    store(db, "renew", received=at(4), relations=[RelationEntry("FRLANG", "compl")])


def test_the_whole_line_in_both_directions_in_order_of_creation(client, services, db) -> None:
    chain(db)
    found = relations(client, services, "compl")
    assert found["compl"] == [
        ("ERSATT", "repl", "orig", "2024-01-10T10:01:00", "true"),
        ("KOMPLT", "compl", "repl", "2024-01-10T10:03:00", "false"),
        ("FRLANG", "renew", "compl", "2024-01-10T10:04:00", "false"),
    ]


def test_descendants_of_the_original_include_every_branch(client, services, db) -> None:
    chain(db)
    kinds = [(kind, source) for kind, source, *_ in relations(client, services, "orig")["orig"]]
    assert kinds == [("ERSATT", "repl"), ("KOPIA", "copy"), ("KOMPLT", "compl"), ("FRLANG", "renew")]


def test_a_sibling_is_not_on_the_line(client, services, db) -> None:
    chain(db)
    assert relations(client, services, "copy")["copy"] == [("KOPIA", "copy", "orig", "2024-01-10T10:02:00", "false")]


def test_several_ids_each_answered_once_in_the_order_asked(client, services, db) -> None:
    chain(db)
    store(db, "alone")
    found = relations(client, services, "renew", "alone", "unknown", "renew")
    assert list(found) == ["renew", "alone", "unknown"]
    assert [kind for kind, *_ in found["renew"]] == ["ERSATT", "KOMPLT", "FRLANG"]
    assert found["alone"] == [] and found["unknown"] == []


def test_relation_to_a_certificate_never_received_and_a_cycle(client, services, db) -> None:
    store(db, "a", received=at(0), relations=[RelationEntry("ERSATT", "never-seen")])
    store(db, "b", received=at(1), relations=[RelationEntry("KOPIA", "c")])
    store(db, "c", received=at(2), relations=[RelationEntry("KOPIA", "b")])
    assert relations(client, services, "a")["a"] == [("ERSATT", "a", "never-seen", "2024-01-10T10:00:00", "false")]
    assert [(f, t) for _, f, t, *_ in relations(client, services, "b")["b"]] == [("b", "c"), ("c", "b")]


def test_roots_are_the_issuing_care_units(client, services, db) -> None:
    store(db, "old", unit="SE-UNIT-7")
    store(db, "new", unit="SE-UNIT-7", relations=[RelationEntry("ERSATT", "old")])
    store(db, "orphan", relations=[RelationEntry("KOPIA", "nowhere")])
    body = envelope(f'<r:ListRelationsForCertificate xmlns:r="{NS}"><r:intygs-id>new</r:intygs-id><r:intygs-id>orphan</r:intygs-id></r:ListRelationsForCertificate>'.encode())
    answer = payload(post(client, RELATIONS, body).content, services.contracts.by_path(RELATIONS))
    roots = [e.text or "" for e in answer.iter(f"{{{TYPES}}}root")]
    # new: itself, then its relation's from (new) and to (old); orphan: itself, from, to (unknown).
    assert roots == ["SE-UNIT-7", "SE-UNIT-7", "SE-UNIT-7", "SE-UNIT-1", "SE-UNIT-1", ""]


def test_relations_registered_through_register_certificate(client, services) -> None:
    assert post(client, REGISTER, envelope(certificate("reg-old"))).status_code == 200
    new = certificate("reg-new")
    intyg = new.find("{*}intyg")
    relation = etree.Element(f"{{{CORE}}}relation")
    typ = etree.SubElement(relation, f"{{{CORE}}}typ")
    etree.SubElement(typ, f"{{{TYPES}}}code").text = "ERSATT"
    etree.SubElement(typ, f"{{{TYPES}}}codeSystem").text = "c2362fcd-eda0-4f9a-bd13-b3bbaf7f2146"
    target = etree.SubElement(relation, f"{{{CORE}}}intygs-id")
    etree.SubElement(target, f"{{{TYPES}}}root").text = "SE-ANY"
    etree.SubElement(target, f"{{{TYPES}}}extension").text = "reg-old"
    intyg.find(f"{{{CORE}}}skapadAv").addnext(relation)
    assert post(client, REGISTER, envelope(new)).status_code == 200
    found = relations(client, services, "reg-old")["reg-old"]
    assert [(kind, source, target_id, revoked) for kind, source, target_id, _, revoked in found] == [("ERSATT", "reg-new", "reg-old", "false")]
