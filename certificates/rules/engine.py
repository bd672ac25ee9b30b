"""Compiles a certificate-type definition into checks and runs them over a certificate.

Compilation (once, at start-up) turns the questions, sub-answers and rules of a type file into
the source of one Python function per type, which is compiled with ``compile()``: straight-line
code with the ids, counts and conditions of the file written in, so that validating a
certificate is an index of its answers (two compiled XPath selections) plus a few dictionary
lookups and comparisons per rule, without interpreting the definition again. The generated
source only contains literals produced by this module and calls to the helpers named in its
namespace (ids from the file are validated and emitted with ``repr``); it can be inspected with
``Engine.source``. Every failed check is reported; nothing stops at the first error.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, cast

from lxml import etree

from intygstjanst.certificates.rules import kinds
from intygstjanst.certificates.rules import values as v
from intygstjanst.certificates.rules import dsl
from intygstjanst.certificates.rules.dsl import Anchor, Condition, Constants, ExpressionError, compile_condition


@dataclass(frozen=True, slots=True)
class RuleViolation:
    """One failed business rule in a certificate."""

    type_code: str
    rule_id: str
    path: str  # where in the certificate, e.g. /intyg/svar[@id='6'][1]/delsvar[@id='6.2'][1]
    message: str

    def __str__(self) -> str:
        return f"{self.type_code} {self.rule_id} at {self.path}: {self.message}"


# Reports one failed check: rule id, offending element (None = the certificate), message.
Fail = Callable[[str, "etree._Element | None", str], None]


class DefinitionError(ValueError):
    """A type file's content is wrong; the message names the field (the loader adds the file)."""


_QUESTION_ID = re.compile(r"[0-9]+")
_PART_ID = re.compile(r"([0-9]+)\.[0-9]+")
_COUNT = re.compile(r"(\d+)(?:\.\.(\d+|\*))?")
# Supplementary questions (tilläggsfrågor) use ids 9000-9999; the owners check those >= 9001.
SUPPLEMENTARY_IDS = range(9000, 10000)
_SUPPLEMENTARY_CHECKED_FROM = 9001


# -- the compiled model --------------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    low: int
    high: int | None  # None = no upper limit

    def describe(self) -> str:
        if self.high == self.low:
            return "exactly once" if self.low == 1 else f"exactly {self.low} times"
        if self.high is None:
            return "at least once" if self.low == 1 else f"at least {self.low} times"
        if self.low == 0:
            return "at most once" if self.high == 1 else f"at most {self.high} times"
        return f"between {self.low} and {self.high} times"


@dataclass
class Variant:
    when: Condition | None
    check: kinds.KindCheck


@dataclass
class Part:
    id: str
    label: str
    count: Count
    variants: list[Variant]


@dataclass
class Question:
    id: str
    label: str
    count: Count
    instance: bool
    closed: bool
    unique: str | None
    no_overlap: str | None
    descending: str | None
    consecutive_instances: bool
    parts: dict[str, Part]


@dataclass
class Rule:
    id: str
    for_each: str | None
    when: Condition | None
    check: Condition | None  # a 'check' rule; otherwise require/forbid of refs
    refs: list[str]
    require: bool
    message: str


@dataclass
class Definition:
    type_code: str
    closed: bool
    supplementary: bool
    positive_instances: bool
    questions: dict[str, Question]
    parts: dict[str, Part]
    rules: list[Rule]
    constants: Constants
    label_of: dict[str, str] = field(default_factory=dict)


# -- reading a type file ------------------------------------------------------------------------


def _count(value: Any, where: str, default: str) -> Count:
    text = default if value is None else value
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    m = _COUNT.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise DefinitionError(f"{where}: 'count' must look like \"1\", \"0..1\", \"1..4\" or \"0..*\", got {value!r}")
    low = int(m.group(1))
    high = low if m.group(2) is None else (None if m.group(2) == "*" else int(m.group(2)))
    if high is not None and high < low:
        raise DefinitionError(f"{where}: 'count' {text!r} has a maximum below its minimum")
    return Count(low, high)


def table_text(table: dict[str, Any], key: str, where: str, required: bool = True) -> str | None:
    """The stripped string at ``key`` of a definition table; None when absent and not required."""
    value = table.get(key)
    if value is None:
        if required:
            raise DefinitionError(f"{where}: missing '{key}'")
        return None
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


class _Reader:
    """State while one type file is read: declared ids and the constants its conditions use."""

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.constants = Constants()

    def condition(self, text: Any, where: str, anchor: Anchor) -> Condition:
        if not isinstance(text, str):
            raise DefinitionError(f"{where}: must be a condition string")
        try:
            condition = compile_condition(text, anchor, self.constants)
        except ExpressionError as e:
            raise DefinitionError(f"{where}: {e}") from e
        unknown = sorted(r for r in condition.refs if r not in self.known)
        if unknown:
            raise DefinitionError(f"{where}: refers to {', '.join(unknown)}, which this type does not declare")
        return condition


def _reject_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise DefinitionError(f"{where}: unknown field(s) {', '.join(extra)}")


_KIND_FIELDS = {"kind", "when"}
_PART_FIELDS = {"id", "label", "count", "variant"}


def _variants(part: dict[str, Any], where: str, reader: _Reader) -> list[Variant]:
    tables = part.get("variant")
    if tables is None:
        tables = [{k: val for k, val in part.items() if k not in _PART_FIELDS}] if "kind" in part else []
    elif "kind" in part or "when" in part:
        raise DefinitionError(f"{where}: give either 'kind' or [[variant]] tables, not both")
    if not tables:
        raise DefinitionError(f"{where}: missing 'kind' (use kind = \"unchecked\" for values the type does not check)")
    anchor = Anchor("part", part["id"].strip().split(".")[0])
    variants = []
    for n, table in enumerate(tables, start=1):
        vwhere = f"{where}.variant[{n}]" if "variant" in part else where
        if not isinstance(table, dict) or not isinstance(table.get("kind"), str):
            raise DefinitionError(f"{vwhere}: missing 'kind'")
        options = {k: val for k, val in table.items() if k not in _KIND_FIELDS}
        try:
            check = kinds.build(table["kind"], options)
        except kinds.KindError as e:
            raise DefinitionError(f"{vwhere}: {e}") from e
        when = reader.condition(table["when"], f"{vwhere}.when", anchor) if "when" in table else None
        variants.append(Variant(when, check))
    return variants


def compile_definition(type_code: str, data: dict[str, Any]) -> Definition:
    """Check and read the questions and rules of one type file (already parsed from TOML)."""
    questions_raw = data.get("question", [])
    if not isinstance(questions_raw, list):
        raise DefinitionError("'question' must be an array of tables ([[question]])")

    # First pass: ids, so that conditions can be checked for references to undeclared answers.
    known: set[str] = set()
    for n, q in enumerate(questions_raw, start=1):
        where = f"question[{n}]"
        if not isinstance(q, dict):
            raise DefinitionError(f"{where}: must be a table")
        qid = table_text(q, "id", where)
        assert qid is not None
        if not _QUESTION_ID.fullmatch(qid):
            raise DefinitionError(f"{where}: id {qid!r} must be digits, e.g. \"6\"")
        if qid in known:
            raise DefinitionError(f"{where}: question {qid} is declared twice")
        known.add(qid)
        for m, p in enumerate(q.get("part", []), start=1):
            pid = table_text(p, "id", f"question {qid}.part[{m}]") if isinstance(p, dict) else None
            if pid is None or not _PART_ID.fullmatch(pid) or pid.split(".")[0] != qid:
                raise DefinitionError(f"question {qid}.part[{m}]: id must be \"{qid}.<n>\", got {pid!r}")
            if pid in known:
                raise DefinitionError(f"question {qid}: sub-answer {pid} is declared twice")
            known.add(pid)

    reader = _Reader(known)
    questions: dict[str, Question] = {}
    parts: dict[str, Part] = {}
    label_of: dict[str, str] = {}
    for q in questions_raw:
        qid = q["id"].strip()
        where = f"question {qid}"
        _reject_unknown(
            q,
            {"id", "label", "count", "instance", "closed", "unique", "no_overlap", "descending", "consecutive_instances", "part"},
            where,
        )
        question_parts: dict[str, Part] = {}
        for p in q.get("part", []):
            pid = p["id"].strip()
            pwhere = f"{where}, sub-answer {pid}"
            _reject_unknown(p, _PART_FIELDS | _KIND_FIELDS | set(kinds.OPTION_TYPES), pwhere)
            part = Part(
                id=pid,
                label=table_text(p, "label", pwhere, required=False) or pid,
                count=_count(p.get("count"), pwhere, "0..1"),
                variants=_variants(p, pwhere, reader),
            )
            question_parts[pid] = parts[pid] = part
            label_of[pid] = part.label
        for key in ("unique", "no_overlap", "descending"):
            ref = q.get(key)
            if ref is not None and ref not in question_parts:
                raise DefinitionError(f"{where}: '{key}' must name one of its own sub-answers, got {ref!r}")
        for key in ("instance", "closed", "consecutive_instances"):
            if key in q and not isinstance(q[key], bool):
                raise DefinitionError(f"{where}: '{key}' must be true or false")
        question = Question(
            id=qid,
            label=table_text(q, "label", where, required=False) or qid,
            count=_count(q.get("count"), where, "0..1"),
            instance=q.get("instance", False),
            closed=q.get("closed", True),
            unique=q.get("unique"),
            no_overlap=q.get("no_overlap"),
            descending=q.get("descending"),
            consecutive_instances=q.get("consecutive_instances", False),
            parts=question_parts,
        )
        questions[qid] = question
        label_of[qid] = question.label

    rules = [_rule(r, n, reader, label_of) for n, r in enumerate(data.get("rule", []), start=1)]
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise DefinitionError(f"rule {rule.id}: id used twice")
        seen.add(rule.id)

    flags = {}
    for key, default in (("closed", True), ("supplementary_questions", False), ("positive_instances", True)):
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise DefinitionError(f"'{key}' must be true or false")
        flags[key] = value
    return Definition(
        type_code=type_code,
        closed=flags["closed"],
        supplementary=flags["supplementary_questions"],
        positive_instances=flags["positive_instances"],
        questions=questions,
        parts=parts,
        rules=rules,
        constants=reader.constants,
        label_of=label_of,
    )


def _rule(r: Any, n: int, reader: _Reader, label_of: dict[str, str]) -> Rule:
    if not isinstance(r, dict):
        raise DefinitionError(f"rule[{n}]: must be a table")
    where = f"rule[{n}]"
    rid = table_text(r, "id", where)
    assert rid is not None
    where = f"rule {rid}"
    _reject_unknown(r, {"id", "for_each", "when", "check", "require", "forbid", "message"}, where)
    for_each = table_text(r, "for_each", where, required=False)
    if for_each is None:
        anchor = Anchor()
    elif for_each not in reader.known:
        raise DefinitionError(f"{where}: 'for_each' names {for_each}, which this type does not declare")
    else:
        anchor = Anchor("part" if "." in for_each else "question", for_each.split(".")[0])
    when = reader.condition(r["when"], f"{where}.when", anchor) if "when" in r else None
    message = table_text(r, "message", where, required=False)

    forms = [k for k in ("check", "require", "forbid") if k in r]
    if len(forms) != 1:
        raise DefinitionError(f"{where}: give exactly one of 'check', 'require' or 'forbid'")
    form = forms[0]
    if form == "check":
        if message is None:
            raise DefinitionError(f"{where}: a 'check' rule needs a 'message'")
        return Rule(rid, for_each, when, reader.condition(r["check"], f"{where}.check", anchor), [], True, message)

    refs = r[form]
    if isinstance(refs, str):
        refs = [refs]
    if not isinstance(refs, list) or not refs or not all(isinstance(x, str) and x in reader.known for x in refs):
        raise DefinitionError(f"{where}: '{form}' must list declared question or sub-answer ids")
    require = form == "require"
    if message is None:
        names = ", ".join(f"{ref} '{label_of[ref]}'" for ref in refs)
        condition_text = f"when {when.text}, " if when is not None else ""
        message = f"{condition_text}{names} must {'be answered' if require else 'not be answered'}"
        message = message[0].upper() + message[1:]
    # The references are resolved like those of a condition (same scoping rules).
    for ref in refs:
        reader.condition(f"exists({ref})", where, anchor)
    return Rule(rid, for_each, when, None, refs, require, message)


# -- validation --------------------------------------------------------------------------------


_SVAR_XPATH = etree.XPath("g:svar", namespaces={"g": v.GN})
_DELSVAR_XPATH = etree.XPath("g:svar/g:delsvar", namespaces={"g": v.GN})
_INSTANS_XPATH = etree.XPath("g:svar/g:instans", namespaces={"g": v.GN})


def _select(xpath: etree.XPath, element: etree._Element) -> list[etree._Element]:
    return cast(list[etree._Element], xpath(element))


class _Answer:
    __slots__ = ("element", "id", "position", "parts", "_instances")

    def __init__(self, element: etree._Element, qid: str, position: int) -> None:
        self.element = element
        self.id = qid
        self.position = position  # 1-based among the intyg's svar elements with this id
        self.parts: dict[str, list[etree._Element]] = {}
        self._instances: list[etree._Element] | None = None

    @property
    def instances(self) -> list[etree._Element]:
        if self._instances is None:
            self._instances = [c for c in self.element if c.tag == v.INSTANS]
        return self._instances


class Certificate:
    """One certificate, indexed for the checks (answers and sub-answers by id)."""

    def __init__(self, intyg: etree._Element, today: dt.date) -> None:
        self.intyg = intyg
        self.today = today
        self.answers: list[_Answer] = []
        self.by_question: dict[str, list[_Answer]] = {}
        self.by_part: dict[str, list[etree._Element]] = {}
        self._answer_of: dict[etree._Element, _Answer] = {}
        self._birth: tuple[list[dt.date], list[float]] | None = None
        self.memo: dict[str, dict[etree._Element, Any]] = {}
        # Two compiled XPath calls select the elements in C; this is the hot path of every request.
        by_question, answer_of = self.by_question, self._answer_of
        for child in _select(_SVAR_XPATH, intyg):
            qid = child.get("id", "")
            same = by_question.get(qid)
            if same is None:
                same = by_question[qid] = []
            answer = _Answer(child, qid, len(same) + 1)
            same.append(answer)
            self.answers.append(answer)
            answer_of[child] = answer
        by_part = self.by_part
        for sub in _select(_DELSVAR_XPATH, intyg):
            pid = sub.get("id", "")
            parts = answer_of[cast(etree._Element, sub.getparent())].parts
            if pid in parts:
                parts[pid].append(sub)
            else:
                parts[pid] = [sub]
            if pid in by_part:
                by_part[pid].append(sub)
            else:
                by_part[pid] = [sub]

    def owner(self, element: etree._Element) -> _Answer | None:
        """The answer (svar) a sub-answer (delsvar) belongs to."""
        parent = element.getparent()
        return self._answer_of.get(parent) if parent is not None else None

    def path(self, element: etree._Element | None) -> str:
        if element is None or element is self.intyg:
            return "/intyg"
        if element.tag == v.SVAR:
            answer = self._answer_of.get(element)
            return self._answer_path(answer) if answer is not None else "/intyg"
        answer = self.owner(element)
        if answer is None:
            return "/intyg"
        position = answer.parts[element.get("id", "")].index(element) + 1
        return f"{self._answer_path(answer)}/delsvar[@id='{element.get('id')}'][{position}]"

    @staticmethod
    def _answer_path(answer: _Answer) -> str:
        return f"/intyg/svar[@id='{answer.id}'][{answer.position}]"

    def birthdate(self) -> list[dt.date]:
        """The patient's date of birth from the personnummer or samordningsnummer ([] if unreadable)."""
        return self._birth_facts()[0]

    def birthyear(self) -> list[float]:
        return self._birth_facts()[1]

    def _birth_facts(self) -> tuple[list[dt.date], list[float]]:
        if self._birth is None:
            # Personnummer/samordningsnummer: YYYYMMDD..., a samordningsnummer adds 60 to the day.
            pid = self.intyg.findtext(f"{{{v.GN}}}patient/{{{v.GN}}}person-id/{{{v.TP}}}extension") or ""
            dates: list[dt.date] = []
            years: list[float] = []
            if len(pid) >= 8 and pid[:8].isdigit():
                day = int(pid[6:8])
                try:
                    dates.append(dt.date(int(pid[:4]), int(pid[4:6]), day - 60 if day >= 60 else day))
                except ValueError:
                    pass
            if pid[:4].isdigit() and len(pid) >= 4:
                years.append(float(pid[:4]))
            self._birth = (dates, years)
        return self._birth


class _Source:
    """Python source being generated, with indentation and named constants."""

    def __init__(self, constants: Constants) -> None:
        self.lines: list[str] = []
        self.constants = constants
        self.depth = 1

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def const(self, value: Any) -> str:
        return self.constants.add(value)

    def block(self, header: str) -> _Indent:
        self.line(header)
        return _Indent(self)


class _Indent:
    def __init__(self, source: _Source) -> None:
        self.source = source

    def __enter__(self) -> None:
        self.source.depth += 1

    def __exit__(self, *exc: object) -> None:
        self.source.depth -= 1


class Engine:
    """The compiled checks of one certificate type."""

    def __init__(self, definition: Definition) -> None:
        self.d = definition
        src = _Source(definition.constants)
        src.line("bq, bp, memo = cert.by_question, cert.by_part, cert.memo")
        src.line("owner = cert.owner")
        src.line("a = e = None")
        for question in definition.questions.values():
            self._emit_question(src, question)
        if definition.closed or definition.supplementary or definition.positive_instances:
            src.line("general(cert, fail)")
        for part in definition.parts.values():
            self._emit_part(src, part)
        for rule in definition.rules:
            self._emit_rule(src, rule)
        self.source = "def run(cert, fail):\n" + "\n".join(src.lines) + "\n"
        namespace: dict[str, Any] = {
            **dsl.HELPERS,
            **definition.constants.values,
            "general": self._check_general,
            "report": _report,
            "unknown_parts": _unknown_parts,
            "repeats": _check_repeats,
            "instance_order": _check_instance_order,
            "OK": kinds.OK,
        }
        code = compile(self.source, f"<rules {definition.type_code}>", "exec")
        exec(code, namespace)  # noqa: S102 - our own generated source, see the module docstring
        self._run: Callable[[Certificate, Fail], None] = namespace["run"]

    def validate(self, intyg: etree._Element, today: dt.date | None = None) -> list[RuleViolation]:
        return self.validate_indexed(Certificate(intyg, today or dt.date.today()))

    def validate_indexed(self, cert: Certificate) -> list[RuleViolation]:
        """As :meth:`validate`, on a certificate already indexed (shared with fact extraction)."""
        out: list[RuleViolation] = []
        code = self.d.type_code

        def fail(rule_id: str, element: etree._Element | None, message: str) -> None:
            out.append(RuleViolation(code, rule_id, cert.path(element), message))

        self._run(cert, fail)
        return out

    # -- code generation

    @staticmethod
    def _emit_question(src: _Source, q: Question) -> None:
        qid = repr(q.id)
        src.line(f"A = bq.get({qid}, E)")
        message = src.const(f"Question {q.id} '{_braces(q.label)}' must be answered {q.count.describe()} (found {{}})")
        src.line("n = len(A)")
        with src.block(f"if {_out_of_range('n', q.count)}:"):
            src.line(f"fail({q.id + '.count'!r}, None, {message}.format(n))")
        checks_answers = q.instance or q.parts or q.closed
        if checks_answers:
            with src.block("for a in A:"):
                src.line("p = a.parts")
                if q.instance:
                    message = src.const(f"Each answer to question {q.id} '{q.label}' must have one instance number")
                    with src.block("if len(a.instances) != 1:"):
                        src.line(f"fail({q.id + '.instance'!r}, a.element, {message})")
                for part in q.parts.values():
                    pid = repr(part.id)
                    message = src.const(
                        f"Sub-answer {part.id} '{_braces(part.label)}' must occur {part.count.describe()} in question {q.id} (found {{}})"
                    )
                    src.line(f"n = len(p[{pid}]) if {pid} in p else 0")
                    with src.block(f"if {_out_of_range('n', part.count)}:"):
                        src.line(f"fail({part.id + '.count'!r}, a.element, {message}.format(n))")
                if q.closed:
                    allowed = src.const(frozenset(q.parts))
                    with src.block(f"if not p.keys() <= {allowed}:"):
                        src.line(f"unknown_parts({src.const(q)}, a, fail)")
        if q.unique is not None or q.no_overlap is not None:
            with src.block("if len(A) > 1:"):
                src.line(f"repeats({src.const(q)}, A, fail)")
        if q.descending is not None or q.consecutive_instances:
            src.line(f"instance_order({src.const(q)}, A, fail)")

    @staticmethod
    def _emit_part(src: _Source, part: Part) -> None:
        if all(variant.check is kinds.accept_anything for variant in part.variants):
            return
        label = src.const(part)
        with src.block(f"for e in bp.get({part.id!r}, E):"):
            if len(part.variants) == 1 and part.variants[0].when is None:
                src.line(f"r = {src.const(part.variants[0].check)}(e)")
            else:
                src.line("a = owner(e)")
                keyword = "if"
                for variant in part.variants:
                    check = src.const(variant.check)
                    if variant.when is None:
                        with src.block("else:" if keyword == "elif" else "if True:"):
                            src.line(f"r = {check}(e)")
                        break
                    with src.block(f"{keyword} {variant.when.source}:"):
                        src.line(f"r = {check}(e)")
                    keyword = "elif"
                else:
                    with src.block("else:"):
                        src.line("r = OK")
            with src.block("if r:"):
                src.line(f"report({label}, e, r, fail)")

    @staticmethod
    def _emit_rule(src: _Source, rule: Rule) -> None:
        rid, message = repr(rule.id), src.const(rule.message)
        if rule.for_each is None:
            src.line("a = e = None")
        else:
            per_sub_answer = "." in rule.for_each
            src.line(f"for e in bp.get({rule.for_each!r}, E):" if per_sub_answer else f"for a in bq.get({rule.for_each!r}, E):")
            src.depth += 1
            src.line("a = owner(e)" if per_sub_answer else "e = a.element")
        guard = f"if {rule.when.source}:" if rule.when is not None else "if True:"
        with src.block(guard):
            if rule.check is not None:
                with src.block(f"if not {rule.check.source}:"):
                    src.line(f"fail({rid}, e, {message})")
            else:
                src.line("f = []")
                anchor = Anchor() if rule.for_each is None else Anchor(
                    "part" if "." in rule.for_each else "question", rule.for_each.split(".")[0]
                )
                for ref in rule.refs:
                    present = compile_condition(f"exists({ref})", anchor, src.constants).source
                    with src.block(f"if {'not ' if rule.require else ''}{present}:"):
                        src.line(f"f.append({ref!r})")
                with src.block("if f:"):
                    detail = "" if len(rule.refs) == 1 else " + ' (missing or not allowed: ' + ', '.join(f) + ')'"
                    src.line(f"fail({rid}, e, {message}{detail})")
        if rule.for_each is not None:
            src.depth -= 1

    # -- checks that are the same for every type (called from the generated code)

    def _check_general(self, cert: Certificate, fail: Fail) -> None:
        d = self.d
        for answer in cert.answers:
            if answer.id in d.questions:
                continue
            if d.supplementary and answer.id.isdigit() and int(answer.id) in SUPPLEMENTARY_IDS:
                _check_supplementary(answer, cert, fail)
            elif d.closed:
                fail("unknown-question", answer.element, f"Question {answer.id} is not part of this certificate type")
        if d.positive_instances:
            for instans in _select(_INSTANS_XPATH, cert.intyg):
                if not v.xpath_number(v.string_value(instans)) >= 1:
                    svar = cast(etree._Element, instans.getparent())
                    fail("instance-number", svar, f"Instance number of question {svar.get('id')} must be 1 or more")


def _braces(text: str) -> str:
    """Text from a type file inside a str.format template."""
    return text.replace("{", "{{").replace("}", "}}")


def _out_of_range(name: str, count: Count) -> str:
    if count.high is None:
        return f"{name} < {count.low}"
    if count.high == count.low:
        return f"{name} != {count.low}"
    if count.low == 0:
        return f"{name} > {count.high}"
    return f"not {count.low} <= {name} <= {count.high}"


def _report(part: Part, element: etree._Element, problems: list[kinds.Problem], fail: Fail) -> None:
    for problem in problems:
        fail(f"{part.id}.{problem.check}", element, f"Sub-answer {part.id} '{part.label}' {problem.message}")


def _unknown_parts(question: Question, answer: _Answer, fail: Fail) -> None:
    extra = sorted(p for p in answer.parts if p not in question.parts)
    allowed = ", ".join(question.parts) or "none"
    fail(
        f"{question.id}.unknown-part",
        answer.element,
        f"Question {question.id} has no sub-answer {', '.join(extra)} (allowed: {allowed})",
    )


def _check_repeats(question: Question, answers: list[_Answer], fail: Fail) -> None:
    """Codes that must differ, and periods that must not overlap, between answers to a question."""
    qid, unique, no_overlap = question.id, question.unique, question.no_overlap
    used: set[str] = set()
    periods: list[tuple[str, str]] = []
    for answer in answers:
        if unique is not None:
            mine = set(_codes(answer.parts.get(unique, [])))
            repeated = sorted(mine & used)
            if repeated:
                fail(
                    f"{qid}.unique",
                    answer.element,
                    f"Code {', '.join(repeated)} in sub-answer {unique} is already used by an earlier answer to question {qid}",
                )
            used |= mine
        if no_overlap is not None:
            parts = answer.parts.get(no_overlap, [])
            own = _all_periods(parts)
            if periods and _most_edges(parts) > 1:
                # The owners read an answer's period as one start and one end; several cannot be
                # compared with the earlier periods (an XPath type error rejects the certificate).
                fail(f"{qid}.overlap", answer.element, f"Sub-answer {no_overlap} must hold one period to be compared with earlier answers")
                periods.extend(own)
                continue
            start, end = own[0] if own else ("", "")
            for s_, e_ in periods:
                if s_ < end and e_ > start:
                    fail(
                        f"{qid}.overlap",
                        answer.element,
                        f"Period {start}..{end} in sub-answer {no_overlap} overlaps the period {s_}..{e_} of an earlier answer",
                    )
                    break
            periods.extend(own)


def _check_instance_order(question: Question, answers: list[_Answer], fail: Fail) -> None:
    # Linear (after a sort) in the number of answers: a question repeated thousands of times must not
    # cost the square of that.
    numbered = [(_instance_number(a), a) for a in answers]
    if question.consecutive_instances:
        # NaN never equals anything, as in the owners' XPath: those are never counted.
        how_many = Counter(n for n, _ in numbered if n == n)
        for n, answer in numbered:
            if n >= 2 and how_many[n - 1] != 1:
                fail(
                    f"{question.id}.instance-sequence",
                    answer.element,
                    f"Instance numbers of question {question.id} must run 1, 2, 3...; instance {n:g} has no single instance {n - 1:g} before it",
                )
    pid = question.descending
    if pid is not None:
        dates = [
            [d for e in answer.parts.get(pid, ()) if (d := v.parse_xs_date(v.string_value(e))) is not None]
            for _, answer in numbered
        ]
        # Some date of a lower instance is before one of this answer's dates exactly when the
        # earliest date of all lower instances is before this answer's latest date.
        ranked = sorted((n, min(mine)) for (n, _), mine in zip(numbered, dates) if mine and n == n)
        numbers = [n for n, _ in ranked]
        earliest_below: list[dt.date] = list(accumulate((d for _, d in ranked), min))
        for (n, answer), mine in zip(numbered, dates):
            below = bisect_left(numbers, n) if mine and n == n else 0
            if below and earliest_below[below - 1] < max(mine):
                fail(
                    f"{pid}.chronology",
                    answer.parts[pid][0],
                    f"Date in {pid} of instance {n:g} must not be after the date of an answer with a lower instance number",
                )


def _check_supplementary(answer: _Answer, cert: Certificate, fail: Fail) -> None:
    qid, el = answer.id, answer.element
    if int(qid) < _SUPPLEMENTARY_CHECKED_FROM:
        return
    count = sum(len(parts) for parts in answer.parts.values())
    if count != 1:
        fail("supplementary.parts", el, f"Supplementary question {qid} must have exactly one sub-answer (found {count})")
    if answer.position > 1:  # an earlier answer has the same id
        fail("supplementary.duplicate", el, f"Supplementary question {qid} occurs more than once")
    for parts in answer.parts.values():
        for sub in parts:
            for problem in _SUPPLEMENTARY_TEXT(sub):
                fail(f"supplementary.{problem.check}", sub, f"Supplementary answer {sub.get('id')} {problem.message}")


_SUPPLEMENTARY_TEXT = kinds.build("text", {})


def _instance_number(answer: _Answer) -> float:
    # XPath number() of the instance element: NaN when absent, so every comparison fails.
    return v.xpath_number(v.string_value(answer.instances[0])) if len(answer.instances) == 1 else float("nan")


def _codes(elements: list[etree._Element]) -> list[str]:
    return [v.normalize_space(v.string_value(c)) for e in elements for c in v.descendants_path(e, v.CV, v.CODE)]


def _most_edges(elements: list[etree._Element]) -> int:
    """The larger of the number of period starts and of period ends in these sub-answers."""
    starts = sum(len(v.descendants_path(e, v.DATE_PERIOD, v.START)) for e in elements)
    ends = sum(len(v.descendants_path(e, v.DATE_PERIOD, v.END)) for e in elements)
    return max(starts, ends)


def _all_periods(elements: list[etree._Element]) -> list[tuple[str, str]]:
    # Compared as normalized ISO text, which orders like the dates for well-formed values.
    out = []
    for e in elements:
        for period in v.children(e, v.DATE_PERIOD):
            start = "".join(v.normalize_space(v.string_value(s)) for s in v.children(period, v.START))
            end = "".join(v.normalize_space(v.string_value(s)) for s in v.children(period, v.END))
            out.append((start, end))
    return out
