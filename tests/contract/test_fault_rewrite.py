"""The fault-to-answer rule (fault-to-response.md): on the contracts where the national service
rewrites a fault as the contract's own response, a request that is a call of the contract but fails
its schema, or whose handler raises a Fault or fails, is answered HTTP 200 with ERROR; what is not a
call of the contract at all stays a SOAP Fault. Every answer is checked against the contract's schema."""

from __future__ import annotations

import pytest
from lxml import etree

from intygstjanst.contracts.rewrite import fault_outcome
from intygstjanst.contracts.registry import contract_specs
from intygstjanst.contracts.xml import CORE, SOAP11, SOAP12
from intygstjanst.persistence import certificates as repo
from intygstjanst.tests.contract.test_lists import CARE, CITIZEN_V3, CITIZEN_V4, care_request, citizen_request
from intygstjanst.tests.recipient_calls import (
    FK7263_SAMPLE,
    REGISTER_MEDICAL,
    REVOKE_MEDICAL,
    SEND_MEDICAL,
    Answer,
    checked_answer,
    contract_at,
    legacy_revoke_request,
    legacy_sample,
    legacy_send_request,
)
from intygstjanst.tests.sickleave_support import ACTIVE, active_request
from intygstjanst.tests.soap import GET, REGISTER, certificate, envelope, fault, get_request, post
from intygstjanst.tests.support import require_shared

SEND = "/clinicalprocess/healthcond/certificate/SendCertificateToRecipient/2/rivtabp21"


pytestmark = pytest.mark.usefixtures("shared")


def answered(client, path: str, body: bytes) -> Answer:  # type: ignore[no-untyped-def]
    """The HTTP 200 answer of ``path``'s contract (its response element, schema-valid)."""
    response = post(client, path, body)
    assert response.status_code == 200, response.text
    return checked_answer(contract_at(path), response.content)


def wsa(payload: etree._Element | bytes) -> bytes:
    return envelope(payload, logical_address=None, wsa_to="5565594230")


def test_a_schema_violation_is_answered_as_a_validation_error_naming_the_path(client, db) -> None:
    payload = certificate("rw-1")
    skapad_av = payload.find(f"{{*}}intyg/{{{CORE}}}skapadAv")
    skapad_av.getparent().remove(skapad_av)
    answer = answered(client, REGISTER, envelope(payload))
    assert (answer.code, answer.error_id) == ("ERROR", "VALIDATION_ERROR")
    assert answer.text is not None and answer.text.startswith("Unmarshalling Error: RegisterCertificate 3.1 schema violation at ")
    assert ":intyg/" in answer.text and "skapadAv" in answer.text
    with db.read() as conn:
        assert repo.get(conn, "rw-1") is None


def test_where_the_national_service_answers_with_a_fault_so_does_this_one(client) -> None:
    body = get_request("rw-2").replace(b"<get:part>", b"<get:unknown/><get:part>")
    response = post(client, GET, envelope(body))
    assert response.status_code == 500
    assert fault(response.content).startswith("Unmarshalling Error: GetCertificate 2.1 schema violation at ")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<soap:Envelope", "Client"),  # malformed
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "Client"),  # a DTD
        (f'<e:Envelope xmlns:e="{SOAP12}"><e:Body/></e:Envelope>'.encode(), "VersionMismatch"),
        (envelope(get_request("rw-3")), "Client"),  # another contract's body element
    ],
)
def test_what_is_not_a_call_of_the_contract_stays_a_fault(client, body: bytes, code: str) -> None:
    response = post(client, REGISTER, body)
    assert response.status_code == 500
    root = etree.fromstring(response.content)
    assert root.findtext(f".//{{{SOAP11}}}Fault/faultcode") == f"soap:{code}"


def test_an_unexpected_error_is_an_application_error_with_a_reference(client, services, monkeypatch) -> None:
    def broken(person_id: str):  # type: ignore[no-untyped-def]
        raise ValueError("database exploded")

    monkeypatch.setattr(services.persons, "lookup", broken)
    answer = answered(client, REGISTER, envelope(certificate("rw-4")))
    assert (answer.code, answer.error_id) == ("ERROR", "APPLICATION_ERROR")
    assert answer.text is not None and answer.text.startswith("internal error in RegisterCertificate; reference ")
    assert "exploded" not in answer.text  # internals stay in the log


def test_send_certificate_answers_in_its_own_namespace(client) -> None:
    body = (
        b'<s:SendCertificateToRecipient xmlns:s="urn:riv:clinicalprocess:healthcond:certificate:SendCertificateToRecipientResponder:2">'
        b"<s:unknown/></s:SendCertificateToRecipient>"
    )
    answer = answered(client, SEND, envelope(body))  # checked against the :2 schema (the national service answers in :1)
    assert (answer.code, answer.error_id) == ("ERROR", "VALIDATION_ERROR")


def test_citizen_lists_answer_an_empty_list_and_the_error(client, services) -> None:
    for path, version in ((CITIZEN_V3, 3), (CITIZEN_V4, 4)):
        body = citizen_request(version=version).replace(b"<l:arkiverade>", b"<l:unknown/><l:arkiverade>")
        response = post(client, path, body)
        assert response.status_code == 200, response.text
        payload = etree.fromstring(response.content)[0][0]
        schema = services.contracts.by_path(path).schema
        assert schema.validate(payload), schema.error_log
        assert len(payload.find("{*}intygsLista")) == 0
        result = payload.find("{*}result")
        # v3 has a result; v4 declares none, so it comes in the core namespace, in the extension slot.
        assert etree.QName(result).namespace == (services.contracts.by_path(path).namespace if version == 3 else CORE)
        assert result.findtext(f"{{{CORE}}}resultCode") == "ERROR"
        assert result.findtext(f"{{{CORE}}}errorId") == "VALIDATION_ERROR"


def test_care_list_keeps_its_fault(client) -> None:
    body = care_request().replace(b"<l:enhets-id>", b"<l:unknown/><l:enhets-id>")
    assert post(client, CARE, body).status_code == 500


def test_sick_leave_for_a_care_unit_answers_a_fault_with_error_and_comment(client, services) -> None:
    body = active_request().replace(b"</a:ListActiveSickLeavesForCareUnit>", b"<a:unknown/></a:ListActiveSickLeavesForCareUnit>")
    response = post(client, ACTIVE, envelope(body))
    assert response.status_code == 200, response.text
    payload = etree.fromstring(response.content)[0][0]
    schema = services.contracts.by_path(ACTIVE).schema
    assert schema.validate(payload), schema.error_log
    assert payload.findtext("{*}resultCode") == "ERROR"
    assert (payload.findtext("{*}comment") or "").startswith("Unmarshalling Error:")


# -- the legacy FK7263 contracts: bound, not validated --------------------------------------------


def test_fk7263_register_with_an_undeclared_element_is_a_validation_error(client) -> None:
    payload = legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, "rw-fk-1")
    payload.insert(0, etree.Element(f"{{{etree.QName(payload).namespace}}}nosuchelement"))
    answer = answered(client, REGISTER_MEDICAL, wsa(payload))
    assert (answer.code, answer.error_id) == ("ERROR", "VALIDATION_ERROR")
    assert answer.text is not None and answer.text.startswith("Unmarshalling Error: RegisterMedicalCertificate 3.1 the request does not bind")
    assert "nosuchelement" in answer.text


def test_fk7263_register_with_an_unreadable_date_is_a_validation_error(client) -> None:
    payload = legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, "rw-fk-2")
    next(payload.iter("{*}signeringsdatum")).text = "yesterday"
    answer = answered(client, REGISTER_MEDICAL, wsa(payload))
    assert (answer.code, answer.error_id) == ("ERROR", "VALIDATION_ERROR")
    assert answer.text is not None and "Unmarshalling Error" in answer.text and "yesterday" in answer.text


def test_fk7263_register_missing_what_the_schema_requires_gets_the_national_checks(client) -> None:
    payload = legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, "rw-fk-3")
    for local in ("enhetsnamn", "telefonnummer"):
        element = next(payload.iter(f"{{*}}{local}"))
        element.getparent().remove(element)
    answer = answered(client, REGISTER_MEDICAL, wsa(payload))
    assert answer == Answer(
        "ERROR",
        "VALIDATION_ERROR",
        "Validation Error(s) found: Validation Error:No enhetsnamn found!\nValidation Error:No telefonnummer found for enhet!",
    )


def test_fk7263_register_in_another_order_binds(client) -> None:
    payload = legacy_sample("RegisterMedicalCertificate", FK7263_SAMPLE, "rw-fk-4")
    enhet = next(payload.iter("{*}enhet"))
    first, second = enhet[0], enhet[1]
    enhet.remove(second)
    first.addprevious(second)  # out of the schema's order: the national service binds it anyway
    assert answered(client, REGISTER_MEDICAL, wsa(payload)).code == "OK"


def test_fk7263_revoke_and_send_get_the_national_checks(client) -> None:
    revoke = etree.fromstring(legacy_revoke_request("rw-fk-5"))
    reference = next(revoke.iter("{*}vardReferens-id"))
    reference.getparent().remove(reference)
    assert answered(client, REVOKE_MEDICAL, wsa(revoke)) == Answer(
        "ERROR", "VALIDATION_ERROR", "Validation Error(s) found: No vardReferens found!"
    )
    send = etree.fromstring(legacy_send_request("rw-fk-5"))
    namn = next(send.iter("{*}enhetsnamn"))
    namn.getparent().remove(namn)
    assert answered(client, SEND_MEDICAL, wsa(send)) == Answer("ERROR", "VALIDATION_ERROR", "Validation Error(s) found: No enhetsnamn found!")


# -- the errorId of a rewritten fault -------------------------------------------------------------


@pytest.mark.parametrize(
    ("contract", "text", "code", "error_id"),
    [
        ("RegisterCertificate:3", "Unmarshalling Error: x", "Client", "VALIDATION_ERROR"),
        ("RegisterCertificate:3", "some client fault", "Client", "APPLICATION_ERROR"),
        ("RegisterCertificate:3", "boom", "Server", "APPLICATION_ERROR"),
        ("SetCertificateStatus:1", "some client fault", "Client", "VALIDATION_ERROR"),
        ("RegisterTSDiabetes:1", "some client fault", "Client", "VALIDATION_ERROR"),
        ("RegisterTSDiabetes:1", "boom", "Server", "APPLICATION_ERROR"),
    ],
)
def test_the_error_id_follows_the_national_order(contract: str, text: str, code: str, error_id: str) -> None:
    outcome = fault_outcome(contract_specs()[contract], text, code)
    assert (outcome.code.value, outcome.error_id and outcome.error_id.value, outcome.text) == ("ERROR", error_id, text)


def test_the_contract_table_marks_the_national_services_rewritten_contracts() -> None:
    rewritten = {key for key, spec in contract_specs().items() if spec.fault_rewrite}
    assert {"RegisterCertificate:3", "RevokeCertificate:2", "SendCertificateToRecipient:2", "SetCertificateStatus:2",
            "SendMessageToCare:2", "SendMessageToRecipient:2", "ListCertificatesForCitizen:3", "ListCertificatesForCitizen:4",
            "RegisterMedicalCertificate:3", "RevokeMedicalCertificate:1", "SendMedicalCertificate:1", "SetCertificateStatus:1",
            "RegisterTSDiabetes:1", "ListActiveSickLeavesForCareUnit:1", "ListSickLeavesForPerson:1"} <= rewritten
    for key in ("GetCertificate:2", "ListCertificatesForCare:3", "ListRelationsForCertificate:1", "GetCertificateTypeInfo:1",
                "ListSickLeavesForCare:1", "ListPossibleReceivers:1", "ListApprovedReceivers:1"):
        assert key not in rewritten
    unvalidated = {key for key, spec in contract_specs().items() if not spec.validate_request}
    assert {"RegisterMedicalCertificate:3", "RevokeMedicalCertificate:1", "SendMedicalCertificate:1"} <= unvalidated


def _spec_validation() -> dict[str, bool]:
    """'Contract:major' -> whether the national service checks the request against the schema, read
    from fault-to-response.md's two address tables (the column 'XSD validation of request')."""
    spec = (require_shared().parent / "specs" / "fault-to-response.md").read_text(encoding="utf-8")
    found = {}
    for line in spec.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[1].startswith("`/"):
            continue
        name, _, version = cells[0].partition(" v")
        major = version.split(".")[0].split(" ")[0]
        validated = next(cell for cell in cells[2:] if cell.startswith(("yes", "no")))
        found[f"{name}:{major}"] = validated.startswith("yes")
    return found


def test_the_contracts_the_national_service_only_binds_are_only_bound_here() -> None:
    national = _spec_validation()
    served = contract_specs()
    assert len(national) > 20, national
    compared = {key: validated for key, validated in national.items() if key in served and key != "GetCertificate:1"}
    assert {key: served[key].validate_request for key in compared} == compared


def test_sick_leave_for_a_care_unit_binds_a_request_out_of_the_schemas_order(client) -> None:
    body = active_request(patient="191212121212").decode()
    unit_start, person_start = body.index("<a:enhets-id>"), body.index("<a:person-id>")
    unit, person = body[unit_start:person_start], body[person_start:body.index("</a:ListActive")]
    swapped = body[:unit_start] + person + unit + body[body.index("</a:ListActive"):]
    response = post(client, ACTIVE, envelope(swapped.encode()))
    assert response.status_code == 200, response.text
    assert etree.fromstring(response.content)[0][0].findtext("{*}resultCode") == "OK"


@pytest.mark.parametrize("unit", ["", "  "])
def test_sick_leave_for_a_care_unit_without_a_unit_gets_the_national_text(client, unit: str) -> None:
    response = post(client, ACTIVE, envelope(active_request(unit=unit)))
    assert response.status_code == 200, response.text
    payload = etree.fromstring(response.content)[0][0]
    assert (payload.findtext("{*}resultCode"), payload.findtext("{*}comment")) == ("ERROR", "No careUnitHsaId specified in request.")


def _only_bound() -> list[str]:
    return sorted(key for key, spec in contract_specs().items() if not spec.validate_request)


@pytest.mark.parametrize("key", _only_bound())
def test_an_empty_request_to_an_only_bound_contract_is_answered_not_crashed(client, services, key: str) -> None:
    # Bound without the schema, a request may lack what the schema requires: the handler's own
    # check answers (the rewritten ERROR, or a Fault where the national service faults), never a
    # crash without a SOAP answer.
    contract = next(c for c in services.contracts if c.key == key)
    payload = etree.Element(f"{{{contract.namespace}}}{contract.request}")
    body = wsa(payload) if contract.profile == "rivtabp20" else envelope(payload)
    response = post(client, contract.path, body)
    answer = etree.fromstring(response.content)[-1][0]
    if contract.fault_rewrite:
        assert response.status_code == 200, response.text
        assert etree.QName(answer).localname == contract.response
        assert contract.schema.validate(answer), contract.schema.error_log
    else:
        assert (response.status_code, etree.QName(answer).localname) in {(200, contract.response), (500, "Fault")}, response.text
