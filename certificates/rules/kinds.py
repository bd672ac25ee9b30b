"""Value kinds of sub-answers (``delsvar``) and the checks each kind implies.

A sub-answer is mixed content: plain text (text, boolean, date, decimal) or one typed element
from the types namespace (cv, datePeriod, pq, partialDate). Each kind below checks the shape and
lexical form of the value and the options the type file gives (code system, allowed codes,
length limits...). The checks mirror how the certificate owners read values (see values.py):
codes and texts are compared after XML whitespace normalization, dates must be castable as
xs:date and written YYYY-MM-DD.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeGuard

from lxml import etree

from intygstjanst.certificates.rules import values as v


@dataclass(frozen=True, slots=True)
class Problem:
    check: str  # short id, appended to the sub-answer id to form the rule id
    message: str


KindCheck = Callable[[etree._Element], list[Problem]]
# Returned by the fast paths below. Each kind first tries a cheap test that only recognises the
# common well-formed value and otherwise runs its full check, which is the specification (and
# writes the messages); tests check that the fast path never accepts what the full check rejects.
OK: list[Problem] = []
_XML_WS = " \t\r\n"
_BOOLEANS = frozenset(("true", "false", "1", "0"))


def _plain_date(text: str | None) -> TypeGuard[str]:
    if text is None or v.PLAIN_DATE.fullmatch(text) is None:
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


class FastPath:
    """A kind check with a shortcut for the common well-formed value (see OK above)."""

    __slots__ = ("fast", "full")

    def __init__(self, fast: Callable[[etree._Element], bool], full: KindCheck) -> None:
        self.fast = fast
        self.full = full

    def __call__(self, e: etree._Element) -> list[Problem]:
        return OK if self.fast(e) else self.full(e)


def _with_fast_path(fast: Callable[[etree._Element], bool], full: KindCheck) -> KindCheck:
    return FastPath(fast, full)


class KindError(ValueError):
    """Bad kind or kind options in a type file."""


_DIGITS_DATE_PREFIX = re.compile(r"\d{4}-\d\d-\d\d")
_DIGITS_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DIGITS_YEAR = re.compile(r"\d{4}")


def _plain(e: etree._Element, out: list[Problem]) -> None:
    if v.has_child_elements(e):
        out.append(Problem("plain", "must be a plain value, not contain XML elements"))


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _one_of(count: int, what: str, out: list[Problem], check: str) -> None:
    if count != 1:
        out.append(Problem(check, f"must contain exactly one {what} (found {count})"))


def _any_plain(elements: list[etree._Element], what: str, out: list[Problem], check: str) -> None:
    # "x/count(*) = 0" in XPath holds when some x has no child elements; no x at all fails it.
    if not any(not v.has_child_elements(e) for e in elements):
        out.append(Problem(check, f"{what} must be a plain value"))


# -- the kinds ----------------------------------------------------------------------------------


def _text(max_length: int | None = None, pattern: str | None = None) -> KindCheck:
    regex = re.compile(pattern) if pattern else None

    def fast(e: etree._Element) -> bool:
        if len(e):
            return False
        text = e.text
        if not text or not text.strip(_XML_WS):
            return False
        if max_length is not None and len(text) > max_length:
            return False  # the normalized text may still fit; let the full check decide
        return regex is None

    def check(e: etree._Element) -> list[Problem]:
        out: list[Problem] = []
        _plain(e, out)
        text = v.normalize_space(v.first_text(e))
        if not text:
            out.append(Problem("empty", "must not be empty or only whitespace"))
        if max_length is not None and len(text) > max_length:
            out.append(Problem("length", f"is {len(text)} characters long; at most {max_length} are allowed"))
        if regex is not None and text and regex.fullmatch(text) is None:
            out.append(Problem("format", f"{_shown(text)} does not have the required format"))
        return out

    return _with_fast_path(fast, check)


def _boolean() -> KindCheck:
    def fast(e: etree._Element) -> bool:
        return not len(e) and (e.text or "").strip(_XML_WS) in _BOOLEANS

    def check(e: etree._Element) -> list[Problem]:
        out: list[Problem] = []
        _plain(e, out)
        if not v.is_xs_boolean(v.string_value(e)):
            out.append(Problem("boolean", f"must be true or false (or 1/0), got {_shown(v.string_value(e).strip())}"))
        return out

    return _with_fast_path(fast, check)


def _code(
    code_system: str | None = None,
    code_systems: list[str] | None = None,
    code_system_pattern: str | None = None,
    codes: list[str] | None = None,
    code_pattern: str | None = None,
    code_max_length: int | None = None,
    shape: bool = True,
) -> KindCheck:
    allowed = frozenset(codes) if codes else None
    systems = frozenset(code_systems) if code_systems else None
    regex = re.compile(code_pattern) if code_pattern else None
    system_regex = re.compile(code_system_pattern) if code_system_pattern else None

    def fast(e: etree._Element) -> bool:
        if len(e) != 1:
            return False
        cv = e[0]
        if cv.tag != v.CV:
            return False
        code = system = None
        displays = 0
        for child in cv:
            tag = child.tag
            if tag == v.CODE:
                if code is not None or len(child):
                    return False
                code = child.text or ""
            elif tag == v.CODE_SYSTEM:
                if system is not None or len(child):
                    return False
                system = child.text or ""
            elif tag == v.DISPLAY_NAME:
                displays += 1
        if code is None or system is None or displays > 1:
            return False
        if code_system is not None and system != code_system:
            return False
        if systems is not None and v.normalize_space(system) not in systems:
            return False
        if system_regex is not None and system_regex.fullmatch(v.normalize_space(system)) is None:
            return False
        code = v.normalize_space(code)
        if allowed is not None and code not in allowed:
            return False
        if regex is not None and regex.fullmatch(code) is None:
            return False
        return code_max_length is None or len(code) <= code_max_length

    def check(e: etree._Element) -> list[Problem]:
        out: list[Problem] = []
        cvs = v.children(e, v.CV)
        system_elements = [s for cv in cvs for s in cv if s.tag == v.CODE_SYSTEM]
        code_elements = [c for cv in cvs for c in cv if c.tag == v.CODE]
        if shape:
            _one_of(len(cvs), "cv element", out, "cv")
            _one_of(len(system_elements), "codeSystem in its cv", out, "code-system")
            _any_plain(system_elements, "codeSystem", out, "code-system-plain")
            _one_of(len(code_elements), "code in its cv", out, "code")
            _any_plain(code_elements, "code", out, "code-plain")
            display_names = sum(1 for cv in cvs for d in cv if d.tag == v.DISPLAY_NAME)
            if display_names > 1:
                out.append(Problem("display-name", f"may have at most one displayName (found {display_names})"))
        elif (allowed is not None or regex is not None) and len(code_elements) != 1:
            # Without the shape checks the owners still read the code as one string, which fails
            # (an XPath type error) when there are several.
            out.append(Problem("code", f"must contain exactly one code (found {len(code_elements)})"))
        raw_systems = [v.string_value(s) for s in system_elements]
        if code_system is not None and code_system not in raw_systems:
            got = ", ".join(_shown(s) for s in raw_systems) or "none"
            out.append(Problem("code-system-value", f"must use code system {code_system!r} (got {got})"))
        if systems is not None and not any(v.normalize_space(s) in systems for s in raw_systems):
            got = ", ".join(_shown(s) for s in raw_systems) or "none"
            out.append(Problem("code-system-value", f"must use one of the code systems {sorted(systems)} (got {got})"))
        if system_regex is not None and not any(system_regex.fullmatch(v.normalize_space(s)) for s in raw_systems):
            got = ", ".join(_shown(s) for s in raw_systems) or "none"
            out.append(Problem("code-system-format", f"code system {got} does not have the required format"))
        values = [v.normalize_space(v.string_value(c)) for c in code_elements]
        if allowed is not None and not any(c in allowed for c in values):
            got = ", ".join(_shown(c) for c in values) or "none"
            out.append(Problem("code-value", f"must be one of {', '.join(sorted(allowed))} (got {got})"))
        if regex is not None and not any(regex.fullmatch(c) for c in values):
            got = ", ".join(_shown(c) for c in values) or "none"
            out.append(Problem("code-format", f"code {got} does not have the required format"))
        if code_max_length is not None and any(len(c) > code_max_length for c in values):
            out.append(Problem("code-length", f"code may be at most {code_max_length} characters long"))
        return out

    return _with_fast_path(fast, check)


def _date() -> KindCheck:
    def fast(e: etree._Element) -> bool:
        return not len(e) and _plain_date(e.text)

    def check(e: etree._Element) -> list[Problem]:
        out: list[Problem] = []
        _plain(e, out)
        text = v.string_value(e)
        if not v.is_xs_date(text):
            out.append(Problem("date", f"must be a valid date, got {_shown(text.strip())}"))
        elif _DIGITS_DATE_PREFIX.match(text) is None:
            out.append(Problem("date-format", "must be written YYYY-MM-DD without surrounding space"))
        return out

    return _with_fast_path(fast, check)


def _period(ordered: bool = True) -> KindCheck:
    def edge(e: etree._Element, tag: str, name: str, out: list[Problem]) -> str:
        elements = v.descendants_path(e, v.DATE_PERIOD, tag)
        _any_plain(elements, f"period {name}", out, f"{name}-plain")
        text = v.string_value(elements[0]) if len(elements) == 1 else ""
        if len(elements) != 1 or not v.is_xs_date(text):
            out.append(Problem(name, f"period {name} must be one valid date"))
        elif _DIGITS_DATE_PREFIX.match(text) is None:
            out.append(Problem(f"{name}-format", f"period {name} must be written YYYY-MM-DD"))
        return v.normalize_space(text) if elements else ""

    def fast(e: etree._Element) -> bool:
        if len(e) != 1 or e[0].tag != v.DATE_PERIOD:
            return False
        start = end = None
        for child in e[0]:
            tag = child.tag
            if tag == v.START and start is None and not len(child):
                start = child.text
            elif tag == v.END and end is None and not len(child):
                end = child.text
            else:
                return False
        return _plain_date(start) and _plain_date(end) and (not ordered or start <= end)

    def check(e: etree._Element) -> list[Problem]:
        out: list[Problem] = []
        if not v.children(e, v.DATE_PERIOD):
            return [Problem("period", "must contain a datePeriod element")]
        start = edge(e, v.START, "start", out)
        end = edge(e, v.END, "end", out)
        if ordered and start > end:
            out.append(Problem("period-order", f"period starts ({start}) after it ends ({end})"))
        return out

    return _with_fast_path(fast, check)


def _pq(value_pattern: str | None = None, unit_pattern: str | None = None) -> KindCheck:
    regex = re.compile(value_pattern) if value_pattern else None
    unit_regex = re.compile(unit_pattern) if unit_pattern else None

    def check(e: etree._Element) -> list[Problem]:
        out: list[Problem] = []
        pqs = v.children(e, v.PQ)
        _one_of(len(pqs), "pq element", out, "pq")
        values = [x for pq in pqs for x in pq if x.tag == v.VALUE]
        units = [u for pq in pqs for u in pq if u.tag == v.UNIT]
        _one_of(len(values), "value in its pq", out, "pq-value")
        _any_plain(values, "pq value", out, "pq-value-plain")
        _one_of(len(units), "unit in its pq", out, "pq-unit")
        _any_plain(units, "pq unit", out, "pq-unit-plain")
        if regex is not None:
            raw = v.string_value(values[0]) if len(values) == 1 else ""
            if regex.fullmatch(raw) is None:
                out.append(Problem("pq-range", f"value {_shown(raw)} is not an allowed value"))
        if unit_regex is not None:
            unit = v.normalize_space(v.string_value(units[0])) if len(units) == 1 else ""
            if unit_regex.fullmatch(unit) is None:
                out.append(Problem("pq-unit-value", f"unit {_shown(unit)} is not an allowed unit"))
        return out

    return check


def _decimal(max_abs: float | None = None) -> KindCheck:
    limit = Decimal(str(max_abs)) if max_abs is not None else None

    def check(e: etree._Element) -> list[Problem]:
        out: list[Problem] = []
        _plain(e, out)
        number = v.xs_decimal(v.string_value(e))
        if number is None:
            out.append(Problem("decimal", f"must be a decimal number, got {_shown(v.string_value(e).strip())}"))
        elif limit is not None and abs(number) > limit:
            out.append(Problem("decimal-range", f"{number} is larger than the allowed {limit}"))
        return out

    return check


def _date_with_unknown_parts() -> KindCheck:
    # A date written YYYY-MM-DD where unknown month/day are given as 00 (death certificates).
    def check(e: etree._Element) -> list[Problem]:
        out: list[Problem] = []
        _plain(e, out)
        if _DIGITS_DATE.fullmatch(v.string_value(e)) is None:
            out.append(Problem("partial-date", "must be written YYYY-MM-DD (00 for an unknown month or day)"))
        return out

    return check


def _partial_date() -> KindCheck:
    def check(e: etree._Element) -> list[Problem]:
        out: list[Problem] = []
        values = v.descendants_path(e, v.PARTIAL_DATE, v.VALUE)
        _any_plain(values, "partialDate value", out, "partial-date-plain")
        text = v.string_value(values[0]) if len(values) == 1 else ""
        if len(values) != 1 or not v.is_xs_date(text):
            out.append(Problem("partial-date", "partialDate value must be one complete valid date"))
        elif _DIGITS_DATE.match(text) is None:
            out.append(Problem("partial-date-format", "partialDate value must be written YYYY-MM-DD"))
        return out

    return check


def _partial_year() -> KindCheck:
    def check(e: etree._Element) -> list[Problem]:
        values = v.descendants_path(e, v.PARTIAL_DATE, v.VALUE)
        text = v.string_value(values[0]) if len(values) == 1 else ""
        if _DIGITS_YEAR.fullmatch(text) is None:
            return [Problem("partial-year", f"partialDate value must be a year YYYY, got {_shown(text)}")]
        return []

    return check


def accept_anything(e: etree._Element) -> list[Problem]:
    """The check of kind "unchecked" (the engine recognises it and emits no code for it)."""
    return OK


def _unchecked() -> KindCheck:
    return accept_anything


KINDS: dict[str, Callable[..., KindCheck]] = {
    "text": _text,
    "boolean": _boolean,
    "code": _code,
    "date": _date,
    "period": _period,
    "pq": _pq,
    "decimal": _decimal,
    "date_with_unknown_parts": _date_with_unknown_parts,
    "partial_date": _partial_date,
    "partial_year": _partial_year,
    "unchecked": _unchecked,
}

OPTION_TYPES: dict[str, type | tuple[type, ...]] = {
    "max_length": int,
    "code_max_length": int,
    "pattern": str,
    "code_pattern": str,
    "code_system_pattern": str,
    "value_pattern": str,
    "unit_pattern": str,
    "code_system": str,
    "code_systems": list,
    "codes": list,
    "max_abs": (int, float),
    "ordered": bool,
    "shape": bool,
}


def build(kind: str, options: dict[str, Any]) -> KindCheck:
    """The check for one kind with its options; KindError names the offending option."""
    factory = KINDS.get(kind)
    if factory is None:
        raise KindError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    accepted = factory.__code__.co_varnames[: factory.__code__.co_argcount]
    for name, value in options.items():
        if name not in accepted:
            raise KindError(f"kind {kind!r} has no option {name!r}" + (f" (options: {', '.join(accepted)})" if accepted else ""))
        expected = OPTION_TYPES[name]
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise KindError(f"option {name!r} has the wrong type")
        if isinstance(value, list) and not all(isinstance(x, str) and x for x in value):
            raise KindError(f"option {name!r} must be a list of non-empty strings")
        if name.endswith("pattern"):
            try:
                re.compile(str(value))
            except re.error as e:
                raise KindError(f"option {name!r} is not a valid regular expression: {e}") from e
    return factory(**options)
