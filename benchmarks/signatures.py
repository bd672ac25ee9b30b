"""What checking the doctor's signature costs: verification time per certificate, and registration
throughput with signature_mode report versus off.

    python benchmarks/signatures.py                  # 300 verifications, 1000 registrations per mode
    python benchmarks/signatures.py -n 4000 -c 16 --rounds 1000

Verification: the example LISJP (examples/RegisterCertificate-3.xml) signed by a doctor of a
throw-away development CA (ECDSA P-256, python-xmlsec), checked as the service checks it
(``SignatureChecker.check``: profile, digest, SignedInfo, chain to the trusted CA at the signing
time); and the official signed sample (RSA), when ../shared is beside the repository. Printed: the
median, 95th percentile and fastest wall time, and the median CPU time of the process (on a loaded
machine the wall time includes waiting for a core; the CPU time does not).

Throughput: the same signed certificates (one per id) registered over HTTP on a server this script
starts (SQLite, plain HTTP), once with signature_mode report and the CA trusted, once with off; the
client is register_certificate.py's asyncio load generator.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lxml import etree

from register_certificate import free_port, measure, start_server, stop  # the script's own folder

from intygstjanst.certificates.signature import REPORT, VALID, INVALID, SignatureChecker, Signed
from intygstjanst.certificates.signer_trust import SignerTrust
from intygstjanst.testing.signing import sign_intyg, stamp_signing_time
from intygstjanst.tls.pki import DevCa

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "RegisterCertificate-3.xml"
SIGNED_SAMPLE = REPO.parent / "shared/riv-contracts/samples/RegisterCertificate/webcert__signed-signed-lisjp-i18n.xml"
DOCTOR = "SE2321000016-EXLAK1"


def signed_envelopes(n: int, ca: DevCa, directory: Path) -> list[bytes]:
    issued = ca.issue_signing_cert(DOCTOR, directory / "signers")
    template = etree.parse(str(EXAMPLE)).getroot()
    intyg = template.find(".//{*}intyg")
    assert intyg is not None
    extension = intyg.find("{*}intygs-id/{*}extension")
    assert extension is not None
    stamp_signing_time(intyg)
    bodies = []
    started = time.perf_counter()
    for i in range(n):
        extension.text = f"bench-signed-{i:08d}"
        sign_intyg(intyg, issued.cert, issued.key)
        bodies.append(etree.tostring(template))
    print(f"signed {n} certificates with python-xmlsec in {time.perf_counter() - started:.1f} s")
    return bodies


def verification(label: str, checker: SignatureChecker, body: bytes, rounds: int, expected: str) -> None:
    intyg = etree.fromstring(body).find(".//{*}intyg")
    assert intyg is not None
    facts = Signed(
        (intyg.findtext("{*}intygs-id/{*}extension") or "").strip(),
        (intyg.findtext("{*}skapadAv/{*}personal-id/{*}extension") or "").strip(),
        dt.datetime.fromisoformat((intyg.findtext("{*}signeringstidpunkt") or "").strip()),
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    result = checker.check(intyg, facts, now)
    if result.status != expected:
        raise SystemExit(f"{label}: expected {expected}, got {result}")
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        checker.check(intyg, facts, now)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    walls.sort()
    print(
        f"verify {label}: median {statistics.median(walls) * 1000:.2f} ms, p95 {walls[int(len(walls) * 0.95)] * 1000:.2f} ms, "
        f"fastest {walls[0] * 1000:.2f} ms, CPU median {statistics.median(cpus) * 1000:.2f} ms ({rounds} rounds; result {result.status})"
    )


def throughput(mode: str, bodies: list[bytes], concurrency: int, bundle: Path, directory: Path) -> None:
    data = directory / f"data-{mode}"
    os.environ["INTYG_SIGNATURE_MODE"] = mode
    os.environ["INTYG_SIGNATURE_TRUST_BUNDLE"] = str(bundle)
    port = free_port()
    process = start_server(port, f"sqlite:///{data / 'bench.db'}", 1, directory / f"server-{mode}.log", data)
    try:
        run = measure(f"http://127.0.0.1:{port}", process.pid, bodies, concurrency)
    finally:
        stop(process)
    cpu = f", server CPU {run.cpu_per_request * 1000:.2f} ms/request" if run.cpu_per_request is not None else ""
    print(
        f"register, signature_mode {mode}: {run.throughput:.0f} certificates/s, p50 {run.p50 * 1000:.1f} ms, "
        f"p99 {run.p99 * 1000:.1f} ms{cpu}; answers {run.outcomes}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1000, help="certificates registered per mode (default 1000)")
    parser.add_argument("-c", type=int, default=8, help="concurrent connections (default 8)")
    parser.add_argument("--rounds", type=int, default=300, help="verifications timed (default 300)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        ca = DevCa.create(directory / "ca")
        checker = SignatureChecker(REPORT, SignerTrust.load(ca.cert_path, None))
        bodies = signed_envelopes(args.n, ca, directory)
        verification("a LISJP signed by the development PKI (ECDSA P-256)", checker, bodies[0], args.rounds, VALID)
        if SIGNED_SAMPLE.is_file():
            # Intact, but its self-signed test signer is no trusted CA: the whole check still runs.
            verification("the official signed sample (RSA)", checker, SIGNED_SAMPLE.read_bytes(), args.rounds, INVALID)
        else:
            print(f"(the official sample is not at {SIGNED_SAMPLE}; skipped)", file=sys.stderr)
        for mode in ("off", "report"):
            throughput(mode, bodies, args.c, ca.cert_path, directory)


if __name__ == "__main__":
    main()
