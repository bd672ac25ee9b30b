"""Test data: the values a suite needs that differ between test environments.

The file has the shape testers know from the RIV-TA test suites' ``data.xml``: one ``globaldata``
block of values used by every case, and ``testcase`` blocks overriding some of them for the cases
they name. The same suites then run against our server and against another producer's test
environment, where the patients, care units and logical addresses are different::

    <data>
      <globaldata>
        <logicalAddress>5565594230</logicalAddress>
        <patientId>191212121212</patientId>
      </globaldata>
      <testcase id="GetCertificate:2/unknown-id">      <!-- one case -->
        <logicalAddress>SE2321000016-ABCD</logicalAddress>
      </testcase>
      <testcase id="RegisterCertificate">               <!-- every case of a contract -->
        <careUnitId>SE2321000016-EFGH</careUnitId>
      </testcase>
    </data>

A ``testcase`` id is a contract name, a suite id (``Name:major``) or a case id (``Name:major/case``);
the more specific one wins. Unknown element names are refused, so a typo cannot silently fall back
to a default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

DEFAULT_DATA_FILE = Path(__file__).resolve().parent / "data.xml"

# Every value a suite may read, with what it means. Values left empty make the cases that need
# them skip with a message naming the value (see Case.needs).
KNOWN_VALUES: Mapping[str, str] = {
    "logicalAddress": "logical address sent in the LogicalAddress / wsa:To header",
    "unauthorizedLogicalAddress": "a logical address the calling consumer is NOT authorized for (not-authorized cases)",
    "originalServiceConsumerHsaId": "sent as x-rivta-original-serviceconsumer-hsaid when set (calls through a platform)",
    "certificateIdPrefix": "prefix of every certificate and message id the kit creates",
    "patientId": "personnummer of the patient the certificates are written for",
    "otherPatientId": "a second valid personnummer, not the patient's (wrong-patient cases)",
    "invalidPatientId": "a 12-digit number with a wrong check digit (bad-input cases)",
    "careUnitId": "HSA-id of the care unit that writes the certificates",
    "careUnitName": "name of that care unit",
    "careGiverId": "HSA-id of the care giver the care unit belongs to",
    "careGiverName": "name of that care giver",
    "doctorId": "HSA-id of the signing doctor",
    "doctorName": "full name of the signing doctor",
    "recipientId": "a recipient that receives LISJP certificates (KV_PART code)",
    "recipientLogicalAddress": "logical address of that recipient (logiskAdressMottagare of messages to it)",
    "unknownRecipientId": "a recipient id the producer does not know",
}


class DataError(ValueError):
    """The data file cannot be used; the message names the file, the element and the rule."""


@dataclass(frozen=True)
class TestData:
    values: Mapping[str, str]
    overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # testcase id -> values
    source: str = "built-in"

    __test__ = False  # not a pytest test class, despite the name

    def for_case(self, contract: str, suite_id: str, case_id: str) -> dict[str, str]:
        """The values for one case: global, then contract, suite and case overrides."""
        merged = dict(self.values)
        for key in (contract, suite_id, case_id):
            merged.update(self.overrides.get(key, {}))
        return merged

    def with_values(self, changes: Mapping[str, str]) -> TestData:
        """A copy with global values replaced (``--set NAME=VALUE`` on the command line)."""
        _check_names(changes, "--set")
        return TestData({**self.values, **changes}, self.overrides, self.source)


def load(path: Path = DEFAULT_DATA_FILE) -> TestData:
    """Read a data file, falling back to the shipped defaults for values it does not give."""
    defaults = _parse(DEFAULT_DATA_FILE) if path != DEFAULT_DATA_FILE else None
    data = _parse(path)
    if defaults is None:
        return data
    return TestData({**defaults.values, **data.values}, data.overrides, data.source)


# Data files are edited by hand and may come from anywhere: no DTDs, entities or network.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)


def _parse(path: Path) -> TestData:
    try:
        tree = etree.parse(str(path), _PARSER)
    except (OSError, etree.XMLSyntaxError) as exc:
        raise DataError(f"data file {path}: {exc}") from exc
    if getattr(tree.docinfo, "doctype", ""):  # (lxml-stubs do not declare DocInfo.doctype)
        raise DataError(f"data file {path}: a DOCTYPE is not allowed (values are plain text, entities are not expanded)")
    root = tree.getroot()
    if root.tag != "data":
        raise DataError(f"data file {path}: the root element must be <data>, got <{root.tag}>")
    values: dict[str, str] = {}
    overrides: dict[str, dict[str, str]] = {}
    for block in _elements(root):
        where = f"data file {path}, line {block.sourceline}"
        if block.tag == "globaldata":
            values.update(_values(block, where))
        elif block.tag == "testcase":
            case_id = (block.get("id") or "").strip()
            if not case_id:
                raise DataError(f"{where}: <testcase> needs an id attribute (contract, Name:major or Name:major/case)")
            overrides.setdefault(case_id, {}).update(_values(block, where))
        else:
            raise DataError(f"{where}: unexpected <{block.tag}>; expected <globaldata> or <testcase>")
    return TestData(values, overrides, str(path))


def _elements(parent: etree._Element) -> Iterable[etree._Element]:
    return (child for child in parent if isinstance(child.tag, str))


def _values(block: etree._Element, where: str) -> dict[str, str]:
    values = {child.tag: (child.text or "").strip() for child in _elements(block)}
    for child in _elements(block):
        if len(child):
            raise DataError(f"{where}: <{child.tag}> must hold text only, not elements")
    _check_names(values, where)
    return values


def _check_names(values: Iterable[str], where: str) -> None:
    for name in values:
        if name not in KNOWN_VALUES:
            raise DataError(f"{where}: unknown value {name!r}; known values: {', '.join(sorted(KNOWN_VALUES))}")
