"""Registry of certificate types, loaded from declarative data files.

Each certificate type and major version is one TOML file (format: README, "Certificate types and
their rules"). The files are read and compiled once at start-up; afterwards looking a type up and validating a
certificate against it are pure in-memory operations.

Type codes are matched case-insensitively, and a file can list extra spellings of its code
(``aliases``) that journal systems are known to send, e.g. ``AG114`` for ``AG1-14``. A file covers
one major version, the same granularity the certificate owners' Schematron files use (``6.7`` and
``6.8`` are both checked by the ``6`` file); it also lists the exact versions it supports
(``versions``), which RegisterCertificate v3 holds a certificate to, as the national service holds
it to its text versions (``1`` reads as ``1.0``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from intygstjanst.certificates.rules.engine import Certificate, table_text
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


def exact_version(version: str) -> str:
    """A certificate version as compared with the declared versions: ``'1'`` -> ``'1.0'``."""
    text = version.strip()
    return f"{text}.0" if text.isdigit() else text


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
    digest: str = ""  # of the file's bytes: tells a changed file on reload
    engine: Engine | None = None
    facts: FactsSpec = field(default_factory=FactsSpec)
    # The exact versions (major.minor) RegisterCertificate accepts, the national service's text
    # versions in force; empty: every minor version of the major (a file that does not say).
    versions: tuple[str, ...] = ()

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

    def supports(self, version: str) -> bool:
        """Whether ``version`` is one this type declares exactly (an integer ``N`` reads as ``N.0``,
        as the national service reads it)."""
        return not self.versions or exact_version(version) in self.versions


@dataclass(frozen=True)
class _Snapshot:
    """One complete, checked set of types; replaced as a whole when the set is reloaded."""

    by_key: dict[tuple[str, str], CertificateType]
    codes: frozenset[str]


class CertificateTypes:
    """All known certificate types, indexed by (code, major version).

    The set can be reloaded while the service runs (:meth:`reload`): the files are read and checked
    completely first, and only a set without errors replaces the one in use, in one reference
    assignment, so a request sees either the old set or the new one.
    """

    def __init__(self, types: Iterable[CertificateType], extra_dirs: Sequence[Path] = ()) -> None:
        self.extra_dirs = tuple(Path(d) for d in extra_dirs)
        self._snapshot = self._index(types)

    @staticmethod
    def _index(types: Iterable[CertificateType]) -> _Snapshot:
        by_key: dict[tuple[str, str], CertificateType] = {}
        for t in types:
            for code in t.codes:
                by_key[(normalize_code(code), t.version)] = t
        return _Snapshot(by_key, frozenset(code for code, _ in by_key))

    @classmethod
    def configured(cls, settings: Settings) -> CertificateTypes:
        """The built-in definitions plus those of ``certificate_types_dir``."""
        return cls.load([settings.certificate_types_dir] if settings.certificate_types_dir else [])

    @classmethod
    def load(cls, extra_dirs: Sequence[Path] = ()) -> CertificateTypes:
        """Built-in definitions plus those in ``extra_dirs``.

        A definition in a later directory replaces one for the same code and version from an
        earlier directory (operators may override built-in types); two files for the same code and
        version in one directory are an error. Every file is read before anything is refused, and
        :class:`CertificateTypeError` lists every broken file (with the line where it can tell).
        """
        merged: dict[tuple[str, str], CertificateType] = {}
        errors: list[str] = []
        for directory in (BUILTIN_DIR, *extra_dirs):
            directory = Path(directory)
            if not directory.is_dir():
                errors.append(f"{directory}: certificate-type directory does not exist")
                continue
            seen: dict[tuple[str, str], Path] = {}
            for path in sorted(directory.glob("*.toml")):
                try:
                    t = load_file(path)
                except CertificateTypeError as exc:
                    errors.append(str(exc))
                    continue
                key = (normalize_code(t.code), t.version)
                if key in seen:
                    errors.append(f"{path}: type {t.code} version {t.version} is already defined in {seen[key].name}")
                    continue
                seen[key] = path
                merged[key] = t
        if errors:
            raise CertificateTypeError("\n".join(errors))
        return cls(merged.values(), extra_dirs)

    def reload(self) -> str:
        """Read the same directories again and, when every file checks, use the new set.

        Raises :class:`CertificateTypeError` (the set in use stays) and otherwise says what changed.
        """
        return self.replace_with(type(self).load(self.extra_dirs))

    def replace_with(self, fresh: CertificateTypes) -> str:
        """Use ``fresh``'s types from now on (``fresh`` is already checked); says what changed."""
        summary = _changes(self.all(), fresh.all())
        self._snapshot = fresh._snapshot
        return summary

    def find(self, code: str, version: str) -> CertificateType | None:
        """The definition for this code and version, or None for an unknown type or unsupported version."""
        return self._snapshot.by_key.get((normalize_code(code), major_version(version)))

    def known_code(self, code: str) -> bool:
        return normalize_code(code) in self._snapshot.codes

    def all(self) -> list[CertificateType]:
        unique = {id(t): t for t in self._snapshot.by_key.values()}
        return sorted(unique.values(), key=lambda t: (t.code, int(t.version) if t.version.isdigit() else 0))


def _changes(old: list[CertificateType], new: list[CertificateType]) -> str:
    """'N types; added ...; changed ...; removed ...' between two sets."""
    before = {(t.code, t.version): t for t in old}
    after = {(t.code, t.version): t for t in new}
    parts = [f"{len(after)} types"]
    for label, keys in (
        ("added", [k for k in after if k not in before]),
        ("changed", [k for k in after if k in before and after[k].digest != before[k].digest]),
        ("removed", [k for k in before if k not in after]),
    ):
        if keys:
            parts.append(f"{label} {', '.join(f'{code} v{version}' for code, version in sorted(keys))}")
    return "; ".join(parts)


def load_file(path: Path) -> CertificateType:
    """Read and check one certificate-type file; errors name the file and, where it can be told,
    the line of the question, rule or field at fault."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        data = tomllib.loads(text)  # its errors say "(at line N, column M)"
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise CertificateTypeError(f"{path}: {e}") from e
    try:
        certificate_type = _build(path, data)
    except CertificateTypeError as e:
        raise CertificateTypeError(_located(str(e), path, text)) from None
    certificate_type.digest = hashlib.sha256(raw).hexdigest()
    return certificate_type


_ID_LINE = re.compile(r"""^\s*id\s*=\s*["']([^"']+)["']""")
_TABLE_LINE = re.compile(r"^\s*\[\[\s*(question|rule)\s*\]\]")
_INDEXED = re.compile(r"^(question|rule)\[(\d+)\]")


def _located(message: str, path: Path, text: str) -> str:
    """``message`` ("<path>: <where>: <problem>") with the line of <where> in the file added."""
    prefix = f"{path}: "
    detail = message[len(prefix):] if message.startswith(prefix) else message
    line = _line_of(detail, text.splitlines())
    return f"{path}, line {line}: {detail}" if line is not None else f"{path}: {detail}"


def _line_of(detail: str, lines: list[str]) -> int | None:
    ids = [(m.group(1), n) for n, line in enumerate(lines, start=1) if (m := _ID_LINE.match(line))]
    # The longest id the message names ("rule R2: ...", "question 1, sub-answer 1.2: ...").
    named = [
        (len(i), n) for i, n in ids
        if detail.startswith((f"rule {i}.", f"rule {i}:", f"question {i}:", f"question {i}.", f"question {i},"))
        or f"sub-answer {i}:" in detail or f"sub-answer {i}." in detail
    ]
    if named:
        return max(named)[1]
    indexed = _INDEXED.match(detail)
    if indexed:
        tables = [n for n, line in enumerate(lines, start=1) if (m := _TABLE_LINE.match(line)) and m.group(1) == indexed.group(1)]
        position = int(indexed.group(2))
        return tables[position - 1] if position <= len(tables) else None
    for pattern in (r"^facts", r"^\s*\[facts"), (r"field '(\w+)'", None), (r"unknown field\(s\) (\w+)", None), (r"^'(\w+)'", None):
        found = re.search(pattern[0], detail)
        if found is None:
            continue
        key = pattern[1] or rf"^\s*{re.escape(found.group(1))}\s*="
        for n, line in enumerate(lines, start=1):
            if re.match(key, line):
                return n
    return None


_TOP_LEVEL = {
    "code", "version", "versions", "name", "recipients", "aliases", "schematron",
    "closed", "supplementary_questions", "positive_instances", "question", "rule", "facts",
}


def _build(path: Path, data: dict[str, Any]) -> CertificateType:
    unknown = sorted(set(data) - _TOP_LEVEL)
    if unknown:
        raise CertificateTypeError(f"{path}: unknown field(s) {', '.join(unknown)}")

    def text(key: str, required: bool = True) -> str | None:
        try:
            return table_text(data, key, str(path), required)
        except DefinitionError as e:
            raise CertificateTypeError(str(e)) from None

    def strings(key: str) -> list[str]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise CertificateTypeError(f"{path}: field '{key}' must be a list of non-empty strings")
        return [v.strip() for v in value]

    version = text("version")
    assert version is not None
    if not version.isdigit():
        raise CertificateTypeError(f"{path}: field 'version' must be a major version number such as \"1\", got {version!r}")
    versions = strings("versions")
    wrong = [v for v in versions if not re.fullmatch(rf"{version}\.[0-9]+", v)]
    if wrong:
        raise CertificateTypeError(
            f"{path}: field 'versions' must list versions {version}.<minor> of this file's major version, got {', '.join(map(repr, wrong))}"
        )
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
        versions=tuple(versions),
        recipients=strings("recipients"),
        aliases=strings("aliases"),
        schematron=text("schematron", required=False),
        source=path,
        engine=Engine(definition),
        facts=facts,
    )
