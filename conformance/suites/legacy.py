"""The legacy generations: FK 7263 in the insuranceprocess contracts (RIV-TA 2.0, addressed with
``wsa:To``, answered with ``ResultOfCall``) and Transportstyrelsen's own v1 contracts (answered with
``ResultatTyp``). A certificate registered through them is the same certificate to the current
contracts, so some cases read it back with GetCertificate."""

from __future__ import annotations

from intygstjanst.conformance.model import Call, Case, Expectation, Suite, answer, error, info, ok
from intygstjanst.conformance.suites._steps import certificate_is, get, status_count

REGISTER_FK7263 = "RegisterMedicalCertificate:3"
REVOKE_FK7263 = "RevokeMedicalCertificate:1"
SEND_FK7263 = "SendMedicalCertificate:1"
SET_STATUS_1 = "SetCertificateStatus:1"
TS_BAS = "RegisterTSBas:1"
TS_DIABETES = "RegisterTSDiabetes:1"


def legacy(contract: str, template: str, expect: Expectation | None, label: str, **params: str) -> Call:
    return Call(contract, template, expect or ok(), params=params, label=label)


def register_fk7263(expect: Expectation | None = None, label: str = "register an FK 7263", **params: str) -> Call:
    return legacy(REGISTER_FK7263, "RegisterMedicalCertificate.xml", expect, label, **params)


def revoke_fk7263(expect: Expectation | None = None, label: str = "revoke it", **params: str) -> Call:
    return legacy(REVOKE_FK7263, "RevokeMedicalCertificate.xml", expect, label, **params)


def send_fk7263(expect: Expectation | None = None, label: str = "send it to Försäkringskassan", **params: str) -> Call:
    return legacy(SEND_FK7263, "SendMedicalCertificate.xml", expect, label, **params)


def set_status_1(status: str, expect: Expectation | None = None, label: str = "", **params: str) -> Call:
    return legacy(
        SET_STATUS_1, "SetCertificateStatus-v1.xml", expect, label or f"the recipient sets {status}",
        **{"status": status, "part": "${recipientId}", **params},
    )


def registration_suite(contract: str, template: str, what: str) -> Suite:
    """RegisterMedicalCertificate, RegisterTSBas and RegisterTSDiabetes store a certificate once."""

    def register(expect: Expectation | None = None, label: str = f"register {what}", **params: str) -> Call:
        return legacy(contract, template, expect, label, **params)

    return Suite(
        contract,
        [
            Case("valid", f"{what} is stored: OK", "valid", (register(ok(), label=""),)),
            Case(
                "readable",
                "the stored certificate reads back through GetCertificate, RECEIV",
                "valid",
                (register(), get(answer(certificate_is(), status_count(1, "RECEIV")), label="read it back")),
            ),
            Case("duplicate", "the same certificate again: INFO", "duplicate", (register(), register(info(), label="register it again"))),
            Case(
                "wrong-patient",
                "the same id for another patient: ERROR APPLICATION_ERROR, as nationally",
                "wrong-patient",
                (
                    register(),
                    register(
                        error("APPLICATION_ERROR", text="Invalid certificate ID"),
                        label="register the id for another patient",
                        patientId="${otherPatientId}",
                    ),
                ),
            ),
            Case(
                "invalid-patient-id",
                "a personnummer the person register does not know (a wrong check digit): ERROR APPLICATION_ERROR, "
                "the national service's failure while storing",
                "bad-input",
                (register(error("APPLICATION_ERROR"), label="", patientId="${invalidPatientId}"),),
            ),
        ],
    )


SUITES = [
    registration_suite(REGISTER_FK7263, "RegisterMedicalCertificate.xml", "an FK 7263"),
    registration_suite(TS_BAS, "RegisterTSBas.xml", "a ts-bas certificate"),
    registration_suite(TS_DIABETES, "RegisterTSDiabetes.xml", "a ts-diabetes certificate"),
    Suite(
        REVOKE_FK7263,
        [
            Case(
                "valid",
                "revoking a registered FK 7263: OK, and it reads as CANCEL",
                "valid",
                (register_fk7263(), revoke_fk7263(ok(), label=""), get(answer(status_count(1, "CANCEL")), label="read it back")),
            ),
            Case(
                "already-revoked",
                "revoking it again: INFO",
                "revoked",
                (register_fk7263(), revoke_fk7263(), revoke_fk7263(info("Certificate '${certificateId}' is already revoked."), label="revoke it again")),
            ),
            Case(
                "unknown-id",
                "an id never registered: ERROR VALIDATION_ERROR (the text names the patient's pseudonym)",
                "unknown-id",
                (revoke_fk7263(error("VALIDATION_ERROR"), label="", certificateId="${unknownCertificateId}"),),
            ),
            Case(
                "wrong-patient",
                "naming another patient than the certificate's: ERROR VALIDATION_ERROR",
                "wrong-patient",
                (register_fk7263(), revoke_fk7263(error("VALIDATION_ERROR"), label="revoke it for another patient", patientId="${otherPatientId}")),
            ),
        ],
    ),
    Suite(
        SEND_FK7263,
        [
            Case(
                "valid",
                "sending a registered FK 7263: OK once Försäkringskassan has it, and it reads as SENTTO",
                "valid",
                (register_fk7263(), send_fk7263(ok(), label=""), get(answer(status_count(1, "SENTTO", "FKASSA")), label="read it back")),
            ),
            Case(
                "already-sent",
                "sending it again: INFO",
                "duplicate",
                (register_fk7263(), send_fk7263(), send_fk7263(info("Certificate '${certificateId}' is already sent."), label="send it again")),
            ),
            Case(
                "revoked",
                "sending a revoked FK 7263: INFO, nothing is sent",
                "revoked",
                (register_fk7263(), revoke_fk7263(), send_fk7263(info("Certificate '${certificateId}' has been revoked."))),
            ),
            Case(
                "unknown-id",
                "an id never registered: ERROR VALIDATION_ERROR (the text names the patient's pseudonym)",
                "unknown-id",
                (send_fk7263(error("VALIDATION_ERROR"), label="", certificateId="${unknownCertificateId}"),),
            ),
        ],
    ),
    Suite(
        SET_STATUS_1,
        [
            Case(
                "valid",
                "a recipient reports that it has the certificate: OK, and it reads as SENTTO that recipient",
                "valid",
                (register_fk7263(), set_status_1("SENT", ok(), label=""), get(answer(status_count(1, "SENTTO", "${recipientId}")), label="read it back")),
            ),
            Case(
                "target-fk",
                "target FK means Försäkringskassan: OK, and it reads as SENTTO FKASSA",
                "valid",
                (
                    register_fk7263(),
                    set_status_1("SENT", ok(), label="Försäkringskassan sets SENT as FK", part="FK"),
                    get(answer(status_count(1, "SENTTO", "FKASSA")), label="read it back"),
                ),
            ),
            Case(
                "unknown-id",
                "a status for an id never registered: ERROR",
                "unknown-id",
                (set_status_1("SENT", error("VALIDATION_ERROR"), label="", certificateId="${unknownCertificateId}"),),
            ),
            Case(
                "wrong-patient",
                "naming another patient than the certificate's: ERROR",
                "wrong-patient",
                (register_fk7263(), set_status_1("SENT", error("VALIDATION_ERROR"), label="set a status naming another patient", patientId="${otherPatientId}")),
            ),
            Case(
                "unknown-part",
                "a part the producer does not know: ERROR",
                "bad-input",
                (register_fk7263(), set_status_1("SENT", error("VALIDATION_ERROR"), label="an unknown part sets a status", part="${unknownRecipientId}")),
            ),
        ],
    ),
]
