"""The de-identified statistics store: statistics events in, de-identified rows and report counts out.

``ingest(db, event, sources)`` applies one event in one transaction, idempotently: the same event
twice changes nothing (a certificate, message or revocation already recorded is passed over). What
is kept of a certificate: gender, age group, county (from the care-unit register), care giver and
unit ids, type, signing date, diagnosis chapter and section, sick-leave periods (dates and degrees);
the certificate, message and patient are known only by keyed hashes (HMAC-SHA-256 with the
statistics key, ``Sources.hash``), never by their ids or numbers. A patient's certificates at one
care giver are joined into sick-leave cases across gaps of at most ``CASE_GAP`` days by the
sick-leave engine's chain sweep (``certificates.sickleave.last_chain``); every change recomputes the
cases of the patient and care giver it touches. Every row contributes to the report counts
(``counts_of_*``); a change takes the old contributions off and adds the new ones, so the counts
always equal a recount.

Erasure (called by the care-giver erase and certificate destroy of the lifecycle):
``erase_care_giver(conn, care_giver_id, sources)`` and ``erase_certificate(conn, certificate_id,
sources)`` remove all rows and contributions, in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from lxml import etree
from sqlalchemy.engine import Connection

from intygstjanst.certificates.certtypes import CertificateFacts, CertificateTypes
from intygstjanst.certificates.sickleave import ALLOWED_DEGREES, days_in, last_chain
from intygstjanst.contracts.xml import text_of
from intygstjanst.persistence import statistics as repo
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.keys import read_or_make_key
from intygstjanst.persistence.statistics import CaseRow, CertificateRow, CountKey, MessageRow
from intygstjanst.registers.care_units import CareUnits
from intygstjanst.registers.persons import parse_personnummer
from intygstjanst.settings import Settings
from intygstjanst.persistence import threshold
from intygstjanst.statistics import dimensions
from intygstjanst.persistence.threshold import COUNTY_PREFIX
from intygstjanst.statistics.events import StatisticsEvent

# Certificates at most this many whole days apart belong to one sick-leave case (as nationally).
CASE_GAP = 5
KEY_FILE = "statistics.key"
COMPLETION_SUBJECT = "KOMPLT"


@dataclass(frozen=True)
class Sources:
    """What ingesting needs besides the database: the hash key, the certificate types (their
    diagnoses and periods) and the care-unit register (counties)."""

    key: bytes
    certificate_types: CertificateTypes
    care_units: CareUnits

    @classmethod
    def from_settings(cls, settings: Settings) -> Sources:
        return cls(statistics_key(settings), CertificateTypes.configured(settings), CareUnits.load(settings.care_units_file))

    def hash(self, kind: str, value: str) -> str:
        """The keyed hash standing in for an id or a personnummer: without the key the rows cannot
        be joined back to a certificate or a person, not even by trying every personnummer."""
        keyed = _keyed(self.key).copy()  # the key's pads computed once (a rebuild hashes millions)
        keyed.update(f"{kind}:{value}".encode("utf-8"))
        return keyed.hexdigest()[:32]

    def county(self, unit_id: str) -> str:
        unit = self.care_units.unit(unit_id)
        return unit.county if unit is not None else ""


@functools.lru_cache(maxsize=4)
def _keyed(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def statistics_key(settings: Settings) -> bytes:
    """The statistics key: ``statistics_key_file``, or ``statistics.key`` in the data directory,
    made the first time. Every process feeding the same store must use the same key, or one patient
    would become two."""
    return read_or_make_key(settings.statistics_key_file or settings.data_dir / KEY_FILE)


# --- facts of one certificate ------------------------------------------------------------------


def encode_periods(periods: Iterable[tuple[dt.date, dt.date, int]]) -> str | None:
    text = ";".join(f"{start.isoformat()}/{end.isoformat()}/{degree}" for start, end, degree in sorted(periods))
    return text or None


def decode_periods(text: str | None) -> list[tuple[dt.date, dt.date, int]]:
    if not text:
        return []
    out = []
    for item in text.split(";"):
        start, end, degree = item.split("/")
        out.append((dt.date.fromisoformat(start), dt.date.fromisoformat(end), int(degree)))
    return out


def certificate_row(
    sources: Sources,
    *,
    certificate_id: str,
    patient_id: str,
    care_giver_id: str,
    care_unit_id: str,
    type_code: str,
    signed_on: dt.date,
    diagnosis_code: str | None,
    periods: Sequence[tuple[dt.date, dt.date, int]],
    completion_requested: bool,
) -> CertificateRow:
    """The de-identified row of one certificate. ``periods`` empty: not sick-leave data (and then
    its diagnosis is not counted either: the diagnosis reports are about sick leave)."""
    chapter, section = dimensions.chapter_and_section(diagnosis_code) if periods else ("", "")
    return CertificateRow(
        key=sources.hash("certificate", certificate_id),
        patient_key=sources.hash("patient", patient_id),
        care_giver_id=care_giver_id,
        care_unit_id=care_unit_id,
        county=sources.county(care_unit_id),
        type_code=type_code,
        signed_on=signed_on,
        gender=dimensions.gender(patient_id),
        age_group=dimensions.age_group(patient_id, signed_on),
        chapter=chapter,
        section=section,
        periods=encode_periods(periods),
        completion_requested=completion_requested,
    )


def sick_leave_periods(facts: CertificateFacts, listed: bool) -> list[tuple[dt.date, dt.date, int]]:
    """The periods that are sick-leave data, by the rule of the rehab lists
    (``handlers.sickleave``): a listed type, not excluded (infection control), a main diagnosis, and
    periods with dates and a usable degree."""
    if not listed or facts.sick_leave_excluded or not any(d.rank == 0 for d in facts.diagnoses):
        return []
    return [
        (p.start, p.end, p.degree)
        for p in facts.sick_leave
        if p.start is not None and p.end is not None and p.start <= p.end and p.degree in ALLOWED_DEGREES
    ]


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _document(body: bytes | None, name: str) -> etree._Element | None:
    if not body:
        return None
    root = etree.fromstring(body, _PARSER)
    if etree.QName(root).localname == name:
        return root
    return next(iter(root.iter(f"{{*}}{name}")), None)


def row_from_register_certificate(body: bytes | None, sources: Sources, completion_requested: bool) -> CertificateRow | None:
    """The row of a certificate in RegisterCertificate v3 form (the ``created`` event's body);
    None when it holds no usable patient number or signing time."""
    intyg = _document(body, "intyg")
    if intyg is None:
        return None

    def text(path: str) -> str:
        return text_of(intyg, path) or ""

    patient_id = parse_personnummer(text("core:patient/core:person-id/types:extension"))
    signed = text("core:signeringstidpunkt")
    if patient_id is None or not signed:
        return None
    type_code, version = text("core:typ/types:code"), text("core:version")
    certificate_type = sources.certificate_types.find(type_code, version)
    facts = certificate_type.extract(intyg) if certificate_type is not None else CertificateFacts()
    listed = certificate_type is not None and certificate_type.facts.sick_leave_listed
    main = next((d.code for d in facts.diagnoses if d.rank == 0), None)
    return certificate_row(
        sources,
        certificate_id=text("core:intygs-id/types:extension"),
        patient_id=patient_id,
        care_giver_id=text("core:skapadAv/core:enhet/core:vardgivare/core:vardgivare-id/types:extension"),
        care_unit_id=text("core:skapadAv/core:enhet/core:enhets-id/types:extension"),
        type_code=certificate_type.code if certificate_type is not None else type_code,
        signed_on=dt.datetime.fromisoformat(signed).date(),
        diagnosis_code=main,
        periods=sick_leave_periods(facts, listed),
        completion_requested=completion_requested,
    )


# --- sick-leave cases --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Span:
    row: CertificateRow
    periods: tuple[tuple[dt.date, dt.date, int], ...]
    first_day: dt.date
    last_day: dt.date


def cases_of(certificates: Iterable[CertificateRow]) -> list[CaseRow]:
    """The sick-leave cases of one patient's certificates at one care giver: the engine's chains
    with a gap of ``CASE_GAP`` days, taken from the last one backwards. A case is read from its
    certificates: the diagnosis and unit of the one signed last, the age group at its first, its
    length the days with sick leave (overlaps once, gaps not counted), its degree the highest."""
    spans = []
    for row in certificates:
        periods = tuple(decode_periods(row.periods))
        if periods:
            spans.append(_Span(row, periods, min(p[0] for p in periods), max(p[1] for p in periods)))
    spans.sort(key=lambda s: (s.first_day, s.row.key))
    cases = []
    end = len(spans)
    while end:
        found = last_chain(spans[:end], spans[end - 1].first_day, CASE_GAP)
        assert found is not None  # the last span starts on the date asked about
        lo, hi, chain_end = found
        chain = spans[lo:hi]
        anchor = max(chain, key=lambda s: (s.row.signed_on, s.last_day, s.row.key)).row
        first = chain[0].row
        all_periods = [p for s in chain for p in s.periods]
        cases.append(
            CaseRow(
                patient_key=first.patient_key,
                care_giver_id=first.care_giver_id,
                care_unit_id=anchor.care_unit_id,
                county=anchor.county,
                gender=first.gender,
                age_group=first.age_group,
                chapter=anchor.chapter,
                start=chain[0].first_day,
                end=chain_end,
                days=days_in((start, stop) for start, stop, _ in all_periods),
                degree=max(degree for _, _, degree in all_periods),
            )
        )
        end = lo
    cases.reverse()
    return cases


# --- the reports' counts -------------------------------------------------------------------------

# Report keys; statistics/reports.py describes each.
CASES = "sjukfall"
DIAGNOSES = "diagnos"
AGES = "alder"
DEGREES = "grad"
LENGTHS = "langd"
COUNTIES = "lan"
TYPES = "intygstyp"
MESSAGES = "meddelanden"
COMPLETIONS = "komplettering"
WITH_COMPLETION, WITHOUT_COMPLETION = "med", "utan"


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def write_counts(conn: Connection, deltas: Mapping[CountKey, int]) -> None:
    """Add ``deltas`` to the counts, and bring what the county rows they touch show, and the
    national sums, up to date (``persistence/threshold.py``), in the caller's transaction."""
    repo.add_counts(conn, deltas)
    rows = threshold.county_rows(key for key, n in deltas.items() if n)
    if not rows:
        return
    repo.lock_rows(conn, rows)
    repo.add_counts(conn, threshold.shown_changes(repo.rows_of(conn, rows), repo.rows_of(conn, rows, shown=True)), shown=True)


def scopes(care_giver_id: str, county: str) -> tuple[str, str]:
    """The scopes a row counts in: its care giver's and its county's ("lan:" when the register does
    not know the unit's county). The national figures are the sum of the county scopes, each
    suppressed first (persistence/threshold.py), so no national figure reveals a county's small count."""
    return (f"vg:{care_giver_id}", f"{COUNTY_PREFIX}{county}")


def care_giver_scope(care_giver_id: str) -> str:
    return f"vg:{care_giver_id}"


# What one row adds to the counts: its care giver, its county, and its (report, month, category)
# triples, counted in both their scopes. Hashable, so a rebuild tallies the rows that contribute
# alike and adds each kind once (a few hundred thousand kinds for a million rows).
Contribution = tuple[str, str, tuple[tuple[str, dt.date, str], ...]]


def add(counts: Counter[CountKey], contribution: Contribution, times: int = 1) -> None:
    """Add ``contribution`` ``times`` times (-1: take it off) to ``counts``."""
    care_giver_id, county, items = contribution
    for scope in scopes(care_giver_id, county):
        for report, month, category in items:
            counts[(report, scope, month, category)] += times


def certificate_contribution(row: CertificateRow) -> Contribution:
    month = month_of(row.signed_on)
    completion = WITH_COMPLETION if row.completion_requested else WITHOUT_COMPLETION
    return (row.care_giver_id, row.county, ((TYPES, month, row.type_code), (COMPLETIONS, month, completion)))


def case_contribution(case: CaseRow) -> Contribution:
    month = month_of(case.start)
    items = (
        (CASES, month, case.gender),
        (DIAGNOSES, month, case.chapter or dimensions.UNKNOWN),
        (AGES, month, case.age_group),
        (DEGREES, month, dimensions.degree_group(case.degree)),
        (LENGTHS, month, dimensions.length_group(case.days)),
        (COUNTIES, month, case.county or dimensions.UNKNOWN),
    )
    return (case.care_giver_id, case.county, items)


def message_contribution(row: MessageRow) -> Contribution:
    return (row.care_giver_id, row.county, ((MESSAGES, month_of(row.sent_on), row.subject),))


def count_certificate(counts: Counter[CountKey], row: CertificateRow, sign: int = 1) -> None:
    add(counts, certificate_contribution(row), sign)


def count_case(counts: Counter[CountKey], case: CaseRow, sign: int = 1) -> None:
    add(counts, case_contribution(case), sign)


def count_message(counts: Counter[CountKey], row: MessageRow, sign: int = 1) -> None:
    add(counts, message_contribution(row), sign)


# --- applying events -----------------------------------------------------------------------------


def ingest(db: Database, event: StatisticsEvent, sources: Sources) -> None:
    """Apply one statistics event to the store, in one transaction of ``db``; idempotent.

    ``created``: the certificate (RegisterCertificate v3 XML body) is recorded and its patient's
    cases at its care giver recomputed, unless it is recorded already or was revoked before.
    ``revoked``: its rows and contributions are removed (and a later ``created`` ignored).
    ``message-sent``: the message (SendMessageToCare XML body) is recorded; a completion request
    (KOMPLT) marks its certificate. ``sent``: nothing is kept. Raises ``lxml.etree.XMLSyntaxError``
    for a body that is not XML (the consumer decides whether to dead-letter it).
    """
    with db.transaction() as conn:
        apply(conn, event, sources)


def apply(conn: Connection, event: StatisticsEvent, sources: Sources) -> None:
    """:func:`ingest` in the caller's transaction."""
    counts: Counter[CountKey] = Counter()
    if event.action == "created":
        _created(conn, event, sources, counts)
    elif event.action == "revoked":
        key = sources.hash("certificate", event.certificate_id)
        if not repo.is_revoked(conn, key):
            repo.mark_revoked(conn, [key])
            _remove_certificate(conn, key, counts)
    elif event.action == "message-sent":
        _message_sent(conn, event, sources, counts)
    write_counts(conn, counts)


def _created(conn: Connection, event: StatisticsEvent, sources: Sources, counts: Counter[CountKey]) -> None:
    key = sources.hash("certificate", event.certificate_id)
    if repo.certificate(conn, key) is not None or repo.is_revoked(conn, key):
        return
    row = row_from_register_certificate(event.body, sources, repo.has_message(conn, key, COMPLETION_SUBJECT))
    if row is None:
        return
    repo.insert_certificates(conn, [row])
    count_certificate(counts, row)
    if row.periods:
        _recompute_cases(conn, row.patient_key, row.care_giver_id, counts)


def _remove_certificate(conn: Connection, key: str, counts: Counter[CountKey]) -> None:
    row = repo.certificate(conn, key)
    if row is None:
        return
    repo.delete_certificate(conn, key)
    count_certificate(counts, row, -1)
    if row.periods:
        _recompute_cases(conn, row.patient_key, row.care_giver_id, counts)


def _recompute_cases(conn: Connection, patient_key: str, care_giver_id: str, counts: Counter[CountKey]) -> None:
    for case in repo.cases_of(conn, patient_key, care_giver_id):
        count_case(counts, case, -1)
    cases = cases_of(repo.certificates_of(conn, patient_key, care_giver_id))
    repo.replace_cases(conn, patient_key, care_giver_id, cases)
    for case in cases:
        count_case(counts, case)


def _message_sent(conn: Connection, event: StatisticsEvent, sources: Sources, counts: Counter[CountKey]) -> None:
    request = _document(event.body, "SendMessageToCare")
    message_id = event.message_id or (text_of(request, "{*}meddelande-id") if request is not None else None)
    if request is None or not message_id:
        return
    key = sources.hash("message", message_id)
    if repo.message(conn, key) is not None:
        return
    subject = text_of(request, "{*}amne/types:code") or ""
    sent = text_of(request, "{*}skickatTidpunkt") or ""
    certificate_key = sources.hash("certificate", event.certificate_id)
    certificate = repo.certificate(conn, certificate_key)
    if certificate is not None:
        care_giver_id, county = certificate.care_giver_id, certificate.county
    else:
        # A message about a certificate the store does not hold (yet): counted nationally.
        care_giver_id, county = "", ""
    row = MessageRow(key, certificate_key, care_giver_id, county, subject, dt.datetime.fromisoformat(sent).date())
    repo.insert_messages(conn, [row])
    count_message(counts, row)
    if subject == COMPLETION_SUBJECT and certificate is not None and not certificate.completion_requested:
        repo.set_completion_requested(conn, certificate_key)
        count_certificate(counts, certificate, -1)
        count_certificate(counts, replace(certificate, completion_requested=True))


# --- erasure (the lifecycle's care-giver erase and certificate destroy) --------------------------


def erase_certificate(conn: Connection, certificate_id: str, sources: Sources) -> None:
    """Remove one certificate's row, its messages and its contribution to every count and case, in
    the caller's transaction (the certificate destroy of the lifecycle)."""
    counts: Counter[CountKey] = Counter()
    key = sources.hash("certificate", certificate_id)
    _remove_certificate(conn, key, counts)
    for message_row in repo.messages_of(conn, key):
        repo.delete_message(conn, message_row.key)
        count_message(counts, message_row, -1)
    write_counts(conn, counts)


def erase_care_giver(conn: Connection, care_giver_id: str) -> None:
    """Remove every row of one care giver and its contributions to the county counts (and so to the national ones),
    in the caller's transaction (the care-giver erase of the lifecycle)."""
    counts: Counter[CountKey] = Counter()
    certificates, cases, messages = repo.of_care_giver(conn, care_giver_id)
    for row in certificates:
        count_certificate(counts, row, -1)
    for case in cases:
        count_case(counts, case, -1)
    for message_row in messages:
        count_message(counts, message_row, -1)
    scope = care_giver_scope(care_giver_id)
    repo.delete_care_giver(conn, care_giver_id, scope)
    write_counts(conn, {k: n for k, n in counts.items() if k[1] != scope})
