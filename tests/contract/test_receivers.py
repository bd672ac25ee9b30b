"""GetCertificateTypeInfo, ListKnownRecipients, ListPossibleReceivers, GetRecipientsForCertificate,
RegisterApprovedReceivers and ListApprovedReceivers through the in-process app; every answer is
checked against the contract's response schema."""

from __future__ import annotations

import pytest
from lxml import etree

from intygstjanst.registers.recipients import Recipient, RecipientKind, Recipients
from intygstjanst.transform.formats import Format

from intygstjanst.tests.listing import payload, store
from intygstjanst.tests.differential import type_corpus
from intygstjanst.tests.soap import REGISTER, envelope, fault, post, result
from intygstjanst.tests.support import require_shared

BASE = "/clinicalprocess/healthcond/certificate"
TYPES = "urn:riv:clinicalprocess:healthcond:certificate:types:3"
RECEIVER = "urn:riv:clinicalprocess:healthcond:certificate:receiver:types:1"
C1 = "urn:riv:clinicalprocess:healthcond:certificate:1"
TS_SAMPLE = "common__ts-ts-bas-v7-scenarios-rivtav3-valid-persontransport.xml"


def ns(contract: str) -> str:
    return f"urn:riv:clinicalprocess:healthcond:certificate:{contract}:1"


def path(contract: str) -> str:
    return f"{BASE}/{contract}/1/rivtabp21"


def call(client, services, contract: str, body: str, status: int = 200) -> etree._Element:  # type: ignore[no-untyped-def]
    """POST ``<x:contract>body</x:contract>``; the answer payload, schema-checked when not a Fault."""
    request = f'<x:{contract} xmlns:x="{ns(contract)}" xmlns:t="{TYPES}">{body}</x:{contract}>'
    response = post(client, path(contract), envelope(request.encode()))
    assert response.status_code == status, response.text
    if status != 200:
        return etree.fromstring(response.content)
    return payload(response.content, services.contracts.by_path(path(contract)))


def typ(code: str) -> str:
    return f"<t:code>{code}</t:code><t:codeSystem>b64ea353-e8f6-4832-b563-fc7d46f29548</t:codeSystem>"


def receivers(answer: etree._Element) -> list[tuple[str, ...]]:
    return [
        tuple(child.text or "" for child in entry if child.tag.startswith(f"{{{RECEIVER}}}"))
        for entry in answer.iterfind("{*}receiverList")
    ]


def register(client, services, certificate_id: str, type_code: str, *decisions: tuple[str, str]):  # type: ignore[no-untyped-def]
    approved = "".join(
        f"<x:approvedReceivers><x:receiverId>{r}</x:receiverId><x:approvalStatus>{a}</x:approvalStatus></x:approvedReceivers>"
        for r, a in decisions
    )
    body = (
        f"<x:intyg-id><t:root>SE-UNIT-1</t:root><t:extension>{certificate_id}</t:extension></x:intyg-id>"
        f"<x:typAvIntyg>{typ(type_code)}</x:typAvIntyg>{approved}"
    )
    answer = call(client, services, "RegisterApprovedReceivers", body)
    return result(etree.tostring(answer))


def approved(client, services, certificate_id: str) -> list[tuple[str, ...]]:  # type: ignore[no-untyped-def]
    body = f"<x:intygs-id><t:root>SE-UNIT-1</t:root><t:extension>{certificate_id}</t:extension></x:intygs-id>"
    return receivers(call(client, services, "ListApprovedReceivers", body))


@pytest.fixture
def two_for_lisjp(services) -> Recipients:  # type: ignore[no-untyped-def]
    """A registry where LISJP has a main recipient and one more that care may refuse."""
    def recipient(rid: str, kind: RecipientKind, trusted: bool, active: bool = True) -> Recipient:
        return Recipient(rid, f"Name of {rid}", kind, f"LA-{rid}", frozenset({"LISJP"}), active, trusted)

    registry = Recipients(
        [
            recipient("FKASSA", RecipientKind.HUVUDMOTTAGARE, True),
            recipient("EMPLOYER", RecipientKind.MOTTAGARE, False),
            recipient("RETIRED", RecipientKind.MOTTAGARE, False, active=False),
        ]
    )
    services.recipients = registry
    return registry


# -------------------------------------------------------------------------- GetCertificateTypeInfo


@pytest.mark.usefixtures("shared")
def test_type_info_is_the_type_the_certificate_states(client, services, db) -> None:
    store(db, "lisjp-1")
    store(db, "ts-1", sample=TS_SAMPLE)
    answer = call(client, services, "GetCertificateTypeInfo", "<x:intygs-id>lisjp-1</x:intygs-id>")
    assert answer.findtext(f"{{{ns('GetCertificateTypeInfo')}}}typ/{{{TYPES}}}code") == "LISJP"
    assert answer.findtext(f"{{{ns('GetCertificateTypeInfo')}}}typ/{{{TYPES}}}codeSystem") == "b64ea353-e8f6-4832-b563-fc7d46f29548"
    assert answer.findtext(f"{{{ns('GetCertificateTypeInfo')}}}typVersion") == "1.0"
    ts = call(client, services, "GetCertificateTypeInfo", "<x:intygs-id>ts-1</x:intygs-id>")
    assert ts.findtext(f"{{{ns('GetCertificateTypeInfo')}}}typ/{{{TYPES}}}code") == "TSTRK1007"
    # Transportstyrelsen's types use a code system of their own; the answer keeps it.
    assert ts.findtext(f"{{{ns('GetCertificateTypeInfo')}}}typ/{{{TYPES}}}codeSystem") == "f6fb361a-e31d-48b8-8657-99b63912dd9b"


@pytest.mark.usefixtures("shared")
def test_type_info_for_an_unknown_or_erased_certificate_is_a_fault(client, services, db) -> None:
    store(db, "erased", erased=True)
    for certificate_id in ("nothing-here", "erased"):
        answer = call(client, services, "GetCertificateTypeInfo", f"<x:intygs-id>{certificate_id}</x:intygs-id>", status=500)
        assert fault(etree.tostring(answer)) == f"certificate {certificate_id} does not exist"


# The types the official samples do not cover: registered through RegisterCertificate, then asked
# for; each goes to its agency's recipient.
NEW_TYPES = {
    "af00213-yes": ("AF00213", "AF"),
    "af00251-part-time-obstacle": ("AF00251", "AF"),
    "tstrk1009-licences": ("TSTRK1009", "TRANSP"),
    "tstrk1062-coded-ongoing": ("TSTRK1062", "TRANSP"),
}


@pytest.mark.parametrize("seed", sorted(NEW_TYPES))
def test_type_info_and_receivers_of_the_types_without_official_samples(client, services, seed: str) -> None:
    type_code, recipient = NEW_TYPES[seed]
    code, answers = type_corpus.SEEDS[seed]
    response = post(client, REGISTER, envelope(type_corpus.certificate(code, answers, certificate_id=f"{seed}-1")))
    assert result(response.content)[0] == "OK", response.text
    answer = call(client, services, "GetCertificateTypeInfo", f"<x:intygs-id>{seed}-1</x:intygs-id>")
    assert answer.findtext(f"{{{ns('GetCertificateTypeInfo')}}}typ/{{{TYPES}}}code") == type_code
    assert answer.findtext(f"{{{ns('GetCertificateTypeInfo')}}}typVersion") == "1.0"
    listed = receivers(call(client, services, "ListPossibleReceivers", f"<x:intygTyp>{typ(type_code)}</x:intygTyp>"))
    assert [r[0] for r in listed] == [recipient]
    known = recipients_for(client, services, f"{seed}-1", type_code)
    assert [r.findtext("{*}id") for r in known.iterfind("{*}recipient")] == [recipient]
    registry = services.recipients.get(recipient)
    assert registry.format_for(type_code) is Format.REGISTER_CERTIFICATE_3


# ----------------------------------------------------------------------------- recipient lists


def test_known_recipients_are_the_registry(client, services) -> None:
    answer = call(client, services, "ListKnownRecipients", "")
    listed = [(r.findtext("{*}id"), r.findtext("{*}trusted")) for r in answer.iterfind("{*}recipient")]
    expected = [(r.id, "true" if r.trusted else "false") for r in services.recipients.all()]
    assert listed == expected and ("FKASSA", "true") in listed
    assert answer.findtext(f"{{*}}result/{{{C1}}}resultCode") == "OK"


def test_possible_receivers_of_a_type(client, services, two_for_lisjp) -> None:
    answer = call(client, services, "ListPossibleReceivers", f"<x:intygTyp>{typ('lisjp')}</x:intygTyp>")
    assert receivers(answer) == [
        ("FKASSA", "Name of FKASSA", "HUVUDMOTTAGARE", "true"),
        ("EMPLOYER", "Name of EMPLOYER", "MOTTAGARE", "false"),
    ]
    assert receivers(call(client, services, "ListPossibleReceivers", f"<x:intygTyp>{typ('NOSUCH')}</x:intygTyp>")) == []


def recipients_for(client, services, certificate_id: str, type_code: str, status: int = 200):  # type: ignore[no-untyped-def]
    body = f"<x:certificateId>{certificate_id}</x:certificateId><x:certificateType>{type_code}</x:certificateType>"
    return call(client, services, "GetRecipientsForCertificate", body, status)


def test_recipients_for_a_certificate_leave_out_those_care_refused(client, services, two_for_lisjp) -> None:
    answer = recipients_for(client, services, "c-1", "LISJP")
    assert [(r.findtext("{*}id"), r.findtext("{*}type")) for r in answer.iterfind("{*}recipient")] == [
        ("FKASSA", "HUVUDMOTTAGARE"),
        ("EMPLOYER", "MOTTAGARE"),
    ]
    assert answer.findtext(f"{{*}}result/{{{C1}}}resultCode") == "OK"
    assert register(client, services, "c-1", "LISJP", ("EMPLOYER", "NO")) == ("OK", None, None)
    answer = recipients_for(client, services, "c-1", "LISJP")
    assert [r.findtext("{*}id") for r in answer.iterfind("{*}recipient")] == ["FKASSA"]
    # UNDEFINED leaves the choice open, like no decision at all.
    assert register(client, services, "c-1", "LISJP", ("EMPLOYER", "UNDEFINED")) == ("OK", None, None)
    assert len(recipients_for(client, services, "c-1", "LISJP").findall("{*}recipient")) == 2


@pytest.mark.usefixtures("shared")
def test_recipients_for_a_certificate_refusals(client, services, db, two_for_lisjp) -> None:
    answer = recipients_for(client, services, "c-1", "NOSUCH", status=500)
    assert fault(etree.tostring(answer)) == "certificateType 'NOSUCH' is not a known certificate type"
    store(db, "stored-lisjp")
    answer = recipients_for(client, services, "stored-lisjp", "LUSE", status=500)
    assert fault(etree.tostring(answer)) == "certificate stored-lisjp is of type LISJP, not LUSE"
    register(client, services, "c-2", "LISJP", ("FKASSA", "NO"), ("EMPLOYER", "NO"))
    answer = recipients_for(client, services, "c-2", "LISJP", status=500)
    assert fault(etree.tostring(answer)) == "certificate c-2 of type LISJP cannot be sent to any recipient"


# ------------------------------------------------------------------------- approved receivers


def test_register_then_list_approved_receivers_replaces_the_whole_set(client, services, two_for_lisjp) -> None:
    assert approved(client, services, "c-1") == []
    assert register(client, services, "c-1", "LISJP", ("EMPLOYER", "YES"), ("fkassa", "NO")) == ("OK", None, None)
    assert approved(client, services, "c-1") == [
        ("EMPLOYER", "Name of EMPLOYER", "MOTTAGARE", "false", "YES"),
        ("FKASSA", "Name of FKASSA", "HUVUDMOTTAGARE", "true", "NO"),
    ]
    assert register(client, services, "c-1", "LISJP", ("FKASSA", "YES")) == ("OK", None, None)
    assert approved(client, services, "c-1") == [("FKASSA", "Name of FKASSA", "HUVUDMOTTAGARE", "true", "YES")]
    assert register(client, services, "c-1", "LISJP") == ("OK", None, None)
    assert approved(client, services, "c-1") == []
    assert approved(client, services, "another") == []


@pytest.mark.parametrize(
    ("type_code", "decisions", "reason"),
    [
        ("NOSUCH", [("FKASSA", "YES")], "typAvIntyg 'NOSUCH' is not a known certificate type"),
        ("LISJP", [("NOBODY", "YES")], "approvedReceivers: receiver 'NOBODY' is not a known recipient"),
        ("LUSE", [("EMPLOYER", "YES")], "approvedReceivers: receiver EMPLOYER does not take certificates of type LUSE"),
        ("LISJP", [("RETIRED", "YES")], "approvedReceivers: receiver RETIRED does not take certificates of type LISJP"),
        ("LISJP", [("FKASSA", "YES"), ("FKASSA", "NO")], "approvedReceivers: receiver FKASSA is named more than once"),
    ],
)
def test_register_approved_receivers_refusals_keep_the_earlier_decision(
    client, services, two_for_lisjp, type_code, decisions, reason
) -> None:
    register(client, services, "c-1", "LISJP", ("EMPLOYER", "YES"))
    assert register(client, services, "c-1", type_code, *decisions) == ("ERROR", "VALIDATION_ERROR", reason)
    assert [r[0] for r in approved(client, services, "c-1")] == ["EMPLOYER"]


def test_approved_receivers_that_left_the_registry_are_not_listed(client, services, two_for_lisjp) -> None:
    register(client, services, "c-1", "LISJP", ("EMPLOYER", "YES"), ("FKASSA", "YES"))
    services.recipients = Recipients([two_for_lisjp.get("FKASSA")])
    assert [r[0] for r in approved(client, services, "c-1")] == ["FKASSA"]


@pytest.fixture
def shared() -> None:
    require_shared()
