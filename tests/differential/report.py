"""Print how many messages the differential suite compares, per contract and in total.

    /work/venv/bin/python -m intygstjanst.tests.differential.report

The README quotes these numbers; they are deterministic (fixed RNG seed).
"""

from __future__ import annotations

import sys
from pathlib import Path

from intygstjanst.tests.differential.cases import CASES
from intygstjanst.tests.differential.compare import run_case
from intygstjanst.tests.support import shared_dir


def summary_lines(shared: Path) -> list[str]:
    lines = [f"{'contract':<32} {'samples':>7} {'mutants':>8} {'valid':>7} {'invalid':>8} {'differ':>6}"]
    totals = [0, 0, 0, 0, 0]
    for case in CASES:
        report = run_case(case, shared)
        row = [report.samples, report.mutants, report.official_valid, report.official_invalid, len(report.disagreements)]
        totals = [total + value for total, value in zip(totals, row, strict=True)]
        lines.append(f"{case.key:<32} {row[0]:>7} {row[1]:>8} {row[2]:>7} {row[3]:>8} {row[4]:>6}")
    lines.append(f"{'total':<32} {totals[0]:>7} {totals[1]:>8} {totals[2]:>7} {totals[3]:>8} {totals[4]:>6}")
    lines.append(
        f"{totals[0] + totals[1]} messages compared ({totals[0]} samples, {totals[1]} mutants; "
        f"valid/invalid columns are the official verdicts on the mutants), {totals[4]} disagreements"
    )
    return lines


def main() -> int:
    shared = shared_dir()
    if not shared.is_dir():
        print(f"../shared/riv-contracts not found: {shared}", file=sys.stderr)
        return 2
    print("\n".join(summary_lines(shared)))
    differ = sum(len(run_case(case, shared).disagreements) for case in CASES)
    return 0 if differ == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
