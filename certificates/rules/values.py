"""Reading values out of certificate answers with the same lexical rules as XML Schema / XPath.

The certificate owners' rules are XPath 2 over the XML; to give the same verdicts the engine must
read values the way XPath does: ``normalize-space`` only folds the four XML whitespace characters
(not e.g. no-break space), ``castable as xs:date`` accepts an optional time zone and surrounding
whitespace, and so on. Everything here is pure and cheap; the engine calls it on the hot path.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from lxml import etree

GN = "urn:riv:clinicalprocess:healthcond:certificate:3"
TP = "urn:riv:clinicalprocess:healthcond:certificate:types:3"

SVAR = f"{{{GN}}}svar"
INSTANS = f"{{{GN}}}instans"
CV = f"{{{TP}}}cv"
CODE = f"{{{TP}}}code"
CODE_SYSTEM = f"{{{TP}}}codeSystem"
DISPLAY_NAME = f"{{{TP}}}displayName"
DATE_PERIOD = f"{{{TP}}}datePeriod"
START = f"{{{TP}}}start"
END = f"{{{TP}}}end"
PQ = f"{{{TP}}}pq"
VALUE = f"{{{TP}}}value"
UNIT = f"{{{TP}}}unit"
PARTIAL_DATE = f"{{{TP}}}partialDate"

_XML_SPACE = re.compile(r"[ \t\r\n]+")
# xs:date lexical space: optional minus, 4+ digit year (no leading zeros beyond 4), month, day,
# optional time zone. Calendar validity is checked separately.
_XS_DATE = re.compile(r"(-?)([1-9][0-9]{4,}|[0-9]{4})-([0-9]{2})-([0-9]{2})(Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))?")
_XS_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# xs:double/number() lexical forms, used by number(): XPath's number() yields NaN otherwise.
_XS_DOUBLE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?INF|NaN")
PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def normalize_space(text: str) -> str:
    """XPath normalize-space; also XML Schema's whitespace collapse applied before casts."""
    if "  " in text or "\n" in text or "\t" in text or "\r" in text:
        return _XML_SPACE.sub(" ", text).strip(" ")
    return text.strip(" ")


def string_value(element: etree._Element) -> str:
    """XPath string value: all descendant text, in document order."""
    if not len(element):
        return element.text or ""
    return "".join(t for t in element.itertext() if isinstance(t, str))


def has_child_elements(element: etree._Element) -> bool:
    # Comments and processing instructions have a non-string tag.
    return bool(len(element)) and any(isinstance(child.tag, str) for child in element)


def first_text(element: etree._Element) -> str:
    """The element's first text node (XPath ``text()`` when it is used as a single string)."""
    return element.text or ""


def parse_xs_date(text: str) -> dt.date | None:
    """The date if ``text`` is castable as xs:date (time zone ignored), else None.

    Years outside 1..9999 are treated as not castable: stricter than XML Schema, but no
    certificate date lies there and Python dates cannot hold them.
    """
    if PLAIN_DATE.fullmatch(text) is not None:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return None
    m = _XS_DATE.fullmatch(normalize_space(text))
    if m is None or m.group(1):
        return None
    try:
        return dt.date(int(m.group(2)), int(m.group(3)), int(m.group(4)))
    except ValueError:
        return None


def is_xs_date(text: str) -> bool:
    return parse_xs_date(text) is not None


def is_xs_boolean(text: str) -> bool:
    return normalize_space(text) in ("true", "false", "1", "0")


def xs_decimal(text: str) -> Decimal | None:
    value = normalize_space(text)
    if _XS_DECIMAL.fullmatch(value) is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def xpath_number(text: str) -> float:
    """XPath ``number()``: a double, NaN when the text is not a number."""
    value = normalize_space(text)
    if _XS_DOUBLE.fullmatch(value) is None:
        return float("nan")
    return float(value.replace("INF", "inf"))


def children(element: etree._Element, tag: str) -> list[etree._Element]:
    # Comparing .tag is cheaper than an iterchildren(tag) iterator for the few children here.
    return [c for c in element if c.tag == tag]


def descendants_path(element: etree._Element, *tags: str) -> list[etree._Element]:
    """Elements reached by a child path (like XPath ``a/b``), in document order."""
    first, *rest = tags
    current = [c for c in element if c.tag == first]
    for tag in rest:
        current = [c for e in current for c in e if c.tag == tag]
    return current
