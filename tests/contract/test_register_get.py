"""RegisterCertificate v3 and GetCertificate v2 through the in-process app."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from lxml import etree
from sqlalchemy import select

from intygstjanst.contracts.xml import CORE, TYPES
from intygstjanst.persistence.models import Certificate, CertificateRelation, CertificateState

from intygstjanst.tests.soap import OTHER_PERSON, VALIDATION_PERSON
from intygstjanst.tests.soap import GET, REGISTER, certificate, envelope, fault, get_request, post, result

pytestmark = pytest.mark.usefixtures("shared")


def register(client, payload) -> tuple[str, str | None, str | None]:  # type: ignore[no-untyped-def]
    response = post(client, REGISTER, envelope(payload))
    assert response.status_code == 200, response.text
    return result(response.content)


def test_register_then_duplicate_then_other_patient(client) -> None:
    assert register(client, certificate("c-1")) == ("OK", None, None)
    assert register(client, certificate("c-1")) == ("INFO", None, "Certificate already exists")
    assert register(client, certificate("c-1", patient=OTHER_PERSON)) == (
        "ERROR",
        "VALIDATION_ERROR",
        "Certificate already exists",
    )


def test_stored_metadata_state_and_original(client, db) -> None:
    payload = certificate("c-meta")
    body = envelope(payload)
    post(client, REGISTER, body)
    with db.session() as session:
        row = session.get(Certificate, "c-meta")
        assert row is not None
        assert (row.type_code, row.patient_id, row.is_test) == ("LISJP", "191212121212", False)
        assert row.care_unit_id and row.care_giver_id and row.signing_doctor_id
        assert row.original == body
        starts = payload.xpath("//*[local-name()='datePeriod']/*[local-name()='start']/text()")
        ends = payload.xpath("//*[local-name()='datePeriod']/*[local-name()='end']/text()")
        # Validity follows the sick-leave periods the type definition locates.
        assert (str(row.valid_from), str(row.valid_to)) == (min(starts), max(ends))
        states = session.execute(select(CertificateState.state, CertificateState.target)).all()
        assert states == [("RECEIVED", "HSVARD")]


def test_unknown_type_and_unsupported_version(client) -> None:
    payload = certificate("c-type")
    payload.find(f".//{{{CORE}}}typ/{{{TYPES}}}code").text = "NOSUCH"
    code, error_id, text = register(client, payload)
    assert (code, error_id) == ("ERROR", "VALIDATION_ERROR") and "NOSUCH" in text
    payload = certificate("c-version")
    payload.find(f"{{*}}intyg/{{{CORE}}}version").text = "99.0"
    code, error_id, text = register(client, payload)
    assert (code, error_id, text) == ("ERROR", "VALIDATION_ERROR", "Certificate with type: LISJP does not support version: 99.0")


@pytest.mark.parametrize(("version", "accepted"), [("1", True), ("1.0", True), ("1.3", True), ("1.337", False), ("1.4", False)])
def test_only_the_exact_versions_the_type_declares(client, version: str, accepted: bool) -> None:
    payload = certificate(f"c-v{version}")
    payload.find(f"{{*}}intyg/{{{CORE}}}version").text = version
    answer = register(client, payload)
    if accepted:
        assert answer[0] == "OK", answer
    else:
        assert answer == ("ERROR", "VALIDATION_ERROR", f"Certificate with type: LISJP does not support version: {version}")


@pytest.mark.parametrize(
    ("patient", "text"),
    [
        ("191212121213", "No person exists in PU Service with the social security number"),  # wrong check digit
        ("191213321212", "No person exists in PU Service with the social security number"),  # no such date
        ("181212121212", "Social security number is not of correct format."),  # not 19xx / 20xx (the schema admits 12 digits only)
    ],
)
def test_person_ids_the_national_service_refuses(client, patient: str, text: str) -> None:
    assert register(client, certificate("c-pnr", patient=patient)) == ("ERROR", "VALIDATION_ERROR", text)


def test_a_wrong_check_digit_is_the_person_registers_decision(client, services, db) -> None:
    """A test person's number may break the check-digit rule: the register knows it, so it is accepted."""
    from intygstjanst.registers.persons import FilePersonLookup, Person

    services.persons = FilePersonLookup({"191212121213": Person("191212121213", test=True)})
    assert register(client, certificate("c-test-pnr", patient="191212121213"))[0] == "OK"
    with db.session() as session:
        assert session.get(Certificate, "c-test-pnr").is_test
    # Nor does the national service hold the root to the kind of number.
    payload = certificate("c-root", patient="191212121212")
    payload.find(f".//{{{CORE}}}person-id/{{{TYPES}}}root").text = "1.2.752.129.2.1.3.3"
    assert register(client, payload)[0] == "OK"


def test_samordningsnummer_accepted(client) -> None:
    payload = certificate("c-samordning", patient="198001910002")
    payload.find(f".//{{{CORE}}}person-id/{{{TYPES}}}root").text = "1.2.752.129.2.1.3.3"
    assert register(client, payload)[0] == "OK"


def test_validation_person_stored_as_test(client, db) -> None:
    payload = certificate("c-test", patient=VALIDATION_PERSON)
    payload.find(f".//{{{CORE}}}person-id/{{{TYPES}}}root").text = "1.2.752.129.2.1.3.3"
    assert register(client, payload)[0] == "OK"
    with db.session() as session:
        assert session.get(Certificate, "c-test").is_test
    # A test certificate is read by care only (the part compared in any letter case), as nationally.
    for part in ("FKASSA", "INVANA"):
        assert fault(post(client, GET, envelope(get_request("c-test", part))).content) == (
            f"Failed to retrieve certificate: c-test because it is flagged as test certificate and part is set as: {part}"
        )
    assert post(client, GET, envelope(get_request("c-test", "hsvard"))).status_code == 200


def test_person_register_failure_is_a_technical_error(client, services) -> None:
    from intygstjanst.registers.persons import PersonLookupError

    class Down:
        def lookup(self, person_id: str):  # type: ignore[no-untyped-def]
            raise PersonLookupError("timeout")

    services.persons = Down()
    assert register(client, certificate("c-pu")) == ("ERROR", "TECHNICAL_ERROR", "Error calling PU Service to validate social security number")


def test_relation_is_stored(client, db) -> None:
    assert register(client, certificate("c-old"))[0] == "OK"
    payload = certificate("c-new")
    intyg = payload.find("{*}intyg")
    relation = etree.Element(f"{{{CORE}}}relation")
    typ = etree.SubElement(relation, f"{{{CORE}}}typ")
    etree.SubElement(typ, f"{{{TYPES}}}code").text = "ERSATT"
    etree.SubElement(typ, f"{{{TYPES}}}codeSystem").text = "c2362fcd-eda0-4f9a-bd13-b3bbaf7f2146"
    ref = etree.SubElement(relation, f"{{{CORE}}}intygs-id")
    etree.SubElement(ref, f"{{{TYPES}}}root").text = "SE5565594230-B31"
    etree.SubElement(ref, f"{{{TYPES}}}extension").text = "c-old"
    intyg.insert(intyg.index(intyg.find(f"{{{CORE}}}skapadAv")) + 1, relation)
    assert register(client, payload)[0] == "OK"
    with db.session() as session:
        rows = session.execute(select(CertificateRelation.from_id, CertificateRelation.to_id, CertificateRelation.kind)).all()
    assert rows == [("c-new", "c-old", "ERSATT")]


def test_get_certificate_returns_intyg_with_filtered_status(client, db, services) -> None:
    from intygstjanst.persistence import certificates as repo

    assert register(client, certificate("c-get"))[0] == "OK"
    now = services.clock()
    with db.transaction() as conn:
        repo.add_state(conn, "c-get", "SENT", "FKASSA", now)
        repo.add_state(conn, "c-get", "SENT", "TRANSP", now)
        repo.add_state(conn, "c-get", "DELETED", "INVANA", now)

    def statuses(part: str) -> list[tuple[str, str]]:
        response = post(client, GET, envelope(get_request("c-get", part)))
        assert response.status_code == 200, response.text
        root = etree.fromstring(response.content)
        answer = root.find(".//{*}GetCertificateResponse")
        schema = services.contracts.by_path(GET).schema
        assert schema.validate(answer), schema.error_log
        intyg = answer.find("{*}intyg")
        assert intyg.findtext(f"{{{CORE}}}intygs-id/{{{TYPES}}}extension") == "c-get"
        return [
            (s.findtext(f"{{{CORE}}}status/{{{TYPES}}}code"), s.findtext(f"{{{CORE}}}part/{{{TYPES}}}code"))
            for s in intyg.findall(f"{{{CORE}}}status")
        ]

    # The national codes, newest first.
    assert statuses("INVANA") == [("DELETE", "INVANA"), ("SENTTO", "TRANSP"), ("SENTTO", "FKASSA"), ("RECEIV", "HSVARD")]
    assert statuses("HSVARD") == [("SENTTO", "TRANSP"), ("SENTTO", "FKASSA"), ("RECEIV", "HSVARD")]
    assert statuses("FKASSA") == [("SENTTO", "FKASSA"), ("RECEIV", "HSVARD")]


def test_a_status_on_the_wire_is_written_as_the_national_service_writes_it(client, db, services) -> None:
    from intygstjanst.persistence import certificates as repo

    assert register(client, certificate("c-wire"))[0] == "OK"
    with db.transaction() as conn:
        repo.add_state(conn, "c-wire", "IN_PROGRESS", "FKASSA", services.clock())  # a v1-only state: not listed
    response = post(client, GET, envelope(get_request("c-wire", "HSVARD")))
    assert response.status_code == 200, response.text
    (status,) = etree.fromstring(response.content).findall(f".//{{*}}intyg/{{{CORE}}}status")
    types = f"{{{TYPES}}}"
    assert [(child.tag.replace(types, ""), child.text) for child in status.find(f"{{{CORE}}}status")] == [
        ("code", "RECEIV"),
        ("codeSystem", "9871cd17-8755-4ed9-b894-ff3729e775a4"),
        ("displayName", "RECEIVED"),
    ]
    assert [(child.tag.replace(types, ""), child.text) for child in status.find(f"{{{CORE}}}part")] == [
        ("code", "HSVARD"),
        ("codeSystem", "769bb12b-bd9f-4203-a5cd-fd14f2eb3b80"),
    ]


def test_get_unknown_or_deleted_certificate_is_a_fault(client, db) -> None:
    response = post(client, GET, envelope(get_request("nope")))
    assert response.status_code == 500
    assert fault(response.content) == "Certificate with id nope is invalid or does not exist"
    assert register(client, certificate("c-erased"))[0] == "OK"
    with db.session() as session:
        session.get(Certificate, "c-erased").deleted_by_care_giver = True
    assert fault(post(client, GET, envelope(get_request("c-erased"))).content) == "Certificate with id c-erased is deleted from intygstjansten"


def test_application_xml_is_taken_as_well_as_text_xml(client) -> None:
    response = client.post(REGISTER, content=envelope(certificate("c-appxml")), headers={"content-type": "application/xml; charset=utf-8"})
    assert response.status_code == 200 and result(response.content)[0] == "OK"


def test_overlong_ids_are_validation_errors(client) -> None:
    code, error_id, text = register(client, certificate("x" * 65))
    assert (code, error_id) == ("ERROR", "VALIDATION_ERROR")
    assert "intygs-id/extension is 65 characters, more than 64" in text


def test_self_relation_is_refused(client) -> None:
    payload = certificate("c-self")
    intyg = payload.find("{*}intyg")
    relation = etree.Element(f"{{{CORE}}}relation")
    typ = etree.SubElement(relation, f"{{{CORE}}}typ")
    etree.SubElement(typ, f"{{{TYPES}}}code").text = "KOMPLT"
    etree.SubElement(typ, f"{{{TYPES}}}codeSystem").text = "c2362fcd-eda0-4f9a-bd13-b3bbaf7f2146"
    ref = etree.SubElement(relation, f"{{{CORE}}}intygs-id")
    etree.SubElement(ref, f"{{{TYPES}}}root").text = "SE5565594230-B31"
    etree.SubElement(ref, f"{{{TYPES}}}extension").text = "c-self"
    intyg.insert(intyg.index(intyg.find(f"{{{CORE}}}skapadAv")) + 1, relation)
    code, error_id, text = register(client, payload)
    assert (code, error_id) == ("ERROR", "VALIDATION_ERROR") and "refers to itself" in text


def test_official_schematron_runs_when_configured(client, services) -> None:
    from intygstjanst.certificates.schematron import SchematronValidator
    from intygstjanst.tests.support import shared_dir

    services.schematron = SchematronValidator(
        shared_dir() / "intyg/clinicalprocess-healthcond-certificate-schematron/src/main/resources",
        services.certificate_types,
    )
    assert register(client, certificate("c-sch-ok"))[0] == "OK"
    payload = certificate("c-sch-bad")
    intyg = payload.find("{*}intyg")
    for svar in intyg.findall(f"{{{CORE}}}svar[@id='1']"):
        intyg.remove(svar)
    code, error_id, text = register(client, payload)
    assert (code, error_id) == ("ERROR", "VALIDATION_ERROR")
    assert "LISJP" in text  # the project's own rule ...
    assert "count(" in text  # ... and the owner's Schematron assertion, both reported


def test_calls_refused_before_dispatch_are_audited(client, caplog) -> None:
    import logging

    with caplog.at_level(logging.INFO, logger="intygstjanst.audit"):
        client.post(REGISTER, content=b"{}", headers={"content-type": "application/json"})
        client.post("/no/such/Service/1/rivtabp21", content=b"<x/>", headers={"content-type": "text/xml"})
    lines = [vars(r)["fields"] for r in caplog.records if r.name == "intygstjanst.audit"]
    assert [(line["contract"], line["path"], line["result"]) for line in lines] == [
        ("RegisterCertificate", REGISTER, "FAULT"),
        (None, "/no/such/Service/1/rivtabp21", "FAULT"),
    ]


def test_no_personnummer_in_the_logs(client, services, caplog) -> None:
    import logging

    from intygstjanst.registers.persons import PersonLookupError

    class Down:
        def lookup(self, person_id: str):  # type: ignore[no-untyped-def]
            raise PersonLookupError("timeout")

    with caplog.at_level(logging.DEBUG):
        register(client, certificate("log-1"))
        register(client, certificate("log-2", patient="191212121213"))
        post(client, GET, envelope(get_request("log-1", "INVANA")))
        services.persons = Down()
        register(client, certificate("log-3", patient=OTHER_PERSON))
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "person lookup failed for 19771011-****" in text
    for number in ("191212121212", "191212121213", OTHER_PERSON):
        assert number not in text


@pytest.mark.parametrize("threads", [0, 2])
def test_handlers_on_the_event_loop_or_a_thread_pool(settings, db, persons, threads: int) -> None:
    from starlette.testclient import TestClient

    from intygstjanst.app import create_app
    from intygstjanst.services import Services

    services = Services.build(settings.replace(handler_threads=threads), db=db, persons=persons)
    with TestClient(create_app(services=services)) as client, ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda i: register(client, certificate(f"pool-{threads}-{i % 5}")), range(20)))
    assert sorted(code for code, _, _ in answers) == ["INFO"] * 15 + ["OK"] * 5


def test_only_a_refusal_looks_for_a_stored_duplicate(client, services, monkeypatch) -> None:
    """A repeated registration that a check refuses (a LogicalError) is answered as the duplicate
    it is; an unexpected error in the same checks stays an internal error, not an INFO."""
    assert register(client, certificate("c-dup-check")) == ("OK", None, None)
    monkeypatch.setattr(services.signatures, "refusal", lambda *_args: "refused by a check")
    assert register(client, certificate("c-dup-check")) == ("INFO", None, "Certificate already exists")

    def broken(*_args: object) -> None:
        raise RuntimeError("a bug, not a refusal")

    monkeypatch.setattr(services.signatures, "refusal", broken)
    code, _error_id, text = register(client, certificate("c-dup-check"))
    assert code == "ERROR" and text is not None and "internal error in RegisterCertificate" in text
