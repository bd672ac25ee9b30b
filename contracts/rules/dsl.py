"""The condition language used in certificate-type files (``when`` and ``check`` of a rule).

A small, safe expression language, compiled once into Python closures. Examples::

    exists(33.2)                                  a sub-answer 33.2 is present
    count(40) <= 8 or count(27) = 1               question counts
    true(27.1)                                     sub-answer 27.1 is answered yes
    valid_date(2.2)                                2.2 holds a valid date
    code(32.1) in ['HALFTEN', 'EN_FJARDEDEL']      a code among a set
    date(2.1) <= date(1.2)                         date order
    date(2.2) <= birthdate() + days(28)            date arithmetic
    number(8.2) < 0.1 and matches(text(18.1), 'E11')

References are question ids (``6``) or sub-answer ids (``6.2``); ``.`` is the element the rule is
checking. A sub-answer of the question a rule is anchored on (``for_each``) means the one in the
same answer instance; every other reference looks at the whole certificate.

Value functions return sequences, and comparisons hold when any pair of values satisfies them
(as XPath general comparisons do), so ``code(40.1) = 'EJ_AKTUELLT'`` reads "some 40.1 has that
code" and an absent answer makes every comparison false.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lxml import etree

from intygstjanst.contracts.rules import values as v


class ExpressionError(ValueError):
    """The expression is malformed; the message says where."""


class Context(Protocol):
    """What an expression can see while it is evaluated."""

    today: dt.date
    memo: dict[str, dict[etree._Element, Any]]  # per-certificate cache of values read from elements

    def resolve(self, ref: str) -> list[etree._Element]: ...

    def questions(self, qid: str) -> list[etree._Element]: ...

    def parts(self, pid: str, qid: str) -> list[etree._Element]: ...

    def itself(self) -> list[etree._Element]: ...

    def birthdate(self) -> list[dt.date]: ...

    def birthyear(self) -> list[float]: ...


Fn = Callable[[Context], Any]

# Value types, checked when a file is loaded so that a typo fails at start-up, not per request.
BOOL, NUM, STR, DATE, DAYS = "boolean", "number", "text", "date", "days"


@dataclass(frozen=True)
class Compiled:
    fn: Fn
    type: str
    const: Any = None  # the value, for literals (lets comparisons specialize)
    size: Callable[[Context], int] | None = None  # for count(): the count as a plain int


@dataclass(frozen=True)
class Condition:
    """A compiled condition: call ``fn(context)``; ``refs`` are the ids it mentions."""

    fn: Callable[[Context], bool]
    refs: frozenset[str]
    text: str


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


# -- value functions ----------------------------------------------------------------------------


# Values are read per element and memoized per certificate (Context.memo), because several
# rules often look at the same sub-answer (e.g. the date of death in most death-certificate rules).
Memo = dict[str, dict[etree._Element, Any]]
Reader = Callable[[Memo, list[etree._Element]], Any]


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


def _any_text(test: Callable[[str], bool]) -> Reader:
    def read(memo: Memo, elements: list[etree._Element]) -> bool:
        return any(test(t) for t in _texts(memo, elements))

    return read


def _any_value(name: str, test: Callable[[etree._Element], bool]) -> Reader:
    values = _values(name, lambda e: (True,) if test(e) else ())  # non-empty = the test holds
    return lambda memo, elements: bool(values(memo, elements))


# name -> (result type, reader over the referenced elements); all take one or more references.
_REF_FUNCTIONS: dict[str, tuple[str, Reader]] = {
    # count and exists take several references and are built directly in _Parser.call.
    "count": (NUM, lambda memo, es: len(es)),
    "exists": (BOOL, lambda memo, es: bool(es)),
    "true": (BOOL, _any_text(lambda t: t in ("true", "1"))),
    "false": (BOOL, _any_text(lambda t: t in ("false", "0"))),
    "code": (STR, _values("code", _children_text(v.CV, v.CODE))),
    "code_system": (STR, _values("code_system", _children_text(v.CV, v.CODE_SYSTEM))),
    "text": (STR, _texts),
    "date": (DATE, _values("date", _date)),
    "start": (DATE, _values("start", _period_edge(v.START))),
    "end": (DATE, _values("end", _period_edge(v.END))),
    "number": (NUM, _values("number", _number)),
    "valid_date": (BOOL, _any_value("valid_date", lambda e: v.is_xs_date(_scalar_source(e)))),
    "valid_boolean": (BOOL, lambda memo, es: any(v.is_xs_boolean(t) for t in _texts(memo, es))),
}

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _either(a: Fn, b: Fn) -> Fn:
    return lambda c: a(c) or b(c)


def _both(a: Fn, b: Fn) -> Fn:
    return lambda c: a(c) and b(c)


def _shift(dates: Fn, delta: Fn, sign: int) -> Fn:
    return lambda c: [d + sign * delta(c) for d in dates(c)]


def _getter(ref: str) -> Callable[[Context], list[etree._Element]]:
    """Resolve a reference at compile time into the fastest lookup for it."""
    if ref == ".":
        return lambda c: c.itself()
    qid, dot, _ = ref.partition(".")
    if dot:
        return lambda c: c.parts(ref, qid)
    return lambda c: c.questions(ref)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.refs: set[str] = set()

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

    # -- grammar

    def parse(self) -> Compiled:
        result = self.or_expr()
        if self.peek()[0] != "end":
            raise self.error("unexpected text after the expression")
        return result

    def or_expr(self) -> Compiled:
        left = self.and_expr()
        while self.accept("or"):
            right = self.and_expr()
            self.need(left, BOOL, "or")
            self.need(right, BOOL, "or")
            left = Compiled(_either(left.fn, right.fn), BOOL)
        return left

    def and_expr(self) -> Compiled:
        left = self.not_expr()
        while self.accept("and"):
            right = self.not_expr()
            self.need(left, BOOL, "and")
            self.need(right, BOOL, "and")
            left = Compiled(_both(left.fn, right.fn), BOOL)
        return left

    def not_expr(self) -> Compiled:
        if self.accept("not"):
            inner = self.not_expr()
            self.need(inner, BOOL, "not")
            f = inner.fn
            return Compiled(lambda c: not f(c), BOOL)
        return self.comparison()

    def comparison(self) -> Compiled:
        left = self.additive()
        kind, value = self.peek()
        if kind == "op" and value in _COMPARE:
            self.take()
            right = self.additive()
            return self._compare(left, value, right)
        if self.accept("in"):
            options = self.literal_list()
            self.need(left, STR if isinstance(options[0], str) else NUM, "in")
            wanted = frozenset(options)
            lf = left.fn
            return Compiled(lambda c: not wanted.isdisjoint(lf(c)), BOOL)
        if self.accept("matches"):
            pattern = self.string_literal()
            self.need(left, STR, "matches")
            try:
                regex = re.compile(pattern)
            except re.error as e:
                raise ExpressionError(f"bad regular expression {pattern!r} in {self.text!r}: {e}") from e
            lf = left.fn
            return Compiled(lambda c: any(regex.search(x) for x in lf(c)), BOOL)
        return left

    def _compare(self, left: Compiled, op: str, right: Compiled) -> Compiled:
        if left.type != right.type or left.type in (BOOL, DAYS):
            raise ExpressionError(f"cannot compare {left.type} with {right.type} using '{op}' in {self.text!r}")
        test = _COMPARE[op]
        lf, rf = left.fn, right.fn
        if right.const is not None and left.size is not None:
            # count(x) <op> N: the commonest condition in type files, so compare plain ints.
            size, n = left.size, right.const
            return Compiled(lambda c: test(size(c), n), BOOL)
        if right.const is not None:
            # Comparing with a literal is the common case; avoid building pairs.
            k = right.const
            if op == "=":
                return Compiled(lambda c: k in lf(c), BOOL)

            def compare_constant(c: Context) -> bool:
                for a in lf(c):
                    if test(a, k):
                        return True
                return False

            return Compiled(compare_constant, BOOL)

        def compare(c: Context) -> bool:
            rs = rf(c)
            for a in lf(c):
                for b in rs:
                    if test(a, b):
                        return True
            return False

        return Compiled(compare, BOOL)

    def additive(self) -> Compiled:
        left = self.primary()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            right = self.primary()
            if left.type != DATE or right.type != DAYS:
                raise ExpressionError(f"'{op}' only adds days to dates, here {left.type} {op} {right.type} in {self.text!r}")
            left = Compiled(_shift(left.fn, right.fn, 1 if op == "+" else -1), DATE)
        return left

    def primary(self) -> Compiled:
        kind, value = self.peek()
        if kind == "num":
            self.take()
            number = float(value)
            return Compiled(lambda c: [number], NUM, number)
        if kind == "str":
            text = self.string_literal()
            return Compiled(lambda c: [text], STR, text)
        if self.accept("("):
            inner = self.or_expr()
            self.expect(")")
            return inner
        if kind == "word":
            self.take()
            return self.call(value)
        raise self.error("expected a value, a function call or '('")

    def call(self, name: str) -> Compiled:
        self.expect("(")
        if name in _REF_FUNCTIONS:
            result_type, reader = _REF_FUNCTIONS[name]
            refs = [self.reference()]
            while self.accept(","):
                refs.append(self.reference())
            self.expect(")")
            if len(refs) > 1 and name not in ("count", "exists"):
                raise ExpressionError(f"{name}() takes one reference in {self.text!r}")
            getters = [_getter(r) for r in refs]
            if name == "count":
                if len(getters) == 1:
                    get = getters[0]
                    size: Callable[[Context], int] = lambda c: len(get(c))  # noqa: E731
                else:
                    size = lambda c: sum(len(g(c)) for g in getters)  # noqa: E731
                return Compiled(lambda c: [float(size(c))], NUM, size=size)
            if name == "exists":
                if len(getters) == 1:
                    get = getters[0]
                    return Compiled(lambda c: bool(get(c)), BOOL)
                return Compiled(lambda c: any(g(c) for g in getters), BOOL)
            get = getters[0]
            return Compiled(lambda c: reader(c.memo, get(c)), result_type)
        if name == "days":
            kind, value = self.take()
            if kind != "num" or "." in value:
                raise ExpressionError(f"days() takes a whole number in {self.text!r}")
            self.expect(")")
            delta = dt.timedelta(days=int(value))
            return Compiled(lambda c: delta, DAYS)
        if name == "year":
            inner = self.or_expr()
            self.expect(")")
            self.need(inner, DATE, "year()")
            f = inner.fn
            return Compiled(lambda c: [float(d.year) for d in f(c)], NUM)
        self.expect(")")
        if name == "today":
            return Compiled(lambda c: [c.today], DATE)
        if name == "birthdate":
            return Compiled(lambda c: c.birthdate(), DATE)
        if name == "birthyear":
            return Compiled(lambda c: c.birthyear(), NUM)
        raise ExpressionError(f"unknown function {name}() in {self.text!r}")

    def reference(self) -> str:
        kind, value = self.take()
        if kind == "op" and value == ".":
            return "."
        if kind != "num":
            raise ExpressionError(f"expected a question or sub-answer id, found {value!r} in {self.text!r}")
        self.refs.add(value)
        return value

    def string_literal(self) -> str:
        kind, value = self.take()
        if kind != "str":
            raise ExpressionError(f"expected a quoted string, found {value!r} in {self.text!r}")
        return value[1:-1]

    def literal_list(self) -> Sequence[Any]:
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

    def need(self, value: Compiled, wanted: str, where: str) -> None:
        if value.type != wanted:
            raise ExpressionError(f"{where} needs a {wanted} value, got a {value.type} value in {self.text!r}")


def compile_condition(text: str) -> Condition:
    """Compile a condition; it must be true/false valued."""
    parser = _Parser(text)
    result = parser.parse()
    if result.type != BOOL:
        raise ExpressionError(f"{text!r} is a {result.type} value, not a condition (compare it with something)")
    return Condition(result.fn, frozenset(parser.refs), text)
