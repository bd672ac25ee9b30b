"""The conformance kit's own parts, without a producer: test data, templates, expectations, output."""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import cast

import pytest
from lxml import etree

from intygstjanst.conformance import data as test_data
from intygstjanst.conformance.cli import add_commands
from intygstjanst.contracts.registry import contract_specs
from intygstjanst.conformance.model import (
    CATEGORIES,
    Call,
    Case,
    CaseFailure,
    Fault,
    Reply,
    Suite,
    error,
    has,
    info,
    insert_unknown_element,
    ok,
    parse_answer,
)
from intygstjanst.conformance.report import Progress, junit_xml, save_failures, summary
from intygstjanst.conformance.runner import (
    CaseContext,
    CaseResult,
    RunError,
    Runner,
    Selection,
    Status,
    generated_values,
    parse_url_overrides,
    person_id_root,
)
from intygstjanst.conformance.suites import all_suites
from intygstjanst.conformance.templates import TemplateError, render
from intygstjanst.conformance.transport import Exchange, Transport, envelope
from intygstjanst.contracts.xml import CORE, SOAP11

REGISTER_NS = "urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3"


def run_cli(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(required=True))
    args = parser.parse_args(list(argv))
    code = args.command(args)
    out, err = capsys.readouterr()
    return code, out, err


# -- Test data ---------------------------------------------------------------------------------------


def test_default_data_has_every_value_the_templates_use() -> None:
    values = test_data.load().values
    assert set(values) == set(test_data.KNOWN_VALUES)
    assert values["logicalAddress"] and values["patientId"]


def test_overrides_apply_from_contract_to_suite_to_case(tmp_path: Path) -> None:
    path = tmp_path / "data.xml"
    path.write_text(
        """<data>
             <globaldata><patientId>199001012384</patientId></globaldata>
             <testcase id="RegisterCertificate"><careUnitId>unit-contract</careUnitId><doctorId>d-contract</doctorId></testcase>
             <testcase id="RegisterCertificate:3"><careUnitId>unit-suite</careUnitId></testcase>
             <testcase id="RegisterCertificate:3/duplicate"><careUnitId>unit-case</careUnitId></testcase>
           </data>""",
        encoding="utf-8",
    )
    data = test_data.load(path)
    assert data.values["patientId"] == "199001012384"
    assert data.values["logicalAddress"] == test_data.load().values["logicalAddress"]  # default kept
    case = data.for_case("RegisterCertificate", "RegisterCertificate:3", "RegisterCertificate:3/duplicate")
    assert (case["careUnitId"], case["doctorId"]) == ("unit-case", "d-contract")
    other = data.for_case("RegisterCertificate", "RegisterCertificate:3", "RegisterCertificate:3/valid")
    assert other["careUnitId"] == "unit-suite"
    assert data.for_case("GetCertificate", "GetCertificate:2", "GetCertificate:2/valid")["careUnitId"] == test_data.load().values["careUnitId"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<data><globaldata><patientID>1</patientID></globaldata></data>", "unknown value 'patientID'"),
        ("<data><testcase><patientId>1</patientId></testcase></data>", "needs an id attribute"),
        ("<data><other/></data>", "unexpected <other>"),
        ("<testdata/>", "root element must be <data>"),
        ("<data><globaldata><patientId><x/></patientId></globaldata></data>", "text only"),
        ("<data>", "data.xml"),
    ],
)
def test_bad_data_files_are_refused_with_the_reason(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "data.xml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(test_data.DataError, match=message):
        test_data.load(path)


def test_set_refuses_unknown_names() -> None:
    with pytest.raises(test_data.DataError, match="--set: unknown value 'nope'"):
        test_data.load().with_values({"nope": "1"})


def test_data_files_with_a_doctype_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.xml"
    path.write_text(
        '<!DOCTYPE data [<!ENTITY e SYSTEM "file:///etc/passwd">]><data><globaldata><patientId>&e;</patientId></globaldata></data>',
        encoding="utf-8",
    )
    with pytest.raises(test_data.DataError, match="a DOCTYPE is not allowed"):
        test_data.load(path)


# -- Templates and steps -----------------------------------------------------------------------------


def offline_context(suite: Suite, case: Case) -> CaseContext:
    """A case's context for building its requests without sending them (no transport)."""
    runner = Runner("http://unused", cast(Transport, None), test_data.load(), suites=[suite])
    return CaseContext(runner, suite, case)


def _calls() -> list[tuple[str, str, int, Call]]:
    return [
        (suite.id, case.id, number, step)
        for suite in all_suites()
        for case in suite.all_cases()
        for number, step in enumerate(case.steps, 1)
        if isinstance(step, Call)
    ]


@pytest.mark.parametrize(("suite_id", "case_id", "number", "step"), _calls(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_request_the_kit_sends_is_valid_unless_meant_not_to_be(suite_id: str, case_id: str, number: int, step: Call) -> None:
    """The kit's own requests are checked against the project's schemas: a case about a producer's
    answer to a valid request must not fail because the kit sent an invalid one."""
    suite = next(s for s in all_suites() if s.id == suite_id)
    spec, payload, _values = offline_context(suite, suite.case(case_id)).build(step)
    assert payload.tag == spec.request_tag
    valid = spec.schema.validate(payload)
    if insert_unknown_element in step.mutations:
        assert not valid
    else:
        assert valid, f"{suite_id}/{case_id} step {number}: {spec.schema.error_log}"


def test_template_values_are_escaped_and_missing_ones_named() -> None:
    values = generated_values("p-", "run", all_suites()[0], all_suites()[0].cases[0])
    values.update(test_data.load().values, careUnitName="Vård & <omsorg>", patientIdRoot="1.2")
    payload = render("RegisterCertificate-lisjp.xml", values)
    assert payload.findtext(f".//{{{CORE}}}enhetsnamn") == "Vård & <omsorg>"
    del values["doctorName"]
    with pytest.raises(TemplateError, match=r"uses \$\{doctorName\}"):
        render("RegisterCertificate-lisjp.xml", values)


def test_generated_ids_are_unique_per_case_and_run_and_fit_64_characters() -> None:
    prefix = test_data.load().values["certificateIdPrefix"]
    ids = set()
    for suite in all_suites():
        for case in suite.all_cases():
            values = generated_values(prefix, "0123abcd", suite, case)
            ids.add(values["certificateId"])
            assert all(len(values[name]) <= 64 for name in ("certificateId", "otherCertificateId", "unknownCertificateId", "messageId", "otherMessageId"))
    assert len(ids) == sum(len(s.all_cases()) for s in all_suites())
    suite = all_suites()[0]
    assert generated_values("x-", "run1", suite, suite.cases[0]) != generated_values("x-", "run2", suite, suite.cases[0])


def test_samordningsnummer_get_their_own_root() -> None:
    assert person_id_root("191212121212") == "1.2.752.129.2.1.3.1"
    assert person_id_root("198001910002") == "1.2.752.129.2.1.3.3"


def test_envelope_uses_the_profile_address_header() -> None:
    specs = contract_specs()
    payload = etree.Element(f"{{{REGISTER_NS}}}RegisterCertificate")
    rivta21 = etree.fromstring(envelope(payload, specs["RegisterCertificate:3"], "LA-1"))
    assert rivta21.findtext("{*}Header/{urn:riv:itintegration:registry:1}LogicalAddress") == "LA-1"
    legacy = next(spec for spec in specs.values() if spec.profile == "rivtabp20")
    rivta20 = etree.fromstring(envelope(etree.Element("x"), legacy, "LA-2"))
    assert rivta20.findtext("{*}Header/{http://www.w3.org/2005/08/addressing}To") == "LA-2"
    bare = etree.fromstring(envelope(etree.Element("x"), specs["RegisterCertificate:3"], None))
    header = bare.find(f"{{{SOAP11}}}Header")
    assert header is not None and len(header) == 0


# -- Expectations ------------------------------------------------------------------------------------


def _response(code: str, text: str | None = None, error_id: str | None = None) -> bytes:
    parts = f"<core:resultCode>{code}</core:resultCode>"
    parts += f"<core:resultText>{text}</core:resultText>" if text else ""
    parts += f"<core:errorId>{error_id}</core:errorId>" if error_id else ""
    return (
        f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><r:RegisterCertificateResponse xmlns:r="{REGISTER_NS}" '
        f'xmlns:core="{CORE}"><r:result>{parts}</r:result></r:RegisterCertificateResponse></s:Body></s:Envelope>'
    ).encode()


FAULT = f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>no such thing</faultstring></s:Fault></s:Body></s:Envelope>'.encode()


def _check(expectation: Reply | Fault, status: int, body: bytes, content_type: str = "text/xml; charset=utf-8") -> None:
    expectation.check(parse_answer(status, content_type, body), contract_specs()["RegisterCertificate:3"], {"x": "Certificate already exists"})


def test_reply_checks_code_error_id_and_text() -> None:
    _check(ok(), 200, _response("OK"))
    _check(info("${x}"), 200, _response("INFO", "Certificate already exists"))
    _check(error("VALIDATION_ERROR"), 200, _response("ERROR", "bad", "VALIDATION_ERROR"))
    with pytest.raises(CaseFailure, match="expected resultCode INFO, text 'Certificate already exists', got resultCode OK"):
        _check(info("${x}"), 200, _response("OK"))
    with pytest.raises(CaseFailure, match="errorId APPLICATION_ERROR, got resultCode ERROR, errorId VALIDATION_ERROR: bad"):
        _check(error("APPLICATION_ERROR"), 200, _response("ERROR", "bad", "VALIDATION_ERROR"))


def test_a_fault_where_a_result_is_due_is_a_failure_and_vice_versa() -> None:
    with pytest.raises(CaseFailure, match=r"expected resultCode OK, got a SOAP Fault \(s:Client\): no such thing"):
        _check(ok(), 500, FAULT)
    _check(Fault(), 500, FAULT)
    with pytest.raises(CaseFailure, match="expected a SOAP Fault, got HTTP 200 with resultCode OK"):
        _check(Fault(), 200, _response("OK"))
    with pytest.raises(CaseFailure, match="must come with HTTP 500, got HTTP 200"):
        _check(Fault(), 200, FAULT)


def test_responses_must_be_schema_valid_soap_11_text_xml() -> None:
    with pytest.raises(CaseFailure, match="not valid against RegisterCertificate:3's schema"):
        _check(ok(), 200, _response("MAYBE"))
    with pytest.raises(CaseFailure, match="content type text/xml"):
        _check(ok(), 200, _response("OK"), "application/soap+xml")
    with pytest.raises(CaseFailure, match="HTTP 404: the answer is not XML"):
        _check(ok(), 404, b"Not Found")
    with pytest.raises(CaseFailure, match="not a SOAP 1.1 Envelope"):
        _check(ok(), 200, b"<html/>")
    with pytest.raises(CaseFailure, match="expected the response element"):
        _check(ok(), 200, _response("OK").replace(b"RegisterCertificateResponse", b"OtherResponse"))


def test_xpath_checks_say_what_they_found() -> None:
    payload = etree.fromstring(_response("OK")).find(f"{{{SOAP11}}}Body/*")
    assert payload is not None
    spec = contract_specs()["RegisterCertificate:3"]
    has("r:result/core:resultCode", "OK").check(payload, spec, {})
    with pytest.raises(CaseFailure, match=r"the code: expected at least 1 with text 'INFO', found 0 \(values present: 'OK'\)"):
        has("r:result/core:resultCode", "INFO", what="the code").check(payload, spec, {})


def test_unknown_element_breaks_every_request_schema() -> None:
    """The generic schema-violation case relies on this for every contract the kit knows."""
    for suite in all_suites():
        spec = contract_specs()[suite.id]
        payload = etree.Element(spec.request_tag)
        insert_unknown_element(payload, {})
        assert not spec.schema.validate(payload)
        assert "conformanceUnknownElement" in str(spec.schema.error_log)


# -- Selection ----------------------------------------------------------------------------------------


def test_selection_by_contract_name_or_major_and_case_glob() -> None:
    suites = all_suites()
    assert [s.id for s in Selection(["RegisterCertificate"]).suites(suites)] == ["RegisterCertificate:3"]
    assert [s.id for s in Selection(["GetCertificate:2"]).suites(suites)] == ["GetCertificate:2"]
    with pytest.raises(RunError, match="no suite for contract 'Nope'"):
        Selection(["Nope"]).suites(suites)
    register = next(s for s in suites if s.id == "RegisterCertificate:3")
    chosen = [c.id for c in register.all_cases() if Selection(cases=["dup*", "*/wsdl"]).wants(register, c)]
    assert chosen == ["duplicate", "wsdl"]


def test_url_overrides() -> None:
    specs = contract_specs()
    assert parse_url_overrides(["RegisterCertificate=http://x/y"], specs) == {"RegisterCertificate:3": "http://x/y"}
    with pytest.raises(RunError, match="expected CONTRACT=URL"):
        parse_url_overrides(["RegisterCertificate"], specs)
    with pytest.raises(RunError, match="not a contract the kit knows"):
        parse_url_overrides(["Nope=http://x"], specs)


# -- Output ------------------------------------------------------------------------------------------


def test_list_shows_every_suite_and_case(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli("conformance", "list", capsys=capsys)
    assert code == 0
    for suite in all_suites():
        assert f"{suite.id}  {len(suite.all_cases())} cases  {contract_specs()[suite.id].path}" in out
        for case in suite.all_cases():
            assert f"  {case.id} " in out
    total = sum(len(s.all_cases()) for s in all_suites())
    assert out.rstrip().endswith(f"{len(all_suites())} suites, {total} cases")


def test_list_values_describes_the_data(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli("conformance", "list", "--values", capsys=capsys)
    assert code == 0
    assert all(name in out for name in test_data.KNOWN_VALUES)
    assert "default: 191212121212" in out


def test_run_refuses_bad_arguments_before_calling_anyone(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli("conformance", "run", "--endpoint", "http://127.0.0.1:9", "--set", "nope=1", capsys=capsys)
    assert code == 2 and "unknown value 'nope'" in err
    code, _, err = run_cli("conformance", "run", "--endpoint", "http://127.0.0.1:9", "--contract", "Nope", capsys=capsys)
    assert code == 2 and "no suite for contract 'Nope'" in err
    code, _, err = run_cli("conformance", "run", "--endpoint", "http://127.0.0.1:9", "--cert", "c.pem", capsys=capsys)
    assert code == 2 and "--cert, --key and --ca together" in err


def test_unreachable_producer_is_one_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(
        "conformance", "run", "--endpoint", "http://127.0.0.1:9", "--failures-dir", str(tmp_path), capsys=capsys
    )
    assert code == 2
    assert "cannot reach the producer at http://127.0.0.1:9" in err


def _results() -> list[CaseResult]:
    register = next(s for s in all_suites() if s.id == "RegisterCertificate:3")
    get = next(s for s in all_suites() if s.id == "GetCertificate:2")
    failed_exchange = Exchange(
        "step 1 RegisterCertificate:3", "POST", "http://p/x", b"<req/>", status=500, response=FAULT,
        response_headers={"content-type": "text/xml"},
    )
    return [
        CaseResult(register, register.case("valid"), Status.PASSED, seconds=0.01),
        CaseResult(register, register.case("duplicate"), Status.FAILED, "expected resultCode INFO, got OK \x01", 0.02, [failed_exchange]),
        CaseResult(register, register.case("not-authorized"), Status.SKIPPED, "no unauthorizedLogicalAddress"),
        CaseResult(get, get.case("unknown-id"), Status.FAILED, "no answer", 0.5, [Exchange("step 1", "POST", "http://p/y", b"<r/>", error="ConnectError")]),
    ]


# A schema of our own for the JUnit XML shape CI systems read (Jenkins/Ant style): what we promise.
JUNIT_XSD = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="testsuites">
    <xs:complexType>
      <xs:sequence><xs:element ref="testsuite" maxOccurs="unbounded"/></xs:sequence>
      <xs:attribute name="name" type="xs:string"/>
      <xs:attribute name="tests" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="failures" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="errors" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="skipped" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="time" type="xs:decimal" use="required"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="testsuite">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="testcase" maxOccurs="unbounded">
          <xs:complexType>
            <xs:choice minOccurs="0">
              <xs:element name="failure">
                <xs:complexType><xs:simpleContent><xs:extension base="xs:string">
                  <xs:attribute name="message" type="xs:string" use="required"/>
                  <xs:attribute name="type" type="xs:string"/>
                </xs:extension></xs:simpleContent></xs:complexType>
              </xs:element>
              <xs:element name="skipped">
                <xs:complexType><xs:attribute name="message" type="xs:string"/></xs:complexType>
              </xs:element>
            </xs:choice>
            <xs:attribute name="classname" type="xs:string" use="required"/>
            <xs:attribute name="name" type="xs:string" use="required"/>
            <xs:attribute name="time" type="xs:decimal" use="required"/>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
      <xs:attribute name="name" type="xs:string" use="required"/>
      <xs:attribute name="tests" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="failures" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="errors" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="skipped" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="time" type="xs:decimal" use="required"/>
      <xs:attribute name="timestamp" type="xs:dateTime"/>
      <xs:attribute name="hostname" type="xs:string"/>
    </xs:complexType>
  </xs:element>
</xs:schema>"""


def check_junit(xml: bytes) -> etree._Element:
    """Parse JUnit XML and check it against the shape above; returns the root."""
    root = etree.fromstring(xml)
    schema = etree.XMLSchema(etree.fromstring(JUNIT_XSD))
    assert schema.validate(root), schema.error_log
    for suite in root:
        assert int(suite.get("tests", "")) == len(suite)
        assert int(suite.get("failures", "")) == len(suite.findall("testcase/failure"))
        assert int(suite.get("skipped", "")) == len(suite.findall("testcase/skipped"))
    return root


def test_junit_xml_is_valid_and_counts_right() -> None:
    root = check_junit(junit_xml(_results()))
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("4", "2", "1")
    failure = root.find("testsuite[@name='RegisterCertificate:3']/testcase[@name='duplicate']/failure")
    assert failure is not None and failure.text is not None
    assert failure.get("message") == "expected resultCode INFO, got OK ?"  # control character made safe
    assert failure.get("type") == "duplicate"
    assert "http://p/x -> HTTP 500" in failure.text


def test_failures_are_saved_with_their_messages(tmp_path: Path) -> None:
    results = _results()
    folders = save_failures(results, tmp_path)
    assert [f.relative_to(tmp_path).as_posix() for f in folders] == ["RegisterCertificate_3/duplicate", "GetCertificate_2/unknown-id"]
    duplicate = tmp_path / "RegisterCertificate_3" / "duplicate"
    assert (duplicate / "01-request.xml").read_bytes() == b"<req/>"
    assert (duplicate / "01-response.xml").read_bytes() == FAULT
    assert "HTTP 500" in (duplicate / "01-response.txt").read_text()
    assert "expected resultCode INFO" in (duplicate / "reason.txt").read_text()
    assert "no answer: ConnectError" in (tmp_path / "GetCertificate_2" / "unknown-id" / "01-response.txt").read_text()
    text = summary(results, tmp_path)
    assert "RegisterCertificate:3       1       1        1" in text
    assert f"messages: {duplicate}" in text


def test_progress_lines() -> None:
    out = io.StringIO()
    progress = Progress(out)
    results = _results()
    for index, result in enumerate(results, 1):
        progress.case_started(index, len(results), result.suite, result.case)
        progress.case_finished(index, len(results), result)
    lines = out.getvalue().splitlines()
    assert lines[0] == "[1/4] PASS RegisterCertificate:3 valid (0.01 s)"
    assert lines[1].startswith("[2/4] FAIL RegisterCertificate:3 duplicate")
    assert lines[2].strip() == "expected resultCode INFO, got OK \x01".strip()
    assert lines[3].startswith("[3/4] SKIP")


def test_generic_cases_change_a_call_of_the_suites_own_contract() -> None:
    """The WSDL, schema, address and authorization cases must exercise the suite's contract, not a
    step that only prepares the situation (registering, reading back)."""
    for suite in all_suites():
        generic = {case.id: case for case in suite.all_cases()[len(suite.cases):]}
        assert set(generic) == {"wsdl", "schema-violation", "missing-logical-address", "not-authorized"}
        for case_id in ("schema-violation", "missing-logical-address", "not-authorized"):
            last = generic[case_id].steps[-1]
            assert isinstance(last, Call) and last.contract == suite.id, (suite.id, case_id)
            # A schema violation is an ERROR answer where the national service rewrites faults.
            if case_id == "schema-violation" and contract_specs()[suite.id].fault_rewrite:
                assert isinstance(last.expect, Reply) and last.expect.codes == ("ERROR",), suite.id
            else:
                assert isinstance(last.expect, Fault), (suite.id, case_id)
        assert insert_unknown_element in generic["schema-violation"].steps[-1].mutations
        assert generic["missing-logical-address"].steps[-1].address is None
        assert "unauthorizedLogicalAddress" in generic["not-authorized"].needs()


def test_suites_cover_every_case_category_and_contract_names_are_known() -> None:
    specs = contract_specs()
    categories = {case.category for suite in all_suites() for case in suite.all_cases()}
    assert categories == set(CATEGORIES)
    for suite in all_suites():
        assert suite.id in specs, f"suite {suite.id} has no contract definition in contracts.toml"


def test_a_successor_relates_to_the_cases_first_certificate() -> None:
    from intygstjanst.conformance.suites._steps import register_successor

    suite = next(s for s in all_suites() if s.id == "ListRelationsForCertificate:1")
    ctx = offline_context(suite, suite.case("valid"))
    _spec, payload, _values = ctx.build(register_successor("ERSATT"))
    intyg = payload.find("{*}intyg")
    assert intyg.findtext(f"{{{CORE}}}intygs-id/{{*}}extension") == ctx.values["otherCertificateId"]
    assert intyg.findtext(f"{{{CORE}}}relation/{{{CORE}}}intygs-id/{{*}}extension") == ctx.values["certificateId"]
    assert intyg.findtext(f"{{{CORE}}}relation/{{{CORE}}}typ/{{*}}code") == "ERSATT"


def test_step_labels_name_the_values_they_use() -> None:
    from intygstjanst.conformance.suites._steps import mark_sent

    suite = next(s for s in all_suites() if s.id == "ListCertificatesForCitizen:4")
    ctx = offline_context(suite, suite.case("type-and-dates"))
    assert ctx.describe(suite.case("type-and-dates").steps[2]) == f"the citizen lists LUSE signed {ctx.values['periodStart']} to {ctx.values['today']}"
    assert ctx.describe(mark_sent(label="${recipientId} has it")) == "FKASSA has it"
