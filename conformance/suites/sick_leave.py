"""Sick leave for rehabilitation coordination: ListActiveSickLeavesForCareUnit v1 and
ListSickLeavesForPerson v1 (the certificates) and ListSickLeavesForCare v1 (the cases).

The kit's LISJP is a full-time sick leave from two days ago to twelve days ahead, so it is ongoing
on the day of the run. The patient has the kit's certificates from every case and run, so the
checks look for the case's own certificate, or for the patient's case, rather than at counts.
"""

from __future__ import annotations

from intygstjanst.conformance.model import Call, Case, Expectation, Fault, Suite, XPathCheck, answer, exactly, has, ok
from intygstjanst.conformance.suites._steps import register, register_successor, revoke

ACTIVE = "ListActiveSickLeavesForCareUnit:1"
FOR_PERSON = "ListSickLeavesForPerson:1"
FOR_CARE = "ListSickLeavesForCare:1"

_LISTED = "r:intygsLista/rh:intygsData/rh:intygsId"


def listed(present: bool, certificate: str = "${certificateId}") -> XPathCheck:
    return exactly(1 if present else 0, _LISTED, certificate, what=f"{certificate} among the sick-leave certificates")


def active(expect: Expectation, template: str = "ListActiveSickLeavesForCareUnit.xml", label: str = "", **params: str) -> Call:
    return Call(ACTIVE, template, expect, params=params, label=label or "list the unit's ongoing sick leaves")


def for_person(expect: Expectation, label: str = "", **params: str) -> Call:
    # Addressed to the care giver whose records are asked for.
    return Call(FOR_PERSON, "ListSickLeavesForPerson.xml", expect, params=params, address="${careGiverId}", label=label or "list the patient's sick leaves")


def cases(expect: Expectation, label: str = "", **params: str) -> Call:
    defaults = {"maxGap": "5", "minDays": "1", "maxDays": "3650", "doctorFilter": "${doctorId}"}
    return Call(FOR_CARE, "ListSickLeavesForCare.xml", expect, params={**defaults, **params}, label=label or "list the unit's sick-leave cases")


def patient_case(present: bool) -> XPathCheck:
    return exactly(
        1 if present else 0, "r:sjukfallLista/r:sjukfall/r:person-id/types:extension", "${patientId}", what="the patient's case"
    )


SUITES = [
    Suite(
        ACTIVE,
        [
            Case(
                "valid",
                "a registered LISJP of an ongoing sick leave is listed for its unit, resultCode OK",
                "valid",
                (register(), active(ok(listed(True), has("r:vardgivare/rh:vardgivarId/types2:extension", "${careGiverId}")), label="")),
            ),
            Case(
                "patient",
                "asked about the patient, the certificate is listed; asked about another, it is not",
                "wrong-patient",
                (
                    register(),
                    active(ok(listed(True)), template="ListActiveSickLeavesForCareUnit-patient.xml", label="ask about the patient"),
                    active(ok(listed(False)), template="ListActiveSickLeavesForCareUnit-patient.xml", label="ask about another patient", patientId="${otherPatientId}"),
                ),
            ),
            Case("revoked", "a revoked certificate is no sick-leave certificate any more", "revoked", (register(), revoke(), active(ok(listed(False))))),
            Case(
                "replaced",
                "a replaced certificate gives way to its replacement",
                "valid",
                (register(), register_successor("ERSATT"), active(ok(listed(False), listed(True, "${otherCertificateId}")))),
            ),
        ],
    ),
    Suite(
        FOR_PERSON,
        [
            Case(
                "valid",
                "the patient's sick-leave certificate is listed at its care giver, resultCode OK",
                "valid",
                (register(), for_person(ok(listed(True), has("r:vardgivare/rh:vardgivarId/types2:extension", "${careGiverId}")), label="")),
            ),
            Case(
                "wrong-patient",
                "another person's list does not have the certificate",
                "wrong-patient",
                (register(), for_person(ok(listed(False)), label="list another person's", patientId="${otherPatientId}")),
            ),
            Case("revoked", "a revoked certificate is not listed", "revoked", (register(), revoke(), for_person(ok(listed(False))))),
        ],
    ),
    Suite(
        FOR_CARE,
        [
            Case(
                "valid",
                "the patient's ongoing case at the unit is listed, with the doctor and the full-time degree",
                "valid",
                (
                    register(),
                    cases(
                        answer(
                            patient_case(True),
                            has("r:sjukfallLista/r:sjukfall[r:person-id/types:extension='${patientId}']/r:personal-id/types:extension", "${doctorId}"),
                            has("r:sjukfallLista/r:sjukfall[r:person-id/types:extension='${patientId}']/r:sjukskrivningsgrad/r:aktivGrad", "100"),
                        ),
                        label="",
                    ),
                ),
            ),
            Case(
                "other-doctor",
                "limited to another doctor, the patient's case is not listed",
                "valid",
                (register(), cases(answer(patient_case(False)), label="list another doctor's cases", doctorFilter="${doctorId}-ANNAN")),
            ),
            Case(
                "length-filter",
                "limited to cases of at most one day, the patient's (longer) case is not listed",
                "valid",
                (register(), cases(answer(patient_case(False)), label="list cases of at most one day", maxDays="1")),
            ),
            Case(
                "negative-gap",
                "a negative number of days between certificates: SOAP Fault",
                "bad-input",
                (cases(Fault(), maxGap="-1"),),
            ),
        ],
    ),
]
