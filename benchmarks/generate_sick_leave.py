"""Fill a PostgreSQL database with synthetic sick-leave data for benchmarks/sick_leave.py.

    python benchmarks/generate_sick_leave.py postgresql+psycopg://postgres@127.0.0.1:5432/intyg_sickleave_bench

Defaults: 1,000,000 sick-leave certificates (LISJP) from 2,000 care units of 100 care givers, dated
relative to today (in Sweden), so that a server with the real clock sees them as ongoing or ended.
The focus unit (``FOCUS_UNIT`` and its two sub-units, see ``care_units_toml``) has 50,000 of them:

* ``--active`` (5,000) patients on sick leave today, each with a current chain of one to eight
  certificates a few days apart (median two) and, for two in five of them, an earlier sick leave
  more than three months before it;
* other patients whose sick leave ended during the last five years, up to 50,000 certificates.

Everyone else is spread over the other units and the last five years. About 3 % of the
certificates are replaced, 1 % revoked and 0.5 % issued to test persons, with the flags the service
keeps for them. Each sick-leave row has its certificate row (the foreign key), whose stored request
is a short placeholder: the lists never read it. The database is dropped and created again, built
by the service's own migrations, loaded with COPY, and its cases and answers are then computed as
``intygstjanst sickleave rebuild`` does (case bounds, answers, the stored cases of migration
0015). Deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

FOCUS_GIVER = "SE2321000016-VG00"
FOCUS_UNIT = "SE2321000016-E0000"
FOCUS_SUB_UNITS = ("SE2321000016-E0000A", "SE2321000016-E0000B")
UNITS_PER_GIVER = 20
DEGREES = (100, 100, 100, 75, 50, 50, 25)
DIAGNOSES = ("M545", "F321", "F438", "M255", "S420", "J22", "F410", "M751", "G439", "R53")
EMPLOYMENT = ("NUVARANDE_ARBETE", "ARBETSSOKANDE", "FORALDRALEDIG", "STUDIER")
PLACEHOLDER = b"<generated-for-benchmark/>"
CHAIN_LENGTHS = (1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 6, 7, 8)


BATCH = 50_000
COPY_CERTIFICATES = (
    "COPY certificate (id, type_code, type_version, patient_id, care_unit_id, care_unit_name, care_giver_id, "
    "signing_doctor_id, signing_doctor_name, signed_at, is_test, deleted_by_care_giver, received_at, source, original) "
    "FROM STDIN"
)
COPY_SICK_LEAVE = (
    "COPY sick_leave_certificate (certificate_id, type_code, patient_id, patient_name, care_unit_id, care_unit_name, "
    "care_giver_id, care_giver_name, doctor_id, doctor_name, doctor_titles, signed_at, diagnosis_code, "
    "diagnosis_code_system, secondary_diagnoses, employment, periods, first_day, last_day, is_test, deleted, superseded) "
    "FROM STDIN"
)


def care_units_toml() -> str:
    """The care-unit register the benchmark server uses: the focus unit with its two sub-units."""
    subs = "".join(f'\n    [[care_giver.unit.sub_unit]]\n    id = "{s}"\n    name = "Underenhet {s[-1]}"\n' for s in FOCUS_SUB_UNITS)
    return (
        f'[[care_giver]]\nid = "{FOCUS_GIVER}"\nname = "Region Bench"\n\n'
        f'  [[care_giver.unit]]\n  id = "{FOCUS_UNIT}"\n  name = "Vårdcentralen Bench"\n{subs}'
    )


@dataclass(frozen=True)
class Cert:
    patient: str
    unit: str
    giver: str
    start: dt.date
    periods: tuple[tuple[dt.date, dt.date, int], ...]


def person_id(rng: random.Random, serial: int) -> str:
    """A valid personnummer (Luhn) for a synthetic person born 1950-1999."""
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(50 * 365))
    digits = f"{birth:%y%m%d}{serial % 1000:03d}"
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return f"{birth.year // 100}{digits}{(10 - total % 10) % 10}"


def certificate(rng: random.Random, patient: str, unit: str, giver: str, start: dt.date, days: int) -> Cert:
    """A certificate of one to three consecutive periods (different degrees) covering ``days`` days."""
    count = min(days, rng.choice((1, 1, 1, 2, 2, 3)))
    degrees = rng.sample(sorted(set(DEGREES)), count)
    cuts = sorted(rng.sample(range(1, days), count - 1)) if count > 1 else []
    bounds = [0, *cuts, days]
    periods = tuple(
        (start + dt.timedelta(days=bounds[i]), start + dt.timedelta(days=bounds[i + 1] - 1), degrees[i]) for i in range(count)
    )
    return Cert(patient, unit, giver, start, periods)


def chain(
    rng: random.Random,
    patient: str,
    units: tuple[str, ...],
    giver: str,
    last_end: dt.date,
    length: int,
    covering: dt.date | None = None,
) -> list[Cert]:
    """``length`` certificates a few days apart, latest first; the latest ends on ``last_end`` (and
    covers ``covering``, if given)."""
    certs: list[Cert] = []
    end = last_end
    for _ in range(length):
        shortest = max(7, (end - covering).days + 1) if covering is not None and not certs else 7
        days = rng.randint(shortest, max(shortest, 60))
        start = end - dt.timedelta(days=days - 1)
        certs.append(certificate(rng, patient, rng.choice(units), giver, start, days))
        end = start - dt.timedelta(days=1 + rng.randint(0, 4))
    return certs


def focus_unit(rng: random.Random, today: dt.date, active: int, total: int) -> Iterator[Cert]:
    units = (FOCUS_UNIT, *FOCUS_SUB_UNITS)
    produced = 0
    serial = 0
    for _ in range(active):
        serial += 1
        patient = person_id(rng, serial)
        last_end = today + dt.timedelta(days=rng.randint(0, 45))
        current = chain(rng, patient, units, FOCUS_GIVER, last_end, rng.choice(CHAIN_LENGTHS), covering=today)
        if rng.random() < 0.4:
            earlier_end = current[-1].start - dt.timedelta(days=rng.randint(100, 900))
            current += chain(rng, patient, units, FOCUS_GIVER, earlier_end, rng.choice(CHAIN_LENGTHS))
        produced += len(current)
        yield from current
    while produced < total:
        serial += 1
        patient = person_id(rng, serial)
        ended = today - dt.timedelta(days=rng.randint(20, 5 * 365))
        for cert in chain(rng, patient, units, FOCUS_GIVER, ended, rng.choice(CHAIN_LENGTHS))[: total - produced]:
            produced += 1
            yield cert


def elsewhere(rng: random.Random, today: dt.date, count: int, givers: int) -> Iterator[Cert]:
    produced = 0
    serial = 10_000_000
    while produced < count:
        serial += 1
        giver_number = rng.randrange(1, givers)
        giver = f"SE2321000016-VG{giver_number:02d}"
        units = tuple(f"SE2321000016-E{giver_number:02d}{u:02d}" for u in range(UNITS_PER_GIVER))
        ended = today + dt.timedelta(days=rng.randint(-5 * 365, 45))
        for cert in chain(rng, person_id(rng, serial), units, giver, ended, rng.choice(CHAIN_LENGTHS))[: count - produced]:
            produced += 1
            yield cert


def interleaved(rng: random.Random, focus: list[Cert], others: Iterator[Cert], others_count: int) -> Iterator[Cert]:
    """The focus unit's certificates spread evenly through the others: a unit's rows lie scattered
    over the table as they do when certificates arrive from many units over years."""
    rng.shuffle(focus)
    every = others_count / max(1, len(focus))
    position = 0.0
    for cert in others:
        position += 1
        while focus and position >= every:
            position -= every
            yield focus.pop()
        yield cert
    yield from focus


def generate(url: str, total: int, focus_total: int, active: int, seed: int, lists: bool = True) -> None:
    """Recreate the database at ``url`` and fill it; ``lists`` False leaves the sick-leave cases and
    answers uncomputed (benchmarks/statistics_reports.py reads only the certificate and sick-leave
    rows, and the computation is most of the time of a million)."""
    import psycopg
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from intygstjanst.persistence.db import Database
    from intygstjanst.persistence.sickleave import SEPARATOR

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as admin_conn:
        admin_conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        admin_conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    database = Database(url)
    database.upgrade()
    database.dispose()

    rng = random.Random(seed)
    today = dt.datetime.now(ZoneInfo("Europe/Stockholm")).date()
    givers = 100
    started = time.perf_counter()
    dsn = target.set(drivername="postgresql").render_as_string(hide_password=False)
    focus = list(focus_unit(rng, today, active, focus_total))
    certs = interleaved(rng, focus, elsewhere(rng, today, total - focus_total, givers), total - focus_total)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        number = 0
        while True:
            # In batches, certificate rows before their sick-leave rows (the foreign key).
            batch = list(itertools.islice(certs, BATCH))
            if not batch:
                break
            certificate_rows, sick_leave_rows = [], []
            for cert in batch:
                certificate_id = f"bench-{number:08d}"
                number += 1
                doctor = f"{cert.giver}-L{rng.randrange(40):03d}"
                signed = dt.datetime.combine(min(cert.start, today), dt.time(8)) + dt.timedelta(minutes=rng.randrange(600))
                fate = rng.random()
                is_test, deleted, superseded = fate < 0.005, 0.005 <= fate < 0.015, 0.015 <= fate < 0.045
                certificate_rows.append(
                    (certificate_id, "LISJP", "1.0", cert.patient, cert.unit, f"Enhet {cert.unit}", cert.giver, doctor,
                     "Doktor Bench", signed, is_test, False, signed, "RegisterCertificate:3", PLACEHOLDER)
                )
                secondary = rng.sample(DIAGNOSES, rng.choice((0, 0, 1, 2)))
                sick_leave_rows.append(
                    (certificate_id, "LISJP", cert.patient, "Förnamn Efternamn", cert.unit, f"Enhet {cert.unit}", cert.giver,
                     "Region Bench", doctor, "Doktor Bench", "203090", signed, rng.choice(DIAGNOSES),
                     "1.2.752.116.1.1.1.1.3", SEPARATOR.join(secondary), rng.choice(EMPLOYMENT),
                     SEPARATOR.join(f"{s.isoformat()}/{e.isoformat()}/{d}" for s, e, d in cert.periods),
                     cert.periods[0][0], cert.periods[-1][1], is_test, deleted, superseded)
                )
            for statement, rows in ((COPY_CERTIFICATES, certificate_rows), (COPY_SICK_LEAVE, sick_leave_rows)):
                with cur.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)
            print(f"  {number:,} certificates ({time.perf_counter() - started:.0f} s)", flush=True)
    if lists:
        # The rows came in by COPY, past the repository: their case bounds, answers and stored cases
        # (sick_leave_case) are computed as `intygstjanst sickleave rebuild` does them.
        from intygstjanst.certificates import sickleave_upkeep

        database = Database(url)
        sickleave_upkeep.rebuild(database)
        database.dispose()
        print(f"  cases and answers computed ({time.perf_counter() - started:.0f} s)", flush=True)
    # VACUUM (outside a transaction) sets the visibility map, so that the covering indexes serve
    # index-only scans at once, as they do after autovacuum in a running service.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"{total:,} certificates ({focus_total:,} at {FOCUS_UNIT}, {active:,} patients on sick leave there) "
          f"in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="SQLAlchemy URL of the database to (re)create")
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--focus", type=int, default=50_000, help="certificates at the focus unit and its sub-units")
    parser.add_argument("--active", type=int, default=5_000, help="patients on sick leave today at the focus unit")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    generate(args.url, args.total, args.focus, args.active, args.seed)


if __name__ == "__main__":
    main()
