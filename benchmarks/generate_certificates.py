"""Fill a PostgreSQL database with synthetic certificates for the list benchmarks.

    python benchmarks/generate_certificates.py postgresql+psycopg://postgres@127.0.0.1:5432/intyg_bench

Defaults: 1,000,000 certificates about 100,000 patients from 2,000 care units (100 care givers of 20
units each). The first ``--focus`` patients (500) get exactly 20 certificates each, all listable
by both list contracts (no death certificates, none archived or erased), issued at five units of
one care giver; benchmarks/list_certificates.py asks for them. Everybody else gets a random share
of the rest, of every type, with the state history and relations real certificates have (sent,
revoked, archived by the citizen, replaced or completed).

Every certificate is stored as a complete RegisterCertificate v3 request (a small LISJP-like
document written for this benchmark, checked against the project's schema before loading), with
its metadata and states, through the same migrations the service uses. Rows go in with binary COPY.
Generation is deterministic for a given --seed, so the benchmark can name the focus patients
without asking the database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

UNITS_PER_GIVER = 20
FOCUS_CERTIFICATES = 20
FOCUS_UNITS = 5
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
REGISTER_NS = "urn:riv:clinicalprocess:healthcond:certificate:RegisterCertificateResponder:3"
FK_TYPES = "b64ea353-e8f6-4832-b563-fc7d46f29548"
TS_TYPES = "f6fb361a-e31d-48b8-8657-99b63912dd9b"

# (code, version, code system, main recipient, share of the non-focus certificates)
TYPES = [
    ("LISJP", "1.0", FK_TYPES, "FKASSA", 0.55),
    ("AG7804", "1.0", FK_TYPES, "AG", 0.15),
    ("LUSE", "1.0", FK_TYPES, "FKASSA", 0.08),
    ("LUAE_NA", "1.0", FK_TYPES, "FKASSA", 0.05),
    ("LUAE_FS", "1.0", FK_TYPES, "FKASSA", 0.02),
    ("TSTRK1007", "7.0", TS_TYPES, "TRANSP", 0.08),
    ("TSTRK1031", "4.0", TS_TYPES, "TRANSP", 0.04),
    ("DB", "1.0", FK_TYPES, "SKV", 0.015),
    ("DOI", "1.0", FK_TYPES, "SOS", 0.015),
]
LISTABLE_TYPES = [t for t in TYPES if t[0] not in ("DB", "DOI")]


def person_number(index: int) -> str:
    """The index-th synthetic personnummer: valid date and check digit, unique per index."""
    from stdnum import luhn

    # Birth dates spread over 74 years (7919 is prime to 27,000, so each block of 27,000 indexes
    # hits every day once); the serial number tells the blocks apart.
    born = dt.date(1935, 1, 1) + dt.timedelta(days=(index * 7919) % 27_000)
    serial = 100 + index // 27_000
    nine = f"{born:%y%m%d}{serial:03d}"
    return f"{born:%Y%m%d}{serial:03d}{luhn.calc_check_digit(nine)}"


def unit_id(index: int) -> str:
    return f"SE2321000016-E{index:05d}"


def care_giver_id(index: int) -> str:
    return f"SE2321000016-G{index:04d}"


@dataclass(frozen=True)
class Focus:
    """A patient with exactly FOCUS_CERTIFICATES listable certificates at FOCUS_UNITS units of one care giver."""

    patient: str
    care_giver: int
    units: tuple[int, ...]  # the care giver's whole set of units (what a care system asks for)


def focus_patients(count: int, care_units: int) -> list[Focus]:
    givers = care_units // UNITS_PER_GIVER
    out = []
    for k in range(count):
        giver = k % givers
        out.append(Focus(person_number(k), giver, tuple(range(giver * UNITS_PER_GIVER, (giver + 1) * UNITS_PER_GIVER))))
    return out


def document(certificate_id: str, type_code: str, version: str, code_system: str, patient: str, unit: int, signed: dt.datetime) -> bytes:
    """A small but complete RegisterCertificate v3 request (SOAP envelope) for one certificate."""
    giver = unit // UNITS_PER_GIVER
    start = signed.date()
    end = start + dt.timedelta(days=28)
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Header><r:LogicalAddress xmlns:r="urn:riv:itintegration:registry:1">'
        f"5565594230</r:LogicalAddress></soap:Header><soap:Body>"
        f'<ns2:RegisterCertificate xmlns:ns2="{REGISTER_NS}" xmlns="urn:riv:clinicalprocess:healthcond:certificate:3" '
        'xmlns:t="urn:riv:clinicalprocess:healthcond:certificate:types:3"><ns2:intyg>'
        f"<intygs-id><t:root>{unit_id(unit)}</t:root><t:extension>{certificate_id}</t:extension></intygs-id>"
        f"<typ><t:code>{type_code}</t:code><t:codeSystem>{code_system}</t:codeSystem></typ>"
        f"<version>{version}</version><signeringstidpunkt>{signed:%Y-%m-%dT%H:%M:%S}</signeringstidpunkt>"
        f"<patient><person-id><t:root>1.2.752.129.2.1.3.1</t:root><t:extension>{patient}</t:extension></person-id>"
        "<fornamn>Förnamn</fornamn><efternamn>Efternamnsson</efternamn><postadress>Storgatan 1</postadress>"
        "<postnummer>11122</postnummer><postort>Stockholm</postort></patient>"
        f"<skapadAv><personal-id><t:root>1.2.752.129.2.1.4.1</t:root><t:extension>{unit_id(unit)}-L001</t:extension></personal-id>"
        "<fullstandigtNamn>Doktor Läkarsson</fullstandigtNamn><forskrivarkod>1234567</forskrivarkod>"
        f"<enhet><enhets-id><t:root>1.2.752.129.2.1.4.1</t:root><t:extension>{unit_id(unit)}</t:extension></enhets-id>"
        "<arbetsplatskod><t:root>1.2.752.29.4.71</t:root><t:extension>1234567890</t:extension></arbetsplatskod>"
        f"<enhetsnamn>Vårdcentralen {unit}</enhetsnamn><postadress>Vårdvägen 2</postadress><postnummer>11133</postnummer>"
        "<postort>Stockholm</postort><telefonnummer>08-1234567</telefonnummer>"
        f"<vardgivare><vardgivare-id><t:root>1.2.752.129.2.1.4.1</t:root><t:extension>{care_giver_id(giver)}</t:extension></vardgivare-id>"
        f"<vardgivarnamn>Region {giver}</vardgivarnamn></vardgivare></enhet></skapadAv>"
        '<svar id="1"><instans>1</instans><delsvar id="1.1"><t:cv><t:code>UNDERSOKNING</t:code>'
        "<t:codeSystem>KV_FKMU_0001</t:codeSystem><t:displayName>Min undersökning av patienten</t:displayName></t:cv></delsvar>"
        f'<delsvar id="1.2">{start}</delsvar></svar>'
        '<svar id="6"><delsvar id="6.2"><t:cv><t:code>J069</t:code><t:codeSystem>1.2.752.116.1.1.1.1.3</t:codeSystem>'
        '<t:displayName>Akut övre luftvägsinfektion</t:displayName></t:cv></delsvar><delsvar id="6.1">Övre luftvägsinfektion</delsvar></svar>'
        '<svar id="32"><instans>1</instans><delsvar id="32.1"><t:cv><t:code>HELT_NEDSATT</t:code>'
        "<t:codeSystem>KV_FKMU_0003</t:codeSystem><t:displayName>100%</t:displayName></t:cv></delsvar>"
        f'<delsvar id="32.2"><t:datePeriod><t:start>{start}</t:start><t:end>{end}</t:end></t:datePeriod></delsvar></svar>'
        '<svar id="35"><delsvar id="35.1">Feber och hosta sedan en vecka, nedsatt allmäntillstånd.</delsvar></svar>'
        '<svar id="17"><delsvar id="17.1">Orkar inte arbeta heltid under infektionen.</delsvar></svar>'
        "</ns2:intyg></ns2:RegisterCertificate></soap:Body></soap:Envelope>"
    ).encode()


def check_template() -> None:
    """Refuse to load documents the service itself would not accept as RegisterCertificate v3."""
    from lxml import etree

    from intygstjanst.contracts.registry import ContractRegistry

    contract = ContractRegistry.load().by_request_tag(f"{{{REGISTER_NS}}}RegisterCertificate")
    assert contract is not None
    root = etree.fromstring(document("check", "LISJP", "1.0", FK_TYPES, person_number(0), 0, dt.datetime(2024, 1, 1, 9)))
    body = root.find(f"{{{SOAP}}}Body")
    assert body is not None
    payload = body[0]
    if not contract.schema.validate(payload):
        raise SystemExit(f"benchmark template is not a valid RegisterCertificate: {contract.schema.error_log}")


@dataclass
class Row:
    id: str
    type_code: str
    version: str
    patient: str
    unit: int
    signed: dt.datetime
    states: list[tuple[str, str, dt.datetime]]
    relation: tuple[str, str] | None  # (kind, earlier certificate id)
    code_system: str


def generate(args: argparse.Namespace) -> Iterator[Row]:
    rng = random.Random(args.seed)
    epoch = dt.datetime(2016, 1, 1)
    span = int((dt.datetime(2025, 1, 1) - epoch).total_seconds())

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def signed_at() -> dt.datetime:
        return epoch + dt.timedelta(seconds=rng.randrange(span))

    for focus in focus_patients(args.focus, args.care_units):
        chosen_units = focus.units[:FOCUS_UNITS]
        for n in range(FOCUS_CERTIFICATES):
            code, version, system, recipient, _ = LISTABLE_TYPES[n % len(LISTABLE_TYPES)]
            signed = signed_at()
            received = signed + dt.timedelta(seconds=5)
            states = [("RECEIVED", "HSVARD", received)]
            if n % 2 == 0:
                states.append(("SENT", recipient, received + dt.timedelta(minutes=1)))
            if n == 7:
                states.append(("CANCELLED", "HSVARD", received + dt.timedelta(days=1)))
            yield Row(new_id(), code, version, focus.patient, chosen_units[n % FOCUS_UNITS], signed, states, None, system)

    weights = [t[4] for t in TYPES]
    last_of: dict[int, str] = {}
    for _ in range(args.certificates - args.focus * FOCUS_CERTIFICATES):
        patient_index = rng.randrange(args.focus, args.patients)
        code, version, system, recipient, _ = rng.choices(TYPES, weights)[0]
        signed = signed_at()
        received = signed + dt.timedelta(seconds=5)
        states = [("RECEIVED", "HSVARD", received)]
        roll = rng.random()
        if roll < 0.6:
            states.append(("SENT", recipient, received + dt.timedelta(minutes=2)))
        if roll < 0.02:
            states.append(("CANCELLED", "HSVARD", received + dt.timedelta(days=3)))
        elif rng.random() < 0.05:
            states.append(("DELETED", "INVANA", received + dt.timedelta(days=30)))
        certificate_id = new_id()
        earlier = last_of.get(patient_index)
        relation = (rng.choice(("ERSATT", "KOMPLT", "FRLANG")), earlier) if earlier and rng.random() < 0.05 else None
        last_of[patient_index] = certificate_id
        yield Row(certificate_id, code, version, person_number(patient_index), rng.randrange(args.care_units), signed, states, relation, system)


def load(args: argparse.Namespace) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    from intygstjanst.persistence.db import Database

    url = make_url(args.database_url)
    if not url.drivername.startswith("postgresql"):
        raise SystemExit("the list benchmark runs on PostgreSQL: give a postgresql+psycopg:// URL")
    admin = url.set(database="postgres")
    with psycopg.connect(_dsn(admin), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone()
        if exists and not args.replace:
            raise SystemExit(f"database {url.database} exists; add --replace to drop and regenerate it")
        if exists:
            conn.execute(f'DROP DATABASE "{url.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{url.database}"')
    database = Database(args.database_url)
    database.upgrade()
    database.dispose()

    certificate_columns = (
        "id, type_code, type_version, patient_id, care_unit_id, care_unit_name, care_giver_id, signing_doctor_id, "
        "signing_doctor_name, signed_at, is_test, deleted_by_care_giver, received_at, source, original"
    )
    certificate_types = ["text", "text", "text", "text", "text", "text", "text", "text", "text", "timestamp", "bool", "bool", "timestamp", "text", "bytea"]
    started = time.monotonic()
    count = 0
    with psycopg.connect(_dsn(url)) as conn, conn.cursor() as cur:
        # A connection runs one COPY at a time, so rows go in batches: the certificates of a batch,
        # then their states (which reference them) and relations, all in one transaction.
        for batch in _batches(generate(args), 20_000):
            with cur.copy(f"COPY certificate ({certificate_columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(certificate_types)
                for row in batch:
                    copy.write_row(
                        (
                            row.id, row.type_code, row.version, row.patient, unit_id(row.unit), f"Vårdcentralen {row.unit}",
                            care_giver_id(row.unit // UNITS_PER_GIVER), f"{unit_id(row.unit)}-L001", "Doktor Läkarsson",
                            row.signed, False, False, row.states[0][2], "RegisterCertificate:3",
                            document(row.id, row.type_code, row.version, row.code_system, row.patient, row.unit, row.signed),
                        )
                    )
            with cur.copy("COPY certificate_state (certificate_id, state, target, at) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "text", "timestamp"])
                for row in batch:
                    for state, target, at in row.states:
                        copy.write_row((row.id, state, target, at))
            with cur.copy("COPY certificate_relation (from_id, to_id, kind, created_at) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "text", "timestamp"])
                for row in batch:
                    if row.relation is not None:
                        copy.write_row((row.id, row.relation[1], row.relation[0], row.states[0][2]))
            count += len(batch)
            if count % 100_000 < len(batch):
                print(f"{count:>9,} certificates  {time.monotonic() - started:6.0f} s", flush=True)
        conn.commit()
        conn.autocommit = True
        cur.execute("ANALYZE")
    print(f"{count:,} certificates loaded in {time.monotonic() - started:.0f} s", flush=True)


def _batches(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _dsn(url: object) -> str:
    from sqlalchemy.engine import URL

    assert isinstance(url, URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database_url", help="PostgreSQL URL of the database to create, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/intyg_bench")
    parser.add_argument("--certificates", type=int, default=1_000_000)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--care-units", type=int, default=2_000)
    parser.add_argument("--focus", type=int, default=500, help="patients with exactly 20 listable certificates")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--replace", action="store_true", help="drop the database first if it exists")
    args = parser.parse_args()
    if args.care_units % UNITS_PER_GIVER:
        raise SystemExit(f"--care-units must be a multiple of {UNITS_PER_GIVER}")
    if args.focus * FOCUS_CERTIFICATES > args.certificates or args.focus >= args.patients:
        raise SystemExit("--focus patients need fewer certificates and patients than the totals")
    check_template()
    load(args)


if __name__ == "__main__":
    main()
