"""Business rules of certificate types: the declarative format, its compiler and the engine.

``certtypes`` loads the type files; this package turns their content into checks
(:mod:`.engine`), value kinds (:mod:`.kinds`), the condition language (:mod:`.dsl`) and the facts
other features extract (:mod:`.facts`).
"""

from intygstjanst.certificates.rules.engine import DefinitionError, Engine, RuleViolation, compile_definition
from intygstjanst.certificates.rules.facts import CertificateFacts, Diagnosis, FactsSpec, SickLeavePeriod, compile_facts

__all__ = [
    "CertificateFacts",
    "DefinitionError",
    "Diagnosis",
    "Engine",
    "FactsSpec",
    "RuleViolation",
    "SickLeavePeriod",
    "compile_definition",
    "compile_facts",
]
