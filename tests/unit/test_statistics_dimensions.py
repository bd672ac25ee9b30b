"""The ICD-10-SE data of the statistics (statistics/icd10_se.toml): every section lies within one
chapter and no two ranges of a kind overlap, so a code has one chapter and one section."""

from __future__ import annotations

from intygstjanst.statistics import dimensions


def test_sections_lie_within_one_chapter_and_ranges_do_not_overlap() -> None:
    chapters, sections = dimensions._ranges()
    for ranges in (chapters, sections):
        ordered = sorted(ranges, key=lambda r: r.first)
        for earlier, later in zip(ordered, ordered[1:]):
            assert earlier.first <= earlier.last < later.first, (earlier.code, later.code)
    for section in sections:
        assert [c.code for c in chapters if c.first <= section.first and section.last <= c.last] != [], section.code


def test_codes_get_their_chapter_and_section() -> None:
    assert dimensions.chapter_and_section("F32.1") == ("F00-F99", "F30-F39")
    assert dimensions.chapter_and_section("J06.9") == ("J00-J99", "J00-J06")
    assert dimensions.chapter_and_section("S52") == ("S00-T98", "S50-S59")
    assert dimensions.chapter_and_section("T14") == ("S00-T98", "T08-T14")
    assert dimensions.chapter_and_section("K35") == ("K00-K93", "K35-K38")
    assert dimensions.chapter_and_section("U60") == ("U00-U99", "U00-U99")  # between blocks: the chapter
    assert dimensions.chapter_and_section(None) == ("", "")
