"""The befattning code table the project ships, against the national table in the spec, and the
national service's translation rules for professional titles (befattning-and-codes.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from intygstjanst.tests.support import shared_dir, unavailable
from intygstjanst.transform.befattning import BefattningTable, BefattningTableError, from_legacy, is_at_lakare, national, to_legacy
from intygstjanst.transform.common import Befattning

SPEC = shared_dir().parent / "specs" / "befattning-and-codes.md"


def spec_table() -> dict[str, str]:
    """code -> klartext, read from the spec's three-column-pair markdown table."""
    if not SPEC.is_file():
        unavailable(f"the spec is not here: {SPEC}")
    table = SPEC.read_text(encoding="utf-8").split("## Befattning code table", 1)[1]
    pairs: dict[str, str] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].isdigit():
            pairs.update(zip(cells[0::2], cells[1::2]))
    return pairs


def test_the_shipped_table_is_the_national_table() -> None:
    expected = spec_table()
    assert len(expected) == 210
    assert national().by_code == expected
    assert len(set(expected.values())) == 210  # one code per text as well


def test_every_title_translates_both_ways() -> None:
    for code, text in spec_table().items():
        assert from_legacy([text]) == [Befattning(code, text)]  # legacy text -> code with its text
        assert from_legacy([code]) == [Befattning(code, text)]  # a code stays a code
        assert to_legacy([Befattning(code)]) == [text]  # v3 without text -> the table's text
        assert to_legacy([Befattning(code, "Egen text")]) == ["Egen text"]  # the pair's text wins
        assert is_at_lakare([Befattning(code)]) is (code == "204010")


def test_the_examples_of_the_spec() -> None:
    assert from_legacy(["Läkare ej legitimerad, allmäntjänstgöring"]) == [Befattning("204010", "Läkare ej legitimerad, allmäntjänstgöring")]
    titles = [Befattning("204010"), Befattning("201010")]
    assert to_legacy(titles) == ["Läkare ej legitimerad, allmäntjänstgöring", "Överläkare"] and is_at_lakare(titles)
    assert to_legacy([Befattning("999999")]) == ["999999"] and not is_at_lakare([Befattning("999999")])
    assert from_legacy(["Överläkare", "201010", "Doktor"]) == [
        Befattning("201010", "Överläkare"), Befattning("201010", "Överläkare"), Befattning("Doktor")
    ]
    assert not is_at_lakare(from_legacy(["Läkare legitimerad, specialiseringstjänstgöring"]))  # ST-läkare: no rule


def test_lookups_trim_match_case_and_ignore_empty_keys() -> None:
    table = national()
    assert table.code("  Överläkare ") == "201010"
    assert table.code("överläkare") is None
    assert table.code("") is None and table.klartext("  ") is None
    assert from_legacy(["", "  "]) == []
    assert to_legacy([Befattning("201010"), Befattning("201010", "Överläkare")]) == ["Överläkare"]  # each text once


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("kod;klartext;beskrivning\n101010;\n", "line 2: expected code;klartext;description"),
        ("kod;klartext;beskrivning\n1;A;\n2;A;\n", "line 3: code '2' or text 'A' appears twice"),
    ],
)
def test_a_broken_table_is_refused_with_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "befattning.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BefattningTableError, match=message) as e:
        BefattningTable.load(path)
    assert str(path) in str(e.value)
