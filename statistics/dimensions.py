"""The categories the reports count by: diagnosis chapter and section (ICD-10-SE, from
``icd10_se.toml``), gender, age group, sick-leave degree and length, county (län).

Each function maps one fact to the category it is stored and counted under; the labels are the
Swedish names the page and the API show.
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "icd10_se.toml"
UNKNOWN = "okänt"


@dataclass(frozen=True)
class CodeRange:
    first: str  # three characters, e.g. "F00"
    last: str
    name: str

    @property
    def code(self) -> str:
        return f"{self.first}-{self.last}"


@functools.cache
def _ranges() -> tuple[tuple[CodeRange, ...], tuple[CodeRange, ...]]:
    data = tomllib.loads(DATA_FILE.read_text(encoding="utf-8"))

    def read(key: str) -> tuple[CodeRange, ...]:
        out = []
        for entry in data[key]:
            first, last = entry["range"].split("-")
            out.append(CodeRange(first, last, entry["name"]))
        return tuple(out)

    return read("chapter"), read("section")


def chapters() -> tuple[CodeRange, ...]:
    return _ranges()[0]


def _within(ranges: tuple[CodeRange, ...], code: str) -> CodeRange | None:
    # Letter plus two digits compare as text in the order of the classification.
    head = code.strip().upper().replace(".", "")[:3]
    if len(head) < 3:
        return None
    return next((r for r in ranges if r.first <= head <= r.last), None)


@functools.lru_cache(maxsize=8192)
def chapter_and_section(code: str | None) -> tuple[str, str]:
    """The chapter and section range of a diagnosis code ("" for none or a code outside ICD-10-SE);
    a chapter without listed sections is its own section."""
    if not code:
        return "", ""
    chapter = _within(chapters(), code)
    if chapter is None:
        return "", ""
    section = _within(_ranges()[1], code)
    return chapter.code, (section or chapter).code


def gender(person_id: str) -> str:
    """M (man) or K (kvinna): the second last digit of the 12-digit number is odd for men."""
    return "M" if int(person_id[10]) % 2 else "K"


AGE_GROUPS = ("<16", "16-20", "21-25", "26-30", "31-35", "36-40", "41-45", "46-50", "51-55", "56-60", "61-65", ">65")


def age_group(person_id: str, day: dt.date) -> str:
    """The age group on ``day`` from a personnummer or samordningsnummer (day of birth + 60)."""
    try:
        day_of_month = int(person_id[6:8])
        born = dt.date(int(person_id[0:4]), int(person_id[4:6]), day_of_month - 60 if day_of_month > 60 else day_of_month)
    except ValueError:
        return UNKNOWN
    age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    if age < 16:
        return AGE_GROUPS[0]
    if age > 65:
        return AGE_GROUPS[-1]
    return AGE_GROUPS[1 + (age - 16) // 5]


DEGREES = ("25", "50", "75", "100")


def degree_group(degree: int) -> str:
    """25, 50, 75 or 100: the FK7263 and LISJP degrees; another percentage (AG1-14 takes any) counts
    with the next of them up."""
    return next(d for d in DEGREES if degree <= int(d))


LENGTHS = (
    ("<15 dagar", 14),
    ("15-30 dagar", 30),
    ("31-60 dagar", 60),
    ("61-90 dagar", 90),
    ("91-180 dagar", 180),
    ("181-365 dagar", 365),
    ("1-2 år", 730),
    (">2 år", None),
)


def length_group(days: int) -> str:
    return next(name for name, most in LENGTHS if most is None or days <= most)


# Län by their official codes (SCB).
COUNTIES = {
    "01": "Stockholms län",
    "03": "Uppsala län",
    "04": "Södermanlands län",
    "05": "Östergötlands län",
    "06": "Jönköpings län",
    "07": "Kronobergs län",
    "08": "Kalmar län",
    "09": "Gotlands län",
    "10": "Blekinge län",
    "12": "Skåne län",
    "13": "Hallands län",
    "14": "Västra Götalands län",
    "17": "Värmlands län",
    "18": "Örebro län",
    "19": "Västmanlands län",
    "20": "Dalarnas län",
    "21": "Gävleborgs län",
    "22": "Västernorrlands län",
    "23": "Jämtlands län",
    "24": "Västerbottens län",
    "25": "Norrbottens län",
}
