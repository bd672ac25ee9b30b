"""Export and erasure of a large care giver, on PostgreSQL.

    python benchmarks/caregiver_export.py postgresql+psycopg://postgres@127.0.0.1:5432/intyg_lifecycle_bench --replace

Generates one care giver (20 units) with ``--certificates`` (100,000) certificates through
benchmarks/generate_certificates.py (complete RegisterCertificate v3 documents with their states and
relations), then runs ``intygstjanst caregiver export`` and ``intygstjanst caregiver erase`` as the
operator would, each in a process of its own, and prints for each: the time, certificates per
second, the CPU time the process used and the CPU time of its PostgreSQL backends (found by their
application_name, read from /proc: the server must run on this machine), and the process's resident
memory (VmRSS) as the run passes 10 %, 50 % and 100 % of the certificates, and its peak (VmHWM).
Flat memory means the 10 % and 100 % figures agree. The erase includes its check of every
certificate against the manifest before anything is removed.

CPU seconds per 1,000 certificates hardly depend on the machine's other load, as the wall time
does: on an otherwise idle machine the command and its backend take turns (one statement at a
time), so the wall time is about their CPU time added up, plus the disk's syncs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate_certificates as generator  # noqa: E402  (a sibling script, not a package)
from sqlalchemy.engine import make_url  # noqa: E402


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in MiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) // 1024
    return found


class Backends:
    """The CPU seconds used so far by the PostgreSQL backends serving connections named
    ``application``: read from /proc at every progress report (the last batch's few statements
    after the last report are not counted)."""

    def __init__(self, admin_dsn: str, application: str) -> None:
        import psycopg

        self._conn = psycopg.connect(admin_dsn, autocommit=True)
        self._application = application
        self._used: dict[int, float] = {}

    def sample(self) -> None:
        query = "SELECT pid FROM pg_stat_activity WHERE application_name = %s"
        for (pid,) in self._conn.execute(query, (self._application,)).fetchall():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self._used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @property
    def seconds(self) -> float:
        return sum(self._used.values())

    def close(self) -> None:
        self._conn.close()


def run(command: list[str], total: int, backends: Backends) -> tuple[float, float, float, dict[int, int], int]:
    """Run ``command`` (which reports ``<verb> N certificates`` on stderr); the seconds, the CPU
    seconds the process and its database backends used (user + system: what the machine's other
    load changes little), RSS (MiB) at 10/50/100 % and the peak RSS."""
    marks = {total // 10: 10, total // 2: 50, total: 100}
    seen: dict[int, int] = {}
    peak = 0
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stderr is not None and process.stdout is not None
    for line in process.stderr:
        words = line.split()
        if len(words) == 3 and words[2] == b"certificates" and words[1].isdigit():
            done = int(words[1])
            backends.sample()
            sizes = memory(process.pid)
            peak = max(peak, sizes["VmHWM"])
            for mark, percent in marks.items():
                if done >= mark and percent not in seen:
                    seen[percent] = sizes["VmRSS"]
        else:
            sys.stderr.write(line.decode(errors="replace"))
    process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[3:6])} failed ({process.returncode})")
    return time.monotonic() - started, usage.ru_utime + usage.ru_stime, backends.seconds, seen, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database_url", help="PostgreSQL URL of the database to create")
    parser.add_argument("--certificates", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="certificates per batch (the commands' --batch)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--replace", action="store_true", help="drop the database first if it exists")
    args = parser.parse_args()

    generation = argparse.Namespace(
        database_url=args.database_url, certificates=args.certificates, patients=max(1, args.certificates // 2),
        care_units=generator.UNITS_PER_GIVER, focus=0, seed=args.seed, replace=args.replace,
    )  # fmt: skip
    generator.check_template()
    generator.load(generation)
    care_giver = generator.care_giver_id(0)
    out = Path(tempfile.mkdtemp(prefix="caregiver-export-"))
    base = [sys.executable, "-m", "intygstjanst.cli", "caregiver"]
    url = make_url(args.database_url)
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    try:
        results = []
        for name, command in (
            ("export", [*base, "export", care_giver, "--out", str(out / "export")]),
            ("erase", [*base, "erase", care_giver, "--manifest", str(out / "export" / "manifest.json"), "--operator", "benchmark"]),
        ):
            application = f"caregiver-benchmark-{name}"
            named = url.update_query_dict({"application_name": application}).render_as_string(hide_password=False)
            backends = Backends(admin_dsn, application)
            try:
                results.append((name, *run([*command, "--database-url", named, "--batch", str(args.batch)], args.certificates, backends)))
            finally:
                backends.close()
        size = sum(path.stat().st_size for path in (out / "export").iterdir())
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"care giver {care_giver}: {args.certificates:,} certificates, batches of {args.batch}; export {size / 2**20:.0f} MiB")
    print(f"uptime before: {uptime}")
    thousands = args.certificates / 1000
    for name, seconds, cpu, server, rss, peak in results:
        figures = ", ".join(f"{percent} %: {rss.get(percent, 0)} MiB" for percent in (10, 50, 100))
        print(
            f"{name:<7} {seconds:7.1f} s  {args.certificates / seconds:8,.0f} certificates/s  "
            f"CPU per 1,000 certificates: command {cpu / thousands:.2f} s + database {server / thousands:.2f} s "
            f"(= {args.certificates / (cpu + server):,.0f} certificates per CPU second)  RSS at {figures}; peak {peak} MiB"
        )
    print(f"uptime after:  {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


if __name__ == "__main__":
    main()
