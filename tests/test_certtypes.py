"""The certificate-type registry: loading, code and version matching, file errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from intygstjanst.contracts.certtypes import CertificateTypeError, CertificateTypes

SEED = {
    ("LISJP", "1"), ("LUSE", "1"), ("LUAE_NA", "1"), ("LUAE_FS", "1"), ("AG7804", "1"), ("AG1-14", "1"),
    ("DB", "1"), ("DOI", "1"), ("FK7263", "1"), ("TSTRK1007", "6"), ("TSTRK1007", "7"),
    ("TSTRK1031", "2"), ("TSTRK1031", "3"), ("TSTRK1031", "4"),
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
    assert types.find("luae_fs", "1").code == "LUAE_FS"  # type: ignore[union-attr]
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
    assert types.find("xtest", "2.3").name == "Test"  # type: ignore[union-attr]
    assert types.find("LISJP", "1").name == "Overridden"  # type: ignore[union-attr]


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


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CertificateTypeError, match="does not exist"):
        CertificateTypes.load(extra_dirs=[tmp_path / "nope"])
