"""The read contracts of the legacy generations: GetMedicalCertificate v1 (an FK 7263 as
``lakarutlatande``), ListCertificates v1 (a citizen's certificates as insuranceprocess metadata,
RIV-TA 2.0) and GetTSBas v1 / GetTSDiabetes v1 (Transportstyrelsen's version 1 form). Each reads
what a legacy registration stored."""

from __future__ import annotations

from intygstjanst.conformance.model import Call, Case, Expectation, Suite, error, has, lacks, ok
from intygstjanst.conformance.suites.legacy import TS_BAS, TS_DIABETES, legacy, register_fk7263, revoke_fk7263

GET_MEDICAL = "GetMedicalCertificate:1"
LIST = "ListCertificates:1"
GET_TS_BAS = "GetTSBas:1"
GET_TS_DIABETES = "GetTSDiabetes:1"


def read(contract: str, expect: Expectation, label: str = "", **params: str) -> Call:
    return Call(contract, f"{contract.split(':')[0]}.xml", expect, params=params, label=label or "read it")


def ts_suite(contract: str, register_contract: str, template: str, what: str) -> Suite:
    def register() -> Call:
        return legacy(register_contract, template, None, f"register {what}")

    return Suite(
        contract,
        [
            Case(
                "valid",
                f"{what} reads back in its version 1 form with its metadata: OK",
                "valid",
                (register(), read(contract, ok(has("r:intyg/ts:intygsId", "${certificateId}"), has("r:meta/ts:available", "true")))),
            ),
            Case(
                "unknown-id",
                "an id never registered: ERROR VALIDATION_ERROR",
                "unknown-id",
                (read(contract, error("VALIDATION_ERROR"), certificateId="${unknownCertificateId}"),),
            ),
            Case(
                "wrong-patient",
                "naming another patient than the certificate's: ERROR VALIDATION_ERROR, no certificate",
                "wrong-patient",
                (register(), read(contract, error("VALIDATION_ERROR"), "read it for another patient", patientId="${otherPatientId}")),
            ),
        ],
    )


SUITES = [
    Suite(
        GET_MEDICAL,
        [
            Case(
                "valid",
                "a registered FK 7263 reads back as lakarutlatande with its metadata: OK",
                "valid",
                (register_fk7263(), read(GET_MEDICAL, ok(has("r:meta/c1:certificateId", "${certificateId}"), has("r:lakarutlatande")))),
            ),
            Case(
                "revoked",
                "a revoked FK 7263: ERROR REVOKED, with the certificate",
                "revoked",
                (register_fk7263(), revoke_fk7263(), read(GET_MEDICAL, error("REVOKED", checks=(has("r:lakarutlatande"),)))),
            ),
            Case(
                "unknown-id",
                "an id never registered: ERROR VALIDATION_ERROR",
                "unknown-id",
                (read(GET_MEDICAL, error("VALIDATION_ERROR"), certificateId="${unknownCertificateId}"),),
            ),
            Case(
                "wrong-patient",
                "naming another patient than the certificate's: ERROR VALIDATION_ERROR",
                "wrong-patient",
                (register_fk7263(), read(GET_MEDICAL, error("VALIDATION_ERROR"), "read it for another patient", patientId="${otherPatientId}")),
            ),
        ],
    ),
    Suite(
        LIST,
        [
            Case(
                "valid",
                "a registered FK 7263 is listed as metadata: OK",
                "valid",
                (register_fk7263(), read(LIST, ok(has("r:meta/cert:certificateId", "${certificateId}")), "list the citizen's certificates")),
            ),
            Case(
                "bad-patient-id",
                "a patient id that is no personnummer: ERROR APPLICATION_ERROR, nothing listed",
                "bad-input",
                (read(LIST, error("APPLICATION_ERROR", checks=(lacks("r:meta"),)), patientIdDashed="not-a-personnummer"),),
            ),
        ],
    ),
    ts_suite(GET_TS_BAS, TS_BAS, "RegisterTSBas.xml", "a ts-bas certificate"),
    ts_suite(GET_TS_DIABETES, TS_DIABETES, "RegisterTSDiabetes.xml", "a ts-diabetes certificate"),
]
