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


def test_a_type_declares_its_exact_versions(types: CertificateTypes, tmp_path: Path) -> None:
    lisjp = types.find("LISJP", "1.337")  # the file covers major 1...
    assert lisjp is not None and lisjp.versions == ("1.0", "1.1", "1.2", "1.3")
    assert not lisjp.supports("1.337")  # ...but supports only the minors it lists
    assert lisjp.supports("1") and lisjp.supports("1.0") and lisjp.supports(" 1.3 ")
    tstrk1007 = types.find("TSTRK1007", "6.8")
    assert tstrk1007 is not None and tstrk1007.supports("6.8") and not tstrk1007.supports("6.9")
    every_file_declares = [t.code for t in types.all() if not t.versions]
    assert every_file_declares == []
    # An operator's file that lists none takes every minor version of its major.
    _write(tmp_path, "x.toml", 'code = "XTEST"\nversion = "2"\nname = "Test"\nrecipients = []\n')
    xtest = CertificateTypes.load(extra_dirs=[tmp_path]).find("XTEST", "2.5")
    assert xtest is not None and xtest.supports("2.5")


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
        ('version = "1"\nname = "N"\n', "missing 'code'"),
        ('code = "X"\nversion = "1.0"\nname = "N"\n', "field 'version'"),
        ('code = "X"\nversion = "1"\nname = "N"\nrecipients = "FKASSA"\n', "field 'recipients'"),
        ('code = "X"\nversion = \n', "bad.toml"),
        ('code = "X"\nversion = "1"\nversions = ["1.0", "2.0"]\nname = "N"\n', "field 'versions' must list versions 1.<minor>"),
        ('code = "X"\nversion = "1"\nversions = ["1"]\nname = "N"\n', "field 'versions'"),
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
    line = NEW_TYPE.splitlines().index('id = "X1-komplikation-beskrivs"') + 1  # where the rule is named
    with pytest.raises(CertificateTypeError, match=rf"xgrav\.v1\.toml, line {line}: rule X1-komplikation-beskrivs\.when: refers to 2\.9"):
        CertificateTypes.load(extra_dirs=[tmp_path])


@pytest.mark.parametrize(
    ("change", "located"),
    [
        (('label = "Datum"', 'label = "Datum"\ncolour = 1'), 'line 13: question 1, sub-answer 1.1: unknown field(s) colour'),
        (('id = "2"\nlabel', 'id = "x"\nlabel'), "line 18: question[2]: id 'x' must be digits"),
        (('[[rule]]\nid = "X1-komplikation-beskrivs"', '[[rule]]\nname = "X1"'), "line 34: rule[1]: missing 'id'"),
        (('version = "1"', 'version = "one"'), "line 3: field 'version' must be a major version number"),
        (('[[question]]\nid = "1"', '[[question]\nid = "1"'), "(at line 7, column 11)"),
    ],
)
def test_errors_name_the_line(tmp_path: Path, change: tuple[str, str], located: str) -> None:
    (tmp_path / "xgrav.v1.toml").write_text(NEW_TYPE.replace(*change, 1), encoding="utf-8")
    with pytest.raises(CertificateTypeError) as e:
        CertificateTypes.load(extra_dirs=[tmp_path])
    assert located in str(e.value), str(e.value)


def test_every_broken_file_is_reported_at_once(tmp_path: Path) -> None:
    _write(tmp_path, "a.toml", NEW_TYPE.replace('when = "true(2.1)"', 'when = "true(2.9)"'))
    _write(tmp_path, "b.toml", 'code = "Y"\nversion = "x"\nname = "B"\n')
    _write(tmp_path, "c.toml", NEW_TYPE.replace("XGRAV", "XOK"))
    with pytest.raises(CertificateTypeError) as e:
        CertificateTypes.load(extra_dirs=[tmp_path])
    assert [line.split(",")[0].split(":")[0] for line in str(e.value).splitlines()] == [str(tmp_path / "a.toml"), str(tmp_path / "b.toml")]


def test_reload_switches_to_a_checked_set_and_keeps_the_old_one_otherwise(tmp_path: Path) -> None:
    types = CertificateTypes.load(extra_dirs=[tmp_path])
    assert types.find("XGRAV", "1") is None
    path = _write(tmp_path, "xgrav.v1.toml", NEW_TYPE)
    assert types.reload().endswith("; added XGRAV v1")
    assert getattr(types.find("xgrav", "1"), "name", None) == "Intyg om graviditet (test)"

    _write(tmp_path, "xgrav.v1.toml", NEW_TYPE.replace("(test)", "(ändrad)"))
    assert types.reload().endswith("; changed XGRAV v1")
    assert getattr(types.find("XGRAV", "1"), "name", None) == "Intyg om graviditet (ändrad)"

    _write(tmp_path, "xgrav.v1.toml", NEW_TYPE.replace('when = "true(2.1)"', 'when = "true(2.9)"'))
    _write(tmp_path, "other.toml", 'code = "XOTHER"\nversion = "1"\nname = "O"\n')
    with pytest.raises(CertificateTypeError, match="refers to 2.9"):
        types.reload()
    # Nothing of the refused set is in use: not the broken file, not the good one beside it.
    assert getattr(types.find("XGRAV", "1"), "name", None) == "Intyg om graviditet (ändrad)"
    assert types.find("XOTHER", "1") is None

    path.unlink()
    assert types.reload().endswith("; added XOTHER v1; removed XGRAV v1")
    assert types.find("XGRAV", "1") is None and types.known_code("xother")


def test_reload_refuses_a_set_the_recipient_registry_does_not_fit(tmp_path: Path) -> None:
    from intygstjanst.services import Services
    from intygstjanst.settings import Settings

    types_dir, data_dir = tmp_path / "types", tmp_path / "data"
    types_dir.mkdir()
    _write(types_dir, "xgrav.v1.toml", NEW_TYPE)
    registry = _write(tmp_path, "recipients.toml", '[[recipient]]\nid = "GRAV"\nname = "G"\nkind = "MOTTAGARE"\n'
                      'logical_address = "1"\ncertificate_types = ["XGRAV"]\nactive = true\ntrusted = true\n')
    services = Services.build(Settings(data_dir=data_dir, certificate_types_dir=types_dir, recipients_file=registry))
    (types_dir / "xgrav.v1.toml").unlink()
    with pytest.raises(ValueError, match="'XGRAV' is not a known certificate type"):
        services.reload_certificate_types()
    assert services.certificate_types.known_code("XGRAV")  # the set in use stays
    _write(types_dir, "xgrav.v1.toml", NEW_TYPE.replace("(test)", "(ändrad)"))
    assert services.reload_certificate_types() == "certificate types reloaded: 19 types; changed XGRAV v1"


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CertificateTypeError, match="does not exist"):
        CertificateTypes.load(extra_dirs=[tmp_path / "nope"])
