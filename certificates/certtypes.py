"""Registry of certificate types, loaded from declarative data files.

Each certificate type and major version is one TOML file (format: README, "Certificate types and
their rules"). The files are read and compiled once at start-up; afterwards looking a type up and validating a
certificate against it are pure in-memory operations.

Type codes are matched case-insensitively, and a file can list extra spellings of its code
(``aliases``) that journal systems are known to send, e.g. ``AG114`` for ``AG1-14``. Versions are
matched on the major number only, the same granularity the certificate owners' Schematron files
use (``1`` and ``1.0`` are the same version; ``6.7`` and ``6.8`` are both covered by a ``6`` file).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from intygstjanst.certificates.rules.engine import Certificate
from intygstjanst.certificates.rules import (
    CertificateFacts,
    DefinitionError,
    Engine,
    FactsSpec,
    RuleViolation,
    compile_definition,
    compile_facts,
)

if TYPE_CHECKING:
    from intygstjanst.settings import Settings

__all__ = ["CertificateFacts", "CertificateType", "CertificateTypeError", "CertificateTypes", "RuleViolation", "load_file"]

BUILTIN_DIR = Path(__file__).resolve().parent / "certificate_types"


class CertificateTypeError(ValueError):
    """A certificate-type file is unreadable or inconsistent; the message names file and field."""


def normalize_code(code: str) -> str:
    return code.strip().upper()


def major_version(version: str) -> str:
    """The major part of a certificate version string ('1.0' -> '1', ' 6.8' -> '6')."""
    return version.strip().split(".", 1)[0]


@dataclass(eq=False)
class CertificateType:
    code: str
    version: str  # major version covered by this definition
    name: str
    recipients: list[str]
    aliases: list[str] = field(default_factory=list)
    # File name of the certificate owner's Schematron for this type and version, if one exists;
    # used only by the optional official-Schematron validator.
    schematron: str | None = None
    source: Path | None = None
    engine: Engine | None = None
    facts: FactsSpec = field(default_factory=FactsSpec)

    def validate(self, intyg: etree._Element, today: dt.date | None = None) -> list[RuleViolation]:
        """Every business rule this certificate breaks (empty list = valid).

        ``intyg`` is the RegisterCertificate ``intyg`` element; ``today`` (default: the real
        date) is what rules about "not in the future" compare with.
        """
        return self.engine.validate(intyg, today) if self.engine is not None else []

    def extract(self, intyg: etree._Element) -> CertificateFacts:
        """Diagnoses, sick-leave periods and other facts, located as this type's file says."""
        return self.facts.extract(intyg)

    def check(self, intyg: etree._Element, today: dt.date | None = None) -> tuple[list[RuleViolation], CertificateFacts]:
        """:meth:`validate` and :meth:`extract` in one pass: the certificate is indexed once,
        which is most of the cost of either on the registration path."""
        cert = Certificate(intyg, today or dt.date.today())
        violations = self.engine.validate_indexed(cert) if self.engine is not None else []
        return violations, self.facts.extract_indexed(cert)

    @property
    def codes(self) -> list[str]:
        return [self.code, *self.aliases]


class CertificateTypes:
    """All known certificate types, indexed by (code, major version)."""

    def __init__(self, types: Iterable[CertificateType]) -> None:
        self._types: dict[tuple[str, str], CertificateType] = {}
        self._codes: set[str] = set()
        for t in types:
            for code in t.codes:
                self._types[(normalize_code(code), t.version)] = t
                self._codes.add(normalize_code(code))

    @classmethod
    def configured(cls, settings: Settings) -> CertificateTypes:
        """The built-in definitions plus those of ``certificate_types_dir``."""
        return cls.load([settings.certificate_types_dir] if settings.certificate_types_dir else [])

    @classmethod
    def load(cls, extra_dirs: Sequence[Path] = ()) -> CertificateTypes:
        """Built-in definitions plus those in ``extra_dirs``.

        A definition in a later directory replaces one for the same code and version from an
        earlier directory (operators may override built-in types); two files for the same code and
        version in one directory are an error.
        """
        merged: dict[tuple[str, str], CertificateType] = {}
        for directory in (BUILTIN_DIR, *extra_dirs):
            directory = Path(directory)
            if not directory.is_dir():
                raise CertificateTypeError(f"{directory}: certificate-type directory does not exist")
            seen: dict[tuple[str, str], Path] = {}
            for path in sorted(directory.glob("*.toml")):
                t = load_file(path)
                key = (normalize_code(t.code), t.version)
                if key in seen:
                    raise CertificateTypeError(
                        f"{path}: type {t.code} version {t.version} is already defined in {seen[key].name}"
                    )
                seen[key] = path
                merged[key] = t
        return cls(merged.values())

    def find(self, code: str, version: str) -> CertificateType | None:
        """The definition for this code and version, or None for an unknown type or unsupported version."""
        return self._types.get((normalize_code(code), major_version(version)))

    def known_code(self, code: str) -> bool:
        return normalize_code(code) in self._codes

    def all(self) -> list[CertificateType]:
        unique = {id(t): t for t in self._types.values()}
        return sorted(unique.values(), key=lambda t: (t.code, int(t.version) if t.version.isdigit() else 0))


def load_file(path: Path) -> CertificateType:
    """Read and check one certificate-type file."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise CertificateTypeError(f"{path}: {e}") from e
    return _build(path, data)


_TOP_LEVEL = {
    "code", "version", "name", "recipients", "aliases", "schematron",
    "closed", "supplementary_questions", "positive_instances", "question", "rule", "facts",
}


def _build(path: Path, data: dict[str, Any]) -> CertificateType:
    unknown = sorted(set(data) - _TOP_LEVEL)
    if unknown:
        raise CertificateTypeError(f"{path}: unknown field(s) {', '.join(unknown)}")

    def text(key: str, required: bool = True) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                raise CertificateTypeError(f"{path}: missing required field '{key}'")
            return None
        if not isinstance(value, str) or not value.strip():
            raise CertificateTypeError(f"{path}: field '{key}' must be a non-empty string")
        return value.strip()

    def strings(key: str) -> list[str]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise CertificateTypeError(f"{path}: field '{key}' must be a list of non-empty strings")
        return [v.strip() for v in value]

    version = text("version")
    assert version is not None
    if not version.isdigit():
        raise CertificateTypeError(f"{path}: field 'version' must be a major version number such as \"1\", got {version!r}")
    code = text("code")
    name = text("name")
    assert code is not None and name is not None
    try:
        definition = compile_definition(code, data)
        facts = compile_facts(data.get("facts"), set(definition.label_of))
    except DefinitionError as e:
        raise CertificateTypeError(f"{path}: {e}") from e
    return CertificateType(
        code=code,
        version=version,
        name=name,
        recipients=strings("recipients"),
        aliases=strings("aliases"),
        schematron=text("schematron", required=False),
        source=path,
        engine=Engine(definition),
        facts=facts,
    )
