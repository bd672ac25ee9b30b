"""The care-unit register: care givers, their care units and each unit's sub-units.

Rehab coordination works per care unit (vårdenhet), and a unit's list includes its sub-units
(underenheter), the way the national HSA catalogue arranges them: care giver -> care unit ->
sub-unit, never deeper. Until an HSA client exists the register is a TOML file (the
``care_units_file`` setting; ``care_units.example.toml`` next to this module shows the format)::

    [[care_giver]]
    id = "SE2321000016-VG01"
    name = "Region Exempel"

      [[care_giver.unit]]
      id = "SE2321000016-E001"
      name = "Vårdcentralen Exempel"

        [[care_giver.unit.sub_unit]]
        id = "SE2321000016-E011"
        name = "Rehabmottagningen"

The whole file is checked when it is read; every problem names the file, the entry and the field.
HSA-ids are matched exactly, as the catalogue issues them. Without a file the register is empty.
A care giver or a unit may name its county (``county = "01"``, the two-digit län code) for the
statistics; a unit without one is in its care giver's county.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXAMPLE_FILE = Path(__file__).resolve().parent / "care_units.example.toml"


class CareUnitsError(ValueError):
    """The register file cannot be used; the message names the file, the entry and the field."""


@dataclass(frozen=True, slots=True)
class CareGiver:
    id: str
    name: str
    county: str = ""  # two-digit län code; "" when not given


@dataclass(frozen=True, slots=True)
class CareUnit:
    id: str
    name: str
    care_giver: CareGiver
    parent: str | None  # the care unit of a sub-unit; None for a care unit
    sub_units: tuple[str, ...] = ()
    county: str = ""  # its own, or else its care unit's, or else its care giver's


class CareUnits:
    def __init__(self, care_givers: Iterable[CareGiver] = (), units: Iterable[CareUnit] = ()) -> None:
        self._care_givers = {g.id: g for g in care_givers}
        self._units = {u.id: u for u in units}

    @classmethod
    def load(cls, path: Path | None) -> CareUnits:
        """Read and check ``path``; None gives an empty register. Raises :class:`CareUnitsError`."""
        if path is None:
            return cls()
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CareUnitsError(f"{path}: cannot read the care-unit register: {exc.strerror or exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise CareUnitsError(f"{path}: not valid TOML: {exc}") from exc
        return parse(data, str(path))

    def unit(self, unit_id: str) -> CareUnit | None:
        return self._units.get(unit_id)

    def care_giver(self, care_giver_id: str) -> CareGiver | None:
        return self._care_givers.get(care_giver_id)

    def scope(self, unit_id: str) -> tuple[str, ...]:
        """The unit and its sub-units (a sub-unit, or a unit the register does not know: itself)."""
        unit = self._units.get(unit_id)
        return (unit_id, *unit.sub_units) if unit is not None else (unit_id,)

    def __len__(self) -> int:
        return len(self._units)


def parse(data: Mapping[str, Any], source: str) -> CareUnits:
    _only(data, {"care_giver"}, source)
    care_givers: list[CareGiver] = []
    units: list[CareUnit] = []
    seen: dict[str, str] = {}  # id -> where it was first declared: one HSA-id names one thing

    def declare(entry: Any, where: str, fields: set[str]) -> tuple[str, str]:
        if not isinstance(entry, dict):
            raise CareUnitsError(f"{source}: {where} must be a table")
        _only(entry, fields, f"{source}: {where}")
        values = []
        for key in ("id", "name"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise CareUnitsError(f"{source}: {where}: field '{key}' must be a non-empty string")
            values.append(value.strip())
        hsa_id, name = values
        if hsa_id in seen:
            raise CareUnitsError(f"{source}: {where}: id {hsa_id!r} is already declared by {seen[hsa_id]}")
        seen[hsa_id] = where
        return hsa_id, name

    def county(entry: Any, where: str, default: str) -> str:
        value = entry.get("county", default)
        if not isinstance(value, str) or not (len(value) == 2 and value.isdigit()):
            raise CareUnitsError(f"{source}: {where}: field 'county' must be a two-digit län code such as \"01\", got {value!r}")
        return value

    for g, giver_entry in enumerate(_tables(data, "care_giver", source), start=1):
        giver_where = f"care_giver[{g}]"
        giver = CareGiver(*declare(giver_entry, giver_where, {"id", "name", "unit", "county"}))
        if "county" in giver_entry:
            giver = CareGiver(giver.id, giver.name, county(giver_entry, giver_where, ""))
        care_givers.append(giver)
        for u, unit_entry in enumerate(_tables(giver_entry, "unit", f"{source}: {giver_where}"), start=1):
            unit_where = f"{giver_where}.unit[{u}]"
            unit_id, unit_name = declare(unit_entry, unit_where, {"id", "name", "sub_unit", "county"})
            unit_county = county(unit_entry, unit_where, giver.county) if "county" in unit_entry else giver.county
            subs = []
            for s, sub_entry in enumerate(_tables(unit_entry, "sub_unit", f"{source}: {unit_where}"), start=1):
                sub_where = f"{unit_where}.sub_unit[{s}]"
                sub_id, sub_name = declare(sub_entry, sub_where, {"id", "name", "county"})
                sub_county = county(sub_entry, sub_where, unit_county) if "county" in sub_entry else unit_county
                units.append(CareUnit(sub_id, sub_name, giver, parent=unit_id, county=sub_county))
                subs.append(sub_id)
            units.append(CareUnit(unit_id, unit_name, giver, parent=None, sub_units=tuple(subs), county=unit_county))
    return CareUnits(care_givers, units)


def _only(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise CareUnitsError(f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def _tables(table: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = table.get(key, [])
    if not isinstance(value, list):
        raise CareUnitsError(f"{where}: '{key}' must be an array of tables ([[...{key}]])")
    return value
