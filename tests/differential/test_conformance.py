"""The project's schemas accept and reject exactly what the official RIV-TA schemas do.

Each contract is judged on its official samples and on a deterministic mutation corpus (see
``mutations.py``); ``report.py`` prints the counts. The drift tests break a copy of the project
schemas on purpose and check that the corpus notices, so a green run means something.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from intygstjanst.tests.differential.cases import CASES, CASES_BY_KEY, ContractCase
from intygstjanst.tests.differential.compare import (
    PROJECT_XSD_DIR,
    compile_schema,
    first_disagreement,
    first_error,
    run_case,
    sample_files,
)
from intygstjanst.tests.differential.report import summary_lines
from intygstjanst.tests.differential.vocabulary import global_components
from intygstjanst.tests.support import require_shared

# Each side of the official verdict must hold at least this share of a contract's mutants, and at
# least this many. Small contracts lean to the invalid side: most places admit few edits.
MIN_SIDE_SHARE = 0.15
MIN_SIDE_COUNT = 300


@pytest.fixture(scope="module")
def shared() -> Path:
    return require_shared()


def by_key(cases: tuple[ContractCase, ...]) -> list[object]:
    return [pytest.param(case, id=case.key) for case in cases]


@pytest.mark.parametrize("case", by_key(CASES))
def test_verdicts_agree_on_samples_and_mutants(case: ContractCase, shared: Path) -> None:
    report = run_case(case, shared)
    shown = "\n".join(report.disagreements[:25])
    assert not report.disagreements, (
        f"{case.key}: {len(report.disagreements)} of {report.compared} verdicts differ between "
        f"{case.official_xsd} and xsd/{case.project_xsd}:\n{shown}"
    )


@pytest.mark.parametrize("case", by_key(CASES))
def test_every_sample_is_compared(case: ContractCase, shared: Path) -> None:
    report = run_case(case, shared)
    assert report.samples == len(list(sample_files(case, shared)))


@pytest.mark.parametrize("case", by_key(CASES))
def test_seeds_are_officially_valid(case: ContractCase, shared: Path) -> None:
    # A broken seed would make nearly all its mutants invalid and hide the valid side.
    official = compile_schema(shared / case.official_xsd)
    invalid = {seed.label: first_error(official, seed.element) for seed in case.seeds(shared)}
    assert {label: error for label, error in invalid.items() if error} == {}


@pytest.mark.parametrize("case", by_key(CASES))
def test_corpus_is_large_and_two_sided(case: ContractCase, shared: Path) -> None:
    report = run_case(case, shared)
    for payload, minimum in case.min_mutants.items():
        assert report.mutants_by_payload[payload] >= minimum, f"{case.key}: too few {payload} mutants"
    for side, count in (("valid", report.official_valid), ("invalid", report.official_invalid)):
        assert count >= max(MIN_SIDE_SHARE * report.mutants, MIN_SIDE_COUNT), (
            f"{case.key}: only {count} of {report.mutants} mutants are officially {side}"
        )


def test_every_operator_lands_on_both_sides(shared: Path) -> None:
    verdicts: Counter[tuple[str, bool]] = Counter()
    for case in CASES:
        verdicts.update(run_case(case, shared).verdicts_by_operator)
    operators = sorted({operator for operator, _ in verdicts})
    one_sided = [operator for operator in operators if not (verdicts[(operator, True)] and verdicts[(operator, False)])]
    assert one_sided == [], f"operators whose mutants are all valid or all invalid: {one_sided}"


@pytest.mark.parametrize("case", by_key(CASES))
def test_same_global_declarations(case: ContractCase, shared: Path) -> None:
    official = global_components(shared / case.official_xsd)
    project = global_components(PROJECT_XSD_DIR / case.project_xsd)
    assert sorted(official - project) == [], "declared officially but missing in the project schemas"
    assert sorted(project - official) == [], "declared in the project schemas but not officially"


def test_summary_has_a_line_per_contract_and_the_total(shared: Path) -> None:
    lines = summary_lines(shared)
    print("\n".join(lines))  # shown with pytest -rP; the README quotes it
    reports = [run_case(case, shared) for case in CASES]
    assert [line.split()[0] for line in lines[1:-2]] == [case.name for case in CASES]
    compared = sum(report.compared for report in reports)
    assert lines[-1].startswith(f"{compared} messages compared")


# (contract, file under xsd/, text, replacement): a small, plausible slip in the project schemas.
DRIFTS = [
    ("RegisterCertificate 3.1", "core/certificate_types_3.2.xsd", r'value="\d{12}"', 'value="[0-9]{12}"'),
    ("RegisterCertificate 3.1", "core/certificate_types_3.2.xsd", ' fixed="1.2.752.129.2.1.4.1"', ""),
    ("RegisterCertificate 3.1", "core/certificate_types_3.2.xsd", '<xs:enumeration value="1.2.752.129.2.1.3.3"/>', ""),
    ("RegisterCertificate 3.1", "core/certificate_types_3.2.xsd", '<xs:minLength value="1"/>', ""),
    ("RegisterCertificate 3.1", "core/certificate_types_3.2.xsd", "3[01]))?)?", "3[01]))?)"),
    (
        "RegisterCertificate 3.1",
        "core/certificate_types_3.2.xsd",
        r'value="\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"',
        r'value="\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}.*"',
    ),
    ("RegisterCertificate 3.1", "core/certificate_core_3.3.xsd", '<xs:complexType mixed="true">', "<xs:complexType>"),
    ("RegisterCertificate 3.1", "core/certificate_core_3.3.xsd", '<xs:enumeration value="REVOKED"/>', ""),
    (
        "RegisterCertificate 3.1",
        "core/certificate_core_3.3.xsd",
        '<xs:element name="instans" type="xs:int"',
        '<xs:element name="instans" type="xs:integer"',
    ),
    (
        "RegisterCertificate 3.1",
        "core/certificate_core_3.3.xsd",
        'name="mellannamn" type="xs:string" minOccurs="0"',
        'name="mellannamn" type="xs:string" minOccurs="0" maxOccurs="2"',
    ),
    (
        "GetCertificate 2.1",
        "core/certificate_core_3.3.xsd",
        'type="core:IntygsStatus" minOccurs="0" maxOccurs="unbounded"',
        'type="core:IntygsStatus" minOccurs="0" maxOccurs="4"',
    ),
    (
        "RegisterCertificate 3.1",
        "core/xmldsig_core.xsd",
        '<xs:any namespace="##any" minOccurs="0"',
        '<xs:any namespace="##any" processContents="lax" minOccurs="0"',
    ),
    (
        "GetCertificate 2.1",
        "core/xmldsig_core.xsd",
        '<xs:element name="X509Certificate" type="xs:base64Binary"/>',
        '<xs:element name="X509Certificate" type="xs:string"/>',
    ),
    ("GetCertificate 2.1", "core/xmldsig_filter2.xsd", '<xs:enumeration value="union"/>', ""),
    (
        "GetCertificate 2.1",
        "interactions/GetCertificateResponder_2.1.xsd",
        '<xs:element name="part" type="types:Part"/>',
        '<xs:element name="part" type="types:CVType"/>',
    ),
    (
        "RevokeCertificate 2.1",
        "interactions/RevokeCertificateResponder_2.1.xsd",
        '<xs:element name="meddelande" type="xs:string" minOccurs="0"/>',
        '<xs:element name="meddelande" type="xs:string"/>',
    ),
    (
        "SendCertificateToRecipient 2.1",
        "interactions/SendCertificateToRecipientResponder_2.1.xsd",
        '<xs:element name="person-id" type="types:PersonId"/>',
        '<xs:element name="person-id" type="types:IIType"/>',
    ),
    (
        "SetCertificateStatus 2.0",
        "interactions/SetCertificateStatusResponder_2.0.xsd",
        '<xs:element name="status" type="types:Statuskod"/>',
        '<xs:element name="status" type="types:CVType"/>',
    ),
    (
        "ListCertificatesForCare 3.1",
        "interactions/ListCertificatesForCareResponder_3.1.xsd",
        '<xs:element name="enhets-id" type="types:HsaId" maxOccurs="unbounded"/>',
        '<xs:element name="enhets-id" type="types:HsaId"/>',
    ),
    (
        "ListCertificatesForCitizen 3.0",
        "interactions/ListCertificatesForCitizenResponder_3.0.xsd",
        '<xs:element name="arkiverade" type="xs:boolean"/>',
        '<xs:element name="arkiverade" type="xs:string"/>',
    ),
    (
        "ListCertificatesForCitizen 4.0",
        "interactions/ListCertificatesForCitizenResponder_4.0.xsd",
        '<xs:element name="tomDatum" type="types:DateType" minOccurs="0"/>',
        '<xs:element name="tomDatum" type="xs:date" minOccurs="0"/>',
    ),
    (
        "SendMessageToCare 2.0",
        "interactions/SendMessageToCareResponder_2.0.xsd",
        '<xs:element name="kontaktInfo" type="xs:string" minOccurs="0" maxOccurs="unbounded"/>',
        '<xs:element name="kontaktInfo" type="xs:string" minOccurs="0"/>',
    ),
    (
        "SendMessageToRecipient 2.1",
        "interactions/SendMessageToRecipientResponder_2.1.xsd",
        '<xs:element name="rubrik" type="xs:string" minOccurs="0"/>',
        '<xs:element name="rubrik" type="types:nonEmptyString" minOccurs="0"/>',
    ),
    (
        "ListSickLeavesForCare 1.0",
        "interactions/ListSickLeavesForCareResponder_1.0.xsd",
        '<xs:element name="grad" type="xs:int" maxOccurs="4"/>',
        '<xs:element name="grad" type="xs:int" maxOccurs="5"/>',
    ),
]


@pytest.mark.parametrize(("key", "file", "text", "replacement"), DRIFTS, ids=[f"{d[1]}:{d[2][:40]}" for d in DRIFTS])
def test_corpus_detects_schema_drift(key: str, file: str, text: str, replacement: str, shared: Path, tmp_path: Path) -> None:
    case = CASES_BY_KEY[key]
    broken = tmp_path / "xsd"
    shutil.copytree(PROJECT_XSD_DIR, broken)
    target = broken / file
    source = target.read_text(encoding="utf-8")
    assert source.count(text) >= 1, f"drift anchor {text!r} not found in xsd/{file}"
    target.write_text(source.replace(text, replacement, 1), encoding="utf-8")
    assert first_disagreement(case, shared, broken / case.project_xsd) is not None, (
        f"changing {text!r} to {replacement!r} in xsd/{file} went unnoticed by the {key} corpus"
    )
