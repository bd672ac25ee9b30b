"""The condition language used in certificate-type files (``when`` and ``check`` of a rule).

A small, safe expression language. Examples::

    exists(33.2)                                   a sub-answer 33.2 is present
    count(40) <= 8 or count(27) = 1                question counts
    true(27.1)                                     sub-answer 27.1 is answered yes
    valid_date(2.2)                                2.2 holds a valid date
    code(32.1) in ['HALFTEN', 'EN_FJARDEDEL']      a code among a set
    date(2.1) <= date(1.2)                         date order
    date(2.2) <= birthdate() + days(28)            date arithmetic
    number(8.2) < 0.1 and text(18.1) matches 'E11'

References are question ids (``6``) or sub-answer ids (``6.2``); ``.`` is the element the rule is
checking. A sub-answer of the question a rule is anchored on (``for_each``) means the one in the
same answer instance; every other reference looks at the whole certificate.

Value functions return sequences, and comparisons hold when any pair of values satisfies them
(as XPath general comparisons do), so ``code(40.1) = 'EJ_AKTUELLT'`` reads "some 40.1 has that
code" and an absent answer makes every comparison false.

An expression is type-checked when the file is loaded and translated into a Python expression,
which the engine compiles together with the rest of the type's checks (see engine.py). The
generated code only calls the readers and helpers defined here and the names listed in
:data:`LOCALS`; nothing from the type file is ever executed as code (identifiers become dictionary
keys and literals become constants).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from intygstjanst.certificates.rules import values as v


class ExpressionError(ValueError):
    """The expression is malformed; the message says where."""


# Names the generated expressions use, bound by the engine around each evaluation:
#   bq    question id -> answers (engine._Answer, with .element = the svar) of the certificate
#   bp    sub-answer id -> delsvar elements of the certificate
#   a     the answer (engine._Answer) a rule is anchored on, or None
#   e     the element a rule is anchored on (svar or delsvar), or None for the certificate
#   memo  per-certificate cache of values read from elements
#   cert  the engine.Certificate (intyg, today, birth date)
LOCALS = ("bq", "bp", "a", "e", "memo", "cert")

# Value types, checked when a file is loaded so that a typo fails at start-up, not per request.
BOOL, NUM, STR, DATE, DAYS = "boolean", "number", "text", "date", "days"

# -- readers: values out of elements, memoized per certificate ---------------------------------

Memo = dict[str, dict[etree._Element, Any]]
Reader = Callable[[Memo, list[etree._Element]], Any]
EMPTY: list[etree._Element] = []


def _scalar_source(e: etree._Element) -> str:
    # A date, number or year is either the element's own text or the value of a typed child.
    if not len(e):
        return e.text or ""
    for tag in (v.PARTIAL_DATE, v.PQ):
        typed = v.descendants_path(e, tag, v.VALUE)
        if typed:
            return v.string_value(typed[0])
    return v.string_value(e)


def _text(e: etree._Element) -> tuple[str, ...]:
    return (v.normalize_space(v.string_value(e)),)


def _children_text(*path: str) -> Callable[[etree._Element], tuple[str, ...]]:
    return lambda e: tuple(v.normalize_space(v.string_value(c)) for c in v.descendants_path(e, *path))


def _date(e: etree._Element) -> tuple[dt.date, ...]:
    d = v.parse_xs_date(_scalar_source(e))
    return () if d is None else (d,)


def _period_edge(tag: str) -> Callable[[etree._Element], tuple[dt.date, ...]]:
    def read(e: etree._Element) -> tuple[dt.date, ...]:
        edges = (v.parse_xs_date(v.string_value(x)) for x in v.descendants_path(e, v.DATE_PERIOD, tag))
        return tuple(d for d in edges if d is not None)

    return read


def _number(e: etree._Element) -> tuple[float, ...]:
    n = v.xpath_number(_scalar_source(e))
    return () if n != n else (n,)  # NaN compares false with everything, like XPath


def _values(name: str, per_element: Callable[[etree._Element], tuple[Any, ...]]) -> Reader:
    # Several rules often read the same sub-answer (e.g. the date of death in most
    # death-certificate rules), so each value is computed once per certificate.
    def read(memo: Memo, elements: list[etree._Element]) -> list[Any]:
        cache = memo.get(name)
        if cache is None:
            cache = memo[name] = {}
        out: list[Any] = []
        for e in elements:
            found = cache.get(e)
            if found is None:
                found = cache[e] = per_element(e)
            out.extend(found)
        return out

    return read


_texts = _values("text", _text)
_valid_dates = _values("valid_date", lambda e: (True,) if v.is_xs_date(_scalar_source(e)) else ())


def _true(memo: Memo, elements: list[etree._Element]) -> bool:
    return any(t in ("true", "1") for t in _texts(memo, elements))


def _false(memo: Memo, elements: list[etree._Element]) -> bool:
    return any(t in ("false", "0") for t in _texts(memo, elements))


# name -> (result type, reader); count and exists are translated directly (see _Parser.call).
READERS: dict[str, tuple[str, Reader]] = {
    "true": (BOOL, _true),
    "false": (BOOL, _false),
    "valid_date": (BOOL, lambda memo, es: bool(_valid_dates(memo, es))),
    "valid_boolean": (BOOL, lambda memo, es: any(v.is_xs_boolean(t) for t in _texts(memo, es))),
    "code": (STR, _values("code", _children_text(v.CV, v.CODE))),
    "code_system": (STR, _values("code_system", _children_text(v.CV, v.CODE_SYSTEM))),
    "text": (STR, _texts),
    "date": (DATE, _values("date", _date)),
    "start": (DATE, _values("start", _period_edge(v.START))),
    "end": (DATE, _values("end", _period_edge(v.END))),
    "number": (NUM, _values("number", _number)),
}


# -- helpers the generated code calls -------------------------------------------------------------


def _pairs(left: list[Any], right: list[Any], test: Callable[[Any, Any], bool]) -> bool:
    for x in left:
        for y in right:
            if test(x, y):
                return True
    return False


def _matches(regex: re.Pattern[str], values: list[str]) -> bool:
    for x in values:
        if regex.search(x):
            return True
    return False


HELPERS: dict[str, Any] = {
    "E": EMPTY,
    "_pairs": _pairs,
    "_matches": _matches,
    **{f"R_{name}": reader for name, (_, reader) in READERS.items()},
}

_PY_OP = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda x, y: x == y,
    "!=": lambda x, y: x != y,
    "<": lambda x, y: x < y,
    "<=": lambda x, y: x <= y,
    ">": lambda x, y: x > y,
    ">=": lambda x, y: x >= y,
}


# -- parsing and translation --------------------------------------------------------------------


@dataclass
class Constants:
    """Values the generated code refers to by name (regexes, sets, dates...), shared per type."""

    values: dict[str, Any] = field(default_factory=dict)

    def add(self, value: Any) -> str:
        name = f"K{len(self.values)}"
        self.values[name] = value
        return name


@dataclass(frozen=True)
class Anchor:
    """What ``.`` and same-question references mean where an expression is evaluated."""

    kind: str | None = None  # None (the certificate), "question" or "part"
    question: str | None = None  # the question id the anchor belongs to


@dataclass(frozen=True)
class _Expr:
    src: str  # Python expression
    type: str
    const: str | None = None  # constant name, for literals
    count: str | None = None  # for count(): Python expression giving an int


@dataclass(frozen=True)
class Condition:
    """A checked condition: ``source`` is a Python expression over :data:`LOCALS`."""

    text: str
    refs: frozenset[str]
    source: str


_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'[^']*'|\"[^\"]*\")|(?P<op><=|>=|!=|[=<>+\-(),\[\].])|(?P<word>[A-Za-z_][A-Za-z_0-9]*))"
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ExpressionError(f"unexpected character at position {pos + 1} in {text!r}")
        kind = m.lastgroup
        assert kind is not None
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    tokens.append(("end", ""))
    return tokens


class _Parser:
    def __init__(self, text: str, anchor: Anchor, constants: Constants) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.refs: set[str] = set()
        self.anchor = anchor
        self.constants = constants

    # -- token helpers

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos]

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def accept(self, value: str) -> bool:
        if self.peek()[1] == value and self.peek()[0] in ("op", "word"):
            self.pos += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.accept(value):
            raise self.error(f"expected '{value}'")

    def error(self, what: str) -> ExpressionError:
        kind, value = self.peek()
        found = "end of expression" if kind == "end" else repr(value)
        return ExpressionError(f"{what}, found {found} in {self.text!r}")

    def need(self, value: _Expr, wanted: str, where: str) -> None:
        if value.type != wanted:
            raise ExpressionError(f"{where} needs a {wanted} value, got a {value.type} value in {self.text!r}")

    # -- grammar

    def parse(self) -> _Expr:
        result = self.or_expr()
        if self.peek()[0] != "end":
            raise self.error("unexpected text after the expression")
        return result

    def or_expr(self) -> _Expr:
        left = self.and_expr()
        while self.accept("or"):
            right = self.and_expr()
            self.need(left, BOOL, "or")
            self.need(right, BOOL, "or")
            left = _Expr(f"({left.src} or {right.src})", BOOL)
        return left

    def and_expr(self) -> _Expr:
        left = self.not_expr()
        while self.accept("and"):
            right = self.not_expr()
            self.need(left, BOOL, "and")
            self.need(right, BOOL, "and")
            left = _Expr(f"({left.src} and {right.src})", BOOL)
        return left

    def not_expr(self) -> _Expr:
        if self.accept("not"):
            inner = self.not_expr()
            self.need(inner, BOOL, "not")
            return _Expr(f"(not {inner.src})", BOOL)
        return self.comparison()

    def comparison(self) -> _Expr:
        left = self.additive()
        kind, value = self.peek()
        if kind == "op" and value in _PY_OP:
            self.take()
            return self.compare(left, value, self.additive())
        if self.accept("in"):
            options = self.literal_list()
            self.need(left, STR if isinstance(options[0], str) else NUM, "in")
            wanted = self.constants.add(frozenset(options))
            return _Expr(f"(not {wanted}.isdisjoint({left.src}))", BOOL)
        if self.accept("matches"):
            pattern = self.string_literal()
            self.need(left, STR, "matches")
            try:
                regex = self.constants.add(re.compile(pattern))
            except re.error as e:
                raise ExpressionError(f"bad regular expression {pattern!r} in {self.text!r}: {e}") from e
            return _Expr(f"_matches({regex}, {left.src})", BOOL)
        return left

    def compare(self, left: _Expr, op: str, right: _Expr) -> _Expr:
        if left.type != right.type or left.type in (BOOL, DAYS):
            raise ExpressionError(f"cannot compare {left.type} with {right.type} using '{op}' in {self.text!r}")
        py = _PY_OP[op]
        if right.const is not None and left.count is not None:
            return _Expr(f"({left.count} {py} {right.const})", BOOL)  # count(x) <op> N, the commonest case
        if right.const is not None and op == "=":
            return _Expr(f"({right.const} in {left.src})", BOOL)
        if right.const is not None:
            return _Expr(f"any(x {py} {right.const} for x in {left.src})", BOOL)
        test = self.constants.add(_TESTS[op])
        return _Expr(f"_pairs({left.src}, {right.src}, {test})", BOOL)

    def additive(self) -> _Expr:
        left = self.primary()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            right = self.primary()
            if left.type != DATE or right.type != DAYS:
                raise ExpressionError(f"'{op}' only adds days to dates, here {left.type} {op} {right.type} in {self.text!r}")
            left = _Expr(f"[d {op} {right.src} for d in {left.src}]", DATE)
        return left

    def primary(self) -> _Expr:
        kind, value = self.peek()
        if kind == "num":
            self.take()
            name = self.constants.add(float(value))
            return _Expr(f"[{name}]", NUM, const=name)
        if kind == "str":
            name = self.constants.add(self.string_literal())
            return _Expr(f"[{name}]", STR, const=name)
        if self.accept("("):
            inner = self.or_expr()
            self.expect(")")
            return inner
        if kind == "word":
            self.take()
            return self.call(value)
        raise self.error("expected a value, a function call or '('")

    def call(self, name: str) -> _Expr:
        if name not in READERS and name not in ("count", "exists", "days", "year", "today", "birthdate", "birthyear"):
            raise ExpressionError(f"unknown function {name}() in {self.text!r}")
        self.expect("(")
        if name in ("count", "exists") or name in READERS:
            refs = [self.reference()]
            while self.accept(","):
                refs.append(self.reference())
            self.expect(")")
            sources = [self.lookup(r) for r in refs]
            if name in READERS:
                # Readers look at elements; a question reference gives answers, so unwrap them.
                sources = [f"[x.element for x in {s}]" if s.startswith("bq.") else s for s in sources]
            if name == "count":
                count = " + ".join(f"len({s})" for s in sources)
                count = count if len(sources) == 1 else f"({count})"
                return _Expr(f"[float({count})]", NUM, count=count)
            if name == "exists":
                return _Expr("(" + " or ".join(f"bool({s})" for s in sources) + ")", BOOL)
            if len(refs) > 1:
                raise ExpressionError(f"{name}() takes one reference in {self.text!r}")
            return _Expr(f"R_{name}(memo, {sources[0]})", READERS[name][0])
        if name == "days":
            kind, value = self.take()
            if kind != "num" or "." in value:
                raise ExpressionError(f"days() takes a whole number in {self.text!r}")
            self.expect(")")
            return _Expr(self.constants.add(dt.timedelta(days=int(value))), DAYS)
        if name == "year":
            inner = self.or_expr()
            self.expect(")")
            self.need(inner, DATE, "year()")
            return _Expr(f"[float(d.year) for d in {inner.src}]", NUM)
        self.expect(")")
        if name == "today":
            return _Expr("[cert.today]", DATE)
        if name == "birthdate":
            return _Expr("cert.birthdate()", DATE)
        assert name == "birthyear"
        return _Expr("cert.birthyear()", NUM)

    def reference(self) -> str:
        kind, value = self.take()
        if kind == "op" and value == ".":
            if self.anchor.kind is None:
                raise ExpressionError(f"'.' needs a rule with for_each in {self.text!r}")
            return "."
        if kind != "num":
            raise ExpressionError(f"expected a question or sub-answer id, found {value!r} in {self.text!r}")
        self.refs.add(value)
        return value

    def lookup(self, ref: str) -> str:
        """Python source selecting the elements a reference names, resolved for this anchor."""
        if ref == ".":
            return "[e]"
        qid, dot, _ = ref.partition(".")
        if not dot:
            return f"bq.get({ref!r}, E)"
        if qid != self.anchor.question:
            return f"bp.get({ref!r}, E)"
        if self.anchor.kind == "question":
            return f"a.parts.get({ref!r}, E)"
        # Anchored on a sub-answer: the answer it sits in, also when that is another question's
        # answer (the owners' rules read siblings as ``../gn:delsvar[@id=...]``).
        return f"a.parts.get({ref!r}, E)"

    def string_literal(self) -> str:
        kind, value = self.take()
        if kind != "str":
            raise ExpressionError(f"expected a quoted string, found {value!r} in {self.text!r}")
        return value[1:-1]

    def literal_list(self) -> list[Any]:
        self.expect("[")
        items: list[Any] = []
        while True:
            kind, value = self.take()
            if kind == "str":
                items.append(value[1:-1])
            elif kind == "num":
                items.append(float(value))
            else:
                raise ExpressionError(f"lists hold quoted strings or numbers, found {value!r} in {self.text!r}")
            if not self.accept(","):
                break
        self.expect("]")
        if len({type(i) for i in items}) > 1:
            raise ExpressionError(f"a list mixes strings and numbers in {self.text!r}")
        return items


def compile_condition(text: str, anchor: Anchor = Anchor(), constants: Constants | None = None) -> Condition:
    """Check a condition and translate it; it must be true/false valued."""
    parser = _Parser(text, anchor, constants if constants is not None else Constants())
    result = parser.parse()
    if result.type != BOOL:
        raise ExpressionError(f"{text!r} is a {result.type} value, not a condition (compare it with something)")
    return Condition(text, frozenset(parser.refs), result.src)
