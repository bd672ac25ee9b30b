"""Run the official and the project schema side by side and compare their verdicts."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from intygstjanst.tests.differential.cases import ContractCase
from intygstjanst.tests.differential.mutations import generate
from intygstjanst.tests.differential.vocabulary import Vocabulary
from intygstjanst.tests.support import REPO_DIR, payload_of

PROJECT_XSD_DIR = REPO_DIR / "xsd"
# Fixed so that the corpus, and so the reported counts, are the same on every run.
RNG_SEED = 20240521
# Per payload element and operator. Text and attribute values are tried exhaustively (every place
# with every value): facets and base types are where schemas most easily drift. The other big
# pools (places x element names or type names) are sampled.
OPERATOR_CAPS: dict[str, int | None] = {"set-text": None, "add-known-attribute": None, "insert-sibling": 1500, "xsi-type": 400}
DEFAULT_CAP = 400


@functools.cache
def compile_schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


def first_error(schema: etree.XMLSchema, element: etree._Element) -> str:
    """The first validation error of ``element`` (with its line), or "" when it is valid."""
    try:
        schema.assertValid(element)
    except etree.DocumentInvalid as error:
        return str(error)
    return ""


@dataclass(frozen=True)
class Probe:
    """A message both schemas judge, with the official verdict."""

    label: str
    kind: str  # "sample" or the mutation operator
    payload: str  # local name of the payload element it was made from
    element: etree._Element
    official_valid: bool


def sample_files(case: ContractCase, shared: Path) -> Iterator[Path]:
    for directory in case.sample_dirs:
        folder = shared / "samples" / directory
        if not folder.is_dir():
            raise FileNotFoundError(f"{case.key}: sample folder {folder} is missing")
        yield from sorted(folder.glob("*.xml"))


def probes(case: ContractCase, shared: Path) -> Iterator[Probe]:
    """The samples of ``case`` and the mutants of its seeds, judged by the official schema.

    A generator: the corpus of a big contract is tens of thousands of documents, too many to keep.
    """
    official = compile_schema(shared / case.official_xsd)
    for path in sample_files(case, shared):
        element = payload_of(path)
        label = f"sample {path.parent.name}/{path.name}"
        yield Probe(label, "sample", etree.QName(element).localname, element, official.validate(element))
    vocabulary = Vocabulary.of([shared / case.official_xsd, PROJECT_XSD_DIR / case.project_xsd])
    mutants = generate(
        case.seeds(shared),
        vocabulary=vocabulary,
        namespaces=case.mutation_namespaces,
        rng_seed=RNG_SEED,
        caps=OPERATOR_CAPS,
        default_cap=DEFAULT_CAP,
    )
    for mutant in mutants:
        valid = official.validate(mutant.element)
        yield Probe(f"mutant {mutant.label}", mutant.operator, mutant.payload, mutant.element, valid)


@dataclass
class CaseReport:
    key: str
    samples: int = 0
    mutants: int = 0
    mutants_by_payload: Counter[str] = field(default_factory=Counter)
    official_valid: int = 0  # mutants only: samples are what they are
    official_invalid: int = 0
    # (operator, official verdict) -> count: shows that every operator lands on both sides
    verdicts_by_operator: Counter[tuple[str, bool]] = field(default_factory=Counter)
    disagreements: list[str] = field(default_factory=list)

    @property
    def compared(self) -> int:
        return self.samples + self.mutants


def _disagreement(probe: Probe, official: etree.XMLSchema, project: etree.XMLSchema) -> str | None:
    if project.validate(probe.element) == probe.official_valid:
        return None

    def describe(schema: etree.XMLSchema) -> str:
        error = first_error(schema, probe.element)
        return f"rejects ({error})" if error else "accepts"

    return f"{probe.label}: official {describe(official)}, project {describe(project)}"


@functools.cache
def run_case(case: ContractCase, shared: Path) -> CaseReport:
    """Compare the project schema's verdicts with the official ones on every probe of ``case``."""
    official = compile_schema(shared / case.official_xsd)
    project = compile_schema(PROJECT_XSD_DIR / case.project_xsd)
    report = CaseReport(case.key)
    for probe in probes(case, shared):
        difference = _disagreement(probe, official, project)
        if difference:
            report.disagreements.append(difference)
        if probe.kind == "sample":
            report.samples += 1
            continue
        report.mutants += 1
        report.mutants_by_payload[probe.payload] += 1
        report.official_valid += probe.official_valid
        report.official_invalid += not probe.official_valid
        report.verdicts_by_operator[(probe.kind, probe.official_valid)] += 1
    return report


def first_disagreement(case: ContractCase, shared: Path, project_xsd: Path) -> str | None:
    """The first probe of ``case`` on which the schema ``project_xsd`` and the official one differ."""
    official = compile_schema(shared / case.official_xsd)
    project = etree.XMLSchema(etree.parse(str(project_xsd)))
    for probe in probes(case, shared):
        difference = _disagreement(probe, official, project)
        if difference:
            return difference
    return None
