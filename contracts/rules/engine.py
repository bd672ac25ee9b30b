"""Compiles a certificate-type definition into checks and runs them over a certificate.

Compilation (once, at start-up) turns the questions, sub-answers and rules of a type file into
plain Python closures. Validation indexes the certificate in one pass over its answers (which
answers and sub-answers exist, by id) and then runs the closures against that index, so a
certificate costs one tree walk plus a few dictionary lookups per rule. Every failed check is
reported; nothing stops at the first error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from lxml import etree

from intygstjanst.contracts.rules import kinds
from intygstjanst.contracts.rules import values as v
from intygstjanst.contracts.rules.dsl import Condition, ExpressionError, compile_condition


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

    def allows(self, n: int) -> bool:
        return n >= self.low and (self.high is None or n <= self.high)

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
    # Flattened once, because _check_answer runs for every answer of every certificate.
    part_counts: list[tuple[str, int, int | None, Part]] = field(init=False)

    def __post_init__(self) -> None:
        self.part_counts = [(p.id, p.count.low, p.count.high, p) for p in self.parts.values()]


@dataclass
class Rule:
    id: str
    for_each: str | None
    when: Condition | None
    check: Callable[[Any], list[str]]  # failing items -> message details; [] when satisfied
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


def _text(table: dict[str, Any], key: str, where: str, required: bool = True) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            raise DefinitionError(f"{where}: missing '{key}'")
        return None
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


def _condition(text: Any, where: str, known: set[str]) -> Condition:
    if not isinstance(text, str):
        raise DefinitionError(f"{where}: must be a condition string")
    try:
        condition = compile_condition(text)
    except ExpressionError as e:
        raise DefinitionError(f"{where}: {e}") from e
    unknown = sorted(r for r in condition.refs if r not in known)
    if unknown:
        raise DefinitionError(f"{where}: refers to {', '.join(unknown)}, which this type does not declare")
    return condition


def _reject_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise DefinitionError(f"{where}: unknown field(s) {', '.join(extra)}")


_KIND_FIELDS = {"kind", "when"}
_PART_FIELDS = {"id", "label", "count", "variant", "kind", "when"}


def _variants(part: dict[str, Any], where: str, known: set[str]) -> list[Variant]:
    tables = part.get("variant")
    if tables is None:
        tables = [{k: val for k, val in part.items() if k not in _PART_FIELDS or k == "kind"}] if "kind" in part else []
    elif "kind" in part:
        raise DefinitionError(f"{where}: give either 'kind' or [[variant]] tables, not both")
    if not tables:
        raise DefinitionError(f"{where}: missing 'kind' (use kind = \"unchecked\" for values the type does not check)")
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
        when = _condition(table["when"], f"{vwhere}.when", known) if "when" in table else None
        variants.append(Variant(when, check))
    return variants


def compile_definition(type_code: str, data: dict[str, Any]) -> Definition:
    """Build the checks of one type file (already parsed from TOML)."""
    questions_raw = data.get("question", [])
    if not isinstance(questions_raw, list):
        raise DefinitionError("'question' must be an array of tables ([[question]])")

    # First pass: ids, so that conditions can be checked for references to undeclared answers.
    known: set[str] = set()
    for n, q in enumerate(questions_raw, start=1):
        where = f"question[{n}]"
        if not isinstance(q, dict):
            raise DefinitionError(f"{where}: must be a table")
        qid = _text(q, "id", where)
        assert qid is not None
        if not _QUESTION_ID.fullmatch(qid):
            raise DefinitionError(f"{where}: id {qid!r} must be digits, e.g. \"6\"")
        if qid in known:
            raise DefinitionError(f"{where}: question {qid} is declared twice")
        known.add(qid)
        for m, p in enumerate(q.get("part", []), start=1):
            pid = _text(p, "id", f"question {qid}.part[{m}]") if isinstance(p, dict) else None
            if pid is None or not _PART_ID.fullmatch(pid) or pid.split(".")[0] != qid:
                raise DefinitionError(f"question {qid}.part[{m}]: id must be \"{qid}.<n>\", got {pid!r}")
            if pid in known:
                raise DefinitionError(f"question {qid}: sub-answer {pid} is declared twice")
            known.add(pid)

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
            _reject_unknown(p, _PART_FIELDS | set(kinds.OPTION_TYPES), pwhere)
            part = Part(
                id=pid,
                label=_text(p, "label", pwhere) or pid,
                count=_count(p.get("count"), pwhere, "0..1"),
                variants=_variants(p, pwhere, known),
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
            label=_text(q, "label", where) or qid,
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

    rules = [_rule(r, n, known, label_of) for n, r in enumerate(data.get("rule", []), start=1)]
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
        label_of=label_of,
    )


def _rule(r: Any, n: int, known: set[str], label_of: dict[str, str]) -> Rule:
    if not isinstance(r, dict):
        raise DefinitionError(f"rule[{n}]: must be a table")
    where = f"rule[{n}]"
    rid = _text(r, "id", where)
    assert rid is not None
    where = f"rule {rid}"
    _reject_unknown(r, {"id", "for_each", "when", "check", "require", "forbid", "message"}, where)
    for_each = _text(r, "for_each", where, required=False)
    if for_each is not None and for_each not in known:
        raise DefinitionError(f"{where}: 'for_each' names {for_each}, which this type does not declare")
    when = _condition(r["when"], f"{where}.when", known) if "when" in r else None
    message = _text(r, "message", where, required=False)

    forms = [k for k in ("check", "require", "forbid") if k in r]
    if len(forms) != 1:
        raise DefinitionError(f"{where}: give exactly one of 'check', 'require' or 'forbid'")
    form = forms[0]
    if form == "check":
        condition = _condition(r["check"], f"{where}.check", known)
        if message is None:
            raise DefinitionError(f"{where}: a 'check' rule needs a 'message'")
        holds = condition.fn
        return Rule(rid, for_each, when, lambda ctx: [] if holds(ctx) else [""], message)

    refs = r[form]
    if isinstance(refs, str):
        refs = [refs]
    if not isinstance(refs, list) or not refs or not all(isinstance(x, str) and x in known for x in refs):
        raise DefinitionError(f"{where}: '{form}' must list declared question or sub-answer ids")
    wanted = form == "require"

    def check(ctx: Any, refs: list[str] = refs) -> list[str]:
        return [ref for ref in refs if bool(ctx.resolve(ref)) != wanted]

    if message is None:
        names = ", ".join(f"{ref} '{label_of[ref]}'" for ref in refs)
        condition_text = f"when {when.text}, " if when is not None else ""
        message = f"{condition_text}{names} must {'be answered' if wanted else 'not be answered'}"
        message = message[0].upper() + message[1:]
    return Rule(rid, for_each, when, check, message)


# -- validation --------------------------------------------------------------------------------


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


_SVAR_XPATH = etree.XPath("g:svar", namespaces={"g": v.GN})
_DELSVAR_XPATH = etree.XPath("g:svar/g:delsvar", namespaces={"g": v.GN})
_INSTANS_XPATH = etree.XPath("g:svar/g:instans", namespaces={"g": v.GN})


def _select(xpath: etree.XPath, element: etree._Element) -> list[etree._Element]:
    return cast(list[etree._Element], xpath(element))


class Certificate:
    """One certificate, indexed for the checks (answers and sub-answers by id)."""

    def __init__(self, intyg: etree._Element, today: dt.date) -> None:
        self.intyg = intyg
        self.today = today
        self.answers: list[_Answer] = []
        self.by_question: dict[str, list[_Answer]] = {}
        self.question_elements: dict[str, list[etree._Element]] = {}
        self.by_part: dict[str, list[etree._Element]] = {}
        self._answer_of: dict[etree._Element, _Answer] = {}
        self._birth: tuple[list[dt.date], list[float]] | None = None
        self.memo: dict[str, dict[etree._Element, Any]] = {}
        # Two compiled XPath calls select the elements in C; this is the hot path of every request.
        by_question, question_elements, answer_of = self.by_question, self.question_elements, self._answer_of
        for child in _select(_SVAR_XPATH, intyg):
            qid = child.get("id", "")
            same = by_question.get(qid)
            if same is None:
                same = by_question[qid] = []
                question_elements[qid] = []
            answer = _Answer(child, qid, len(same) + 1)
            same.append(answer)
            question_elements[qid].append(child)
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
        return self._answer_of.get(element.getparent())  # type: ignore[arg-type]

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


_NONE: list[etree._Element] = []


class Scope:
    """Evaluation context of one rule at one anchor (see dsl.Context)."""

    __slots__ = ("cert", "answer", "anchor", "today", "memo")

    def __init__(self, cert: Certificate, answer: _Answer | None, anchor: etree._Element | None) -> None:
        self.cert = cert
        self.answer = answer
        self.anchor = anchor
        self.today = cert.today
        self.memo = cert.memo

    def resolve(self, ref: str) -> list[etree._Element]:
        if ref == ".":
            return self.itself()
        qid, dot, _ = ref.partition(".")
        return self.parts(ref, qid) if dot else self.questions(ref)

    def itself(self) -> list[etree._Element]:
        return [self.anchor if self.anchor is not None else self.cert.intyg]

    def questions(self, qid: str) -> list[etree._Element]:
        return self.cert.question_elements.get(qid, _NONE)

    def parts(self, pid: str, qid: str) -> list[etree._Element]:
        answer = self.answer
        if answer is not None and answer.id == qid:
            return answer.parts.get(pid, _NONE)
        return self.cert.by_part.get(pid, _NONE)

    def birthdate(self) -> list[dt.date]:
        return self.cert._birth_facts()[0]

    def birthyear(self) -> list[float]:
        return self.cert._birth_facts()[1]


class Engine:
    """Runs a compiled Definition over certificates."""

    def __init__(self, definition: Definition) -> None:
        self.d = definition

    def validate(self, intyg: etree._Element, today: dt.date | None = None) -> list[RuleViolation]:
        cert = Certificate(intyg, today or dt.date.today())
        out: list[RuleViolation] = []
        code = self.d.type_code

        def fail(rule_id: str, element: etree._Element | None, message: str) -> None:
            out.append(RuleViolation(code, rule_id, cert.path(element), message))

        self._check_questions(cert, fail)
        self._check_parts(cert, fail)
        whole = Scope(cert, None, None)
        for rule in self.d.rules:
            self._run_rule(rule, cert, fail, whole)
        return out

    def _check_questions(self, cert: Certificate, fail: Fail) -> None:
        d = self.d
        for qid, question in d.questions.items():
            answers = cert.by_question.get(qid, [])
            if not question.count.allows(len(answers)):
                fail(
                    f"{qid}.count",
                    None,
                    f"Question {qid} '{question.label}' must be answered {question.count.describe()} (found {len(answers)})",
                )
            for answer in answers:
                self._check_answer(question, answer, fail)
            if question.unique is not None or question.no_overlap is not None:
                self._check_repeats(question, answers, fail)
            if question.descending is not None or question.consecutive_instances:
                self._check_instance_order(question, answers, fail)
        for answer in cert.answers:
            if answer.id not in d.questions:
                if d.supplementary and answer.id.isdigit() and int(answer.id) in SUPPLEMENTARY_IDS:
                    self._check_supplementary(answer, cert, fail)
                elif d.closed:
                    fail("unknown-question", answer.element, f"Question {answer.id} is not part of this certificate type")
        if d.positive_instances:
            for instans in _select(_INSTANS_XPATH, cert.intyg):
                if not v.xpath_number(v.string_value(instans)) >= 1:
                    svar = cast(etree._Element, instans.getparent())
                    fail("instance-number", svar, f"Instance number of question {svar.get('id')} must be 1 or more")

    def _check_answer(self, question: Question, answer: _Answer, fail: Fail) -> None:
        qid, el = question.id, answer.element
        if question.instance and len(answer.instances) != 1:
            fail(f"{qid}.instance", el, f"Each answer to question {qid} '{question.label}' must have one instance number")
        parts = answer.parts
        for pid, low, high, part in question.part_counts:
            n = len(parts[pid]) if pid in parts else 0
            if n < low or (high is not None and n > high):
                fail(
                    f"{pid}.count",
                    el,
                    f"Sub-answer {pid} '{part.label}' must occur {part.count.describe()} in question {qid} (found {n})",
                )
        if question.closed and not parts.keys() <= question.parts.keys():
            extra = sorted(p for p in parts if p not in question.parts)
            if extra:
                allowed = ", ".join(question.parts) or "none"
                fail(
                    f"{qid}.unknown-part",
                    el,
                    f"Question {qid} has no sub-answer {', '.join(extra)} (allowed: {allowed})",
                )

    def _check_repeats(self, question: Question, answers: list[_Answer], fail: Fail) -> None:
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
                own = _all_periods(answer.parts.get(no_overlap, []))
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

    def _check_instance_order(
        self, question: Question, answers: list[_Answer], fail: Fail
    ) -> None:
        numbered = [(_instance_number(a), a) for a in answers]
        if question.consecutive_instances:
            for n, answer in numbered:
                if n >= 2 and sum(1 for m, _ in numbered if m == n - 1) != 1:
                    fail(
                        f"{question.id}.instance-sequence",
                        answer.element,
                        f"Instance numbers of question {question.id} must run 1, 2, 3...; instance {n:g} has no single instance {n - 1:g} before it",
                    )
        pid = question.descending
        if pid is not None:
            for n, answer in numbered:
                mine = [d for e in answer.parts.get(pid, ()) if (d := v.parse_xs_date(v.string_value(e))) is not None]
                lower = [
                    d
                    for m, other in numbered
                    if m < n
                    for e in other.parts.get(pid, ())
                    if (d := v.parse_xs_date(v.string_value(e))) is not None
                ]
                if any(d < own for d in lower for own in mine):
                    fail(
                        f"{pid}.chronology",
                        answer.parts[pid][0],
                        f"Date in {pid} of instance {n:g} must not be after the date of an answer with a lower instance number",
                    )

    def _check_supplementary(
        self, answer: _Answer, cert: Certificate, fail: Fail
    ) -> None:
        qid, el = answer.id, answer.element
        if int(qid) < _SUPPLEMENTARY_CHECKED_FROM:
            return
        count = sum(len(parts) for parts in answer.parts.values())
        if count != 1:
            fail("supplementary.parts", el, f"Supplementary question {qid} must have exactly one sub-answer (found {count})")
        earlier = cert.answers[: cert.answers.index(answer)]
        if any(a.id == qid for a in earlier):
            fail("supplementary.duplicate", el, f"Supplementary question {qid} occurs more than once")
        text_check = _SUPPLEMENTARY_TEXT
        for parts in answer.parts.values():
            for sub in parts:
                for problem in text_check(sub):
                    fail(f"supplementary.{problem.check}", sub, f"Supplementary answer {sub.get('id')} {problem.message}")

    def _check_parts(self, cert: Certificate, fail: Fail) -> None:
        declared = self.d.parts
        # Walk the sub-answers present (usually far fewer than the type declares).
        for pid, elements in cert.by_part.items():
            part = declared.get(pid)
            if part is None:
                continue
            for element in elements:
                scope: Scope | None = None
                for variant in part.variants:
                    if variant.when is not None:
                        scope = scope or Scope(cert, cert.owner(element), element)
                        if not variant.when.fn(scope):
                            continue
                    for problem in variant.check(element):
                        fail(f"{pid}.{problem.check}", element, f"Sub-answer {pid} '{part.label}' {problem.message}")
                    break

    def _run_rule(
        self, rule: Rule, cert: Certificate, fail: Fail, whole: Scope
    ) -> None:
        if rule.for_each is None:
            scopes = [whole]
        elif "." in rule.for_each:
            scopes = [Scope(cert, cert.owner(e), e) for e in cert.by_part.get(rule.for_each, ())]
        else:
            scopes = [Scope(cert, a, a.element) for a in cert.by_question.get(rule.for_each, ())]
        when = rule.when.fn if rule.when is not None else None
        for scope in scopes:
            if when is not None and not when(scope):
                continue
            failing = rule.check(scope)
            if failing:
                detail = f" (missing or not allowed: {', '.join(failing)})" if len(failing) > 1 else ""
                fail(rule.id, scope.anchor, rule.message + detail)


_SUPPLEMENTARY_TEXT = kinds.build("text", {})


def _instance_number(answer: _Answer) -> float:
    # XPath number() of the instance element: NaN when absent, so every comparison fails.
    return v.xpath_number(v.string_value(answer.instances[0])) if len(answer.instances) == 1 else float("nan")


def _codes(elements: list[etree._Element]) -> list[str]:
    return [v.normalize_space(v.string_value(c)) for e in elements for c in v.descendants_path(e, v.CV, v.CODE)]


def _all_periods(elements: list[etree._Element]) -> list[tuple[str, str]]:
    # Compared as normalized ISO text, which orders like the dates for well-formed values.
    out = []
    for e in elements:
        for period in v.children(e, v.DATE_PERIOD):
            start = "".join(v.normalize_space(v.string_value(s)) for s in v.children(period, v.START))
            end = "".join(v.normalize_space(v.string_value(s)) for s in v.children(period, v.END))
            out.append((start, end))
    return out
