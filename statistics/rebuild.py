"""``intygstjanst statistics rebuild``: the de-identified store recomputed from the stored
certificates and messages, in batches, without parsing a single document: the certificate table
gives type, unit, care giver, patient and signing time, the sick-leave rows (kept at registration,
``persistence.sickleave``) the main diagnosis and the periods. The result is what ingesting every
event would have given (``statistics.store``), except that a message's care giver is taken from its
certificate whatever the order they arrived in."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection

from intygstjanst.persistence import statistics as repo
from intygstjanst.persistence.db import Database
from intygstjanst.persistence.sickleave import SEPARATOR
from intygstjanst.persistence.statistics import CaseRow, CertificateRow, CountKey, MessageRow
from intygstjanst.registers.persons import parse_personnummer
from intygstjanst.persistence import threshold
from intygstjanst.statistics import store
from intygstjanst.statistics.store import Sources

BATCH = 10_000


@dataclass
class Rebuilt:
    certificates: int = 0
    revoked: int = 0
    cases: int = 0
    messages: int = 0


def rebuild(db: Database, sources: Sources) -> Rebuilt:
    """Empty the store and compute it again, in one transaction (readers see the old store until
    the new one is complete)."""
    done = Rebuilt()
    tally: Counter[store.Contribution] = Counter()
    with db.read() as source, db.transaction() as conn:
        repo.empty(conn)
        certificates: list[CertificateRow] = []
        cases: list[CaseRow] = []
        revoked: list[str] = []
        for _, group in groupby(repo.source_certificates(source), key=lambda r: (r.care_giver_id, r.patient_id)):
            rows = []
            for stored in group:
                if stored.revoked:
                    revoked.append(sources.hash("certificate", stored.id))
                    continue
                row = _row(stored, sources)
                if row is not None:
                    rows.append(row)
                    tally[store.certificate_contribution(row)] += 1
            certificates.extend(rows)
            for case in store.cases_of(rows):
                cases.append(case)
                tally[store.case_contribution(case)] += 1
            if len(certificates) >= BATCH:
                done.certificates += _flush_certificates(conn, certificates, cases, revoked, done)
        done.certificates += _flush_certificates(conn, certificates, cases, revoked, done)
        messages: list[MessageRow] = []
        for stored in repo.source_messages(source):
            message = _message(stored, sources)
            messages.append(message)
            tally[store.message_contribution(message)] += 1
            if len(messages) >= BATCH:
                done.messages += _flush(repo.MESSAGES, conn, messages)
        done.messages += _flush(repo.MESSAGES, conn, messages)
        counts: Counter[CountKey] = Counter()
        for contribution, times in tally.items():
            store.add(counts, contribution, times)
        repo.copy_counts(conn, counts)
        repo.copy_counts(conn, threshold.shown_of(counts), shown=True)
    return done


def _flush_certificates(conn: Connection, certificates: list[CertificateRow], cases: list[CaseRow], revoked: list[str], done: Rebuilt) -> int:
    done.cases += _flush(repo.CASES, conn, cases)
    done.revoked += len(revoked)
    repo.mark_revoked(conn, revoked)
    revoked.clear()
    return _flush(repo.CERTIFICATES, conn, certificates)


def _flush(table: Table, conn: Connection, records: list[CertificateRow] | list[CaseRow] | list[MessageRow]) -> int:
    count = len(records)
    repo.copy_records(conn, table, records)
    records.clear()
    return count


def _row(stored: Any, sources: Sources) -> CertificateRow | None:
    patient_id = parse_personnummer(stored.patient_id)
    if patient_id is None:
        return None
    return store.certificate_row(
        sources,
        certificate_id=stored.id,
        patient_id=patient_id,
        care_giver_id=stored.care_giver_id,
        care_unit_id=stored.care_unit_id,
        type_code=stored.type_code,
        signed_on=stored.signed_at.date(),
        diagnosis_code=stored.diagnosis_code,
        periods=_periods(stored.periods),
        completion_requested=bool(stored.completion),
    )


def _periods(text: str | None) -> list[tuple[dt.date, dt.date, int]]:
    if not text:
        return []
    out = []
    for period in text.split(SEPARATOR):
        start, end, degree = period.split("/")
        out.append((dt.date.fromisoformat(start), dt.date.fromisoformat(end), int(degree)))
    return out


def _message(stored: Any, sources: Sources) -> MessageRow:
    known = stored.care_giver_id is not None
    return MessageRow(
        key=sources.hash("message", stored.id),
        certificate_key=sources.hash("certificate", stored.certificate_id),
        care_giver_id=stored.care_giver_id if known else "",
        county=sources.county(stored.care_unit_id) if known else "",
        subject=stored.subject,
        sent_on=stored.sent_at.date(),
    )
