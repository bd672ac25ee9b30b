"""Professional titles (befattning) of the signing person: the national HSA code table.

The legacy Transportstyrelsen formats carry titles as free text (``befattningar``); RegisterCertificate
v3 carries codes (``befattning``, code system ``common.BEFATTNING_CODE_SYSTEM``). The national service
translates between them through the national code table, which this project ships as its own data
file (``befattning.csv``: a header row, then ``code;klartext;description``, ``;``-separated; the
description is not used). Each code has exactly one text and each text one code. Lookups trim the
key and match exactly (case matters); an empty key finds nothing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from intygstjanst.transform.common import Befattning

# "Läkare ej legitimerad, allmäntjänstgöring": the signer is an AT-läkare.
AT_LAKARE = "204010"
TABLE_FILE = Path(__file__).resolve().parent / "befattning.csv"


class BefattningTableError(ValueError):
    """The table file is unreadable or inconsistent; the message names file and line."""


@dataclass(frozen=True)
class BefattningTable:
    by_code: dict[str, str]
    by_text: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> BefattningTable:
        try:
            with path.open(encoding="utf-8", newline="") as f:
                rows = list(csv.reader(f, delimiter=";"))
        except (OSError, UnicodeDecodeError) as exc:
            raise BefattningTableError(f"{path}: {exc}") from exc
        by_code: dict[str, str] = {}
        by_text: dict[str, str] = {}
        for line, row in enumerate(rows[1:], start=2):  # the first row is the header
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise BefattningTableError(f"{path}, line {line}: expected code;klartext;description, got {';'.join(row)!r}")
            code, text = row[0].strip(), row[1].strip()
            if code in by_code or text in by_text:
                raise BefattningTableError(f"{path}, line {line}: code {code!r} or text {text!r} appears twice")
            by_code[code], by_text[text] = text, code
        return cls(by_code, by_text)

    def klartext(self, code: str) -> str | None:
        """The text of a code, or None when the code is not in the table."""
        key = code.strip()
        return self.by_code.get(key) if key else None

    def code(self, text: str) -> str | None:
        """The code of a text, or None when the text is not in the table."""
        key = text.strip()
        return self.by_text.get(key) if key else None


@cache
def national() -> BefattningTable:
    """The table shipped with the project."""
    return BefattningTable.load(TABLE_FILE)


# -- the national service's translation rules -------------------------------------------------------


def from_legacy(texts: list[str], table: BefattningTable | None = None) -> list[Befattning]:
    """Legacy TS ``befattningar`` -> the v3 form: a known text becomes its code, anything else is
    kept as the code itself; the code's text, when the table has one, is its displayName. Empty
    strings say nothing and are left out (the carrier keeps them)."""
    table = table or national()
    out = []
    for text in texts:
        if not text.strip():
            continue
        code = table.code(text) or text
        out.append(Befattning(code, table.klartext(code)))
    return out


def to_legacy(befattningar: list[Befattning], table: BefattningTable | None = None) -> list[str]:
    """The v3 form -> legacy TS ``befattningar``: the text given with each code, else the code's
    text in the table, else the code unchanged; each text once."""
    table = table or national()
    texts = [b.display_name or table.klartext(b.code) or b.code for b in befattningar]
    return list(dict.fromkeys(texts))


def is_at_lakare(befattningar: list[Befattning]) -> bool:
    """Legacy TS ``atLakare``: exactly when a code is 204010 (ST-läkare, 203010, is not)."""
    return any(b.code.strip() == AT_LAKARE for b in befattningar)
