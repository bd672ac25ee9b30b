"""Persons: identity-number checks and the lookup in the population register (PU).

The national service asks PU whether a person exists, is a test or validation person, has a
protected identity, or is deceased. This module defines that question as a small protocol with a
file-based answer for development and tests; a real register client implements the same protocol.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from stdnum import luhn
from stdnum.exceptions import ValidationError

from intygstjanst.contracts.logs import mask

PERSONNUMMER_ROOT = "1.2.752.129.2.1.3.1"
SAMORDNINGSNUMMER_ROOT = "1.2.752.129.2.1.3.3"


class InvalidPersonId(ValueError):
    """An identity number that is not a valid personnummer or samordningsnummer; says why."""


def check_person_id(root: str, number: str) -> str:
    """Validate a 12-digit personnummer or samordningsnummer and return it normalised.

    A samordningsnummer is a personnummer whose day of birth has 60 added; python-stdnum checks
    personnummer, so the day is folded back before the date check and the Luhn digit is checked on
    the number as written.
    """
    kind = {PERSONNUMMER_ROOT: "personnummer", SAMORDNINGSNUMMER_ROOT: "samordningsnummer"}.get(root)
    if kind is None:
        raise InvalidPersonId(
            f"person-id root {root!r} is neither personnummer ({PERSONNUMMER_ROOT}) "
            f"nor samordningsnummer ({SAMORDNINGSNUMMER_ROOT})"
        )
    digits = number.replace("-", "").replace("+", "").strip()
    if len(digits) != 12 or not digits.isdigit():
        raise InvalidPersonId(f"{kind} {mask(digits)} must be 12 digits (YYYYMMDDNNNC)")
    day = int(digits[6:8])
    if kind == "samordningsnummer":
        if not 61 <= day <= 91:
            raise InvalidPersonId(f"samordningsnummer {mask(digits)} must have a day of birth between 61 and 91")
        day -= 60
    try:
        dt.date(int(digits[:4]), int(digits[4:6]), day)
    except ValueError:
        raise InvalidPersonId(f"{kind} {mask(digits)} does not start with a valid date of birth") from None
    try:
        luhn.validate(digits[2:])
    except ValidationError:
        raise InvalidPersonId(f"{kind} {mask(digits)} has a wrong check digit") from None
    return digits


def parse_personnummer(value: str, today: dt.date | None = None) -> str | None:
    """A personnummer or samordningsnummer as the national service reads one written as text: 12
    digits starting with 19 or 20, or 10 digits (the century from ``+``, written from the year of
    one's 100th birthday), each with an optional ``-`` or ``+`` before the last four digits. Returns
    the 12 digits, or None when the text is not of that form. The check digit and the date are not
    checked here (the person register decides whether such a person exists)."""
    text = value.strip()
    separator = text[-5] if len(text) in (11, 13) and text[-5] in "-+" else ""
    digits = text[:-5] + text[-4:] if separator else text
    if not digits.isdigit():
        return None
    if len(digits) == 12:
        return digits if digits.startswith(("19", "20")) else None
    if len(digits) != 10:
        return None
    year = (today or dt.date.today()).year
    born = year - (year - int(digits[:2])) % 100 - (100 if separator == "+" else 0)
    return f"{born:04d}{digits[2:]}"


def could_exist(person_id: str) -> bool:
    """Whether a 12-digit number could be a real person's: a valid date of birth (the day plus 60
    for a samordningsnummer) and a right check digit. A register knows no one else, except the test
    persons it was given."""
    day = int(person_id[6:8])
    try:
        dt.date(int(person_id[:4]), int(person_id[4:6]), day - 60 if day > 60 else day)
        luhn.validate(person_id[2:])
    except (ValueError, ValidationError):
        return False
    return True


def pseudonym(salt: str, person_id: str | None) -> str:
    """The national service's pseudonym of a patient in error texts: the lower-case hex SHA-256 of
    the salt and the 12-digit number, or ``EMPTY`` when there is no number."""
    if not person_id:
        return "EMPTY"
    return hashlib.sha256((salt + person_id).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Person:
    person_id: str
    exists: bool = True
    test: bool = False  # Skatteverket test person
    validation: bool = False  # a person the service uses to validate itself in production
    protected: bool = False  # sekretessmarkering / skyddad identitet
    deceased: bool = False
    first_name: str = ""
    last_name: str = ""

    @property
    def is_test(self) -> bool:
        return self.test or self.validation


class PersonLookupError(RuntimeError):
    """The register could not be asked (network, timeout): a technical error worth a retry."""


class PersonLookup(Protocol):
    def lookup(self, person_id: str) -> Person: ...


def protected_among(persons: PersonLookup, person_ids: Iterable[str]) -> set[str]:
    """The persons among ``person_ids`` with a protected identity. Raises PersonLookupError when
    the register cannot be asked."""
    if isinstance(persons, FilePersonLookup):
        return persons.protected_among(person_ids)
    return {p for p in set(person_ids) if persons.lookup(p).protected}


class FilePersonLookup:
    """Persons from a TOML or CSV file, plus a plain list of validation personnummer.

    TOML: ``[[person]] id = "191212121212" test = true protected = false deceased = false
    first_name = "Tolvan" last_name = "Tolvansson"``. CSV: the same keys as a header row.
    Anyone not in the file whose number could be a real person's (``could_exist``) exists, is not
    protected and is not a test person, which is what a development setup without a register needs;
    a number that cannot be (a wrong check digit) exists only when the file lists it, as a real
    register knows such numbers only for the test persons it holds.
    """

    def __init__(self, persons: Mapping[str, Person], validation_ids: Iterable[str] = ()) -> None:
        self._persons = dict(persons)
        self._validation = frozenset(validation_ids)

    @classmethod
    def from_files(cls, persons_file: Path | None, validation_file: Path | None) -> FilePersonLookup:
        persons = _read_persons(persons_file) if persons_file else {}
        validation: list[str] = []
        if validation_file:
            for line in validation_file.read_text(encoding="utf-8").splitlines():
                line = line.split("#", 1)[0].strip().replace("-", "")
                if line:
                    validation.append(line)
        return cls(persons, validation)

    def lookup(self, person_id: str) -> Person:
        person = self._persons.get(person_id) or Person(person_id, exists=could_exist(person_id))
        if person_id in self._validation:
            return Person(**{**person.__dict__, "validation": True, "exists": True})
        return person

    def protected_among(self, person_ids: Iterable[str]) -> set[str]:
        """The persons among ``person_ids`` with a protected identity: only the file can say so.
        One set for a whole list, where a ``lookup`` each costs a unit's thousands of patients
        the checking of their numbers."""
        persons = self._persons
        return {p for p in person_ids if (person := persons.get(p)) is not None and person.protected}


_FLAGS = ("exists", "test", "validation", "protected", "deceased")


def _read_persons(path: Path) -> dict[str, Person]:
    try:
        if path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8") as handle:
                rows: list[dict[str, object]] = list(csv.DictReader(handle))
        else:
            rows = tomllib.loads(path.read_text(encoding="utf-8")).get("person", [])
    except (OSError, tomllib.TOMLDecodeError, csv.Error) as exc:
        raise ValueError(f"persons file {path}: {exc}") from exc
    persons: dict[str, Person] = {}
    for index, row in enumerate(rows, start=1):
        person_id = str(row.get("id", "")).replace("-", "").strip()
        if len(person_id) != 12 or not person_id.isdigit():
            raise ValueError(f"persons file {path}, entry {index}: id must be 12 digits")
        flags = {name: _truthy(row.get(name), default=(name == "exists")) for name in _FLAGS}
        persons[person_id] = Person(
            person_id,
            first_name=str(row.get("first_name", "") or ""),
            last_name=str(row.get("last_name", "") or ""),
            **flags,
        )
    return persons


def _truthy(value: object, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "ja")
