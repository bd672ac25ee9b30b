"""Business-rule validation speed: the project's rule engine versus Saxon running the owners' files.

Usage:  python benchmarks/certificate_rules.py [--rounds N] [--saxon-rounds N] [--clock wall|cpu]

Both engines see the same corpus in one run: every RegisterCertificate sample under
../shared/riv-contracts/samples/RegisterCertificate and every Schematron test instance under
../shared/riv-contracts/schematron-tests, grouped by certificate type and version. Each
certificate is timed on its own, alternating between the engines so that load from other
processes hits both alike. One sample is the fastest of ``--repeat`` back-to-back runs of the same
certificate, which filters out the moments the process was descheduled on a busy machine (use
``--repeat 1`` for raw single runs). The table shows the median and 99th percentile of the samples
per type and the ratio of the medians.

What is timed:
* engine: ``CertificateType.validate(intyg)`` on the already parsed lxml element (the service
  parses and XSD-validates the request anyway before the rules run);
* Saxon: ``SchematronValidator.run`` with the stylesheet compiled beforehand (cached, as in the
  service) - serializing the element, Saxon parsing it, the transformation and reading its
  result, because that is what using Saxon on a request costs.

Targets (issue 3): engine median <= 1 ms and >= 16x faster than Saxon for every type.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from intygstjanst.certificates.certtypes import CertificateType, CertificateTypes
from intygstjanst.certificates.schematron import SchematronValidator

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "riv-contracts"
SCHEMATRON_DIR = SHARED / "intyg" / "clinicalprocess-healthcond-certificate-schematron" / "src" / "main" / "resources"
RG = "urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3"
GN = "urn:riv:clinicalprocess:healthcond:certificate:3"
TP = "urn:riv:clinicalprocess:healthcond:certificate:types:3"
# Fixed "today" so date rules behave the same in both engines on every run.
TODAY = dt.date(2026, 7, 1)
TARGET_MEDIAN_US = 1000.0
TARGET_RATIO = 16.0


def corpus(types: CertificateTypes) -> dict[CertificateType, list[etree._Element]]:
    files = sorted((SHARED / "samples" / "RegisterCertificate").glob("*.xml"))
    files += sorted((SHARED / "schematron-tests").rglob("*.xml"))
    groups: dict[CertificateType, list[etree._Element]] = defaultdict(list)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    for path in files:
        intyg = etree.parse(str(path), parser).getroot().find(f".//{{{RG}}}intyg")
        if intyg is None:
            continue
        found = types.find(intyg.findtext(f"{{{GN}}}typ/{{{TP}}}code") or "", intyg.findtext(f"{{{GN}}}version") or "")
        if found is not None:
            groups[found].append(intyg)
    return groups


def timed(clock: Callable[[], float], repeat: int, fn: Callable[..., object], *args: object) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        fn(*args)
        best = min(best, clock() - start)
    return best


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="timings per certificate for the engine")
    parser.add_argument("--saxon-rounds", type=int, default=3, help="timings per certificate for Saxon")
    parser.add_argument("--repeat", type=int, default=5, help="back-to-back runs per sample (the fastest counts)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="wall clock or process CPU time")
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        print(f"needs the reference files in {SHARED}", file=sys.stderr)
        return 2
    clock = time.perf_counter if args.clock == "wall" else time.process_time

    types = CertificateTypes.load()
    saxon = SchematronValidator(SCHEMATRON_DIR, types, today=TODAY)
    groups = corpus(types)
    # Warm up: compile every stylesheet once and let both engines touch every certificate.
    for t, certificates in groups.items():
        for intyg in certificates:
            t.validate(intyg, TODAY)
            if t.schematron:
                saxon.run(SCHEMATRON_DIR / t.schematron, intyg)
    gc.collect()
    gc.freeze()  # the corpus and compiled rules are long-lived; keep them out of GC passes

    rows = []
    for t, certificates in sorted(groups.items(), key=lambda item: (item[0].code, int(item[0].version))):
        ours: list[float] = []
        theirs: list[float] = []
        sch = SCHEMATRON_DIR / t.schematron if t.schematron else None
        for round_ in range(args.rounds):
            for intyg in certificates:
                ours.append(timed(clock, args.repeat, t.validate, intyg, TODAY))
                if sch is not None and round_ < args.saxon_rounds:
                    theirs.append(timed(clock, args.repeat, saxon.run, sch, intyg))
        rows.append((t, len(certificates), ours, theirs))

    print(f"{'type':10} {'ver':>3} {'n':>4} | {'engine median':>13} {'p99':>9} | {'Saxon median':>12} {'p99':>9} | {'ratio':>6}")
    print("-" * 82)
    failed = []
    for t, n, ours, theirs in rows:
        our_median = statistics.median(ours) * 1e6
        line = f"{t.code:10} {t.version:>3} {n:>4} | {our_median:10.0f} µs {p99(ours) * 1e6:6.0f} µs |"
        if theirs:
            their_median = statistics.median(theirs) * 1e6
            ratio = their_median / our_median
            line += f" {their_median / 1000:9.2f} ms {p99(theirs) * 1e3:6.2f} ms | {ratio:5.1f}x"
            if ratio < TARGET_RATIO:
                failed.append(f"{t.code} v{t.version}: {ratio:.1f}x < {TARGET_RATIO:.0f}x")
        else:
            line += f" {'(no official Schematron)':>23} |"
        if our_median > TARGET_MEDIAN_US:
            failed.append(f"{t.code} v{t.version}: median {our_median:.0f} µs > {TARGET_MEDIAN_US:.0f} µs")
        print(line)
    print(
        f"\nclock: {args.clock}; sample = fastest of {args.repeat} runs; "
        f"engine {args.rounds} samples, Saxon {args.saxon_rounds} samples per certificate"
    )
    if failed:
        print("targets missed: " + "; ".join(failed))
        return 1
    print(f"targets met: median <= {TARGET_MEDIAN_US:.0f} µs and >= {TARGET_RATIO:.0f}x faster than Saxon for every type")
    return 0


if __name__ == "__main__":
    sys.exit(main())
