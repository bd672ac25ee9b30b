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


# -------------------------------------------------------------------------- GetCertificateTypeInfo


@pytest.mark.usefixtures("shared")
def test_type_info_is_the_stored_internal_type_as_nationally(client, services, db) -> None:
    store(db, "lisjp-1")
    store(db, "ts-1", sample=TS_SAMPLE)
    answer = call(client, services, "GetCertificateTypeInfo", "<x:intygs-id>lisjp-1</x:intygs-id>")
    assert answer.findtext(f"{{{ns('GetCertificateTypeInfo')}}}typ/{{{TYPES}}}code") == "lisjp"
    assert answer.findtext(f"{{{ns('GetCertificateTypeInfo')}}}typ/{{{TYPES}}}codeSystem") == "b64ea353-e8f6-4832-b563-fc7d46f29548"
    assert answer.findtext(f"{{{ns('GetCertificateTypeInfo')}}}typVersion") == "1.0"
    ts = call(client, services, "GetCertificateTypeInfo", "<x:intygs-id>ts-1</x:intygs-id>")
    # Transportstyrelsen's types state a code system of their own; the answer names the internal
    # type in the type code system all the same (result-codes.md).
    assert ts.findtext(f"{{{ns('GetCertificateTypeInfo')}}}typ/{{{TYPES}}}code") == "ts-bas"
    assert ts.findtext(f"{{{ns('GetCertificateTypeInfo')}}}typ/{{{TYPES}}}codeSystem") == "b64ea353-e8f6-4832-b563-fc7d46f29548"
    assert ts.findtext(f"{{{ns('GetCertificateTypeInfo')}}}typVersion") == "7.0"


@pytest.mark.usefixtures("shared")
def test_type_info_for_an_unknown_or_erased_certificate_is_a_fault(client, services, db) -> None:
    store(db, "erased", erased=True)
    for certificate_id in ("nothing-here", "erased"):
        answer = call(client, services, "GetCertificateTypeInfo", f"<x:intygs-id>{certificate_id}</x:intygs-id>", status=500)
        assert fault(etree.tostring(answer)) == f"Failed to get certificate's type. Certificate with id {certificate_id} is invalid or does not exist"


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
    assert answer.findtext(f"{{{ns('GetCertificateTypeInfo')}}}typ/{{{TYPES}}}code") == type_code.lower()
    assert answer.findtext(f"{{{ns('GetCertificateTypeInfo')}}}typVersion") == "1.0"
    listed = receivers(call(client, services, "ListPossibleReceivers", f"<x:intygTyp>{typ(type_code)}</x:intygTyp>"))
    assert [r[0] for r in listed] == [recipient]
    known = recipients_for(client, services, f"{seed}-1", type_code)
    assert [r.findtext("{*}id") for r in known.iterfind("{*}recipient")] == [recipient]
    registry = services.recipients.get(recipient)
    assert registry.format_for(type_code) is Format.REGISTER_CERTIFICATE_3


# ----------------------------------------------------------------------------- recipient lists
# The facts of ../shared/specs/approved-receivers.md, one test each, with its reference registry's
# LISJP receivers: FKASSA (main recipient), FBA (another, not trusted), and an inactive one.


def test_known_recipients_are_the_whole_registry_parts_and_inactive_included(client, services, reference) -> None:
    answer = call(client, services, "ListKnownRecipients", "")
    listed = [(r.findtext("{*}id"), r.findtext("{*}trusted"), r.findtext("{*}type")) for r in answer.iterfind("{*}recipient")]
    assert listed == [
        ("FBA", "false", None),
        ("FKASSA", "true", None),
        ("HSVARD", "true", None),
        ("INVANA", "true", None),
        ("RETIRED", "false", None),
        ("TRANSP", "true", None),
    ]
    assert answer.findtext(f"{{*}}result/{{{C1}}}resultCode") == "OK"


def test_an_empty_registry_is_an_application_error(client, services) -> None:
    services.recipients = Recipients([])
    answer = unchecked(client, "ListKnownRecipients", "")
    assert result_1(answer) == ("ERROR", "APPLICATION_ERROR", "No recipients found!")
    assert answer.find("{*}recipient") is None


def test_possible_receivers_are_every_recipient_of_the_type_inactive_included(client, services, reference) -> None:
    answer = call(client, services, "ListPossibleReceivers", f"<x:intygTyp>{typ('lisjp')}</x:intygTyp>")
    assert receivers(answer) == [
        ("FKASSA", "Name of FKASSA", "HUVUDMOTTAGARE", "true"),
        ("FBA", "Name of FBA", "MOTTAGARE", "false"),
        ("RETIRED", "Name of RETIRED", "MOTTAGARE", "false"),
    ]
    assert [r[0] for r in receivers(call(client, services, "ListPossibleReceivers", f"<x:intygTyp>{typ('ts-bas')}</x:intygTyp>"))] == ["TRANSP"]


def test_an_unknown_type_has_no_possible_receivers(client, services, reference) -> None:
    assert receivers(call(client, services, "ListPossibleReceivers", f"<x:intygTyp>{typ('xyz')}</x:intygTyp>")) == []


def test_possible_receivers_without_a_type_code_is_a_fault(client, services, reference) -> None:
    answer = call(client, services, "ListPossibleReceivers", "<x:intygTyp><t:code> </t:code><t:codeSystem>x</t:codeSystem></x:intygTyp>", status=500)
    assert fault(etree.tostring(answer)) == "Request to ListPossibleReceivers is missing required parameter 'intygTyp'"


def test_registering_none_approves_the_main_recipient_only(client, services, reference) -> None:
    assert register(client, services, "C1", "lisjp") == ("OK", None, "Successfully registered 0 receivers for certificate 'C1'")
    assert decisions(client, services, "C1") == {"FKASSA": "YES", "FBA": "NO", "RETIRED": "NO"}


def test_a_named_receiver_gets_its_decision_the_others_their_default(client, services, reference) -> None:
    assert register(client, services, "C1", "lisjp", ("FBA", "YES"))[0] == "OK"
    assert decisions(client, services, "C1") == {"FKASSA": "YES", "FBA": "YES", "RETIRED": "NO"}


def test_no_and_undefined_both_store_not_approved(client, services, reference) -> None:
    answer = register(client, services, "C1", "lisjp", ("FKASSA", "NO"), ("FBA", "UNDEFINED"))
    assert answer == ("OK", None, "Successfully registered 2 receivers for certificate 'C1'")
    assert decisions(client, services, "C1") == {"FKASSA": "NO", "FBA": "NO", "RETIRED": "NO"}


def test_a_receiver_that_is_not_possible_for_the_type_is_ignored_but_counted(client, services, reference) -> None:
    answer = register(client, services, "C1", "lisjp", ("TRANSP", "YES"), ("HSVARD", "YES"))
    assert answer == ("OK", None, "Successfully registered 2 receivers for certificate 'C1'")
    assert decisions(client, services, "C1") == {"FKASSA": "YES", "FBA": "NO", "RETIRED": "NO"}


def test_an_unknown_type_stores_nothing(client, services, reference) -> None:
    register(client, services, "C1", "lisjp")
    assert register(client, services, "C1", "xyz", ("FKASSA", "YES"))[0] == "OK"
    assert decisions(client, services, "C1") == {}


def test_a_new_registration_replaces_the_earlier_set(client, services, reference) -> None:
    register(client, services, "C1", "lisjp", ("FBA", "YES"))
    register(client, services, "C1", "lisjp", ("FKASSA", "NO"))
    assert decisions(client, services, "C1") == {"FKASSA": "NO", "FBA": "NO", "RETIRED": "NO"}


@pytest.mark.parametrize(
    ("certificate_id", "type_code", "named", "text"),
    [
        (" ", "lisjp", [], "Request to registerApprovedReceiver is missing required parameter 'intygs-id'"),
        ("C1", "", [], "Request to registerApprovedReceiver is missing required parameter 'typAvIntyg'"),
        ("C1", "lisjp", [("FBA", "YES"), (" ", "YES")], "Request to registerApprovedReceiver contained receiverId that was null or empty."),
        # The registry lookup is exact: another letter case is another (unknown) id.
        ("C1", "lisjp", [("fba", "YES")], "Request to registerApprovedReceiver contained unknown receiverId 'fba'"),
        ("C1", "lisjp", [("NOBODY", "NO")], "Request to registerApprovedReceiver contained unknown receiverId 'NOBODY'"),
    ],
)
def test_a_refused_registration_is_an_error_without_error_id_and_changes_nothing(
    client, services, reference, certificate_id, type_code, named, text
) -> None:
    register(client, services, "C1", "lisjp", ("FBA", "YES"))
    assert register(client, services, certificate_id, type_code, *named) == ("ERROR", None, text)
    assert decisions(client, services, "C1") == {"FKASSA": "YES", "FBA": "YES", "RETIRED": "NO"}


def test_approved_receivers_describe_each_stored_row(client, services, reference) -> None:
    register(client, services, "C1", "lisjp")
    assert sorted(approved(client, services, "C1")) == [
        ("FBA", "Name of FBA", "MOTTAGARE", "false", "NO"),
        ("FKASSA", "Name of FKASSA", "HUVUDMOTTAGARE", "true", "YES"),
        ("RETIRED", "Name of RETIRED", "MOTTAGARE", "false", "NO"),
    ]


def test_approved_receivers_of_an_unknown_certificate_is_an_empty_list(client, services, reference) -> None:
    assert approved(client, services, "never-registered") == []


def test_approved_receivers_with_an_empty_id_is_a_fault(client, services, reference) -> None:
    body = "<x:intygs-id><t:root>SE-UNIT-1</t:root><t:extension> </t:extension></x:intygs-id>"
    answer = call(client, services, "ListApprovedReceivers", body, status=500)
    assert fault(etree.tostring(answer)) == "Request to ListApprovedReceivers is missing required parameter 'IntygId.extension'"


def test_an_approved_receiver_that_left_the_registry_is_a_fault(client, services, reference) -> None:
    register(client, services, "C1", "lisjp")
    services.recipients = with_recipients_only(reference, "FKASSA", "RETIRED")
    body = "<x:intygs-id><t:root>SE-UNIT-1</t:root><t:extension>C1</t:extension></x:intygs-id>"
    answer = call(client, services, "ListApprovedReceivers", body, status=500)
    assert fault(etree.tostring(answer)) == "No recipient found for recipient id: FBA"


def recipients_for(client, services, certificate_id: str, type_code: str, status: int = 200):  # type: ignore[no-untyped-def]
    body = f"<x:certificateId>{certificate_id}</x:certificateId><x:certificateType>{type_code}</x:certificateType>"
    return call(client, services, "GetRecipientsForCertificate", body, status)


def recipient_ids(client, services, certificate_id: str, type_code: str = "LISJP") -> list[str | None]:  # type: ignore[no-untyped-def]
    answer = recipients_for(client, services, certificate_id, type_code)
    assert result_1(answer)[0] == "OK"
    return [r.findtext("{*}id") for r in answer.iterfind("{*}recipient")]


def test_recipients_are_the_approved_receivers(client, services, reference) -> None:
    register(client, services, "C1", "lisjp")
    assert recipient_ids(client, services, "C1") == ["FKASSA"]
    register(client, services, "C1", "lisjp", ("FKASSA", "NO"), ("FBA", "YES"))
    assert recipient_ids(client, services, "C1") == ["FBA"]


def test_recipients_ignore_the_type_asked_for_and_trim_the_id(client, services, reference) -> None:
    register(client, services, "C1", "lisjp", ("FBA", "YES"))
    assert recipient_ids(client, services, "  C1 ", type_code="NOSUCH") == ["FBA", "FKASSA"]


def test_an_inactive_approved_receiver_is_left_out(client, services, reference) -> None:
    register(client, services, "C1", "lisjp", ("FKASSA", "NO"), ("RETIRED", "YES"), ("FBA", "YES"))
    assert recipient_ids(client, services, "C1") == ["FBA"]


@pytest.mark.usefixtures("shared")
def test_without_approvals_a_stored_certificate_goes_to_its_main_recipient(client, services, db, reference) -> None:
    store(db, "stored-lisjp")
    assert recipient_ids(client, services, "stored-lisjp") == ["FKASSA"]
    register(client, services, "stored-lisjp", "lisjp", ("FKASSA", "NO"), ("FBA", "NO"))
    assert recipient_ids(client, services, "stored-lisjp", type_code="LUSE") == ["FKASSA"]


def test_no_recipient_at_all_is_an_application_error(client, services, reference) -> None:
    answer = unchecked(client, "GetRecipientsForCertificate", "<x:certificateId>X</x:certificateId><x:certificateType>LISJP</x:certificateType>")
    assert result_1(answer) == ("ERROR", "APPLICATION_ERROR", "No recipients found for certificate id: X")
    assert answer.find("{*}recipient") is None
    register(client, services, "C2", "lisjp", ("FKASSA", "NO"))
    assert result_1(unchecked(client, "GetRecipientsForCertificate", "<x:certificateId>C2</x:certificateId><x:certificateType>LISJP</x:certificateType>"))[0] == "ERROR"


def unchecked(client, contract: str, body: str) -> etree._Element:  # type: ignore[no-untyped-def]
    """The answer payload without the schema check (for answers the national service gives
    although the schema asks for at least one recipient)."""
    request = f'<x:{contract} xmlns:x="{ns(contract)}" xmlns:t="{TYPES}">{body}</x:{contract}>'
    response = post(client, path(contract), envelope(request.encode()))
    assert response.status_code == 200, response.text
    return payload(response.content)


def result_1(answer: etree._Element) -> tuple[str | None, str | None, str | None]:
    return tuple(answer.findtext(f"{{*}}result/{{{C1}}}{name}") for name in ("resultCode", "errorId", "resultText"))  # type: ignore[return-value]


def decisions(client, services, certificate_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {entry[0]: entry[-1] for entry in approved(client, services, certificate_id)}


def with_recipients_only(registry: Recipients, *ids: str) -> Recipients:
    return Recipients([r for r in registry.all() if r.id in ids], registry.parts())


@pytest.fixture
def reference(services) -> Recipients:  # type: ignore[no-untyped-def]
    """The spec's reference registry, as far as LISJP and ts-bas go, and one inactive receiver."""

    def recipient(rid: str, kind: RecipientKind, types: set[str], trusted: bool, active: bool = True) -> Recipient:
        return Recipient(rid, f"Name of {rid}", kind, f"LA-{rid}", frozenset(types), active, trusted)

    registry = Recipients(
        [
            recipient("FKASSA", RecipientKind.HUVUDMOTTAGARE, {"LISJP", "LUSE"}, True),
            recipient("TRANSP", RecipientKind.HUVUDMOTTAGARE, {"TSTRK1007", "TS-BAS"}, True),
            recipient("FBA", RecipientKind.MOTTAGARE, {"LISJP"}, False),
            recipient("RETIRED", RecipientKind.MOTTAGARE, {"LISJP"}, False, active=False),
        ],
        services.recipients.parts(),
    )
    services.recipients = registry
    return registry
