"""Optional validator running certificate owners' ISO Schematron files (``queryBinding='xslt2'``).

lxml's Schematron support stops at XSLT 1.0, so the owners' files, which use XPath 2 (``let``,
``matches``, ``castable as``...), are compiled here to an XSLT 3 stylesheet and run by Saxon
(saxonche). The compiler is this project's own and supports what ISO Schematron files for the
certificate types need:

* ``ns``, schema/pattern/rule level ``let``, ``pattern``, ``rule`` (first matching rule per
  pattern wins, as the standard requires), ``assert``, ``report``, ``value-of`` and ``name`` in
  messages;
* abstract rules pulled in with ``extends rule=...``;
* abstract patterns instantiated with ``is-a`` + ``param``, and ``include``.

Everything else (phases, diagnostics, ``extends href``...) is rejected with a clear error rather
than silently ignored, so a rule file is never run only in part.

Compiled stylesheets are cached per file. Saxon costs ~10-20 ms per certificate, which is why the
project's own rule engine (``contracts.rules``) is the default; this validator is the test oracle
and an option for operators who want the owners' files to be authoritative.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from lxml import etree

from intygstjanst.contracts.xml import is_element

if TYPE_CHECKING:
    from intygstjanst.certificates.certtypes import CertificateTypes

SCH = "http://purl.oclc.org/dsdl/schematron"
XSL = "http://www.w3.org/1999/XSL/Transform"
# Namespace of the small result document the generated stylesheets produce.
OUT = "urn:x-intygstjanst:schematron-result"
GN = "urn:riv:clinicalprocess:healthcond:certificate:3"
TP = "urn:riv:clinicalprocess:healthcond:certificate:types:3"
RG = "urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3"

# Stylesheet parameter holding the injected "today" (ISO date); empty means the real date.
TODAY_PARAM = "intygstjanst-schematron-today"
_TODAY_VAR = "intygstjanst-schematron-today-date"


class SchematronError(Exception):
    """A Schematron file cannot be compiled, or running it failed."""


@dataclass(frozen=True, slots=True)
class SchematronFailure:
    """A failed ``assert`` or a fired ``report``."""

    pattern: str  # pattern id (or its position when it has none)
    context: str  # the rule's context expression
    test: str  # the assert/report test expression
    location: str  # path of the node the rule fired on
    message: str  # the file's own message text, whitespace-normalized
    kind: str = "assert"  # "assert" or "report"

    def __str__(self) -> str:
        return f"{self.location}: {self.message} [{self.pattern}: {self.test}]"


# --------------------------------------------------------------------------------------------
# Compiler: ISO Schematron -> XSLT 3


def _q(tag: str) -> str:
    return f"{{{SCH}}}{tag}"


def _string_literal_split(expr: str) -> Iterator[tuple[bool, str]]:
    """(is_literal, text) chunks of an XPath expression, so rewrites never touch string literals."""
    pos = 0
    for m in re.finditer(r"'[^']*'|\"[^\"]*\"", expr):
        if m.start() > pos:
            yield False, expr[pos : m.start()]
        yield True, m.group(0)
        pos = m.end()
    if pos < len(expr):
        yield False, expr[pos:]


def _rewrite_today(expr: str) -> str:
    """Route current-date() through the injectable "today" so date-dependent rules are testable."""
    return "".join(
        text if literal else re.sub(r"\bcurrent-date\s*\(\s*\)", f"${_TODAY_VAR}", text)
        for literal, text in _string_literal_split(expr)
    )


def _substitute_params(expr: str, params: dict[str, str]) -> str:
    """Abstract-pattern parameters are textual macros ($name), longest names first."""
    for name in sorted(params, key=len, reverse=True):
        # A plain replacement string would treat backslashes in the value as escapes.
        expr = re.sub(r"\$" + re.escape(name) + r"(?![\w.-])", _literal(params[name]), expr)
    return expr


def _literal(value: str) -> Callable[[re.Match[str]], str]:
    return lambda _match: value


def _xsl(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{XSL}}}{tag}", attrib=attrs)


def _avt_literal(text: str) -> str:
    """Attribute text for a literal result element, where { and } start value templates."""
    return text.replace("{", "{{").replace("}", "}}")


class _Compiler:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, what: str, element: etree._Element | None = None) -> SchematronError:
        line = f":{element.sourceline}" if element is not None and element.sourceline else ""
        return SchematronError(f"{self.path}{line}: {what}")

    # -- loading, include and abstract-pattern expansion -------------------------------------

    def load(self) -> etree._Element:
        try:
            root = etree.parse(str(self.path), etree.XMLParser(remove_comments=True)).getroot()
        except (OSError, etree.XMLSyntaxError) as e:
            raise SchematronError(f"{self.path}: {e}") from e
        if root.tag != _q("schema"):
            raise self.fail("root element is not an ISO Schematron schema", root)
        binding = root.get("queryBinding", "xslt")
        if binding.lower() not in ("xslt2", "xslt3", "xpath2", "xpath3", "xpath31"):
            raise self.fail(f"queryBinding {binding!r} is not supported (XPath 2 or later required)", root)
        self._expand_includes(root, self.path, depth=0)
        self._instantiate_abstract_patterns(root)
        return root

    def _expand_includes(self, element: etree._Element, base: Path, depth: int) -> None:
        if depth > 20:
            raise self.fail("include nesting is too deep (a cycle?)", element)
        for inc in list(element.iter(_q("include"))):
            href = inc.get("href")
            if not href:
                raise self.fail("include without href", inc)
            target = (base.parent / href).resolve()
            try:
                included = etree.parse(str(target), etree.XMLParser(remove_comments=True)).getroot()
            except (OSError, etree.XMLSyntaxError) as e:
                raise self.fail(f"cannot include {href}: {e}", inc) from e
            self._expand_includes(included, target, depth + 1)
            parent = inc.getparent()
            assert parent is not None
            parent.replace(inc, included)

    def _instantiate_abstract_patterns(self, root: etree._Element) -> None:
        abstract = {p.get("id"): p for p in root.findall(_q("pattern")) if p.get("abstract") == "true"}
        for pattern in root.findall(_q("pattern")):
            if pattern.get("abstract") == "true":
                root.remove(pattern)
                continue
            is_a = pattern.get("is-a")
            if is_a is None:
                continue
            template = abstract.get(is_a)
            if template is None:
                raise self.fail(f"pattern is-a {is_a!r}, but no abstract pattern has that id", pattern)
            params = {p.get("name", ""): p.get("value", "") for p in pattern.findall(_q("param"))}
            concrete = etree.Element(_q("pattern"), id=pattern.get("id") or is_a)
            for child in template:
                copy = etree.fromstring(etree.tostring(child))
                for el in copy.iter():
                    for attr in ("context", "test", "select", "value"):
                        if attr in el.attrib:
                            el.set(attr, _substitute_params(el.get(attr, ""), params))
                concrete.append(copy)
            root.replace(pattern, concrete)

    # -- generation ---------------------------------------------------------------------------

    def compile(self) -> str:
        root = self.load()
        namespaces = {ns.get("prefix", ""): ns.get("uri", "") for ns in root.findall(_q("ns"))}
        namespaces.setdefault("xs", "http://www.w3.org/2001/XMLSchema")
        abstract_rules = {
            r.get("id"): r for r in root.iter(_q("rule")) if r.get("abstract") == "true" and r.get("id")
        }
        for unsupported in ("phase", "diagnostics", "properties"):
            if root.find(_q(unsupported)) is not None:
                raise self.fail(f"'{unsupported}' is not supported by this compiler")

        nsmap = {"xsl": XSL, "r": OUT, **namespaces}
        sheet = etree.Element(f"{{{XSL}}}stylesheet", nsmap=nsmap, version="3.0")
        sheet.set("exclude-result-prefixes", "#all")

        _xsl(sheet, "param", name=TODAY_PARAM, select="''")
        _xsl(
            sheet,
            "variable",
            name=_TODAY_VAR,
            select=f"if (${TODAY_PARAM} != '') then xs:date(${TODAY_PARAM}) else current-date()",
        )
        self._path_function(sheet)

        globals_seen: dict[str, str] = {}

        def global_let(let: etree._Element) -> None:
            name, value = let.get("name", ""), _rewrite_today(let.get("value", ""))
            if name in globals_seen:
                if globals_seen[name] != value:
                    raise self.fail(f"let {name!r} is defined twice with different values", let)
                return
            globals_seen[name] = value
            _xsl(sheet, "variable", name=name, select=value)

        for let in root.findall(_q("let")):
            global_let(let)

        main = _xsl(sheet, "template", match="/")
        report = etree.SubElement(main, f"{{{OUT}}}report")
        patterns = [p for p in root.findall(_q("pattern"))]
        for index, pattern in enumerate(patterns, start=1):
            mode = f"p{index}"
            pattern_id = pattern.get("id") or f"#{index}"
            _xsl(report, "apply-templates", select="/", mode=mode)
            for let in pattern.findall(_q("let")):
                global_let(let)
            rules = [r for r in pattern.findall(_q("rule")) if r.get("abstract") != "true"]
            for position, rule in enumerate(rules):
                context = rule.get("context")
                if not context:
                    raise self.fail("rule without context", rule)
                template = _xsl(
                    sheet, "template", match=_rewrite_today(context), mode=mode, priority=str(len(rules) - position)
                )
                self._rule_body(rule, template, pattern_id, context, abstract_rules, set())
                _xsl(template, "apply-templates", select="*", mode=mode)
            # Nodes no rule matched: keep walking down so deeper rules still fire.
            fallback = _xsl(sheet, "template", match="document-node()|*", mode=mode, priority="-1")
            _xsl(fallback, "apply-templates", select="*", mode=mode)
        return etree.tostring(sheet, encoding="unicode")

    @staticmethod
    def _path_function(sheet: etree._Element) -> None:
        # A readable location: local names, @id where present, positions among same-named siblings.
        fn = _xsl(sheet, "function", name="r:path", **{"as": "xs:string"})
        _xsl(fn, "param", name="node", **{"as": "node()"})
        etree.SubElement(
            fn,
            f"{{{XSL}}}sequence",
            select=(
                "string-join(for $e in $node/ancestor-or-self::* return concat('/', local-name($e), "
                "if ($e/@id) then concat('[@id=''', $e/@id, ''']') else '', "
                "'[', count($e/preceding-sibling::*[node-name(.) = node-name($e)]) + 1, ']'), '')"
            ),
        )

    def _rule_body(
        self,
        rule: etree._Element,
        template: etree._Element,
        pattern_id: str,
        context: str,
        abstract_rules: dict[str | None, etree._Element],
        visiting: set[str],
    ) -> None:
        for child in rule:
            if not is_element(child):
                continue
            if child.tag == _q("let"):
                etree.SubElement(
                    template,
                    f"{{{XSL}}}variable",
                    name=child.get("name", ""),
                    select=_rewrite_today(child.get("value", "")),
                )
            elif child.tag in (_q("assert"), _q("report")):
                test = child.get("test")
                if not test:
                    raise self.fail("assert/report without test", child)
                is_assert = child.tag == _q("assert")
                cond = f"not({_rewrite_today(test)})" if is_assert else _rewrite_today(test)
                iff = etree.SubElement(template, f"{{{XSL}}}if", test=cond)
                out = etree.SubElement(iff, f"{{{OUT}}}failure")
                out.set("kind", "assert" if is_assert else "report")
                out.set("pattern", _avt_literal(pattern_id))
                out.set("context", _avt_literal(context))
                out.set("test", _avt_literal(test))
                out.set("location", "{r:path(.)}")
                self._message(child, out)
            elif child.tag == _q("extends"):
                ref = child.get("rule")
                if ref is None:
                    raise self.fail("only extends rule=... is supported", child)
                base = abstract_rules.get(ref)
                if base is None:
                    raise self.fail(f"extends unknown abstract rule {ref!r}", child)
                if ref in visiting:
                    raise self.fail(f"abstract rule {ref!r} extends itself", child)
                self._rule_body(base, template, pattern_id, context, abstract_rules, visiting | {ref})
            elif child.tag not in (_q("title"), _q("p")):
                raise self.fail(f"unsupported element {etree.QName(child).localname!r} in a rule", child)

    def _message(self, source: etree._Element, out: etree._Element) -> None:
        """Copy message text, turning value-of/name into XSLT so the message shows actual values."""

        def text(value: str | None) -> None:
            if value:
                etree.SubElement(out, f"{{{XSL}}}text").text = value

        text(source.text)
        for child in source:
            if child.tag == _q("value-of"):
                etree.SubElement(out, f"{{{XSL}}}value-of", select=_rewrite_today(child.get("select", "")))
            elif child.tag == _q("name"):
                etree.SubElement(out, f"{{{XSL}}}value-of", select=f"name({child.get('path', '.')})")
            elif is_element(child):
                # Markup such as <emph> only formats the message; keep its text.
                text("".join(str(t) for t in child.itertext()))
            text(child.tail)


def compile_schematron(path: Path) -> str:
    """The XSLT 3 stylesheet (as text) equivalent to the Schematron file at ``path``."""
    return _Compiler(Path(path)).compile()


# --------------------------------------------------------------------------------------------
# Runner


class _Executable(Protocol):
    def set_parameter(self, name: str, value: object) -> None: ...
    def transform_to_string(self, *, xdm_node: object) -> str | None: ...


class _Xslt30Processor(Protocol):
    def compile_stylesheet(self, *, stylesheet_text: str) -> _Executable: ...


class _SaxonProcessor(Protocol):
    """The part of saxonche's ``PySaxonProcessor`` used here (saxonche ships no type information)."""

    def parse_xml(self, *, xml_text: str) -> object: ...
    def make_string_value(self, value: str) -> object: ...
    def new_xslt30_processor(self) -> _Xslt30Processor: ...


_saxon_lock = threading.Lock()
_saxon: _SaxonProcessor | None = None


def _processor() -> _SaxonProcessor:
    # One Saxon processor per process; saxonche objects are not safe to share across threads
    # without a lock, and all use goes through _saxon_lock.
    global _saxon
    if _saxon is None:
        from saxonche import PySaxonProcessor

        _saxon = PySaxonProcessor(license=False)
    return _saxon


@dataclass
class _Compiled:
    executable: _Executable


_COMPILED: dict[tuple[Path, int, int], _Compiled] = {}


class SchematronValidator:
    """Runs the Schematron file that applies to a certificate (selected by type code + version).

    ``directory`` holds the owners' files; which file applies to which type and major version is
    named in the certificate-type definitions (``schematron = "lisjp.v1.sch"``), so code matching
    (case, aliases) is the same as for the project's own rules.
    """

    def __init__(self, directory: Path, types: CertificateTypes | None = None, today: dt.date | None = None) -> None:
        from intygstjanst.certificates.certtypes import CertificateTypes

        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise SchematronError(f"{self.directory}: Schematron directory does not exist")
        self.types = types if types is not None else CertificateTypes.load()
        self.today = today

    def select(self, code: str, version: str) -> Path | None:
        """The Schematron file for this type and version, or None when the owner publishes none."""
        t = self.types.find(code, version)
        if t is None or t.schematron is None:
            return None
        path = self.directory / t.schematron
        return path if path.is_file() else None

    def validate(self, document: etree._Element | bytes | str) -> list[SchematronFailure]:
        """Failures for a certificate: an ``intyg`` element, a RegisterCertificate payload or a
        whole SOAP envelope (as an lxml element or serialized XML). No applicable file -> []."""
        root = _as_element(document)
        intyg = root if etree.QName(root).localname == "intyg" else root.find(f".//{{{RG}}}intyg")
        if intyg is None:
            raise SchematronError("no RegisterCertificate intyg element in the document")
        code = intyg.findtext(f"{{{GN}}}typ/{{{TP}}}code") or ""
        version = intyg.findtext(f"{{{GN}}}version") or ""
        path = self.select(code, version)
        if path is None:
            return []
        return self.run(path, root)

    def run(self, path: Path, document: etree._Element | bytes | str) -> list[SchematronFailure]:
        """Run one Schematron file on a document, regardless of the document's type."""
        xml = document if isinstance(document, (bytes, str)) else etree.tostring(document)
        if isinstance(xml, bytes):
            xml = xml.decode("utf-8") if not xml.lstrip().startswith(b"<?xml") else _decode_declared(xml)
        with _saxon_lock:
            compiled = self._compiled(Path(path))
            proc = _processor()
            try:
                node = proc.parse_xml(xml_text=xml)
                executable = compiled.executable
                executable.set_parameter(
                    TODAY_PARAM, proc.make_string_value(self.today.isoformat() if self.today else "")
                )
                result = executable.transform_to_string(xdm_node=node)
            except Exception as e:  # saxonche raises PySaxonApiError for dynamic XPath errors
                raise SchematronError(f"{path.name}: {e}") from e
        return _parse_result(result)

    @staticmethod
    def _compiled(path: Path) -> _Compiled:
        # Shared by all validators: a stylesheet does not depend on "today" (a run parameter).
        # Called with _saxon_lock held.
        path = path.resolve()
        try:
            stat = path.stat()
        except OSError as e:
            raise SchematronError(f"{path}: {e}") from e
        key = (path, stat.st_mtime_ns, stat.st_size)  # a replaced file is compiled again
        cached = _COMPILED.get(key)
        if cached is None:
            stylesheet = compile_schematron(path)
            xslt = _processor().new_xslt30_processor()
            try:
                executable = xslt.compile_stylesheet(stylesheet_text=stylesheet)
            except Exception as e:
                raise SchematronError(f"{path}: generated stylesheet does not compile: {e}") from e
            cached = _COMPILED[key] = _Compiled(executable)
        return cached


def _decode_declared(xml: bytes) -> str:
    # Saxon gets text; let lxml honour the encoding declared in the document.
    return etree.tostring(etree.fromstring(xml), encoding="unicode")


def _as_element(document: etree._Element | bytes | str) -> etree._Element:
    if isinstance(document, etree._Element):
        return document
    data = document.encode("utf-8") if isinstance(document, str) else document
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def _parse_result(result: str | None) -> list[SchematronFailure]:
    if not result:
        return []
    root = etree.fromstring(result.encode("utf-8"))
    return [
        SchematronFailure(
            pattern=f.get("pattern", ""),
            context=f.get("context", ""),
            test=f.get("test", ""),
            location=f.get("location", ""),
            message=" ".join((f.text or "").split()),
            kind=f.get("kind", "assert"),
        )
        for f in root.iter(f"{{{OUT}}}failure")
    ]
