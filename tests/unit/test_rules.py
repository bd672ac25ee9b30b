"""The rule engine: the type-file format, value kinds, conditions, messages and facts.

Small type files written here (never the shipped ones) pin down each construct; the shipped
definitions are exercised against the owners' rules in test_rules_agreement.py.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from intygstjanst.certificates.certtypes import CertificateType, CertificateTypeError, CertificateTypes, load_file
from intygstjanst.certificates.rules import RuleViolation, kinds
from intygstjanst.tests.support import payload_of, require_shared

RG = "urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3"
GN = "urn:riv:clinicalprocess:healthcond:certificate:3"
TP = "urn:riv:clinicalprocess:healthcond:certificate:types:3"
TODAY = dt.date(2024, 6, 1)

HEADER = 'code = "XT"\nversion = "1"\nname = "Test type"\nrecipients = []\n'


def cv(code: str, system: str = "S") -> str:
    return f"<tp:cv><tp:code>{code}</tp:code><tp:codeSystem>{system}</tp:codeSystem></tp:cv>"


def period(start: str, end: str) -> str:
    return f"<tp:datePeriod><tp:start>{start}</tp:start><tp:end>{end}</tp:end></tp:datePeriod>"


def intyg(answers: Iterable[tuple[str, dict[str, str] | list[tuple[str, str]], int | None]], person: str = "191212121212") -> etree._Element:
    """An intyg element with the given answers: (question id, {sub-answer id: content}, instance)."""
    svar = []
    for qid, parts, instance in answers:
        items = parts.items() if isinstance(parts, dict) else parts
        inner = "" if instance is None else f"<gn:instans>{instance}</gn:instans>"
        inner += "".join(f'<gn:delsvar id="{pid}">{content}</gn:delsvar>' for pid, content in items)
        svar.append(f'<gn:svar id="{qid}">{inner}</gn:svar>')
    xml = (
        f'<rg:intyg xmlns:rg="{RG}" xmlns:gn="{GN}" xmlns:tp="{TP}">'
        f"<gn:patient><gn:person-id><tp:root>1.2.752.129.2.1.3.1</tp:root><tp:extension>{person}</tp:extension></gn:person-id></gn:patient>"
        + "".join(svar)
        + "</rg:intyg>"
    )
    return etree.fromstring(xml)


def load(tmp_path: Path, body: str, header: str = HEADER) -> CertificateType:
    path = tmp_path / "xt.toml"
    path.write_text(header + body, encoding="utf-8")
    return load_file(path)  # just this file: the built-in types are not needed here


def ids(violations: list[RuleViolation]) -> list[str]:
    return sorted(v.rule_id for v in violations)


# -- format errors name the file and the place --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('[[question]]\nid = "1"\ncolour = "red"\n', "question 1: unknown field(s) colour"),
        ('[[question]]\nid = "1"\ncount = "2..1"\n', "maximum below its minimum"),
        ('[[question]]\nid = "1"\ncount = "many"\n', "'count' must look like"),
        ('[[question]]\nid = "x"\n', "must be digits"),
        ('[[question]]\nid = "1"\n[[question.part]]\nid = "2.1"\nkind = "text"\n', 'id must be "1.<n>"'),
        ('[[question]]\nid = "1"\n[[question.part]]\nid = "1.1"\n', "missing 'kind'"),
        ('[[question]]\nid = "1"\n[[question.part]]\nid = "1.1"\nkind = "colour"\n', "unknown kind 'colour'"),
        ('[[question]]\nid = "1"\n[[question.part]]\nid = "1.1"\nkind = "date"\ncodes = ["A"]\n', "kind 'date' has no option 'codes'"),
        ('[[question]]\nid = "1"\n[[question.part]]\nid = "1.1"\nkind = "text"\nmax_length = "9"\n', "option 'max_length' has the wrong type"),
        ('[[question]]\nid = "1"\n[[question.part]]\nid = "1.1"\nkind = "code"\ncode_pattern = "("\n', "not a valid regular expression"),
        ('[[rule]]\nid = "R1"\ncheck = "count(1) = 1"\nmessage = "m"\n', "refers to 1, which this type does not declare"),
        ('[[question]]\nid = "1"\n[[rule]]\nid = "R1"\ncheck = "count(1) ="\nmessage = "m"\n', "rule R1.check: expected a value"),
        ('[[question]]\nid = "1"\n[[rule]]\nid = "R1"\ncheck = "count(1)"\nmessage = "m"\n', "not a condition"),
        ('[[question]]\nid = "1"\n[[rule]]\nid = "R1"\ncheck = "code(1) = 2"\nmessage = "m"\n', "cannot compare text with number"),
        ('[[question]]\nid = "1"\n[[rule]]\nid = "R1"\ncheck = "shout(1)"\nmessage = "m"\n', "unknown function shout()"),
        ('[[question]]\nid = "1"\n[[rule]]\nid = "R1"\ncheck = "exists(.)"\nmessage = "m"\n', "'.' needs a rule with for_each"),
        ('[[question]]\nid = "1"\n[[rule]]\nid = "R1"\ncheck = "exists(1)"\n', "a 'check' rule needs a 'message'"),
        ('[[question]]\nid = "1"\n[[rule]]\nid = "R1"\nrequire = "9"\n', "'require' must list declared"),
        ('[[question]]\nid = "1"\n[[rule]]\nid = "R1"\nrequire = "1"\n[[rule]]\nid = "R1"\nforbid = "1"\n', "rule R1: id used twice"),
        ('[[question]]\nid = "1"\n[[rule]]\nid = "R1"\nrequire = "1"\nforbid = "1"\n', "exactly one of 'check', 'require' or 'forbid'"),
        ("shade = 1\n", "unknown field(s) shade"),
        ('[facts]\ndiagnoses = [{ code = "6.2" }]\n', "facts.diagnoses[1].code: '6.2' is not a declared"),
        ('[[question]]\nid = "7"\n[[question.part]]\nid = "7.1"\nkind = "text"\n[[question.part]]\nid = "7.2"\nkind = "period"\n[facts.sick_leave]\nquestion = "7"\ndegree = "7.1"\nperiod = "7.2"\nlists = "yes"\n', "facts.sick_leave.lists: must be true or false"),
        ('[[question]]\nid = "7"\n[[question.part]]\nid = "7.1"\nkind = "text"\n[[question.part]]\nid = "7.2"\nkind = "period"\n[facts.sick_leave]\nquestion = "7"\ndegree = "7.1"\nperiod = "7.2"\nnot_when = "smitta"\n', "facts.sick_leave.not_when: 'smitta' is not a sub-answer id"),
        ('[[question]]\nid = "7"\n[[question.part]]\nid = "7.1"\nkind = "text"\n[[question.part]]\nid = "7.2"\nkind = "period"\n[facts.sick_leave]\nquestion = "7"\ndegree = "7.1"\nperiod = "7.2"\nlisted = true\n', "facts.sick_leave: unknown field(s) listed"),
    ],
)
def test_bad_definitions_are_refused_with_file_and_place(tmp_path: Path, body: str, fragment: str) -> None:
    with pytest.raises(CertificateTypeError) as e:
        load(tmp_path, body)
    assert str(tmp_path / "xt.toml") in str(e.value)
    assert fragment in str(e.value)


# -- value kinds --------------------------------------------------------------------------------

KINDS_FILE = """
[[question]]
id = "1"
count = "0..*"
closed = false

  [[question.part]]
  id = "1.1"
  count = "0..*"
  kind = "text"
  max_length = 5

  [[question.part]]
  id = "1.2"
  count = "0..*"
  kind = "boolean"

  [[question.part]]
  id = "1.3"
  count = "0..*"
  kind = "code"
  code_system = "S"
  codes = ["A", "B"]

  [[question.part]]
  id = "1.4"
  count = "0..*"
  kind = "date"

  [[question.part]]
  id = "1.5"
  count = "0..*"
  kind = "period"

  [[question.part]]
  id = "1.6"
  count = "0..*"
  kind = "pq"
  value_pattern = '[0-9]+\\.0'

  [[question.part]]
  id = "1.7"
  count = "0..*"
  kind = "decimal"
  max_abs = 2.0

  [[question.part]]
  id = "1.8"
  count = "0..*"
  kind = "date_with_unknown_parts"

  [[question.part]]
  id = "1.9"
  count = "0..*"
  kind = "partial_date"

  [[question.part]]
  id = "1.10"
  count = "0..*"
  kind = "partial_year"

  [[question.part]]
  id = "1.11"
  count = "0..*"
  kind = "code"
  code_systems = ["X", "Y"]
  code_pattern = "[A-Z][0-9]{2}"
  code_max_length = 3

  [[question.part]]
  id = "1.12"
  count = "0..*"
  kind = "code"
  shape = false
  code_system = "S"
  codes = ["A"]

  [[question.part]]
  id = "1.13"
  count = "0..*"
  kind = "code"
  code_system_pattern = "1.2.3"

  [[question.part]]
  id = "1.14"
  count = "0..*"
  kind = "pq"
  unit_pattern = ".*h.*"
"""

PQ = "<tp:pq><tp:value>{}</tp:value><tp:unit>%</tp:unit></tp:pq>"
PARTIAL = "<tp:partialDate><tp:format>YYYY-MM-DD</tp:format><tp:value>{}</tp:value></tp:partialDate>"


@pytest.mark.parametrize(
    ("pid", "content", "problems"),
    [
        ("1.1", "hello", []),
        ("1.1", "  a   b\n ", []),  # normalized: 'a b'
        ("1.1", " \t\n", ["1.1.empty"]),
        ("1.1", "\u00a0", []),  # no-break space is not XML whitespace
        ("1.1", "toolong", ["1.1.length"]),
        ("1.1", "<tp:x>a</tp:x>", ["1.1.empty", "1.1.plain"]),
        ("1.2", " true ", []),
        ("1.2", "0", []),
        ("1.2", "yes", ["1.2.boolean"]),
        ("1.3", cv("A"), []),
        ("1.3", cv(" B "), []),
        ("1.3", cv("C"), ["1.3.code-value"]),
        ("1.3", cv("A", " S"), ["1.3.code-system-value"]),  # the code system is compared exactly
        ("1.3", "A", ["1.3.code", "1.3.code-plain", "1.3.code-system", "1.3.code-system-plain", "1.3.code-system-value", "1.3.code-value", "1.3.cv"]),
        ("1.3", cv("A") + cv("A"), ["1.3.code", "1.3.code-system", "1.3.cv"]),
        ("1.4", "2024-02-29", []),
        ("1.4", "2023-02-29", ["1.4.date"]),
        ("1.4", "2024-01-01Z", []),  # castable as xs:date, written YYYY-MM-DD
        ("1.4", " 2024-01-01", ["1.4.date-format"]),
        ("1.4", "20240101", ["1.4.date"]),
        ("1.5", period("2024-01-01", "2024-01-31"), []),
        ("1.5", period("2024-02-01", "2024-01-31"), ["1.5.period-order"]),
        ("1.5", period("2024-01-01", "2024-13-01"), ["1.5.end"]),
        ("1.5", "2024-01-01", ["1.5.period"]),
        ("1.6", PQ.format("50.0"), []),
        ("1.6", PQ.format("50.5"), ["1.6.pq-range"]),
        ("1.7", "-1.5", []),
        ("1.7", "2.5", ["1.7.decimal-range"]),
        ("1.7", "1e0", ["1.7.decimal"]),
        ("1.8", "2018-00-00", []),
        ("1.8", "2018-00", ["1.8.partial-date"]),
        ("1.9", PARTIAL.format("2018-05-01"), []),
        ("1.9", PARTIAL.format("2018-05"), ["1.9.partial-date"]),
        ("1.10", PARTIAL.format("2018"), []),
        ("1.10", PARTIAL.format("18"), ["1.10.partial-year"]),
        ("1.11", cv("A12", "X"), []),
        ("1.11", cv("A12", "Z"), ["1.11.code-system-value"]),
        ("1.11", cv("a12", "Y"), ["1.11.code-format"]),
        # Without the shape checks only the value and its system count: a second displayName or
        # cv passes, but the code must still be one string.
        ("1.12", "<tp:cv><tp:code>A</tp:code><tp:codeSystem>S</tp:codeSystem><tp:displayName/><tp:displayName/></tp:cv>", []),
        ("1.12", cv("A", "X") + "<tp:cv><tp:codeSystem>S</tp:codeSystem></tp:cv>", []),
        ("1.12", cv("A") + cv("A"), ["1.12.code"]),
        ("1.12", cv("B"), ["1.12.code-value"]),
        ("1.13", cv("A", "1.2.3"), []),
        ("1.13", cv("A", " 1x2y3 "), []),  # a regular expression, as the owners wrote it
        ("1.13", cv("A", "1.2.4"), ["1.13.code-system-format"]),
        ("1.14", PQ.format("20").replace("%", "h"), []),
        ("1.14", PQ.format("20").replace("%", " hours "), []),
        ("1.14", PQ.format("20"), ["1.14.pq-unit-value"]),
    ],
)
def test_value_kinds(tmp_path: Path, pid: str, content: str, problems: list[str]) -> None:
    t = load(tmp_path, KINDS_FILE)
    assert ids(t.validate(intyg([("1", [(pid, content)], None)]), TODAY)) == sorted(problems)


@pytest.fixture(scope="module")
def shipped() -> CertificateTypes:
    return CertificateTypes.load()


def _kind_checks(shipped: CertificateTypes) -> list[tuple[str, kinds.FastPath]]:
    out = []
    for t in shipped.all():
        assert t.engine is not None
        for part in t.engine.d.parts.values():
            out += [(part.id, variant.check) for variant in part.variants if isinstance(variant.check, kinds.FastPath)]
    return out


def test_fast_paths_never_accept_what_the_full_check_rejects_in_the_corpus(shipped: CertificateTypes) -> None:
    shared = require_shared()
    checks = _kind_checks(shipped)
    elements: dict[str, list[etree._Element]] = {}
    for path in [*(shared / "samples" / "RegisterCertificate").glob("*.xml"), *(shared / "schematron-tests").rglob("*.xml")]:
        for e in payload_of(path).iter(f"{{{GN}}}delsvar"):
            elements.setdefault(e.get("id", ""), []).append(e)
    compared = 0
    for pid, check in checks:
        for e in elements.get(pid, []):
            assert check(e) == check.full(e), (pid, etree.tostring(e))
            compared += 1
    assert compared > 2000


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=" \t\n\u00a0-:01239eTtrufalsZ+.", max_size=14))
def test_fast_paths_agree_with_full_checks_on_arbitrary_text(text: str) -> None:
    element = etree.fromstring(f'<d xmlns:tp="{TP}"/>')
    element.text = text
    wrapped = etree.fromstring(f'<d xmlns:tp="{TP}">{cv("x")}{period("2024-01-01", "2024-01-02")}</d>')
    for factory, options in ((kinds.KINDS["text"], {"max_length": 3}), (kinds.KINDS["boolean"], {}), (kinds.KINDS["date"], {})):
        check = factory(**options)
        assert isinstance(check, kinds.FastPath)
        assert check(element) == check.full(element)
    code = kinds.build("code", {"codes": [text.strip() or "x"], "code_system": "S"})
    span = kinds.build("period", {})
    wrapped[0][0].text, wrapped[1][0].text = text, text
    for check in (code, span):
        assert isinstance(check, kinds.FastPath)
        assert check(wrapped) == check.full(wrapped)


# -- questions, counts, messages and paths --------------------------------------------------------

QUESTIONS = """
supplementary_questions = true

[[question]]
id = "1"
label = "Grund"
count = "1..2"
instance = true
unique = "1.1"

  [[question.part]]
  id = "1.1"
  label = "Typ"
  count = "1"
  kind = "code"
  codes = ["A", "B"]

  [[question.part]]
  id = "1.2"
  label = "Annat"
  kind = "text"

[[question]]
id = "2"
label = "Period"
count = "0..*"
no_overlap = "2.1"

  [[question.part]]
  id = "2.1"
  label = "Tid"
  count = "1"
  kind = "period"
"""


def test_a_valid_certificate_has_no_violations(tmp_path: Path) -> None:
    t = load(tmp_path, QUESTIONS)
    certificate = intyg([("1", {"1.1": cv("A")}, 1), ("1", {"1.1": cv("B"), "1.2": "x"}, 2), ("2", {"2.1": period("2024-01-01", "2024-01-10")}, None)])
    assert t.validate(certificate, TODAY) == []


def test_counts_paths_and_messages(tmp_path: Path) -> None:
    t = load(tmp_path, QUESTIONS)
    violations = t.validate(intyg([("1", {"1.2": " ", "1.9": "x"}, None), ("7", {"7.1": "x"}, None)]), TODAY)
    by_id = {v.rule_id: v for v in violations}
    assert set(by_id) == {"1.instance", "1.1.count", "1.unknown-part", "1.2.empty", "unknown-question"}
    assert by_id["1.1.count"].path == "/intyg/svar[@id='1'][1]"
    assert by_id["1.1.count"].message == "Sub-answer 1.1 'Typ' must occur exactly once in question 1 (found 0)"
    assert by_id["1.2.empty"].path == "/intyg/svar[@id='1'][1]/delsvar[@id='1.2'][1]"
    assert by_id["1.unknown-part"].message == "Question 1 has no sub-answer 1.9 (allowed: 1.1, 1.2)"
    assert by_id["unknown-question"].path == "/intyg/svar[@id='7'][1]"
    assert str(by_id["1.instance"]).startswith("XT 1.instance at /intyg/svar[@id='1'][1]: ")
    missing = t.validate(intyg([]), TODAY)
    assert [(v.rule_id, v.path, v.message) for v in missing] == [
        ("1.count", "/intyg", "Question 1 'Grund' must be answered between 1 and 2 times (found 0)")
    ]


def test_repeated_codes_and_overlapping_periods(tmp_path: Path) -> None:
    t = load(tmp_path, QUESTIONS)
    certificate = intyg(
        [
            ("1", {"1.1": cv("A")}, 1),
            ("1", {"1.1": cv("A")}, 2),
            ("2", {"2.1": period("2024-01-01", "2024-01-10")}, None),
            ("2", {"2.1": period("2024-01-11", "2024-01-20")}, None),  # touching is fine
            ("2", {"2.1": period("2024-01-05", "2024-01-12")}, None),
        ]
    )
    violations = t.validate(certificate, TODAY)
    assert ids(violations) == ["1.unique", "2.overlap"]
    overlap = next(v for v in violations if v.rule_id == "2.overlap")
    assert overlap.path == "/intyg/svar[@id='2'][3]"
    # An answer with two periods cannot be compared with the earlier ones (the owners' XPath stops
    # with a type error); as the first answer it is compared with nothing.
    two = period("2024-03-01", "2024-03-02") + period("2024-04-01", "2024-04-02")
    later = t.validate(intyg([("2", {"2.1": period("2024-01-01", "2024-01-10")}, None), ("2", {"2.1": two}, None)]), TODAY)
    assert [(v.rule_id, v.path) for v in later if v.rule_id == "2.overlap"] == [("2.overlap", "/intyg/svar[@id='2'][2]")]
    first = t.validate(intyg([("2", {"2.1": two}, None), ("2", {"2.1": period("2024-01-01", "2024-01-10")}, None)]), TODAY)
    assert "2.overlap" not in ids(first)


def test_supplementary_questions_and_instance_numbers(tmp_path: Path) -> None:
    t = load(tmp_path, QUESTIONS)
    base = [("1", {"1.1": cv("A")}, 0)]
    assert ids(t.validate(intyg(base + [("9001", {"9001.1": "svar"}, None)]), TODAY)) == ["instance-number"]
    bad = intyg(base + [("9001", {"9001.1": " ", "9001.2": "x"}, None), ("9001", {"9001.1": "y"}, None), ("10000", {}, None)])
    assert ids(t.validate(bad, TODAY)) == [
        "instance-number",
        "supplementary.duplicate",
        "supplementary.empty",
        "supplementary.parts",
        "unknown-question",
    ]


# -- rules ----------------------------------------------------------------------------------------

RULES = """
[[question]]
id = "1"
count = "0..*"

  [[question.part]]
  id = "1.1"
  kind = "code"
  codes = ["ANNAT", "X"]

  [[question.part]]
  id = "1.2"
  label = "Beskrivning"
  kind = "text"

[[question]]
id = "2"

  [[question.part]]
  id = "2.1"
  label = "Ja/nej"
  kind = "boolean"

  [[question.part]]
  id = "2.2"
  label = "Datum"
  kind = "date"

[[rule]]
id = "R-annat"
for_each = "1"
when = "code(1.1) = 'ANNAT'"
require = "1.2"
message = "ANNAT must be described."

[[rule]]
id = "R-auto"
when = "true(2.1)"
require = ["2.2", "1"]

[[rule]]
id = "R-birth"
check = "not exists(2.2) or date(2.2) >= birthdate() + days(28)"
message = "Too early."

[[rule]]
id = "R-today"
for_each = "2.2"
check = "date(.) <= today()"
message = "Not in the future."
"""


def test_for_each_scopes_same_question_references_to_the_instance(tmp_path: Path) -> None:
    t = load(tmp_path, RULES)
    # The description belongs to the other instance: the first answer still lacks one.
    certificate = intyg([("1", {"1.1": cv("ANNAT")}, None), ("1", {"1.1": cv("X"), "1.2": "text"}, None)])
    [violation] = t.validate(certificate, TODAY)
    assert (violation.rule_id, violation.path, violation.message) == ("R-annat", "/intyg/svar[@id='1'][1]", "ANNAT must be described.")


def test_a_sub_answer_rule_reads_siblings_in_the_answer_it_sits_in(tmp_path: Path) -> None:
    # Like the owners' "../gn:delsvar[@id='1.2']": also when the sub-answer was given under the
    # id of another question, its siblings are those of that answer, not the certificate's.
    body = RULES + '''
[[rule]]
id = "R-sibling"
for_each = "1.1"
when = "code(.) = 'ANNAT'"
require = "1.2"
'''
    t = load(tmp_path, body.replace('[[question]]\nid = "2"', '[[question]]\nid = "2"\nclosed = false'))
    moved = intyg([("2", {"1.1": cv("ANNAT")}, None), ("1", {"1.1": cv("X"), "1.2": "text"}, None)])
    assert ids(t.validate(moved, TODAY)) == ["R-sibling"]
    assert ids(t.validate(intyg([("2", {"1.1": cv("ANNAT"), "1.2": "text"}, None)]), TODAY)) == []


def test_require_lists_what_is_missing_with_a_generated_message(tmp_path: Path) -> None:
    t = load(tmp_path, RULES)
    [violation] = t.validate(intyg([("2", {"2.1": "true"}, None)]), TODAY)
    assert violation.rule_id == "R-auto" and violation.path == "/intyg"
    assert violation.message == (
        "When true(2.1), 2.2 'Datum', 1 '1' must be answered (missing or not allowed: 2.2, 1)"
    )


def test_dates_against_birth_and_an_injected_today(tmp_path: Path) -> None:
    t = load(tmp_path, RULES)
    # Samordningsnummer: day of birth + 60 (born 2024-01-03).
    early = intyg([("2", {"2.1": "false", "2.2": "2024-01-20"}, None)], person="202401632391")
    assert ids(t.validate(early, TODAY)) == ["R-birth"]
    later = intyg([("2", {"2.1": "false", "2.2": "2024-02-01"}, None)], person="202401632391")
    assert t.validate(later, TODAY) == []
    assert ids(t.validate(later, dt.date(2024, 1, 31))) == ["R-today"]


def test_variants_choose_the_kind_by_condition(tmp_path: Path) -> None:
    t = load(
        tmp_path,
        """
[[question]]
id = "2"

  [[question.part]]
  id = "2.1"
  kind = "boolean"

  [[question.part]]
  id = "2.2"

    [[question.part.variant]]
    when = "true(2.1)"
    kind = "date"

    [[question.part.variant]]
    when = "false(2.1)"
    kind = "date_with_unknown_parts"
""",
    )
    assert t.validate(intyg([("2", {"2.1": "false", "2.2": "2024-00-00"}, None)]), TODAY) == []
    assert ids(t.validate(intyg([("2", {"2.1": "true", "2.2": "2024-00-00"}, None)]), TODAY)) == ["2.2.date"]
    assert t.validate(intyg([("2", {"2.1": "maybe", "2.2": "junk"}, None)]), TODAY) != []  # 2.1 itself fails
    assert ids(t.validate(intyg([("2", {"2.1": "maybe", "2.2": "junk"}, None)]), TODAY)) == ["2.1.boolean"]


def test_conditions_compare_like_xpath_general_comparisons(tmp_path: Path) -> None:
    t = load(
        tmp_path,
        """
[[question]]
id = "3"
count = "0..*"

  [[question.part]]
  id = "3.1"
  kind = "code"
  codes = ["A", "B", "C"]

[[rule]]
id = "any-equal"
when = "code(3.1) = 'A'"
check = "count(3) = 1"
message = "A stands alone."

[[rule]]
id = "none-missing"
check = "code(3.1) in ['A', 'B'] or not exists(3)"
message = "Some answer must be A or B."
""",
    )
    assert ids(t.validate(intyg([("3", {"3.1": cv("B")}, None), ("3", {"3.1": cv("A")}, None)]), TODAY)) == ["any-equal"]
    assert ids(t.validate(intyg([("3", {"3.1": cv("C")}, None)]), TODAY)) == ["none-missing"]
    assert t.validate(intyg([]), TODAY) == []


def test_file_text_cannot_inject_code(tmp_path: Path) -> None:
    t = load(
        tmp_path,
        """
[[question]]
id = "1"
label = "x') or __import__('os') or ('{0}"
count = "1"

  [[question.part]]
  id = "1.1"
  label = "}}{{"
  count = "1"
  kind = "code"
  codes = ["'); boom('"]

[[rule]]
id = "R'\\"x"
check = "code(1.1) = '\\"); boom(\\"'"
message = "{} '\\""
""",
    )
    assert t.engine is not None and "boom(" not in t.engine.source.replace("K", "")
    [violation] = t.validate(intyg([("1", {"1.1": cv("'); boom('")}, None)]), TODAY)
    assert (violation.rule_id, violation.message) == ("R'\"x", "{} '\"")
    count = next(v for v in t.validate(intyg([]), TODAY) if v.rule_id == "1.count")
    assert count.message == "Question 1 'x') or __import__('os') or ('{0}' must be answered exactly once (found 0)"


# -- facts ---------------------------------------------------------------------------------------


def _sample(name: str) -> etree._Element:
    payload = payload_of(require_shared() / "samples" / "RegisterCertificate" / name)
    found = payload.find(f"{{{RG}}}intyg")
    assert found is not None
    return found


def test_lisjp_facts(shipped: CertificateTypes) -> None:
    t = shipped.find("LISJP", "1")
    assert t is not None
    facts = t.extract(_sample("common__fk-lisjp-v1-transport-scenarios-pass-diagnosKsh97p.xml"))
    assert [(d.code, d.code_system, d.rank) for d in facts.diagnoses] == [("A00-", "1.2.752.116.1.3.1.4.1", 0)]
    assert facts.diagnoses[0].text
    assert [(p.degree, p.degree_code) for p in facts.sick_leave] == [(75, "TRE_FJARDEDEL")]
    assert all(p.start is not None and p.end is not None and p.start <= p.end for p in facts.sick_leave)
    assert facts.employment == ("NUVARANDE_ARBETE",)
    assert set(facts.statistics) >= {"6.1", "6.2", "32.1", "32.2"}


def test_the_type_files_say_which_types_are_sick_leave_data(shipped: CertificateTypes) -> None:
    listed = {t.code for t in shipped.all() if t.facts.sick_leave_listed}
    assert listed == {"LISJP", "FK7263", "AG7804", "AG1-14"}
    assert {t.code: t.facts.sick_leave_not_when for t in shipped.all() if t.code in listed} == {
        "LISJP": "27.1", "FK7263": "27.1", "AG7804": "27.1", "AG1-14": None
    }


def test_ag114_sick_leave_is_a_percentage(shipped: CertificateTypes) -> None:
    t = shipped.find("AG1-14", "1")
    assert t is not None
    facts = t.extract(_sample("common__skl-ag114-v1-transport-ag114-2.xml"))
    [period_] = facts.sick_leave
    assert period_.degree_code is None and period_.degree == 89
    assert period_.start is not None and period_.end is not None


def test_every_shipped_type_extracts_without_errors(shipped: CertificateTypes) -> None:
    shared = require_shared()
    types = shipped
    seen = set()
    for path in sorted((shared / "samples" / "RegisterCertificate").glob("*.xml")):
        intyg_ = payload_of(path).find(f"{{{RG}}}intyg")
        assert intyg_ is not None
        t = types.find(intyg_.findtext(f"{{{GN}}}typ/{{{TP}}}code") or "", intyg_.findtext(f"{{{GN}}}version") or "")
        if t is not None:
            t.extract(intyg_)
            seen.add(t.code)
    assert len(seen) == 11


def test_generated_source_is_readable(shipped: CertificateTypes) -> None:
    t = shipped.find("LISJP", "1")
    assert t is not None and t.engine is not None
    assert t.engine.source.startswith("def run(cert, fail):")
    assert re.search(r"for a in bq\.get\('1', E\):", t.engine.source)
