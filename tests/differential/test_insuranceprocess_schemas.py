"""The legacy FK7263 contracts (insuranceprocess:healthreporting, RIV-TA BP 2.0).

Our responder schemas must give the same verdict as the official ones on every
sample message and on a generated mutation corpus; our WSDLs must load in zeep
and describe the rivtabp20 binding (wsa:To header, official soapAction).
"""

from __future__ import annotations

from intygstjanst.tests.differential.legacy_mutations import (
    FOREIGN_NS,
    WSA_TO,
    Case,
    Variant,
    compare,
    family_tests,
    sample_payloads,
    schemas,
)
from intygstjanst.tests.support import require_shared

require_shared()
OFFICIAL = "rivta/insuranceprocess-healthreporting/schemas/interactions"

HR = "urn:riv:insuranceprocess:healthreporting:2"
QA = "urn:riv:insuranceprocess:healthreporting:medcertqa:1"

# Care-side addressee and patient blocks shared by the hand-written bases below.
_HOS_PERSONAL = f"""
  <hr:personal-id xmlns:hr="{HR}" root="1.2.752.129.2.1.4.1" extension="SE2321000016-1234"/>
  <hr:fullstandigtNamn xmlns:hr="{HR}">Ajla Doktor</hr:fullstandigtNamn>
  <hr:forskrivarkod xmlns:hr="{HR}">1234567</hr:forskrivarkod>
  <hr:enhet xmlns:hr="{HR}">
    <hr:enhets-id root="1.2.752.129.2.1.4.1" extension="SE2321000016-ABCD"/>
    <hr:arbetsplatskod root="1.2.752.29.4.71" extension="1234567890"/>
    <hr:enhetsnamn>Vårdcentralen Norr</hr:enhetsnamn>
    <hr:postadress>Storgatan 1</hr:postadress>
    <hr:postnummer>12345</hr:postnummer>
    <hr:postort>Norrby</hr:postort>
    <hr:telefonnummer>0101-234567</hr:telefonnummer>
    <hr:epost>vc@example.se</hr:epost>
    <hr:vardgivare>
      <hr:vardgivare-id root="1.2.752.129.2.1.4.1" extension="SE2321000016-VG01"/>
      <hr:vardgivarnamn>Region Norr</hr:vardgivarnamn>
    </hr:vardgivare>
  </hr:enhet>"""

_CERTIFICATE_REF = f"""
  <qa:lakarutlatande-id xmlns:qa="{QA}">8d0f7c3e-1b2a-4c55-9f00-0123456789ab</qa:lakarutlatande-id>
  <qa:signeringsTidpunkt xmlns:qa="{QA}">2013-03-17T15:57:00</qa:signeringsTidpunkt>
  <qa:patient xmlns:qa="{QA}" xmlns:hr="{HR}">
    <hr:person-id root="1.2.752.129.2.1.3.1" extension="19121212-1212"/>
    <hr:fullstandigtNamn>Tolvan Tolvansson</hr:fullstandigtNamn>
  </qa:patient>"""

_RESULT_OK = f'<hr:resultCode xmlns:hr="{HR}">OK</hr:resultCode>'
_RESULT_ERROR = f"""
  <hr:resultCode xmlns:hr="{HR}">ERROR</hr:resultCode>
  <hr:infoText xmlns:hr="{HR}">see errorText</hr:infoText>
  <hr:errorId xmlns:hr="{HR}">VALIDATION_ERROR</hr:errorId>
  <hr:errorText xmlns:hr="{HR}">lakarutlatande-id is missing</hr:errorText>"""


def _revoke_request() -> str:
    ns = "urn:riv:insuranceprocess:healthreporting:RevokeMedicalCertificateResponder:1"
    return f"""
<RevokeMedicalCertificateRequest xmlns="{ns}">
  <revoke>
    <vardReferens-id>revoke-0001</vardReferens-id>
    <meddelande>Fel patient</meddelande>
    <avsantTidpunkt>2013-03-18T08:00:00</avsantTidpunkt>
    <adressVard><qa:hosPersonal xmlns:qa="{QA}">{_HOS_PERSONAL}</qa:hosPersonal></adressVard>
    <lakarutlatande>{_CERTIFICATE_REF}</lakarutlatande>
  </revoke>
</RevokeMedicalCertificateRequest>"""


def _send_request() -> str:
    ns = "urn:riv:insuranceprocess:healthreporting:SendMedicalCertificateResponder:1"
    return f"""
<SendMedicalCertificateRequest xmlns="{ns}">
  <send>
    <vardReferens-id>send-0001</vardReferens-id>
    <avsantTidpunkt>2013-03-18T08:00:00</avsantTidpunkt>
    <adressVard><qa:hosPersonal xmlns:qa="{QA}">{_HOS_PERSONAL}</qa:hosPersonal></adressVard>
    <lakarutlatande>{_CERTIFICATE_REF}</lakarutlatande>
  </send>
</SendMedicalCertificateRequest>"""


def _set_status_request() -> str:
    ns = "urn:riv:insuranceprocess:healthreporting:SetCertificateStatusResponder:1"
    return f"""
<SetCertificateStatusRequest xmlns="{ns}">
  <certificateId>8d0f7c3e-1b2a-4c55-9f00-0123456789ab</certificateId>
  <nationalIdentityNumber>19121212-1212</nationalIdentityNumber>
  <target>FKASSA</target>
  <status>RECEIVED</status>
  <timestamp>2013-03-18T08:00:00</timestamp>
</SetCertificateStatusRequest>"""


# Types no message of these contracts uses, embedded as xsi:typed foreign
# elements so that their content models are compared too.
_TYPED = f'xmlns:f="{FOREIGN_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
_ISO_TYPED = (
    f'<f:quantity {_TYPED} xmlns:iso="urn:iso:21090:dt:1" xsi:type="iso:PQ" value="1.5" unit="mg"'
    ' nullFlavor="NI" flavorId="f" updateMode="A" validTimeLow="2013" validTimeHigh="2014"'
    ' controlActRoot="1.2.3" controlActExtension="4"/>',
    f'<f:id {_TYPED} xmlns:iso="urn:iso:21090:dt:1" xsi:type="iso:II" root="1.2.752.129.2.1.3.1"'
    ' extension="19121212-1212" identifierName="personnummer" nullFlavor="MSK" updateMode="K"/>',
)
_QA_TYPED = (
    f'<f:contact {_TYPED} xmlns:qa="{QA}" xsi:type="qa:fkKontaktType"><qa:kontakt>Handläggare 12</qa:kontakt></f:contact>',
    f'<f:completion {_TYPED} xmlns:qa="{QA}" xsi:type="qa:kompletteringType">'
    "<qa:falt>Fält 4</qa:falt><qa:text>Ange datum för undersökning</qa:text></f:completion>",
    f'<f:content {_TYPED} xmlns:qa="{QA}" xsi:type="qa:innehallType">'
    "<qa:meddelandeText>Vi behöver en komplettering</qa:meddelandeText>"
    "<qa:signeringsTidpunkt>2013-03-18T08:00:00</qa:signeringsTidpunkt></f:content>",
)
_CERT_TYPED = (
    f'<f:meta {_TYPED} xmlns:c="urn:riv:insuranceprocess:certificate:1" xsi:type="c:CertificateMetaType">'
    "<c:certificateId>8d0f7c3e</c:certificateId><c:certificateType>fk7263</c:certificateType>"
    "<c:validFrom>2013-03-18</c:validFrom><c:validTo>2013-04-18</c:validTo><c:issuerName>Ajla Doktor</c:issuerName>"
    "<c:facilityName>Vårdcentralen Norr</c:facilityName><c:signDate>2013-03-17</c:signDate>"
    "<c:available>true</c:available>"
    "<c:status><c:target>FKASSA</c:target><c:type>SENT</c:type><c:timestamp>2013-03-18T08:00:00</c:timestamp></c:status>"
    "<c:status><c:target>FKASSA</c:target><c:type>RECEIVED</c:type>"
    "<c:timestamp>2013-03-18T09:00:00</c:timestamp></c:status></f:meta>",
)


def _response(element: str, ns: str, result: str) -> str:
    return f'<{element} xmlns="{ns}"><result>{result}</result></{element}>'


RMC_NS = "urn:riv:insuranceprocess:healthreporting:RegisterMedicalCertificateResponder:3"
REVOKE_NS = "urn:riv:insuranceprocess:healthreporting:RevokeMedicalCertificateResponder:1"
SEND_NS = "urn:riv:insuranceprocess:healthreporting:SendMedicalCertificateResponder:1"
STATUS_NS = "urn:riv:insuranceprocess:healthreporting:SetCertificateStatusResponder:1"


def _case(
    name: str,
    version: str,
    namespace: str,
    request: str,
    hand_written: tuple[str, ...],
    embedded: tuple[str, ...] = (),
    samples: str | None = None,
    minimum_mutations: int = 50,
) -> Case:
    return Case(
        name=name,
        schema_version=version,
        wsdl_version=version,
        profile="RIVTABP20",
        official_dir=f"{OFFICIAL}/{name}Interaction",
        namespace=namespace,
        request=request,
        response=f"{name}Response",
        hand_written=hand_written,
        embedded=embedded,
        samples=samples,
        minimum_mutations=minimum_mutations,
    )


CASES = (
    _case(
        "RegisterMedicalCertificate",
        "3.1",
        RMC_NS,
        "RegisterMedicalCertificate",
        hand_written=(
            _response("RegisterMedicalCertificateResponse", RMC_NS, _RESULT_ERROR),
            f'<RegisterMedicalCertificateResponse xmlns="{RMC_NS}"/>',
        ),
        embedded=_ISO_TYPED,
        samples="RegisterMedicalCertificate",
        minimum_mutations=200,
    ),
    _case(
        "RevokeMedicalCertificate",
        "1.0",
        REVOKE_NS,
        "RevokeMedicalCertificateRequest",
        hand_written=(_revoke_request(), _response("RevokeMedicalCertificateResponse", REVOKE_NS, _RESULT_ERROR)),
        embedded=_QA_TYPED,
    ),
    _case(
        "SendMedicalCertificate",
        "1.0",
        SEND_NS,
        "SendMedicalCertificateRequest",
        hand_written=(_send_request(), _response("SendMedicalCertificateResponse", SEND_NS, _RESULT_OK)),
        embedded=_QA_TYPED,
    ),
    _case(
        "SetCertificateStatus",
        "1.0",
        STATUS_NS,
        "SetCertificateStatusRequest",
        hand_written=(_set_status_request(), _response("SetCertificateStatusResponse", STATUS_NS, _RESULT_ERROR)),
        embedded=(*_CERT_TYPED, *_ISO_TYPED),
    ),
)
BY_NAME = {case.name: case for case in CASES}

# Deliberate mistakes in a copy of our schemas; each must change some verdict.
PLANTED_FAULTS = (
    ("RegisterMedicalCertificate", "legacy/insuranceprocess/mu7263_3.1.xsd",
     'type="mu:referensType" minOccurs="0" maxOccurs="2"', 'type="mu:referensType" minOccurs="0" maxOccurs="3"'),
    ("RegisterMedicalCertificate", "legacy/iso21090/iso21090_dt_subset.xsd",
     '<xs:enumeration value="MSK"/>', ""),
    ("RegisterMedicalCertificate", "legacy/iso21090/iso21090_dt_subset.xsd",
     '<xs:attribute name="identifierName" type="xs:string"/>', ""),
    ("RegisterMedicalCertificate", "legacy/insuranceprocess/healthreporting_2.xsd",
     '<xs:enumeration value="TRANSFORMATION_ERROR"/>', ""),
    ("RevokeMedicalCertificate", "interactions/RevokeMedicalCertificateResponder_1.0.xsd",
     '<xs:element name="meddelande" type="xs:string" minOccurs="0"/>', '<xs:element name="meddelande" type="xs:string"/>'),
    ("SetCertificateStatus", "legacy/insuranceprocess/certificate_1.xsd", '<xs:enumeration value="IN_PROGRESS"/>', ""),
    # Types the contracts never use still count: instances can name them in xsi:type.
    ("RegisterMedicalCertificate", "legacy/iso21090/iso21090_dt_subset.xsd",
     '<xs:attribute name="value" type="iso:Decimal"/>', '<xs:attribute name="value" type="xs:string"/>'),
    ("SendMedicalCertificate", "legacy/insuranceprocess/medcertqa_1.xsd", '<xs:element name="falt" type="xs:string"/>', ""),
    ("SetCertificateStatus", "legacy/insuranceprocess/certificate_1.xsd",
     '<xs:element name="validTo" type="xs:date"/>', '<xs:element name="validTo" type="xs:date" minOccurs="0"/>'),
)


(
    test_same_global_declarations,
    test_same_verdict_on_mutations,
    test_corpus_detects_planted_fault,
    test_wsdl_binds_like_official_with_wsa_to_header,
) = family_tests(CASES, PLANTED_FAULTS, lambda _case: WSA_TO)


def test_same_verdict_on_samples() -> None:
    case = BY_NAME["RegisterMedicalCertificate"]
    official, ours = schemas(case)
    result = compare(official, ours, (Variant(label, doc) for label, doc in sample_payloads(case)))
    assert not result.disagreements, "\n".join(result.disagreements)
    # 29 samples: requests and one response, accepted and rejected ones (see samples/INDEX.md).
    assert (result.compared, result.valid, result.invalid) == (29, 17, 12)
