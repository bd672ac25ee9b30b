"""ListCertificatesForCare v3 and ListCertificatesForCitizen v3 / v4: a patient's certificates as care
and as the citizen see them.

Patients keep their certificates from earlier runs, so the checks look for the case's own
certificate in the list rather than at the list's length.
"""

from __future__ import annotations

from intygstjanst.conformance.model import Call, Case, Expectation, Suite, XPathCheck, answer, error, ok
from intygstjanst.conformance.suites._steps import archive, in_list, listed_status, register, revoke

CARE = "ListCertificatesForCare:3"
# Schema-valid (12 digits) but no personnummer's form: the national service reads 19xx and 20xx only.
NOT_A_PERSONNUMMER = "181212121212"


def for_care(expect: Expectation, label: str = "", **params: str) -> Call:
    return Call(CARE, "ListCertificatesForCare.xml", expect, params=params, label=label or "care lists the patient's certificates")


care_suite = Suite(
    CARE,
    [
        Case(
            "valid",
            "a registered certificate is listed for its care unit, RECEIV",
            "valid",
            (register(), for_care(answer(in_list(True), listed_status(1, "RECEIV")), label="")),
        ),
        Case(
            "revoked",
            "a revoked certificate is still listed for care, CANCEL",
            "revoked",
            (register(), revoke(), for_care(answer(in_list(True), listed_status(1, "CANCEL")))),
        ),
        Case(
            "archived-by-citizen",
            "the citizen's archiving neither hides the certificate from care nor shows in its statuses",
            "valid",
            (register(), archive(), for_care(answer(in_list(True), listed_status(0, "DELETE")))),
        ),
        Case(
            "wrong-patient",
            "another patient's list at the same care unit does not have the certificate",
            "wrong-patient",
            (register(), for_care(answer(in_list(False)), label="list another patient's", patientId="${otherPatientId}")),
        ),
        Case(
            "other-care-unit",
            "the patient's list at another care unit does not have the certificate",
            "unknown-id",
            (register(), for_care(answer(in_list(False)), label="list at another unit", careUnitId="${careUnitId}-ANNAN")),
        ),
        Case(
            "not-a-personnummer",
            "12 digits that are no personnummer (not 19xx or 20xx): an empty list, as the national service answers",
            "bad-input",
            (for_care(answer(in_list(False)), label="", patientId=NOT_A_PERSONNUMMER),),
        ),
    ],
)


def citizen_suite(major: int) -> Suite:
    """The same cases for v3 and v4; v3 answers a list with resultCode OK, and both answer an id that
    is no personnummer with the national service's rewritten fault (v4 in a core ``result``)."""
    key = f"ListCertificatesForCitizen:{major}"

    def listing(
        *checks: XPathCheck, archived: str = "false", label: str = "", template: str = "ListCertificatesForCitizen.xml", **params: str
    ) -> Call:
        expect = ok(*checks) if major == 3 else answer(*checks)
        return Call(
            key, template, expect, params={"part": "INVANA", "archived": archived, **params},
            label=label or "the citizen lists their certificates",
        )

    def filtered(*checks: XPathCheck, **params: str) -> Call:
        return listing(
            *checks, template="ListCertificatesForCitizen-filtered.xml",
            label="the citizen lists ${typeFilter} signed ${fromDate} to ${toDate}",
            **{"typeFilter": "${certificateType}", "fromDate": "${periodStart}", "toDate": "${today}", **params},
        )

    return Suite(
        key,
        [
            Case("valid", "a registered certificate is listed, RECEIV", "valid", (register(), listing(in_list(True), listed_status(1, "RECEIV"), label=""))),
            Case(
                "archived",
                "an archived certificate leaves the list and is in the list of archived ones",
                "valid",
                (register(), archive(), listing(in_list(False)), listing(in_list(True), listed_status(1, "DELETE"), archived="true", label="list the archived ones")),
            ),
            Case(
                "revoked",
                "a revoked certificate is listed, CANCEL",
                "revoked",
                (register(), revoke(), listing(in_list(True), listed_status(1, "CANCEL"))),
            ),
            Case(
                "type-and-dates",
                "limits by type and signing date: in with its own type and today's date, out with another type or a later range",
                "valid",
                (
                    register(),
                    filtered(in_list(True)),
                    filtered(in_list(False), typeFilter="LUSE"),
                    filtered(in_list(False), fromDate="${periodEnd}", toDate="${periodEnd}"),
                ),
            ),
            Case(
                "wrong-patient",
                "another person's list does not have the certificate",
                "wrong-patient",
                (register(), listing(in_list(False), label="list another person's", patientId="${otherPatientId}")),
            ),
            Case(
                "invalid-person-id",
                "a personnummer with a wrong check digit is no one's: no certificate listed",
                "bad-input",
                (listing(in_list(False), label="", patientId="${invalidPatientId}"),),
            ),
            Case(
                "not-a-personnummer",
                "12 digits that are no personnummer: ERROR APPLICATION_ERROR 'Invalid/missing civicRegistrationNumber'",
                "bad-input",
                (
                    Call(
                        key, "ListCertificatesForCitizen.xml",
                        error("APPLICATION_ERROR", text="Invalid/missing civicRegistrationNumber"),
                        params={"part": "INVANA", "archived": "false", "patientId": NOT_A_PERSONNUMMER},
                    ),
                ),
            ),
        ],
    )


SUITES = [care_suite, citizen_suite(3), citizen_suite(4)]
