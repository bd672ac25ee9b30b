"""Facts other features read out of a certificate: diagnoses, sick-leave periods, employment...

Where these facts live differs per type (LISJP keeps the sick-leave degree as a code in 32.1,
AG1-14 as a percentage in 7.1), so each type file says where they are in a ``[facts]`` table and
the features (sick leave, statistics) read them through :class:`CertificateFacts` without knowing
the type.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lxml import etree

from intygstjanst.certificates.rules import values as v
from intygstjanst.certificates.rules.engine import Certificate, DefinitionError


@dataclass(frozen=True, slots=True)
class Diagnosis:
    code: str
    code_system: str
    text: str | None  # the free-text description next to the code, when the type has one
    rank: int  # 0 = main diagnosis, 1.. = secondary diagnoses in the order the type lists them


@dataclass(frozen=True, slots=True)
class SickLeavePeriod:
    start: dt.date | None
    end: dt.date | None
    degree: int | None  # work capacity reduction in percent (100 = full-time sick leave)
    degree_code: str | None  # the type's own code for the degree, e.g. HALFTEN; None for percentages


@dataclass(frozen=True)
class CertificateFacts:
    diagnoses: tuple[Diagnosis, ...] = ()
    sick_leave: tuple[SickLeavePeriod, ...] = ()
    employment: tuple[str, ...] = ()  # occupation codes, e.g. NUVARANDE_ARBETE
    # The certificate answers true to the type's ``sick_leave.not_when`` sub-answer (infection
    # control): its periods are no sick leave.
    sick_leave_excluded: bool = False
    # Reads :attr:`statistics` when it is first asked for: a registration never asks, and reading
    # them cost it 4% of its processor time.
    statistics_of: Callable[[], dict[str, tuple[str, ...]]] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def statistics(self) -> dict[str, tuple[str, ...]]:
        """Sub-answer id -> values (codes for coded answers, normalized text otherwise) of the
        questions statistics uses."""
        return self.statistics_of() if self.statistics_of is not None else {}


@dataclass(frozen=True)
class FactsSpec:
    diagnoses: tuple[tuple[str, str | None], ...] = ()  # (code sub-answer, text sub-answer)
    sick_leave_question: str | None = None
    sick_leave_degree: str | None = None
    sick_leave_period: str | None = None
    degrees: dict[str, int] = field(default_factory=dict)  # degree code -> percent; empty = numeric
    sick_leave_listed: bool = False  # the periods are sick-leave data (the rehab coordination lists)
    sick_leave_not_when: str | None = None  # a boolean sub-answer that, true, makes them no sick leave
    employment: str | None = None
    statistics: tuple[str, ...] = ()

    def extract(self, intyg: etree._Element) -> CertificateFacts:
        return self.extract_indexed(Certificate(intyg, dt.date.today()))

    def extract_indexed(self, cert: Certificate) -> CertificateFacts:
        """As :meth:`extract`, on a certificate already indexed (shared with the rule checks)."""
        diagnoses = []
        for rank, (code_id, text_id) in enumerate(self.diagnoses):
            for element in cert.by_part.get(code_id, ()):
                code = _first(element, v.CV, v.CODE)
                if not code:
                    continue
                text = None
                if text_id is not None:
                    answer = cert.owner(element)
                    texts = answer.parts.get(text_id, []) if answer is not None else []
                    text = v.normalize_space(v.string_value(texts[0])) if texts else None
                diagnoses.append(Diagnosis(code, _first(element, v.CV, v.CODE_SYSTEM), text, rank))
        periods = []
        if self.sick_leave_question is not None:
            for answer in cert.by_question.get(self.sick_leave_question, ()):
                periods.append(self._period(answer.parts))
        employment = tuple(
            _first(e, v.CV, v.CODE) for e in cert.by_part.get(self.employment or "", ()) if _first(e, v.CV, v.CODE)
        )
        def statistics() -> dict[str, tuple[str, ...]]:
            return {
                pid: tuple(_value(e) for e in elements)
                for pid, elements in cert.by_part.items()
                if pid.split(".")[0] in self.statistics
            }

        excluded = self.sick_leave_not_when is not None and any(
            v.normalize_space(v.string_value(e)) in ("true", "1") for e in cert.by_part.get(self.sick_leave_not_when, ())
        )
        return CertificateFacts(tuple(diagnoses), tuple(periods), employment, excluded, statistics)

    def _period(self, parts: dict[str, list[etree._Element]]) -> SickLeavePeriod:
        start = end = None
        for element in parts.get(self.sick_leave_period or "", [])[:1]:
            start = v.parse_xs_date(_first(element, v.DATE_PERIOD, v.START))
            end = v.parse_xs_date(_first(element, v.DATE_PERIOD, v.END))
        degree = code = None
        for element in parts.get(self.sick_leave_degree or "", [])[:1]:
            if self.degrees:
                code = _first(element, v.CV, v.CODE)
                degree = self.degrees.get(code)
            else:
                number = v.xpath_number(_first(element, v.PQ, v.VALUE) or v.string_value(element))
                degree = round(number) if number == number else None
        return SickLeavePeriod(start, end, degree, code)


def _first(element: etree._Element, *path: str) -> str:
    found = v.descendants_path(element, *path)
    return v.normalize_space(v.string_value(found[0])) if found else ""


def _value(element: etree._Element) -> str:
    return _first(element, v.CV, v.CODE) or v.normalize_space(v.string_value(element))


def compile_facts(table: Any, known: set[str]) -> FactsSpec:
    """Read the ``[facts]`` table of a type file."""
    if table is None:
        return FactsSpec()
    if not isinstance(table, dict):
        raise DefinitionError("'facts' must be a table")
    extra = sorted(set(table) - {"diagnoses", "sick_leave", "employment", "statistics"})
    if extra:
        raise DefinitionError(f"facts: unknown field(s) {', '.join(extra)}")

    def ref(value: Any, where: str) -> str:
        if not isinstance(value, str) or value not in known:
            raise DefinitionError(f"facts.{where}: {value!r} is not a declared question or sub-answer")
        return value

    diagnoses = []
    for n, d in enumerate(table.get("diagnoses", []), start=1):
        if not isinstance(d, dict) or "code" not in d:
            raise DefinitionError(f"facts.diagnoses[{n}]: needs a 'code' sub-answer id")
        diagnoses.append((ref(d["code"], f"diagnoses[{n}].code"), ref(d["text"], f"diagnoses[{n}].text") if "text" in d else None))

    sick = table.get("sick_leave")
    question = degree = period = not_when = None
    degrees: dict[str, int] = {}
    listed = False
    if sick is not None:
        if not isinstance(sick, dict):
            raise DefinitionError("facts.sick_leave: must be a table")
        question = ref(sick.get("question"), "sick_leave.question")
        degree = ref(sick.get("degree"), "sick_leave.degree")
        period = ref(sick.get("period"), "sick_leave.period")
        raw = sick.get("degrees", {})
        if not isinstance(raw, dict) or not all(isinstance(x, int) and 0 <= x <= 100 for x in raw.values()):
            raise DefinitionError("facts.sick_leave.degrees: must map codes to percentages 0-100")
        degrees = dict(raw)
        extra = sorted(set(sick) - {"question", "degree", "period", "degrees", "lists", "not_when"})
        if extra:
            raise DefinitionError(f"facts.sick_leave: unknown field(s) {', '.join(extra)}")
        listed = sick.get("lists", False)
        if not isinstance(listed, bool):
            raise DefinitionError("facts.sick_leave.lists: must be true or false")
        not_when = sick.get("not_when")
        # Not necessarily a declared sub-answer: an open type (FK7263) need not declare the question.
        if not_when is not None and not (isinstance(not_when, str) and re.fullmatch(r"\d+\.\d+", not_when)):
            raise DefinitionError(f"facts.sick_leave.not_when: {not_when!r} is not a sub-answer id such as '27.1'")
    employment = ref(table["employment"], "employment") if "employment" in table else None
    statistics = table.get("statistics", [])
    if not isinstance(statistics, list):
        raise DefinitionError("facts.statistics: must be a list of question ids")
    return FactsSpec(
        diagnoses=tuple(diagnoses),
        sick_leave_question=question,
        sick_leave_degree=degree,
        sick_leave_period=period,
        degrees=degrees,
        sick_leave_listed=listed,
        sick_leave_not_when=not_when,
        employment=employment,
        statistics=tuple(ref(s, "statistics") for s in statistics),
    )
