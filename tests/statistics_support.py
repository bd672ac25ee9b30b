"""Statistics events and sources for the statistics tests: certificates from the LISJP sample
(``sickleave_support.lisjp``), messages from ``messages_support.to_care``."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

from lxml import etree
from sqlalchemy.engine import Connection

from intygstjanst.certificates.certtypes import CertificateTypes
from intygstjanst.persistence import statistics as repo
from intygstjanst.registers.care_units import CareUnits, parse
from intygstjanst.statistics import store
from intygstjanst.statistics.events import StatisticsEvent

from intygstjanst.tests.messages_support import to_care
from intygstjanst.tests.sickleave_support import CARE_GIVER, OTHER_UNIT, UNIT, Period, lisjp

OTHER_CARE_GIVER = "SE2321000016-VG02"
FAR_UNIT = "SE2321000016-E101"
COUNTIES = {UNIT: "01", OTHER_UNIT: "01", FAR_UNIT: "12"}

_TYPES: CertificateTypes | None = None


def care_units() -> CareUnits:
    return parse(
        {
            "care_giver": [
                {"id": CARE_GIVER, "name": "Region Test", "county": "01",
                 "unit": [{"id": UNIT, "name": "VC Test"}, {"id": OTHER_UNIT, "name": "VC Annan"}]},
                {"id": OTHER_CARE_GIVER, "name": "Region Syd", "county": "12", "unit": [{"id": FAR_UNIT, "name": "VC Syd"}]},
            ]
        },
        "test",
    )


def sources(units: CareUnits | None = None) -> store.Sources:
    global _TYPES
    if _TYPES is None:
        _TYPES = CertificateTypes.load()
    return store.Sources(b"test-key", _TYPES, units or care_units())


def created(
    certificate_id: str,
    periods: Sequence[Period],
    *,
    patient: str = "191212121212",
    unit: str = UNIT,
    care_giver: str = CARE_GIVER,
    diagnosis: str = "M54",
    around: dt.date = dt.date(2024, 3, 15),
) -> StatisticsEvent:
    payload = lisjp(certificate_id, periods, patient=patient, unit=unit, diagnosis=diagnosis, around=around)
    if care_giver != CARE_GIVER:
        for element in payload.iter("{*}vardgivare-id"):
            element[-1].text = care_giver
    return StatisticsEvent("created", certificate_id, "LISJP", body=etree.tostring(payload))


def revoked(certificate_id: str) -> StatisticsEvent:
    return StatisticsEvent("revoked", certificate_id, "LISJP", body=b"")


def message(message_id: str, certificate_id: str, subject: str = "KOMPLT", sent: str = "2024-03-20T10:00:00") -> StatisticsEvent:
    payload = to_care(message_id, certificate_id, subject=subject)
    next(payload.iter("{*}skickatTidpunkt")).text = sent
    return StatisticsEvent("message-sent", certificate_id, "LISJP", "FKASSA", message_id, etree.tostring(payload))


def stored_counts(conn: Connection) -> Counter[repo.CountKey]:
    rows = conn.execute(repo.COUNTS.select())
    return Counter({(r.report, r.scope, r.month, r.category): r.count for r in rows if r.count})


def stored_shown(conn: Connection) -> Counter[repo.CountKey]:
    rows = conn.execute(repo.SHOWN.select())
    return Counter({(r.report, r.scope, r.month, r.category): r.count for r in rows if r.count})


def recount(conn: Connection) -> Counter[repo.CountKey]:
    """The counts as a recount from the stored rows gives them."""
    counts: Counter[repo.CountKey] = Counter()
    for row in conn.execute(repo.CERTIFICATES.select()):
        store.count_certificate(counts, repo.CertificateRow(**{n: getattr(row, n) for n in repo.CertificateRow.__slots__}))
    for row in conn.execute(repo.CASES.select()):
        store.count_case(counts, repo.CaseRow(**{n: getattr(row, n) for n in repo.CaseRow.__slots__}))
    for row in conn.execute(repo.MESSAGES.select()):
        store.count_message(counts, repo.MessageRow(**{n: getattr(row, n) for n in repo.MessageRow.__slots__}))
    return Counter({k: n for k, n in counts.items() if n})
