"""Differential test: the project's XSD + rules give the official XSD + Schematron verdict.

Corpus: every RegisterCertificate sample in ../shared/riv-contracts/samples/RegisterCertificate and
every Schematron test instance in ../shared/riv-contracts/schematron-tests. For each message:

* official verdict: valid against the official RegisterCertificateResponder 3.1 XSD and no failed
  assert of the owner's Schematron file for its type and major version, run by
  ``contracts.schematron`` (messages of types or versions without a published file only need the XSD);
* project verdict: valid against the project's own XSD (xsd/interactions) and no violation from
  ``CertificateType.validate`` (messages whose type has no definition only need the XSD).

The official sets hold no message of AF00213, AF00251, TSTRK1009 or TSTRK1062, so for those types
the corpus is the project's own (``type_corpus``): complete certificates written from the owners'
Schematron files and a deterministic set of mutants of them, judged the same way.

Some rules compare with today's date (a basis for a certificate must not lie in the future,
diabetes dates must not be after today...), so both engines get the same fixed day; a second run
on another day shows that the date-dependent rules change their verdicts together.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from intygstjanst.certificates.certtypes import CertificateTypes
from intygstjanst.certificates.schematron import SchematronError, SchematronValidator
from intygstjanst.tests.differential import type_corpus
from intygstjanst.tests.support import REPO_DIR, payload_of, require_shared

RG = "urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3"
GN = "urn:riv:clinicalprocess:healthcond:certificate:3"
TP = "urn:riv:clinicalprocess:healthcond:certificate:types:3"
OFFICIAL_XSD = (
    "rivta/clinicalprocess-healthcond-certificate/schemas/interactions/RegisterCertificateInteraction/"
    "RegisterCertificateResponder_3.1.xsd"
)
OWN_XSD = REPO_DIR / "xsd" / "interactions" / "RegisterCertificateResponder_3.1.xsd"
SCHEMATRON = "intyg/clinicalprocess-healthcond-certificate-schematron/src/main/resources"
SAMPLES = 208
SCHEMATRON_TESTS = 97


class Oracle:
    def __init__(self, shared: Path) -> None:
        self.types = CertificateTypes.load()
        self.official_xsd = etree.XMLSchema(etree.parse(str(shared / OFFICIAL_XSD)))
        self.own_xsd = etree.XMLSchema(etree.parse(str(OWN_XSD)))
        self.schematron_dir = shared / SCHEMATRON

    def official(self, payload: etree._Element, today: dt.date) -> tuple[bool, str]:
        if not self.official_xsd.validate(payload):
            return False, f"XSD: {_first_error(self.official_xsd)}"
        try:
            failures = SchematronValidator(self.schematron_dir, self.types, today).validate(payload)
        except SchematronError as e:  # a dynamic XPath error in the owner's rules rejects the message
            return False, f"Schematron error: {e}"
        return not failures, "; ".join(str(f) for f in failures[:3])

    def project(self, payload: etree._Element, today: dt.date) -> tuple[bool, str]:
        if not self.own_xsd.validate(payload):
            return False, f"XSD: {_first_error(self.own_xsd)}"
        intyg = payload.find(f"{{{RG}}}intyg")
        assert intyg is not None
        found = self.types.find(
            intyg.findtext(f"{{{GN}}}typ/{{{TP}}}code") or "", intyg.findtext(f"{{{GN}}}version") or ""
        )
        violations = found.validate(intyg, today) if found is not None else []
        return not violations, "; ".join(str(v) for v in violations[:3])


def _first_error(schema: etree.XMLSchema) -> str:
    return str(schema.error_log).splitlines()[0]


@pytest.fixture(scope="module")
def oracle() -> Oracle:
    return Oracle(require_shared())


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, etree._Element]]:
    shared = require_shared()
    samples = sorted((shared / "samples" / "RegisterCertificate").glob("*.xml"))
    tests = sorted((shared / "schematron-tests").rglob("*.xml"))
    assert (len(samples), len(tests)) == (SAMPLES, SCHEMATRON_TESTS)
    return [(str(p.relative_to(shared)), payload_of(p)) for p in samples + tests]


def _disagreements(oracle: Oracle, corpus: list[tuple[str, etree._Element]], today: dt.date) -> tuple[int, list[str]]:
    agree, differ = 0, []
    for name, payload in corpus:
        official, why_official = oracle.official(payload, today)
        ours, why_ours = oracle.project(payload, today)
        if official == ours:
            agree += 1
        else:
            differ.append(f"{name}: official {official} ({why_official}) / project {ours} ({why_ours})")
    return agree, differ


@pytest.mark.parametrize("today", [dt.date(2026, 7, 1), dt.date(2019, 1, 1)], ids=str)
def test_same_verdict_as_official_xsd_and_schematron(oracle: Oracle, corpus: list[tuple[str, etree._Element]], today: dt.date) -> None:
    agree, differ = _disagreements(oracle, corpus, today)
    assert differ == []
    assert agree == SAMPLES + SCHEMATRON_TESTS == 305


def test_corpus_exercises_both_verdicts_for_every_type(oracle: Oracle, corpus: list[tuple[str, etree._Element]]) -> None:
    # Agreement only means something if each type is seen both accepted and rejected by its rules.
    seen: dict[str, set[bool]] = {}
    today = dt.date(2026, 7, 1)
    for _, payload in corpus:
        if not oracle.own_xsd.validate(payload):
            continue
        intyg = payload.find(f"{{{RG}}}intyg")
        assert intyg is not None
        found = oracle.types.find(intyg.findtext(f"{{{GN}}}typ/{{{TP}}}code") or "", intyg.findtext(f"{{{GN}}}version") or "")
        if found is not None and found.schematron is not None:
            seen.setdefault(f"{found.code} v{found.version}", set()).add(not found.validate(intyg, today))
    only_one_side = {t for t, verdicts in seen.items() if verdicts != {True, False}}
    # The samples hold only valid certificates of these (they are still compared above).
    assert only_one_side == {"FK7263 v1"}
    assert len(seen) == 13


# -- the types no official message covers ---------------------------------------------------------

NEW_TYPES = {"AF00213", "AF00251", "TSTRK1009", "TSTRK1062"}
NEW_TYPE_MESSAGES = 7553


@pytest.fixture(scope="module")
def new_type_corpus() -> list[tuple[str, str, etree._Element]]:
    return list(type_corpus.corpus())


def test_the_official_sets_hold_no_message_of_the_new_types(corpus: list[tuple[str, etree._Element]]) -> None:
    # If the official sets ever gain such messages, they are compared above as well.
    codes = {(payload.findtext(f".//{{{GN}}}typ/{{{TP}}}code") or "").upper() for _, payload in corpus}
    assert not codes & NEW_TYPES


def _new_type_disagreements(
    oracle: Oracle, messages: list[tuple[str, str, etree._Element]], today: dt.date
) -> tuple[dict[tuple[str, bool], int], list[str]]:
    verdicts: dict[tuple[str, bool], int] = {}
    differ = []
    for code, name, payload in messages:
        official, why_official = oracle.official(payload, today)
        ours, why_ours = oracle.project(payload, today)
        verdicts[(code, official)] = verdicts.get((code, official), 0) + 1
        if official != ours:
            differ.append(f"{name}: official {official} ({why_official}) / project {ours} ({why_ours})")
    return verdicts, differ


def test_new_types_same_verdict_as_official_xsd_and_schematron(
    oracle: Oracle, new_type_corpus: list[tuple[str, str, etree._Element]]
) -> None:
    verdicts, differ = _new_type_disagreements(oracle, new_type_corpus, dt.date(2026, 7, 1))
    assert differ == []
    assert len(new_type_corpus) == NEW_TYPE_MESSAGES
    # Every type is seen accepted and rejected, and by more than a handful of messages each way.
    assert {code for code, _ in verdicts} == NEW_TYPES
    assert all(verdicts.get((code, verdict), 0) >= 150 for code in NEW_TYPES for verdict in (True, False))


def test_new_types_date_rules_move_together(oracle: Oracle, new_type_corpus: list[tuple[str, str, etree._Element]]) -> None:
    # In 2017 the seeds' examination date (2018-11-20) lies in the future, and the year values a
    # mutant sets may lie ahead of either day: both engines change their verdicts together.
    seeds = [m for m in new_type_corpus if ":" not in m[1]]
    revalued = [m for m in new_type_corpus if " = " in m[1]]
    _, differ = _new_type_disagreements(oracle, seeds + revalued, dt.date(2017, 6, 1))
    assert differ == []
    later, _ = _new_type_disagreements(oracle, seeds, dt.date(2026, 7, 1))
    earlier, _ = _new_type_disagreements(oracle, seeds, dt.date(2017, 6, 1))
    assert later[("TSTRK1009", True)] == 2 and ("TSTRK1009", True) not in earlier
