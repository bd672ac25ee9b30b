"""Sick leave for rehab coordination: the sick-leave data kept with each certificate, and the three
contracts that read it.

=====================================  ============================================================
contract                               answers with
=====================================  ============================================================
ListActiveSickLeavesForCareUnit v1     certificates, for the consumer's own case computation: for
                                       every patient with an ongoing (or, with
                                       ``max-dagar-sedan-avslut``, recently ended) sick leave at the
                                       unit or its sub-units, the certificates of the current chain
                                       issued there; ``vardgivare`` is the unit's care giver
ListSickLeavesForPerson v1             certificates: all of one patient's sick-leave certificates
                                       within the care giver the call is addressed to
ListSickLeavesForCare v1               cases (sjukfall), computed here with the request's
                                       ``maxDagarMellanIntyg``, that are ongoing today at the unit
                                       or its sub-units, filtered on length and signing doctor
=====================================  ============================================================

What counts as sick-leave data: certificates of the types whose type file says so
(``[facts.sick_leave] lists = true``: LISJP, FK7263, AG7804 and AG1-14) with a main diagnosis and at
least one period of reduced work capacity, except those answering true to the type's ``not_when``
sub-answer (infectious-disease leave, smittbärarpenning: 27.1 in LISJP, FK7263 and AG7804), which
carry no diagnosis-based sick leave. A certificate replaced (ERSATT) or completed
(KOMPLT) by a later one that is not revoked, a revoked certificate and a test certificate are never
listed (see ``persistence.sickleave``).

Protected identities (sekretessmarkering, from the person register at the time of the call): a list
of a whole unit that names no one in particular is a rehab coordinator's view, and leaves those
patients out. A request that names the patient (``person-id``) or the doctors (``personal-id``) is a
view the caller is entitled to by its relation to the patient; those patients are listed, with their
name replaced by :data:`PROTECTED_NAME`.

"Today" is the date in Sweden, where the periods' dates are written.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any, cast
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from lxml import etree
from sqlalchemy.engine import Connection

from intygstjanst.contracts.call import Answer, Call, Disclosure
from intygstjanst.registers.care_units import CareUnits
from intygstjanst.certificates.certtypes import CertificateFacts, CertificateType
from intygstjanst.contracts.faults import SoapFault
from intygstjanst.contracts.naming import ContractName
from intygstjanst.contracts.result import OK, Outcome, ResultCode
from intygstjanst.contracts.xml import CORE, TYPES, text_of
from intygstjanst.persistence import certificates as certificate_repo
from intygstjanst.persistence import sickleave as repo
from intygstjanst.persistence.sickleave import ListedCase, ListedRow, StoredSickLeave
from intygstjanst.registers import persons
from intygstjanst.registers.persons import PersonLookupError
from intygstjanst.services import Services
from intygstjanst.certificates.sickleave import ALLOWED_DEGREES, SickLeaveCase, current_chains
from intygstjanst.certificates.sickleave_view import Filters, unit_cases
from intygstjanst.certificates.sickleave_answer import (
    HSA_ROOT,
    PROTECTED_NAME,
    RH,
    T2,
    intygs_data,
    person_root,
    with_protected_name,
)

log = logging.getLogger(__name__)

# ListActiveSickLeavesForCareUnit leaves the gap between certificates to the consumer, so it answers
# with each patient's chain as merged with this gap. Any consumer merging with a gap up to this many
# days gets exactly the cases it would get from the patient's whole history; older certificates,
# separated from the current chain by more than this, are left out of the answer.
ANSWER_CHAIN_GAP = repo.CASE_GAP

SWEDEN = ZoneInfo("Europe/Stockholm")

# ============================================================================================
# Keeping the data: called by handlers.certificate.store_certificate, in its transaction
# ============================================================================================


@dataclass(frozen=True)
class SickLeaveUpdate:
    """What storing one certificate changes in the sick-leave data."""

    record: repo.NewSickLeave | None  # None: the certificate is not sick-leave data
    supersedes: tuple[str, ...]  # the certificates it replaces or completes


def prepare(
    certificate_type: CertificateType,
    intyg: etree._Element,
    stored: certificate_repo.NewCertificate,
    relations: Iterable[certificate_repo.RelationEntry],
    facts: CertificateFacts,
) -> SickLeaveUpdate:
    """Read the sick-leave facts of a certificate about to be stored (before the transaction, to
    keep it short). ``intyg`` is its RegisterCertificate v3 ``intyg`` element and ``facts`` what
    its type definition reads out of it."""
    supersedes = tuple(r.to_id for r in relations if r.kind in repo.SUPERSEDING_RELATIONS)
    record = _record(certificate_type, intyg, stored, facts)
    if record is not None:
        # Rendered now, outside the transaction, so that the lists only concatenate.
        record = replace(record, fragment=intygs_data(repo.as_stored(record)))
    return SickLeaveUpdate(record, supersedes)


def first_reads(conn: Connection, update: SickLeaveUpdate) -> list[tuple[Any, Any]]:
    """What writing ``update`` reads first, for the certificate's insert to send with it; their
    rows go to ``apply`` (``persistence.sickleave.first_reads``)."""
    return repo.first_reads(conn, update.record, update.supersedes)


def apply(conn: Connection, update: SickLeaveUpdate, read: Sequence[Sequence[Any]] = ()) -> None:
    """Write ``update`` in the transaction that stores the certificate, after the certificate row;
    ``read``: the rows of ``first_reads``, when sent."""
    repo.store(conn, update.record, update.supersedes, read)


_NS = {"core": CORE, "types": TYPES}


def _texts(path: str) -> Callable[[etree._Element], list[str]]:
    """A compiled XPath giving the stripped, non-empty text nodes at ``path``."""
    xpath = etree.XPath(f"({path})/text()", namespaces=_NS, smart_strings=False)
    return lambda element: [t.strip() for t in cast(list[str], xpath(element)) if t.strip()]


_PATIENT_NAME = _texts("core:patient/core:fornamn | core:patient/core:mellannamn | core:patient/core:efternamn")
_TITLES = _texts("core:skapadAv/core:befattning/types:code")


def _record(
    certificate_type: CertificateType,
    intyg: etree._Element,
    stored: certificate_repo.NewCertificate,
    facts: CertificateFacts,
) -> repo.NewSickLeave | None:
    # The type file says whether its periods are sick-leave data, and which answer makes them not.
    if not certificate_type.facts.sick_leave_listed or facts.sick_leave_excluded or stored.signed_at is None:
        return None
    main = next((d for d in facts.diagnoses if d.rank == 0), None)
    # The type rules have checked the periods; one without dates or with a degree the engine cannot
    # use would only come from a type file without those rules, and is not sick-leave data.
    periods = tuple(
        (p.start, p.end, p.degree)
        for p in facts.sick_leave
        if p.start is not None and p.end is not None and p.start <= p.end and p.degree in ALLOWED_DEGREES
    )
    if main is None or not periods:
        return None
    return repo.NewSickLeave(
        certificate_id=stored.id,
        type_code=stored.type_code,
        patient_id=stored.patient_id,
        patient_name=" ".join(_PATIENT_NAME(intyg)),
        care_unit_id=stored.care_unit_id,
        care_unit_name=stored.care_unit_name,
        care_giver_id=stored.care_giver_id,
        care_giver_name=text_of(intyg, "core:skapadAv/core:enhet/core:vardgivare/core:vardgivarnamn") or "",
        doctor_id=stored.signing_doctor_id,
        doctor_name=stored.signing_doctor_name,
        doctor_titles=tuple(_TITLES(intyg)),
        signed_at=stored.signed_at,
        diagnosis_code=main.code,
        diagnosis_code_system=main.code_system,
        secondary_diagnoses=tuple(d.code for d in sorted(facts.diagnoses, key=attrgetter("rank")) if d.rank > 0),
        employment=facts.employment,
        periods=periods,
        is_test=stored.is_test,
    )


# ============================================================================================
# Shared by the contracts
# ============================================================================================


def today(services: Services) -> dt.date:
    """The date in Sweden now (the clock gives naive UTC)."""
    return services.clock().replace(tzinfo=dt.UTC).astimezone(SWEDEN).date()


def care_units(services: Services) -> CareUnits:
    """The care-unit register of ``care_units_file`` (loaded and checked at start-up)."""
    return services.care_units


def protected_among(services: Services, patient_ids: Iterable[str]) -> set[str]:
    """The patients with a protected identity. Raises PersonLookupError when the register cannot be
    asked: without the answer no list may be given, since it could expose a protected person."""
    return persons.protected_among(services.persons, patient_ids)


def _ns_declarations(namespace: str, others: dict[str, str]) -> str:
    return f'xmlns:ns="{namespace}" ' + " ".join(f'xmlns{":" + p if p else ""}="{uri}"' for p, uri in others.items())


def _finish(text: Sequence[str], outcome: Outcome, disclosed: tuple[Disclosure, ...]) -> Answer:
    """The answer, written as text: for the thousands of certificates of a large unit that is
    several times faster than building a tree element by element. Every value goes through
    ``escape``; the tests check the answers against the contract's schema."""
    return Answer("".join(text).encode("utf-8"), outcome, disclosed)


def _finish_with(
    head: Sequence[str], fragments: Sequence[bytes], tail: Sequence[str], outcome: Outcome, disclosed: tuple[Disclosure, ...]
) -> Answer:
    """``_finish`` around stored fragments (UTF-8): only the few parts around them are encoded, and
    the parts are put together once, in the envelope."""
    return Answer(("".join(head).encode("utf-8"), *fragments, "".join(tail).encode("utf-8")), outcome, disclosed)


# ============================================================================================
# ListActiveSickLeavesForCareUnit v1 and ListSickLeavesForPerson v1 (certificates)
# ============================================================================================


def list_active_sick_leaves_for_care_unit(call: Call[Services]) -> Answer:
    services = call.services
    request, ns = call.request, call.contract.namespace
    unit_id = text_of(request, f"{{{ns}}}enhets-id/{{{T2}}}extension") or ""
    if not unit_id.strip():
        # Only bound, not schema-checked (contracts.toml): the national service's own check and text.
        raise SoapFault("No careUnitHsaId specified in request.")
    patient = text_of(request, f"{{{ns}}}person-id/{{{T2}}}extension")
    recently_ended_days = int(text_of(request, f"{{{ns}}}max-dagar-sedan-avslut") or 0)
    register = care_units(services)
    active_date = today(services)
    with services.db.read() as conn:
        care_giver = _care_giver_of_unit(conn, register, unit_id)
        found = repo.unit_list(
            conn,
            register.scope(unit_id),
            since=active_date - dt.timedelta(days=recently_ended_days),
            until=active_date,
            patient=patient,
            cache=services.case_cache,
        )
        rows = _rendered(conn, current_chains(found.rows, active_date, ANSWER_CHAIN_GAP, recently_ended_days))
    # Patients whose stored case is their answer (in patient order), and the chains cut from the
    # others' rows, merged into patient order.
    parts: Sequence[ListedCase] = list(found.cases.values())
    if rows:
        parts = sorted([*parts, *_by_patient(rows)], key=_PATIENT)
    # Asked about one named patient, or about the whole unit (a rehab coordinator's view).
    return _certificates_answer(call, care_giver, parts, coordinator_view=patient is None, memo=None if rows else found.memo)


def list_sick_leaves_for_person(call: Call[Services]) -> Answer:
    """The patient's certificates within the care giver that the LogicalAddress names: a care giver's
    HSA-id, or a care unit of the register (meaning its care giver). Records of other care givers
    are left out: each care giver answers for its own records (patientdatalagen)."""
    services = call.services
    ns = call.contract.namespace
    patient = text_of(call.request, f"{{{ns}}}person-id/{{{T2}}}extension") or ""
    register = care_units(services)
    address = call.logical_address or ""
    unit = register.unit(address)
    care_giver_id = unit.care_giver.id if unit is not None else address
    with services.db.read() as conn:
        rows = _rendered(conn, repo.of_patient_at_care_giver(conn, patient, care_giver_id))
    known = register.care_giver(care_giver_id)
    # A care giver the register does not list is named as its own certificates name it.
    name = known.name if known is not None else next((r.care_giver_name for r in reversed(rows)), "")
    return _certificates_answer(call, (care_giver_id, name), _by_patient(rows), coordinator_view=False)


def _by_patient(rows: Sequence[ListedRow]) -> list[ListedCase]:
    """Rows (in patient order, then each patient's in the answer's) as one part of the answer per
    patient and care giver: their fragments, and how many of them each care unit issued."""
    grouped: dict[tuple[str, str], list[ListedRow]] = {}
    for row in rows:
        grouped.setdefault((row.patient_id, row.care_giver_id), []).append(row)
    return [
        ListedCase(
            patient, care_giver, b"".join(r.fragment or b"" for r in group), tuple(Counter(r.care_unit_id for r in group).items())
        )
        for (patient, care_giver), group in grouped.items()
    ]


_PATIENT = attrgetter("patient_id")


def _care_giver_of_unit(conn: Connection, register: CareUnits, unit_id: str) -> tuple[str, str]:
    unit = register.unit(unit_id)
    if unit is not None:
        return unit.care_giver.id, unit.care_giver.name
    # Not in the register: the unit stands alone, under the care giver its certificates name.
    found = repo.care_giver_of_unit(conn, unit_id)
    if found is None:
        # No certificates at all: an empty list, as the national service answers (whose care giver
        # is unknown; the schema requires one, see UNKNOWN_CARE_GIVER).
        return UNKNOWN_CARE_GIVER
    log.warning("care unit %s is not in the care-unit register; its sub-units are not included", unit_id)
    return found


def _rendered(conn: Connection, rows: list[ListedRow]) -> list[ListedRow]:
    """``rows`` with their fragments: rows stored before fragments were kept (migration 0006, until
    ``intygstjanst sickleave rebuild``) are rendered now."""
    missing = [r.certificate_id for r in rows if r.fragment is None]
    if not missing:
        return rows
    whole = {r.certificate_id: r for r in repo.by_ids(conn, missing)}
    return [r if r.fragment is not None else r._replace(fragment=intygs_data(whole[r.certificate_id])) for r in rows]


def _certificates_answer(
    call: Call[Services],
    care_giver: tuple[str, str],
    parts: Sequence[ListedCase],
    *,
    coordinator_view: bool,
    memo: dict[str, Any] | None = None,
) -> Answer:
    """The answer listing ``parts``; ``memo``: where to keep what the answer of ``parts`` lists and
    discloses when no one is protected (the stored cases' listing, which many calls answer with)."""
    comment: str | None = None
    try:
        protected = protected_among(call.services, (p.patient_id for p in parts))
    except PersonLookupError as exc:
        log.warning("person register lookup failed for %s: %s", call.contract.name, exc)
        comment = "the person register (PU) could not be reached, so protected identities cannot be respected; try again later"
        outcome = Outcome(ResultCode.ERROR, comment)
        parts, protected = [], set()
    else:
        outcome = OK
    if coordinator_view and protected:
        parts = [p for p in parts if p.patient_id not in protected]
    if protected or memo is None:
        listed, disclosed = _listed(parts, protected)
    else:
        listed, disclosed = memo.get("answer") or memo.setdefault("answer", _listed(parts, protected))
    head, tail = _certificates_text(call.contract, care_giver, outcome, comment)
    return _finish_with(head, listed, tail, outcome, disclosed)


def _listed(parts: Sequence[ListedCase], protected: Collection[str]) -> tuple[list[bytes], tuple[Disclosure, ...]]:
    """The fragments ``parts`` answer with, and what that discloses of whom: the certificates per
    patient, care giver and care unit."""
    listed = [with_protected_name(p.fragments) if p.patient_id in protected else p.fragments for p in parts]
    return listed, Disclosure.made([(p.patient_id, p.care_giver_id, unit, n) for p in parts for unit, n in p.units])


# The care giver a fault answer names: the national service's answer to a fault has no vardgivare at
# all, which the schema requires (README: Differences from the national service).
UNKNOWN_CARE_GIVER = ("UNKNOWN", "")


def fault_answer(contract: ContractName, outcome: Outcome) -> etree._Element:
    """ListActiveSickLeavesForCareUnit's and ListSickLeavesForPerson's answer to a fault
    (contracts.rewrite): ERROR and the fault's text, no certificates."""
    head, tail = _certificates_text(contract, UNKNOWN_CARE_GIVER, outcome, outcome.text)
    return etree.fromstring("".join((*head, *tail)).encode("utf-8"))


def _certificates_text(
    contract: ContractName, care_giver: tuple[str, str], outcome: Outcome, comment: str | None
) -> tuple[list[str], list[str]]:
    """The answer's text before and after the certificates (``intygsData`` elements)."""
    ns, response = contract.namespace, contract.response
    head = [
        f"<ns:{response} {_ns_declarations(ns, {'': RH, 't': T2})}>",
        "<ns:vardgivare>",
        _hsa("vardgivarId", care_giver[0]),
        f"<vardgivarnamn>{escape(care_giver[1])}</vardgivarnamn></ns:vardgivare><ns:intygsLista>",
    ]
    tail = ["</ns:intygsLista>"]
    result = f"<ns:resultCode>{outcome.code.value}</ns:resultCode>"
    if contract.name == "ListSickLeavesForPerson":
        tail.append(f"<ns:result>{result}{_optional('ns:resultMessage', comment)}</ns:result>")
    else:
        tail.append(result + _optional("ns:comment", comment))
    tail.append(f"</ns:{response}>")
    return head, tail


def _hsa(tag: str, hsa_id: str) -> str:
    """An HSA-id element; ``t`` is the prefix of the answer's types namespace (types:2 or types:3)."""
    return f"<{tag}><t:root>{HSA_ROOT}</t:root><t:extension>{escape(hsa_id)}</t:extension></{tag}>"


def _optional(tag: str, value: str | None) -> str:
    return f"<{tag}>{escape(value)}</{tag}>" if value else ""


# ============================================================================================
# ListSickLeavesForCare v1 (cases)
# ============================================================================================


@dataclass(frozen=True)
class CareListRequest:
    unit_id: str
    max_gap: int
    filters: Filters  # the request's: length and doctors

    @classmethod
    def read(cls, request: etree._Element, ns: str) -> CareListRequest:
        def number(tag: str) -> int | None:
            value = text_of(request, f"{{{ns}}}{tag}")
            return int(value) if value is not None else None

        max_gap = number("maxDagarMellanIntyg")
        assert max_gap is not None  # required by the schema
        if max_gap < 0:
            raise SoapFault(
                f"Request to ListSickLeavesForCare has invalid value for parameter 'maxDagarMellanIntyg': {max_gap} (must be 0 or more days)"
            )
        min_days, max_days = number("minstaSjukskrivningslangd"), number("maxSjukskrivningslangd")
        if min_days is not None and max_days is not None and min_days > max_days:
            raise SoapFault(
                f"ListSickLeavesForCare: minstaSjukskrivningslangd ({min_days}) is greater than "
                f"maxSjukskrivningslangd ({max_days})"
            )
        doctors = frozenset(
            hsa for hsa in (text_of(e, "types:extension") for e in request.iterfind(f"{{{ns}}}personal-id")) if hsa
        )
        filters = Filters(min_days=min_days, max_days=max_days, doctors=doctors)
        unit_id = text_of(request, f"{{{ns}}}enhets-id/types:extension") or ""
        if not unit_id.strip():
            raise SoapFault("Request to ListSickLeavesForCare is missing required parameter 'enhets-id'")
        return cls(unit_id, max_gap, filters)


def list_sick_leaves_for_care(call: Call[Services]) -> Answer:
    """The cases ongoing today at the unit and its sub-units, chained with the request's gap from
    the certificates issued there. A request naming doctors lists their cases (a case belongs to
    the doctor who signed its active certificate); one without is a coordinator's view."""
    services, ns = call.services, call.contract.namespace
    wanted = CareListRequest.read(call.request, ns)
    register = care_units(services)
    active_date = today(services)
    with services.db.read() as conn:
        found = unit_cases(conn, register.scope(wanted.unit_id), active_date, wanted.max_gap)
    # No name search here, so whether a patient is protected does not change what the filters pass.
    cases = [c for c in found.cases if wanted.filters.wants(c, active_date, protected=False)]
    try:
        protected = protected_among(services, (c.patient_id for c in cases))
    except PersonLookupError as exc:
        raise SoapFault(
            f"the person register (PU) could not be reached, so protected identities cannot be respected: {exc}",
            "Server",
        ) from None
    if not wanted.filters.doctors:
        cases = [c for c in cases if c.patient_id not in protected]
    text = [f"<ns:{call.contract.response} {_ns_declarations(ns, {'t': TYPES})}><ns:sjukfallLista>"]
    text.extend(_sjukfall(c, found.rows[c.anchor.certificate_id], c.patient_id in protected) for c in cases)
    text.append(f"</ns:sjukfallLista></ns:{call.contract.response}>")
    # A case discloses the certificates it is computed from; it is named by its active unit.
    disclosed = Counter[tuple[str, str, str]]()
    for c in cases:
        disclosed[(c.patient_id, found.rows[c.anchor.certificate_id].care_giver_id, c.care_unit_id)] += c.certificate_count
    return _finish(text, OK, tuple(Disclosure(*whose, certificates=n) for whose, n in disclosed.items()))


def _sjukfall(case: SickLeaveCase, anchor: StoredSickLeave, protected: bool) -> str:
    name = PROTECTED_NAME if protected else case.patient_name
    code_system = _optional("ns:codeSystem", anchor.diagnosis_code_system)
    # The contract lists each degree once (at most four), in the order the case first reached it.
    degrees = "".join(f"<ns:grad>{d}</ns:grad>" for d in list(dict.fromkeys(case.degrees))[:4])
    return (
        f"<ns:sjukfall><ns:person-id><t:root>{person_root(case.patient_id)}</t:root>"
        f"<t:extension>{case.patient_id}</t:extension></ns:person-id>"
        f"{_optional('ns:patientFullstandigtNamn', name)}"
        f"{_hsa('ns:enhets-id', case.care_unit_id)}{_hsa('ns:personal-id', case.doctor_id)}"
        f"<ns:startdatum>{case.start}</ns:startdatum><ns:slutdatum>{case.end}</ns:slutdatum>"
        f"<ns:diagnoskod><ns:code>{escape(case.diagnosis.code)}</ns:code>{code_system}</ns:diagnoskod>"
        f"<ns:antalIntyg>{case.certificate_count}</ns:antalIntyg><ns:sjukskrivningslangd>{case.days}</ns:sjukskrivningslangd>"
        f"<ns:sjukskrivningsgrad><ns:aktivGrad>{case.current_degree}</ns:aktivGrad><ns:grader>{degrees}</ns:grader>"
        "</ns:sjukskrivningsgrad></ns:sjukfall>"
    )
