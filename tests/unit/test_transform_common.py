"""The conversion machinery on its own: what "equal" means, edit scripts, the carrier."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from intygstjanst.transform.carrier import (
    CARRIER,
    apply_edit,
    attach_carrier,
    canonical,
    equivalent,
    has_carrier,
    make_edit,
    restore,
    strip_carrier,
)
from intygstjanst.transform.common import (
    RC,
    TransformError,
    person_id_digits,
    v3_timestamp,
)
from lxml import etree


def xml(text: str) -> etree._Element:
    return etree.fromstring(text)


# -- equality ---------------------------------------------------------------------------------


def test_equal_ignores_prefixes_declarations_indentation_and_comments() -> None:
    a = xml('<a:r xmlns:a="urn:a" xmlns:unused="urn:u"><a:x k="1">v</a:x><!-- note --><a:y/></a:r>')
    b = xml('<r xmlns="urn:a">\n  <x k="1">v</x>\n  <y></y>\n</r>')
    assert equivalent(a, b)


@pytest.mark.parametrize(
    "other",
    [
        '<r xmlns="urn:a"><x k="1">v </x><y/></r>',  # whitespace inside a value counts
        '<r xmlns="urn:a"><x k="2">v</x><y/></r>',  # attribute value
        '<r xmlns="urn:a"><x>v</x><y/></r>',  # missing attribute
        '<r xmlns="urn:a"><y/><x k="1">v</x></r>',  # element order
        '<r xmlns="urn:b"><x k="1">v</x><y/></r>',  # namespace
        '<r xmlns="urn:a"><x k="1">v</x><y/><y/></r>',  # an extra element
        '<r xmlns="urn:a"><x k="1">v</x><y> </y></r>',  # whitespace-only text of a leaf
    ],
)
def test_equal_is_strict_about_elements_attributes_and_values(other: str) -> None:
    assert not equivalent(xml('<r xmlns="urn:a"><x k="1">v</x><y/></r>'), xml(other))


# -- edit scripts -------------------------------------------------------------------------------

NAMES = ["a", "b", "c"]


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> etree._Element:
    el = etree.Element(draw(st.sampled_from(["{urn:t}", "{urn:u}"])) + draw(st.sampled_from(NAMES)))
    for name in draw(st.lists(st.sampled_from(["k", "m", "{urn:q}k"]), unique=True, max_size=3)):
        el.set(name, draw(st.sampled_from(["1", "2", " x\n"])))
    if depth < 3 and draw(st.booleans()):
        for _ in range(draw(st.integers(0, 4))):
            el.append(draw(trees(depth + 1)))
    else:
        el.text = draw(st.sampled_from([None, "", "v", " v ", "\n", "w"]))
    return el


@settings(max_examples=300, deadline=None)
@given(trees(), trees())
def test_an_edit_script_turns_one_tree_into_the_other(built: etree._Element, original: etree._Element) -> None:
    original.tag = built.tag  # scripts start from the same root element
    edit = make_edit(built, original)
    if equivalent(built, original):
        assert edit is None
    else:
        assert edit is not None
        restored = apply_edit(built, edit)
        assert canonical(restored) == canonical(original)
        # The script survives serialization (it is stored as XML).
        reparsed = etree.fromstring(etree.tostring(edit))
        assert canonical(apply_edit(built, reparsed)) == canonical(original)


def test_an_edit_script_is_local_to_what_differs() -> None:
    built = xml('<r xmlns="urn:a"><x>1</x><y><z>same</z><w>old</w></y><v/></r>')
    original = xml('<r xmlns="urn:a"><x>1</x><y><z>same</z><w>new</w></y><v/><extra>e</extra></r>')
    edit = make_edit(built, original)
    assert edit is not None
    text = etree.tostring(edit).decode()
    assert "new" in text and "<extra" in text
    assert "same" not in text and "old" not in text


def test_an_edit_script_does_not_apply_to_another_document() -> None:
    built = xml('<r xmlns="urn:a"><x/><y/></r>')
    edit = make_edit(built, xml('<r xmlns="urn:a"><x/><y>v</y></r>'))
    assert edit is not None
    with pytest.raises(TransformError, match="does not fit"):
        apply_edit(xml('<r xmlns="urn:a"/>'), edit)


# -- carrier ------------------------------------------------------------------------------------


def _payload() -> etree._Element:
    return xml(f'<rg:RegisterCertificate xmlns:rg="{RC}"><rg:intyg/></rg:RegisterCertificate>')


def _to_v3(legacy: etree._Element) -> etree._Element:
    """A toy legacy -> v3 conversion: the v3 form holds the value of <a>."""
    payload = _payload()
    payload[0].text = legacy.findtext("{urn:l}a")
    return payload


def test_carrier_restores_the_original_and_is_bound_to_its_base() -> None:
    built = xml('<l xmlns="urn:l"><a>1</a></l>')
    original = xml('<l xmlns="urn:l"><a>1</a><b>2</b></l>')
    payload = _to_v3(original)
    attach_carrier(payload, "L:1", "7", built, original)
    assert has_carrier(payload)
    stored = etree.fromstring(etree.tostring(payload))
    assert equivalent(restore(stored, "L:1", "7", built, _to_v3), original)
    with pytest.raises(TransformError, match="no longer matches"):
        restore(stored, "L:1", "7", xml('<l xmlns="urn:l"><a>changed</a></l>'), _to_v3)
    with pytest.raises(TransformError, match="mapping version"):
        restore(stored, "L:1", "8", built, _to_v3)
    # A carrier of another format is not used.
    assert restore(stored, "M:1", "7", built, _to_v3) is built


def test_a_carrier_that_changes_the_content_is_refused() -> None:
    built = xml('<l xmlns="urn:l"><a>1</a></l>')
    payload = _to_v3(built)
    attach_carrier(payload, "L:1", "1", built, xml('<l xmlns="urn:l"><a>2</a></l>'))
    with pytest.raises(TransformError, match="changes what the certificate says"):
        restore(payload, "L:1", "1", built, _to_v3)


def test_no_carrier_when_nothing_is_left_over_and_strip_removes_it() -> None:
    built = xml('<l xmlns="urn:l"><a>1</a></l>')
    payload = _payload()
    attach_carrier(payload, "L:1", "1", built, xml('<x:l xmlns:x="urn:l">\n <x:a>1</x:a>\n</x:l>'))
    assert not has_carrier(payload)
    attach_carrier(payload, "L:1", "1", built, xml('<l xmlns="urn:l"><a>2</a></l>'))
    stripped = strip_carrier(payload)
    assert has_carrier(payload) and not has_carrier(stripped)
    assert CARRIER not in etree.tostring(stripped).decode()


# -- value conversions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("legacy", "v3"),
    [
        ("2011-01-26T00:00:00", "2011-01-26T00:00:00"),
        ("2011-03-23T09:29:15.193", "2011-03-23T09:29:15"),
        ("2011-03-23T09:29:15+01:00", "2011-03-23T09:29:15"),
        ("2011-03-23T09:29:15.5Z", "2011-03-23T09:29:15"),
    ],
)
def test_legacy_timestamps_become_v3_timestamps(legacy: str, v3: str) -> None:
    assert v3_timestamp(legacy, "/x") == v3


def test_bad_values_are_refused_with_the_path() -> None:
    with pytest.raises(TransformError, match="^/x/y: '2011-01-26' is not a date and time"):
        v3_timestamp("2011-01-26", "/x/y")
    with pytest.raises(TransformError, match="root '1.2.3' is neither personnummer"):
        person_id_digits("1.2.3", "19121212-1212", "/p")
    with pytest.raises(TransformError, match="not a 12-digit person id"):
        person_id_digits("1.2.752.129.2.1.3.1", "121212-1212", "/p")
    assert person_id_digits("1.2.752.129.2.1.3.3", "19800191-0002", "/p") == "198001910002"
