"""The certificate-type registry: loading, code and version matching, file errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from intygstjanst.certificates.certtypes import CertificateTypeError, CertificateTypes

SEED = {
    ("LISJP", "1"), ("LUSE", "1"), ("LUAE_NA", "1"), ("LUAE_FS", "1"), ("AG7804", "1"), ("AG1-14", "1"),
    ("DB", "1"), ("DOI", "1"), ("FK7263", "1"), ("TSTRK1007", "6"), ("TSTRK1007", "7"),
    ("TSTRK1031", "2"), ("TSTRK1031", "3"), ("TSTRK1031", "4"),
    ("AF00213", "1"), ("AF00251", "1"), ("TSTRK1009", "1"), ("TSTRK1062", "1"),
}


@pytest.fixture(scope="module")
def types() -> CertificateTypes:
    return CertificateTypes.load()


def test_builtin_types_cover_the_seed_list(types: CertificateTypes) -> None:
    assert {(t.code, t.version) for t in types.all()} == SEED


def test_code_is_case_insensitive_and_version_matches_on_major(types: CertificateTypes) -> None:
    lisjp = types.find("LISJP", "1.0")
    assert lisjp is not None and lisjp.code == "LISJP" and lisjp.recipients == ["FKASSA"]
    assert types.find("lisjp", "1") is lisjp
    assert getattr(types.find("luae_fs", "1"), "code", None) == "LUAE_FS"
    assert types.find("TSTRK1007", "6.8") is types.find("TSTRK1007", "6.7")
    assert types.find("LISJP", "2.0") is None
    assert types.find("NOPE", "1") is None


def test_aliases_resolve_to_the_same_definition(types: CertificateTypes) -> None:
    assert types.find("AG114", "1") is types.find("AG1-14", "1.0")
    assert types.known_code("ag114") and types.known_code("AG1-14")
    assert not types.known_code("IGRAV")


def _write(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.write_text(body, encoding="utf-8")
    return path


def test_operator_directory_adds_and_overrides(tmp_path: Path) -> None:
    _write(tmp_path, "x.toml", 'code = "XTEST"\nversion = "2"\nname = "Test"\nrecipients = ["R"]\n')
    _write(tmp_path, "lisjp.toml", 'code = "LISJP"\nversion = "1"\nname = "Overridden"\nrecipients = []\n')
    types = CertificateTypes.load(extra_dirs=[tmp_path])
    assert getattr(types.find("xtest", "2.3"), "name", None) == "Test"
    assert getattr(types.find("LISJP", "1"), "name", None) == "Overridden"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('version = "1"\nname = "N"\n', "missing required field 'code'"),
        ('code = "X"\nversion = "1.0"\nname = "N"\n', "field 'version'"),
        ('code = "X"\nversion = "1"\nname = "N"\nrecipients = "FKASSA"\n', "field 'recipients'"),
        ('code = "X"\nversion = \n', "bad.toml"),
    ],
)
def test_bad_files_name_file_and_field(tmp_path: Path, body: str, fragment: str) -> None:
    path = _write(tmp_path, "bad.toml", body)
    with pytest.raises(CertificateTypeError) as e:
        CertificateTypes.load(extra_dirs=[tmp_path])
    assert str(path) in str(e.value) and fragment in str(e.value)


def test_duplicate_in_one_directory_is_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "a.toml", 'code = "X"\nversion = "1"\nname = "A"\n')
    _write(tmp_path, "b.toml", 'code = "x"\nversion = "1"\nname = "B"\n')
    with pytest.raises(CertificateTypeError, match="already defined in a.toml"):
        CertificateTypes.load(extra_dirs=[tmp_path])


# -- a new certificate type is a data file --------------------------------------------------------

NEW_TYPE = """
code = "XGRAV"
version = "1"
name = "Intyg om graviditet (test)"
recipients = []

[[question]]
id = "1"
label = "Beräknad förlossning"
count = "1"

  [[question.part]]
  id = "1.1"
  label = "Datum"
  count = "1"
  kind = "date"

[[question]]
id = "2"
label = "Komplikationer"

  [[question.part]]
  id = "2.1"
  label = "Komplikationer finns"
  count = "1"
  kind = "boolean"

  [[question.part]]
  id = "2.2"
  label = "Beskrivning"
  kind = "text"
  max_length = 200

[[rule]]
id = "X1-komplikation-beskrivs"
for_each = "2"
when = "true(2.1)"
require = "2.2"
message = "Describe the complications (2.2)."
"""


def _xgrav(*svar: str) -> etree._Element:
    gn, tp = "urn:riv:clinicalprocess:healthcond:certificate:3", "urn:riv:clinicalprocess:healthcond:certificate:types:3"
    return etree.fromstring(
        f'<r:intyg xmlns:r="urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3" '
        f'xmlns="{gn}" xmlns:tp="{tp}">' + "".join(svar) + "</r:intyg>"
    )


def test_adding_a_type_needs_only_a_file(tmp_path: Path) -> None:
    assert CertificateTypes.load().find("XGRAV", "1") is None
    (tmp_path / "xgrav.v1.toml").write_text(NEW_TYPE, encoding="utf-8")
    new = CertificateTypes.load(extra_dirs=[tmp_path]).find("xgrav", "1.0")
    assert new is not None and new.name == "Intyg om graviditet (test)"
    good = _xgrav(
        '<svar id="1"><delsvar id="1.1">2025-03-01</delsvar></svar>',
        '<svar id="2"><delsvar id="2.1">true</delsvar><delsvar id="2.2">Havandeskapsförgiftning</delsvar></svar>',
    )
    assert new.validate(good) == []
    bad = _xgrav(
        '<svar id="1"><delsvar id="1.1">2025-02-30</delsvar></svar>',
        '<svar id="2"><delsvar id="2.1">true</delsvar></svar>',
        '<svar id="3"><delsvar id="3.1">x</delsvar></svar>',
    )
    assert [(v.rule_id, v.path) for v in new.validate(bad)] == [
        ("unknown-question", "/intyg/svar[@id='3'][1]"),
        ("1.1.date", "/intyg/svar[@id='1'][1]/delsvar[@id='1.1'][1]"),
        ("X1-komplikation-beskrivs", "/intyg/svar[@id='2'][1]"),
    ]


def test_a_broken_rule_in_an_operator_file_stops_loading(tmp_path: Path) -> None:
    (tmp_path / "xgrav.v1.toml").write_text(NEW_TYPE.replace('when = "true(2.1)"', 'when = "true(2.9)"'), encoding="utf-8")
    with pytest.raises(CertificateTypeError, match=r"xgrav\.v1\.toml: rule X1-komplikation-beskrivs\.when: refers to 2\.9"):
        CertificateTypes.load(extra_dirs=[tmp_path])


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CertificateTypeError, match="does not exist"):
        CertificateTypes.load(extra_dirs=[tmp_path / "nope"])
