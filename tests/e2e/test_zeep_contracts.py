"""Every care/citizen view and helper contract called by zeep, built from nothing but the WSDL the
real server serves, against that server in a second process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import zeep
from intygstjanst.contracts.registry import ContractRegistry
from intygstjanst.persistence.certificates import RelationEntry
from intygstjanst.persistence.db import Database
from intygstjanst.tests.listing import store
from intygstjanst.tests.soap import TEST_PERSON
from intygstjanst.tests.support import require_shared

BASE = "/clinicalprocess/healthcond/certificate"
HEADERS = {"LogicalAddress": "SE-ANY-ADDRESS"}
PERSON = {"root": "1.2.752.129.2.1.3.1", "extension": TEST_PERSON}
INVANA = {"code": "INVANA", "codeSystem": "769bb12b-bd9f-4203-a5cd-fd14f2eb3b80"}
LISJP = {"code": "LISJP", "codeSystem": "b64ea353-e8f6-4832-b563-fc7d46f29548"}


@pytest.fixture(scope="module")
def shared() -> None:
    require_shared()


@pytest.fixture
def stored(shared, db: Database) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Three certificates of the test person: an original, its revoked replacement, an archived one."""
    store(db, "z-orig", signed="2024-01-01T08:00:00")
    store(db, "z-repl", signed="2024-01-02T08:00:00", relations=[RelationEntry("ERSATT", "z-orig")], states=[("CANCELLED", "HSVARD")])
    store(db, "z-archived", signed="2024-01-03T08:00:00", states=[("DELETED", "INVANA")])
    yield


# The intyg helper contracts publish a soapAction with "Responder" in it while their payload
# namespace has none; contracts.toml carries it as ``soap_action``.
PUBLISHED_ACTIONS = [
    "ListRelationsForCertificate",
    "GetCertificateTypeInfo",
    "GetRecipientsForCertificate",
    "ListKnownRecipients",
    "ListPossibleReceivers",
    "ListApprovedReceivers",
    "RegisterApprovedReceivers",
]


def client(live_server, path: str) -> zeep.Client:  # type: ignore[no-untyped-def]
    return zeep.Client(f"{live_server.base_url}{path}?wsdl")


def published_action(live_server, path: str, operation: str) -> str:  # type: ignore[no-untyped-def]
    return zeep.Client(f"{live_server.base_url}{path}?wsdl").service._binding.get(operation).soapaction  # type: ignore[no-any-return]


def test_list_certificates_for_care(live_server, stored) -> None:
    service = client(live_server, f"{BASE}/ListCertificatesForCare/3/rivtabp21").service
    answer = service.ListCertificatesForCare(
        _soapheaders=HEADERS, **{"person-id": PERSON, "enhets-id": [{"root": "1.2.752.129.2.1.4.1", "extension": "SE-UNIT-1"}]}
    )
    listed = answer.intygsLista.intyg
    assert [i["intygs-id"].extension for i in listed] == ["z-orig", "z-repl", "z-archived"]  # oldest first, as nationally
    assert [s.status.code for s in listed[1].status] == ["CANCEL", "RECEIV"]


@pytest.mark.parametrize(("major", "has_result"), [(4, False), (3, True)])
def test_list_certificates_for_citizen(live_server, stored, major, has_result) -> None:
    service = client(live_server, f"{BASE}/ListCertificatesForCitizen/{major}/rivtabp21").service
    answer = service.ListCertificatesForCitizen(
        _soapheaders=HEADERS, **{"person-id": PERSON, "intygTyp": [LISJP], "arkiverade": False, "part": INVANA}
    )
    assert [i["intygs-id"].extension for i in answer.intygsLista.intyg] == ["z-repl", "z-orig"]
    if has_result:
        assert answer.result.resultCode == "OK"


def test_list_relations_for_certificate(live_server, stored) -> None:
    service = client(live_server, f"{BASE}/ListRelationsForCertificate/1/rivtabp21").service
    answer = service.ListRelationsForCertificate(_soapheaders=HEADERS, **{"intygs-id": ["z-orig"]})
    relation = answer.intygRelation[0].relation[0]
    assert (relation.typ.code, relation["fran-intygs-id"].extension, relation["fran-intyg-makulerat"]) == ("ERSATT", "z-repl", True)


def test_get_certificate_type_info(live_server, stored) -> None:
    service = client(live_server, f"{BASE}/GetCertificateTypeInfo/1/rivtabp21").service
    answer = service.GetCertificateTypeInfo(_soapheaders=HEADERS, **{"intygs-id": "z-orig"})
    assert (answer.typ.code, answer.typVersion) == ("lisjp", "1.0")


def test_recipient_contracts(live_server, stored) -> None:
    known = client(live_server, f"{BASE}/ListKnownRecipients/1/rivtabp21").service.ListKnownRecipients(_soapheaders=HEADERS)
    assert "FKASSA" in [r.id for r in known.recipient] and known.result.resultCode == "OK"
    possible = client(live_server, f"{BASE}/ListPossibleReceivers/1/rivtabp21").service.ListPossibleReceivers(
        _soapheaders=HEADERS, intygTyp=LISJP
    )
    assert [(r.receiverId, r.receiverType) for r in possible.receiverList] == [("FKASSA", "HUVUDMOTTAGARE")]
    recipients = client(live_server, f"{BASE}/GetRecipientsForCertificate/1/rivtabp21").service.GetRecipientsForCertificate(
        _soapheaders=HEADERS, certificateId="z-orig", certificateType="LISJP"
    )
    # No approvals registered: the main recipient of the stored certificate's type.
    assert [r.id for r in recipients.recipient] == ["FKASSA"]


def test_register_and_list_approved_receivers(live_server, db) -> None:
    intyg_id = {"root": "SE-UNIT-1", "extension": "z-approved"}
    registered = client(live_server, f"{BASE}/RegisterApprovedReceivers/1/rivtabp21").service.RegisterApprovedReceivers(
        _soapheaders=HEADERS,
        **{"intyg-id": intyg_id, "typAvIntyg": LISJP, "approvedReceivers": [{"receiverId": "FKASSA", "approvalStatus": "YES"}]},
    )
    assert registered.result.resultCode == "OK"
    listed = client(live_server, f"{BASE}/ListApprovedReceivers/1/rivtabp21").service.ListApprovedReceivers(
        _soapheaders=HEADERS, **{"intygs-id": intyg_id}
    )
    assert [(r.receiverId, r.approvalStatus) for r in listed.receiverList] == [("FKASSA", "YES")]


def test_ping_for_configuration(live_server) -> None:
    service = client(live_server, "/itintegration/monitoring/PingForConfiguration/1/rivtabp21").service
    answer = service.PingForConfiguration(
        _soapheaders=HEADERS, serviceContractNamespace="urn:riv:itintegration:monitoring:PingForConfigurationResponder:1", logicalAddress="SE-ANY-ADDRESS"
    )
    assert answer.version and len(answer.pingDateTime) == 14
    assert {c.name: c.value for c in answer.configuration}["database"] == "ok"


@pytest.mark.parametrize("name", PUBLISHED_ACTIONS)
def test_the_published_soap_action_is_accepted(live_server, name) -> None:
    path = f"{BASE}/{name}/1/rivtabp21"
    contract = ContractRegistry.load().by_path(path)
    assert contract is not None
    assert published_action(live_server, path, name) == contract.soap_action


@pytest.mark.parametrize(
    ("national_path", "operation"),
    [("/inera-certificate/list-known-recipients/v1.0", "ListKnownRecipients"), ("/inera-certificate/list-relations-for-certificate/v1.0", "ListRelationsForCertificate")],
)
def test_zeep_built_from_the_national_address_calls_it(live_server, stored, national_path, operation) -> None:
    """A consumer configured for the national service changes only the host: its WSDL address
    gives a client that calls that same address."""
    built = client(live_server, national_path)
    port = next(iter(next(iter(built.wsdl.services.values())).ports.values()))
    assert port.binding_options["address"] == f"{live_server.base_url}{national_path}"
    if operation == "ListKnownRecipients":
        answer = built.service.ListKnownRecipients(_soapheaders=HEADERS)
        assert "FKASSA" in [r.id for r in answer.recipient] and answer.result.resultCode == "OK"
    else:
        answer = built.service.ListRelationsForCertificate(_soapheaders=HEADERS, **{"intygs-id": ["z-orig"]})
        assert answer.intygRelation[0].relation[0]["fran-intygs-id"].extension == "z-repl"
