"""The read contracts of the legacy families: GetMedicalCertificate 1.0, ListCertificates 1.0 and
GetCertificate 1.0 (insuranceprocess, RIV-TA BP 2.0), GetTSBas 1.0 and GetTSDiabetes 1.0.

Our responder schemas must give the same verdict as the official ones on a generated mutation
corpus built from valid requests and answers (no sample messages exist for these contracts; the
answers carry the certificates of the RegisterMedicalCertificate / RegisterTSBas /
RegisterTSDiabetes samples); our WSDLs must load in zeep and describe the official binding.
"""

from __future__ import annotations

from lxml import etree

from intygstjanst.tests.differential.legacy_mutations import (
    FOREIGN_NS,
    LOGICAL_ADDRESS,
    WSA_TO,
    Case,
    family_tests,
)
from intygstjanst.tests.support import payload_of, require_shared, shared_dir

require_shared()
C1 = "urn:riv:clinicalprocess:healthcond:certificate:1"
HR = "urn:riv:insuranceprocess:healthreporting:2"
CERT = "urn:riv:insuranceprocess:certificate:1"
TS = "urn:local:se:intygstjanster:services:1"
TT = "urn:local:se:intygstjanster:services:types:1"
_TYPED = f'xmlns:f="{FOREIGN_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


def _certificate(folder: str, name: str, local: str, namespace: str) -> str:
    """The certificate element (``lakarutlatande`` / ``intyg``) of a register sample, renamed into
    ``namespace`` (the reading contract's), as text."""
    payload = payload_of(shared_dir() / "samples" / folder / name)
    found = payload.find(f"{{*}}{local}")
    assert found is not None, f"{name} has no {local}"
    found.tag = f"{{{namespace}}}{local}"
    return etree.tostring(found, encoding="unicode")


# -- GetMedicalCertificate ---------------------------------------------------------------------

GMC = "urn:riv:clinicalprocess:healthcond:certificate:GetMedicalCertificateResponder:1"
_C1_META = (
    f'<meta xmlns:c1="{C1}"><c1:certificateId>fk-1</c1:certificateId><c1:certificateType>fk7263</c1:certificateType>'
    "<c1:validFrom>2013-03-17</c1:validFrom><c1:validTo>2013-05-01</c1:validTo>"
    "<c1:issuerName>Ajla Doktor</c1:issuerName><c1:facilityName>Vårdcentralen Norr</c1:facilityName>"
    "<c1:signDate>2013-03-17T15:57:00</c1:signDate><c1:available>true</c1:available>"
    "<c1:status><c1:target>HSVARD</c1:target><c1:type>RECEIVED</c1:type><c1:timestamp>2013-03-17T16:00:00</c1:timestamp></c1:status>"
    "<c1:status><c1:target>FKASSA</c1:target><c1:type>SENT</c1:type><c1:timestamp>2013-03-18T09:00:00</c1:timestamp></c1:status>"
    "</meta>"
)


def _gmc_cases() -> Case:
    lakarutlatande = _certificate("RegisterMedicalCertificate", "common__fk7263-scenarios-transport-valid-scenario1.xml", "lakarutlatande", GMC)
    return Case(
        name="GetMedicalCertificate",
        schema_version="1.0",
        wsdl_version="1.0",
        profile="RIVTABP21",
        official_dir="intyg/clinicalprocess-healthcond-certificate/schemas/interactions/GetMedicalCertificateInteraction",
        namespace=GMC,
        request="GetMedicalCertificateRequest",
        response="GetMedicalCertificateResponse",
        hand_written=(
            f'<GetMedicalCertificateRequest xmlns="{GMC}"><certificateId>fk-1</certificateId>'
            "<nationalIdentityNumber>19121212-1212</nationalIdentityNumber><part>FKASSA</part></GetMedicalCertificateRequest>",
            f'<GetMedicalCertificateResponse xmlns="{GMC}">{_C1_META}{lakarutlatande}'
            f'<result xmlns:c1="{C1}"><c1:resultCode>ERROR</c1:resultCode><c1:resultText>revoked</c1:resultText>'
            "<c1:errorId>REVOKED</c1:errorId></result></GetMedicalCertificateResponse>",
            f'<GetMedicalCertificateResponse xmlns="{GMC}"><result xmlns:c1="{C1}"><c1:resultCode>OK</c1:resultCode></result>'
            "</GetMedicalCertificateResponse>",
        ),
        minimum_mutations=200,
    )


# -- ListCertificates ---------------------------------------------------------------------------

LCR = "urn:riv:insuranceprocess:healthreporting:ListCertificatesResponder:1"
_CERT_META = (
    f'<meta xmlns:cert="{CERT}"><cert:certificateId>fk-1</cert:certificateId><cert:certificateType>fk7263</cert:certificateType>'
    "<cert:validFrom>2013-03-17</cert:validFrom><cert:validTo>2013-05-01</cert:validTo>"
    "<cert:issuerName>Ajla Doktor</cert:issuerName><cert:facilityName>Vårdcentralen Norr</cert:facilityName>"
    "<cert:signDate>2013-03-17</cert:signDate><cert:available>true</cert:available>"
    "<cert:status><cert:target>HSVARD</cert:target><cert:type>RECEIVED</cert:type><cert:timestamp>2013-03-17T16:00:00</cert:timestamp></cert:status>"
    "</meta>"
)
LIST_CERTIFICATES = Case(
    name="ListCertificates",
    schema_version="1.0",
    wsdl_version="1.0",
    profile="RIVTABP20",
    official_dir="rivta/insuranceprocess-healthreporting/schemas/interactions/ListCertificatesInteraction",
    namespace=LCR,
    request="ListCertificatesRequest",
    response="ListCertificatesResponse",
    hand_written=(
        f'<ListCertificatesRequest xmlns="{LCR}"><nationalIdentityNumber>19121212-1212</nationalIdentityNumber>'
        "<certificateType>fk7263</certificateType><certificateType>lisjp</certificateType><available>true</available>"
        "<fromDate>2013-01-01</fromDate><toDate>2013-12-31</toDate></ListCertificatesRequest>",
        f'<ListCertificatesResponse xmlns="{LCR}">{_CERT_META}{_CERT_META}'
        f'<result xmlns:hr="{HR}"><hr:resultCode>OK</hr:resultCode><hr:infoText>listed</hr:infoText></result></ListCertificatesResponse>',
    ),
    embedded=(
        f'<f:result {_TYPED} xmlns:hr="{HR}" xsi:type="hr:ResultOfCall"><hr:resultCode>ERROR</hr:resultCode>'
        "<hr:errorId>APPLICATION_ERROR</hr:errorId><hr:errorText>Could not parse passed personnummer</hr:errorText></f:result>",
    ),
    minimum_mutations=200,
)


# -- GetCertificate (insuranceprocess) --------------------------------------------------------------

GCR = "urn:riv:insuranceprocess:healthreporting:GetCertificateResponder:1"


def _get_certificate_case() -> Case:
    registered = etree.tostring(
        payload_of(shared_dir() / "samples" / "RegisterMedicalCertificate" / "common__fk7263-scenarios-transport-valid-scenario1.xml"),
        encoding="unicode",
    )
    return Case(
        name="GetCertificate",
        schema_version="1.0",
        wsdl_version="1.0",
        profile="RIVTABP20",
        official_dir="rivta/insuranceprocess-healthreporting/schemas/interactions/GetCertificateInteraction",
        namespace=GCR,
        request="GetCertificateRequest",
        response="GetCertificateResponse",
        hand_written=(
            f'<GetCertificateRequest xmlns="{GCR}"><certificateId>fk-1</certificateId>'
            "<nationalIdentityNumber>19121212-1212</nationalIdentityNumber></GetCertificateRequest>",
            f'<GetCertificateResponse xmlns="{GCR}">{_CERT_META}<certificate>{registered}</certificate>'
            f'<result xmlns:hr="{HR}"><hr:resultCode>OK</hr:resultCode></result></GetCertificateResponse>',
            f'<GetCertificateResponse xmlns="{GCR}"><result xmlns:hr="{HR}"><hr:resultCode>INFO</hr:resultCode>'
            "<hr:infoText>Certificate 'fk-1' has been revoked</hr:infoText></result></GetCertificateResponse>",
        ),
        minimum_mutations=200,
    )


# -- GetTSBas, GetTSDiabetes --------------------------------------------------------------------

_TS_META = (
    f'<meta xmlns:ts="{TS}"><ts:status><ts:target>HSVARD</ts:target><ts:type>RECEIVED</ts:type>'
    "<ts:timestamp>2013-08-12T15:58:00</ts:timestamp></ts:status><ts:available>true</ts:available></meta>"
)


def _ts_case(name: str, sample: str) -> Case:
    namespace = f"urn:local:se:intygstjanster:services:{name}Responder:1"
    intyg = _certificate(f"Register{name[3:]}", sample, "intyg", namespace)
    return Case(
        name=name,
        schema_version="1.0",
        wsdl_version="1.0",
        profile="RIVTABP21",
        official_dir=f"intyg/transportstyrelsen/schemas/interactions/{name}Interaction",
        namespace=namespace,
        request=name,
        response=f"{name}Response",
        hand_written=(
            f'<{name} xmlns="{namespace}" xmlns:tt="{TT}"><intygsId>ts-1</intygsId>'
            "<personId><tt:root>1.2.752.129.2.1.3.1</tt:root><tt:extension>191212121212</tt:extension></personId></" + name + ">",
            f'<{name}Response xmlns="{namespace}" xmlns:ts="{TS}">{_TS_META}{intyg}'
            "<resultat><ts:resultCode>OK</ts:resultCode></resultat></" + name + "Response>",
            f'<{name}Response xmlns="{namespace}" xmlns:ts="{TS}"><resultat><ts:resultCode>ERROR</ts:resultCode>'
            "<ts:resultText>Unknown certificate ID: ts-1</ts:resultText><ts:errorId>VALIDATION_ERROR</ts:errorId></resultat></"
            + name
            + "Response>",
        ),
        minimum_mutations=200,
    )


CASES = (
    _gmc_cases(),
    LIST_CERTIFICATES,
    _get_certificate_case(),
    _ts_case("GetTSBas", "common__ts-ts-bas-v6-scenarios-transport-valid-minimal.xml"),
    _ts_case("GetTSDiabetes", "common__ts-ts-diabetes-v2-scenarios-transport-transform-valid-minimal.xml"),
)
HEADERS = {"ListCertificates": WSA_TO, "GetCertificate": WSA_TO}

# Deliberate mistakes in copies of our responder schemas; each must change some verdict.
PLANTED_FAULTS = (
    ("GetMedicalCertificate", "interactions/GetMedicalCertificateResponder_1.0.xsd",
     '<xs:element name="part" type="xs:string"/>', '<xs:element name="part" type="xs:string" minOccurs="0"/>'),
    ("GetMedicalCertificate", "interactions/GetMedicalCertificateResponder_1.0.xsd",
     '<xs:element name="result" type="c1:ResultType" minOccurs="0"/>', '<xs:element name="result" type="c1:ResultType"/>'),
    ("ListCertificates", "interactions/ListCertificatesResponder_1.0.xsd",
     '<xs:element name="fromDate" type="xs:date" minOccurs="0"/>', '<xs:element name="fromDate" type="xs:string" minOccurs="0"/>'),
    ("ListCertificates", "interactions/ListCertificatesResponder_1.0.xsd",
     'type="cert:CertificateMetaType" minOccurs="0" maxOccurs="unbounded"', 'type="cert:CertificateMetaType" minOccurs="0"'),
    ("GetCertificate", "interactions/GetCertificateResponder_1.0.xsd",
     '<xs:element name="nationalIdentityNumber" type="xs:string"/>', '<xs:element name="nationalIdentityNumber" type="xs:string" minOccurs="0"/>'),
    ("GetCertificate", "interactions/GetCertificateResponder_1.0.xsd",
     '<xs:element name="certificate" type="tns:certificateType" minOccurs="0"/>', '<xs:element name="certificate" type="tns:certificateType"/>'),
    ("GetTSBas", "interactions/GetTSBasResponder_1.0.xsd",
     '<xs:element name="personId" type="tstypes:II" minOccurs="0"/>', '<xs:element name="personId" type="tstypes:II"/>'),
    ("GetTSDiabetes", "interactions/GetTSDiabetesResponder_1.0.xsd",
     '<xs:element name="intyg" type="ts:TSDiabetesIntyg" minOccurs="0"/>', '<xs:element name="intyg" type="ts:TSBasIntyg" minOccurs="0"/>'),
)


(
    test_same_global_declarations,
    test_same_verdict_on_mutations,
    test_corpus_detects_planted_fault,
    test_wsdl_binds_like_official,
) = family_tests(CASES, PLANTED_FAULTS, lambda case: HEADERS.get(case.name, LOGICAL_ADDRESS))
