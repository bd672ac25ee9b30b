"""The ISO Schematron -> XSLT 3 compiler and the Saxon runner.

Small hand-written schemas pin down the Schematron semantics the compiler must keep (first
matching rule per pattern, lets, abstract rules and patterns, includes, reports, messages with
values, an injectable today); the official files then show the runner gives the reference verdicts.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from lxml import etree

from intygstjanst.certificates.schematron import (
    SchematronError,
    SchematronValidator,
    compile_schematron,
)
from intygstjanst.tests.support import require_shared

HEAD = (
    '<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">'
    '<ns prefix="a" uri="urn:test:a"/>'
)
DOC = b'<a:doc xmlns:a="urn:test:a"><a:item id="1">x</a:item><a:item id="2"> </a:item><a:when>2024-05-01</a:when></a:doc>'


def _sch(tmp_path: Path, body: str, name: str = "t.sch") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + body + "</schema>", encoding="utf-8")
    return path


@pytest.fixture()
def validator(tmp_path: Path) -> SchematronValidator:
    return SchematronValidator(tmp_path, today=dt.date(2024, 6, 1))


def test_assert_reports_location_and_message_with_values(tmp_path: Path, validator: SchematronValidator) -> None:
    path = _sch(
        tmp_path,
        '<pattern id="p"><rule context="a:item">'
        '<assert test="normalize-space(.) != \'\'">Item <value-of select="@id"/> of <name/> is blank</assert>'
        "</rule></pattern>",
    )
    [failure] = validator.run(path, DOC)
    assert failure.message == "Item 2 of a:item is blank"
    assert failure.location == "/doc[1]/item[@id='2'][2]"
    assert (failure.pattern, failure.kind) == ("p", "assert")


def test_first_matching_rule_in_a_pattern_wins_but_patterns_are_independent(
    tmp_path: Path, validator: SchematronValidator
) -> None:
    path = _sch(
        tmp_path,
        '<pattern id="one"><rule context="a:item[@id=\'1\']"><assert test="false()">first</assert></rule>'
        '<rule context="a:item"><assert test="false()">second</assert></rule></pattern>'
        '<pattern id="two"><rule context="a:item"><report test="@id = \'1\'">reported</report></rule></pattern>',
    )
    messages = sorted(f.message for f in validator.run(path, DOC))
    assert messages == ["first", "reported", "second"]  # item 1 -> first only; item 2 -> second


def test_lets_at_every_level_and_abstract_rules(tmp_path: Path, validator: SchematronValidator) -> None:
    path = _sch(
        tmp_path,
        '<let name="limit" value="1"/>'
        '<pattern><let name="items" value="//a:item"/>'
        '<rule context="a:doc"><let name="n" value="count($items)"/>'
        '<assert test="$n le $limit">too many: <value-of select="$n"/></assert></rule></pattern>'
        '<pattern><rule abstract="true" id="nonblank"><assert test="normalize-space(.)">blank <value-of select="@id"/></assert></rule>'
        '<rule context="a:item"><extends rule="nonblank"/></rule></pattern>',
    )
    assert sorted(f.message for f in validator.run(path, DOC)) == ["blank 2", "too many: 2"]


def test_abstract_patterns_and_includes(tmp_path: Path, validator: SchematronValidator) -> None:
    (tmp_path / "part.sch").write_text(
        '<pattern xmlns="http://purl.oclc.org/dsdl/schematron" abstract="true" id="exists">'
        '<rule context="$parent"><assert test="$child">missing $child</assert></rule></pattern>',
        encoding="utf-8",
    )
    path = _sch(
        tmp_path,
        '<include href="part.sch"/>'
        '<pattern is-a="exists" id="doc-has-other"><param name="parent" value="a:doc"/>'
        '<param name="child" value="a:other"/></pattern>',
    )
    [failure] = validator.run(path, DOC)
    assert (failure.pattern, failure.test, failure.message) == ("doc-has-other", "a:other", "missing $child")


def test_current_date_is_injectable(tmp_path: Path) -> None:
    path = _sch(
        tmp_path,
        '<pattern><rule context="a:when"><assert test="xs:date(.) le current-date()">future</assert></rule></pattern>',
    )
    assert SchematronValidator(tmp_path, today=dt.date(2024, 6, 1)).run(path, DOC) == []
    assert len(SchematronValidator(tmp_path, today=dt.date(2024, 4, 1)).run(path, DOC)) == 1
    assert "'current-date()'" in compile_schematron(
        _sch(tmp_path, "<pattern><rule context=\"a:doc\"><assert test=\"'current-date()'\">x</assert></rule></pattern>", "lit.sch")
    )


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('<phase id="x"/>', "'phase' is not supported"),
        ('<pattern><rule context="a:doc"><extends rule="nope"/></rule></pattern>', "unknown abstract rule 'nope'"),
        ('<pattern><rule context="a:doc"><foo/></rule></pattern>', "unsupported element 'foo'"),
        ('<pattern is-a="none"/>', "no abstract pattern has that id"),
    ],
)
def test_unsupported_or_broken_schemas_fail_to_compile(tmp_path: Path, body: str, fragment: str) -> None:
    with pytest.raises(SchematronError, match=re.escape(fragment)):
        compile_schematron(_sch(tmp_path, body))


def test_xpath1_binding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.sch"
    path.write_text('<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt"/>', encoding="utf-8")
    with pytest.raises(SchematronError, match="queryBinding"):
        compile_schematron(path)


# -- the official files --------------------------------------------------------------------------


def _official(shared: Path) -> Path:
    return shared / "intyg" / "clinicalprocess-healthcond-certificate-schematron" / "src" / "main" / "resources"


def _index_verdicts(shared: Path) -> dict[str, int]:
    """File name -> number of failed asserts according to samples/INDEX.md (0 = passes / n/a)."""
    counts = {}
    for line in (shared / "samples" / "INDEX.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| RegisterCertificate |"):
            cols = [c.strip() for c in line.split(" | ")]
            name = re.search(r"\[([^\]]+)\]", cols[2])
            assert name is not None
            failed = re.match(r"FAIL\((\d+)\)", cols[7])
            counts[name.group(1)] = int(failed.group(1)) if failed else 0
    return counts


def test_official_files_give_the_reference_results_on_every_sample() -> None:
    shared = require_shared()
    validator = SchematronValidator(_official(shared), today=dt.date(2026, 11, 22))
    expected = _index_verdicts(shared)
    samples = sorted((shared / "samples" / "RegisterCertificate").glob("*.xml"))
    assert len(samples) == len(expected) == 208
    got = {p.name: len(validator.validate(p.read_bytes())) for p in samples}
    assert got == expected


def test_official_tstrk1031_test_instances() -> None:
    shared = require_shared()
    validator = SchematronValidator(_official(shared), today=dt.date(2026, 11, 22))
    files = sorted((shared / "schematron-tests").rglob("*.xml"))
    assert len(files) == 97
    wrong = [
        str(p.relative_to(shared))
        for p in files
        if bool(validator.validate(p.read_bytes())) != p.name.startswith("fail-")
    ]
    assert wrong == []


def test_selection_by_type_and_major_version() -> None:
    validator = SchematronValidator(_official(require_shared()))
    assert validator.select("LISJP", "1.0") == validator.directory / "lisjp.v1.sch"
    assert validator.select("luae_fs", "1") == validator.directory / "luae_fs.v1.sch"
    assert validator.select("AG114", "1") == validator.directory / "ag114.v1.sch"
    assert validator.select("TSTRK1007", "7.0") == validator.directory / "tstrk1007.v7.sch"
    assert validator.select("TSTRK1031", "2.6") is None  # the owner publishes no v2 rules
    assert validator.select("IGRAV", "1.0") is None


def test_document_without_intyg_is_an_error(validator: SchematronValidator) -> None:
    with pytest.raises(SchematronError, match="no RegisterCertificate intyg"):
        validator.validate(etree.fromstring(b"<x/>"))
