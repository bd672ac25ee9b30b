"""What the run tells people and machines: a live line per case, a summary table, the failed cases'
messages saved to a folder, and JUnit XML for CI systems."""

from __future__ import annotations

import datetime as dt
import re
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from lxml import etree

from intygstjanst.conformance.model import Case, Suite
from intygstjanst.conformance.runner import CaseResult, Status
from intygstjanst.conformance.transport import Exchange

_MARK = {Status.PASSED: "PASS", Status.FAILED: "FAIL", Status.SKIPPED: "SKIP"}


class Progress:
    """One line per case. On a terminal the line shows the running case first and is then replaced
    by its outcome; in a log (not a terminal) only the outcome lines are written."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.live = out.isatty()

    def case_started(self, index: int, total: int, suite: Suite, case: Case) -> None:
        if self.live:
            self.out.write(f"\r\033[K{_counter(index, total)} .... {suite.id} {case.id}")
            self.out.flush()

    def case_finished(self, index: int, total: int, result: CaseResult) -> None:
        line = f"{_counter(index, total)} {_MARK[result.status]} {result.suite.id} {result.case.id} ({result.seconds:.2f} s)"
        if result.status is not Status.PASSED:
            line += f"\n{' ' * (len(_counter(index, total)) + 6)}{result.reason}"
        self.out.write(("\r\033[K" if self.live else "") + line + "\n")
        self.out.flush()


def _counter(index: int, total: int) -> str:
    width = len(str(total))
    return f"[{index:>{width}}/{total}]"


def summary(results: Sequence[CaseResult], failures_dir: Path | None = None) -> str:
    """A table per suite (passed / failed / skipped), then each failure with its reason."""
    rows: dict[str, list[int]] = {}
    for result in results:
        counts = rows.setdefault(result.suite.id, [0, 0, 0])
        counts[[Status.PASSED, Status.FAILED, Status.SKIPPED].index(result.status)] += 1
    width = max([len("contract"), *(len(key) for key in rows)])
    lines = [f"{'contract':<{width}}  passed  failed  skipped", f"{'-' * width}  ------  ------  -------"]
    for key, (passed, failed, skipped) in rows.items():
        lines.append(f"{key:<{width}}  {passed:>6}  {failed:>6}  {skipped:>7}")
    totals = [sum(counts[i] for counts in rows.values()) for i in range(3)]
    lines.append(f"{'total':<{width}}  {totals[0]:>6}  {totals[1]:>6}  {totals[2]:>7}")
    failures = [r for r in results if r.status is Status.FAILED]
    if failures:
        lines += ["", "Failures:"]
        for result in failures:
            lines.append(f"  {result.id}: {result.reason}")
            if failures_dir is not None:
                lines.append(f"      messages: {case_dir(failures_dir, result)}")
    return "\n".join(lines)


def case_dir(root: Path, result: CaseResult) -> Path:
    return root / _safe(result.suite.id) / _safe(result.case.id)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def save_failures(results: Sequence[CaseResult], root: Path) -> list[Path]:
    """For each failed case: ``reason.txt`` and every request and answer of the case, numbered."""
    written = []
    for result in results:
        if result.status is not Status.FAILED:
            continue
        folder = case_dir(root, result)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "reason.txt").write_text(f"{result.id}: {result.case.title}\n\n{result.reason}\n", encoding="utf-8")
        for number, exchange in enumerate(result.exchanges, 1):
            if exchange.request:
                (folder / f"{number:02d}-request.xml").write_bytes(exchange.request)
            (folder / f"{number:02d}-response.txt").write_text(_describe_answer(exchange), encoding="utf-8")
            if exchange.response:
                (folder / f"{number:02d}-response.xml").write_bytes(exchange.response)
        written.append(folder)
    return written


def _describe_answer(exchange: Exchange) -> str:
    head = f"{exchange.method} {exchange.url}\n"
    if exchange.error is not None:
        return head + f"no answer: {exchange.error}\n"
    headers = "".join(f"{name}: {value}\n" for name, value in exchange.response_headers.items())
    return head + f"HTTP {exchange.status} in {exchange.seconds * 1000:.0f} ms\n{headers}"


def junit_xml(results: Sequence[CaseResult], name: str = "intygstjanst conformance") -> bytes:
    """JUnit XML: a ``testsuite`` per contract, a ``testcase`` per case (classname = contract)."""
    root = etree.Element("testsuites", name=name)
    stamp = dt.datetime.now().replace(microsecond=0).isoformat()
    host = socket.gethostname()
    by_suite: dict[str, list[CaseResult]] = {}
    for result in results:
        by_suite.setdefault(result.suite.id, []).append(result)
    for suite_id, suite_results in by_suite.items():
        suite = etree.SubElement(
            root,
            "testsuite",
            name=suite_id,
            tests=str(len(suite_results)),
            failures=str(sum(r.status is Status.FAILED for r in suite_results)),
            errors="0",
            skipped=str(sum(r.status is Status.SKIPPED for r in suite_results)),
            time=f"{sum(r.seconds for r in suite_results):.3f}",
            timestamp=stamp,
            hostname=host,
        )
        for result in suite_results:
            case = etree.SubElement(
                suite, "testcase", classname=suite_id, name=result.case.id, time=f"{result.seconds:.3f}"
            )
            if result.status is Status.FAILED:
                failure = etree.SubElement(case, "failure", message=_xml_safe(result.reason), type=result.case.category)
                failure.text = _xml_safe(_failure_text(result))
            elif result.status is Status.SKIPPED:
                etree.SubElement(case, "skipped", message=_xml_safe(result.reason))
    for attribute in ("tests", "failures", "errors", "skipped"):
        root.set(attribute, str(sum(int(s.get(attribute, "0")) for s in root)))
    root.set("time", f"{sum(r.seconds for r in results):.3f}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """Reasons quote the producer's answers, which may hold characters XML 1.0 cannot carry."""
    return _NOT_XML.sub("?", text)


def _failure_text(result: CaseResult) -> str:
    lines = [result.case.title, result.reason]
    for exchange in result.exchanges:
        outcome = exchange.error or f"HTTP {exchange.status}"
        lines.append(f"{exchange.label}: {exchange.method} {exchange.url} -> {outcome}")
    return "\n".join(lines)
