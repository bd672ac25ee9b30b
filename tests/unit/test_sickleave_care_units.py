"""The care-unit register file: hierarchy lookups and the checks that name what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from intygstjanst.registers.care_units import EXAMPLE_FILE, CareGiver, CareUnits, CareUnitsError

from intygstjanst.tests.sickleave_support import CARE_GIVER, OTHER_UNIT, SUB_UNIT, UNIT
from intygstjanst.tests.sickleave_support import CARE_UNITS_TOML as REGISTER

def _load(tmp_path: Path, text: str) -> CareUnits:
    path = tmp_path / "units.toml"
    path.write_text(text, encoding="utf-8")
    return CareUnits.load(path)


def test_a_unit_covers_its_sub_units_and_a_sub_unit_only_itself(tmp_path: Path) -> None:
    register = _load(tmp_path, REGISTER)
    assert register.scope(UNIT) == (UNIT, SUB_UNIT)
    assert register.scope(SUB_UNIT) == (SUB_UNIT,)
    assert register.scope(OTHER_UNIT) == (OTHER_UNIT,)
    assert register.scope("SE-UNKNOWN") == ("SE-UNKNOWN",)
    giver = CareGiver(CARE_GIVER, "Region Test")
    assert register.care_giver(CARE_GIVER) == giver
    unit, sub_unit = register.unit(UNIT), register.unit(SUB_UNIT)
    assert unit is not None and sub_unit is not None
    assert (unit.care_giver, unit.parent, unit.name) == (giver, None, "Vårdcentralen Test")
    assert (sub_unit.care_giver, sub_unit.parent) == (giver, UNIT)
    assert register.unit("SE-UNKNOWN") is None and register.care_giver(UNIT) is None


def test_no_file_is_an_empty_register() -> None:
    register = CareUnits.load(None)
    assert len(register) == 0
    assert register.scope(UNIT) == (UNIT,)


def test_the_example_file_is_a_valid_register() -> None:
    register = CareUnits.load(EXAMPLE_FILE)
    unit = register.unit("TSTNMT2321000156-1077")
    assert unit is not None and unit.care_giver.id == "TSTNMT2321000156-102Q"
    assert len(register.scope(unit.id)) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[care_giver]]\nid = 'G'\n", "care_giver[1]: field 'name' must be a non-empty string"),
        ("[[care_giver]]\nid = ' '\nname = 'x'\n", "care_giver[1]: field 'id' must be a non-empty string"),
        ("[[care_giver]]\nid = 'G'\nname = 'x'\ncolour = 'red'\n", "care_giver[1]: unknown field(s) colour"),
        ("[[unit]]\nid = 'U'\n", "unknown field(s) unit (allowed: care_giver)"),
        ("care_giver = 'G'\n", "'care_giver' must be an array of tables"),
        (
            "[[care_giver]]\nid = 'G'\nname = 'x'\n[[care_giver.unit]]\nid = 'U'\nname = 'u'\n"
            "[[care_giver.unit.sub_unit]]\nid = 'U'\nname = 's'\n",
            "care_giver[1].unit[1].sub_unit[1]: id 'U' is already declared by care_giver[1].unit[1]",
        ),
        (
            "[[care_giver]]\nid = 'G'\nname = 'x'\n[[care_giver.unit]]\nid = 'U'\nname = 'u'\n"
            "[[care_giver.unit.sub_unit]]\nid = 'S'\nname = 's'\nsub_unit = []\n",
            "care_giver[1].unit[1].sub_unit[1]: unknown field(s) sub_unit",
        ),
        ("[[care_giver]\n", "not valid TOML"),
    ],
)
def test_a_broken_file_is_refused_with_the_entry_and_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CareUnitsError) as error:
        _load(tmp_path, text)
    assert message in str(error.value)
    assert str(tmp_path / "units.toml") in str(error.value)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CareUnitsError, match="cannot read the care-unit register"):
        CareUnits.load(tmp_path / "absent.toml")


def test_a_broken_register_stops_start_up(tmp_path: Path) -> None:
    from intygstjanst.services import Services
    from intygstjanst.settings import Settings, SettingsError

    broken = tmp_path / "units.toml"
    broken.write_text("[[care_giver]\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="care_units_file: .*not valid TOML"):
        Services.build(Settings(data_dir=tmp_path, care_units_file=broken))


def test_a_unit_is_in_its_own_county_or_else_its_care_givers() -> None:
    from intygstjanst.registers.care_units import parse

    register = parse(
        {"care_giver": [{"id": "VG1", "name": "G", "county": "01", "unit": [
            {"id": "E1", "name": "U1", "sub_unit": [{"id": "E11", "name": "S"}]},
            {"id": "E2", "name": "U2", "county": "12"}]}]},
        "test",
    )
    assert [register.unit(u).county for u in ("E1", "E11", "E2")] == ["01", "01", "12"]  # type: ignore[union-attr]
    with pytest.raises(CareUnitsError, match="two-digit län code"):
        parse({"care_giver": [{"id": "VG1", "name": "G", "county": "Skåne"}]}, "test")
